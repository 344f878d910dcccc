"""The storage contract and its builders, under the name hosts import them by.

The contract's groups are defined in :mod:`credit_usage.testing.contract`
and the builders (:func:`make_team`, :func:`seed_team`, :func:`usage`,
:func:`grant`, :func:`reversal`, :func:`append_entries`, :func:`reads`, ...)
in :mod:`credit_usage.testing.builders`; this module gives every one of them,
for a host's own tests too::

    from credit_usage.testing.storage import TeamsContract, make_team, reads, usage
"""

from __future__ import annotations

from credit_usage.testing.builders import (
    CYCLE,
    END_OF_TIME,
    MIA_API_EMAIL,
    NEW_YORK,
    NEXT_CYCLE,
    PREVIOUS_CYCLE,
    RECORDED,
    START_OF_TIME,
    T0,
    CellKey,
    OneCallReads,
    append_entries,
    cell_totals,
    grant,
    ledger,
    make_group,
    make_member,
    make_team,
    reads,
    reversal,
    seed_team,
    team_pool,
    usage,
)
from credit_usage.testing.contract import (
    AppendContract,
    ConcurrencyContract,
    GroupsAndMembersContract,
    IsolationContract,
    LedgerReadsContract,
    LedgerTransactionContract,
    LimitsContract,
    MaintenanceContract,
    OutboxContract,
    StorageContract,
    TeamsContract,
    TimeZoneContract,
)

__all__ = [
    "CYCLE",
    "END_OF_TIME",
    "MIA_API_EMAIL",
    "NEW_YORK",
    "NEXT_CYCLE",
    "PREVIOUS_CYCLE",
    "RECORDED",
    "START_OF_TIME",
    "T0",
    "AppendContract",
    "CellKey",
    "ConcurrencyContract",
    "GroupsAndMembersContract",
    "IsolationContract",
    "LedgerReadsContract",
    "LedgerTransactionContract",
    "LimitsContract",
    "MaintenanceContract",
    "OneCallReads",
    "OutboxContract",
    "StorageContract",
    "TeamsContract",
    "TimeZoneContract",
    "append_entries",
    "cell_totals",
    "grant",
    "ledger",
    "make_group",
    "make_member",
    "make_team",
    "reads",
    "reversal",
    "seed_team",
    "team_pool",
    "usage",
]
