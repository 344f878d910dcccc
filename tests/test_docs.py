"""The README's and docs' Python examples run, and so does the quickstart script."""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_python_blocks_run(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every ```python block of a document runs, in order, in one namespace."""
    namespace: dict[str, object] = {"__name__": f"docs_{path.stem}"}
    for block in BLOCK.findall(path.read_text(encoding="utf-8")):
        exec(compile(block, str(path), "exec"), namespace)


def test_quickstart_prints_a_snapshot_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """examples/quickstart.py prints the cycle, the totals and a member table, on SQLite."""
    monkeypatch.setattr(sys, "argv", ["quickstart.py"])
    runpy.run_path(str(ROOT / "examples" / "quickstart.py"), run_name="__main__")
    printed = capsys.readouterr().out
    assert "Storage: SqlStorage('sqlite:///" in printed
    assert "Billing cycle" in printed
    assert re.search(r"Total [\d,]+ +Used [\d,]+ +Remaining [\d,]+", printed)
    assert "Ana Admin" in printed
    assert "user_id,name,email,group,role,credit_type" in printed
