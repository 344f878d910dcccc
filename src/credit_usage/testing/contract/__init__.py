"""The storage contract: the tests every :class:`~credit_usage.ports.Storage` passes.

A host proves its adapter by subclassing :class:`StorageContract` and
overriding one pytest fixture, ``storage``, that returns a fresh, empty
storage for each test (see :mod:`credit_usage.testing`).

The tests use nothing but the protocol (:class:`~credit_usage.ports.Storage`
and :class:`~credit_usage.ports.LedgerTransaction`), so they run unchanged on
any adapter. They are grouped by what they cover, one base class per group,
one or two groups per module; :class:`StorageContract` combines them
all, and a host may subclass a single group while it builds its adapter up.
``verify`` and ``rebuild`` are not part of the protocol: their tests skip on a
storage that lacks them. The builders the tests use are in
:mod:`credit_usage.testing.builders`.
"""

from __future__ import annotations

from credit_usage.testing.contract.concurrency import ConcurrencyContract
from credit_usage.testing.contract.directory import GroupsAndMembersContract, TeamsContract
from credit_usage.testing.contract.isolation import IsolationContract
from credit_usage.testing.contract.ledger import AppendContract, LedgerTransactionContract
from credit_usage.testing.contract.limits import LimitsContract
from credit_usage.testing.contract.maintenance import MaintenanceContract
from credit_usage.testing.contract.outbox import OutboxContract
from credit_usage.testing.contract.reads import LedgerReadsContract, TimeZoneContract

__all__ = [
    "AppendContract",
    "ConcurrencyContract",
    "GroupsAndMembersContract",
    "IsolationContract",
    "LedgerReadsContract",
    "LedgerTransactionContract",
    "LimitsContract",
    "MaintenanceContract",
    "OutboxContract",
    "StorageContract",
    "TeamsContract",
    "TimeZoneContract",
]


# pytest collects the tests of the last base first: listed backwards, the groups run
# TeamsContract first and MaintenanceContract last, each one's tests in its module's order.
class StorageContract(
    MaintenanceContract,
    ConcurrencyContract,
    IsolationContract,
    TimeZoneContract,
    LedgerReadsContract,
    OutboxContract,
    LimitsContract,
    LedgerTransactionContract,
    AppendContract,
    GroupsAndMembersContract,
    TeamsContract,
):
    """Every test a :class:`~credit_usage.ports.Storage` adapter must pass.

    Subclass it in a test module (its name must start with ``Test`` for pytest
    to collect it) and override the ``storage`` fixture to return a fresh,
    empty storage; a generator fixture may clean up after the test. The
    concurrency tests call the storage from several threads at once.
    """
