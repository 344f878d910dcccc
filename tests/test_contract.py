"""The storage contract kit, run against every storage the project ships and the docs' adapter.

``docs/adapters.md`` shows a host writing an adapter and testing it with the
kit; its Python blocks are executed here, so the ``TestLoggingStorage`` class
they define is collected and runs the whole contract. The docs cannot rot.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from credit_usage import Storage
from credit_usage.testing import StorageContract
from tests.conftest import StorageFactory

DOCS = Path(__file__).parents[1] / "docs" / "adapters.md"


class TestStorageContract(StorageContract):
    """Every storage kind of ``tests/conftest.py`` passes the contract."""

    @pytest.fixture
    def storage(self, make_storage: StorageFactory) -> Storage:
        return make_storage()


def _docs_code(path: Path) -> str:
    """The ``python`` blocks of a Markdown file, other lines blanked so line numbers match."""
    kept: list[str] = []
    inside = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if re.fullmatch(r"```python\s*", line):
            inside = True
            kept.append("")
        elif inside and line.startswith("```"):
            inside = False
            kept.append("")
        else:
            kept.append(line if inside else "")
    return "\n".join(kept)


_docs: dict[str, Any] = {"__name__": "docs_adapters"}
# Our own docs, executed on purpose: their examples are tests.
exec(compile(_docs_code(DOCS), str(DOCS), "exec"), _docs)

#: The docs' adapter under the docs' own contract subclass.
TestLoggingStorage: type[StorageContract] = _docs["TestLoggingStorage"]


def test_the_docs_define_an_adapter_and_its_contract_test() -> None:
    """The docs' code defines LoggingStorage and a StorageContract subclass building it."""
    assert issubclass(TestLoggingStorage, StorageContract)
    assert TestLoggingStorage.__name__ == "TestLoggingStorage"
    assert "LoggingStorage" in _docs
