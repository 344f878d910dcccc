"""Test kits that prove an adapter keeps the contracts of :mod:`credit_usage.ports`.

Only test code imports this package: it needs pytest. A host subclasses
:class:`StorageContract` and overrides its ``storage`` fixture::

    import pytest
    from credit_usage import Storage
    from credit_usage.testing import StorageContract

    class TestMyStorage(StorageContract):
        @pytest.fixture
        def storage(self) -> Storage:
            return MyStorage()

The builders the contract uses (``make_team``, ``usage``, ``grant``,
``reversal``, ``append_entries``, ...) are in :mod:`credit_usage.testing.storage`.
"""

from __future__ import annotations

import pytest

# Before the kit is imported, so that pytest rewrites its asserts and a failing
# contract test shows the values it compared rather than a bare AssertionError.
pytest.register_assert_rewrite("credit_usage.testing.storage")

from credit_usage.testing.storage import StorageContract  # noqa: E402 - after the hook above

__all__ = ["StorageContract"]
