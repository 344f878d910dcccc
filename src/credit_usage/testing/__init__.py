"""Test kits that prove an adapter keeps the contracts of :mod:`credit_usage.ports`.

The contract needs pytest. A host subclasses :class:`StorageContract` and
overrides its ``storage`` fixture::

    import pytest
    from credit_usage import Storage
    from credit_usage.testing import StorageContract

    class TestMyStorage(StorageContract):
        @pytest.fixture
        def storage(self) -> Storage:
            return MyStorage()

The builders the contract uses (``make_team``, ``usage``, ``grant``,
``reversal``, ``append_entries``, ...) are in :mod:`credit_usage.testing.storage`
with the contract's groups; they are defined in :mod:`credit_usage.testing.builders`,
which needs no pytest (the benchmarks use it).
"""

from __future__ import annotations

try:
    import pytest
except ImportError:  # Only the builders can be used: StorageContract needs pytest.
    pass
else:
    # Before the kit is imported, so that pytest rewrites its asserts and a failing
    # contract test shows the values it compared rather than a bare AssertionError.
    # A package's name registers its submodules.
    pytest.register_assert_rewrite(
        "credit_usage.testing.builders",
        "credit_usage.testing.contract",
        "credit_usage.testing.mail",
    )

    from credit_usage.testing.contract import StorageContract
    from credit_usage.testing.mail import Delivered, MailerContract, Received

__all__ = ["Delivered", "MailerContract", "Received", "StorageContract"]
