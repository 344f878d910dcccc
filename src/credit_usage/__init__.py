"""credit_usage: track, cap and report the credits each member of a customer team uses.

Everything a host needs is importable from here::

    from credit_usage import CreditUsage, InMemoryStorage
    app = CreditUsage(storage=InMemoryStorage())

SQLAlchemy is imported only when :class:`SqlStorage` is first used, so a host
on in-memory storage (or its own adapter) does not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from credit_usage.adapters.memory import InMemoryStorage
from credit_usage.domain.access import Action, allowed_actions
from credit_usage.domain.aggregate import UsageCell, aggregate, sum_cells
from credit_usage.domain.cycles import BillingSchedule, Cycle, DateRange, Period
from credit_usage.domain.model import (
    DEFAULT_FEATURES,
    CreditLimit,
    EntryKind,
    Feature,
    FeatureSpec,
    Frequency,
    Group,
    LedgerEntry,
    LimitScope,
    Member,
    Plan,
    Role,
    Team,
)
from credit_usage.domain.results import (
    GroupUsage,
    LongRow,
    MemberUsage,
    Report,
    ReportRow,
    Snapshot,
)
from credit_usage.domain.unusual import Finding, FindingKind, find_unusual
from credit_usage.errors import (
    AlreadyExistsError,
    CreditLimitExceededError,
    CreditUsageError,
    DeliveryError,
    IdempotencyConflictError,
    InsufficientCreditsError,
    NotFoundError,
    PermissionDeniedError,
    PlanNotEligibleError,
    RangeOutsideCycleError,
    StorageError,
    ValidationError,
)
from credit_usage.ports import Mailer, Storage
from credit_usage.reports.csv_writer import safe_cell, write_ledger_csv, write_report_csv
from credit_usage.serialization import from_dict, to_dict
from credit_usage.service import CreditUsage

if TYPE_CHECKING:
    from credit_usage.adapters.sql import SqlStorage

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # SqlStorage on first use: importing SQLAlchemy costs tens of milliseconds.
    if name == "SqlStorage":
        from credit_usage.adapters.sql import SqlStorage

        return SqlStorage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_FEATURES",
    "Action",
    "AlreadyExistsError",
    "BillingSchedule",
    "CreditLimit",
    "CreditLimitExceededError",
    "CreditUsage",
    "CreditUsageError",
    "Cycle",
    "DateRange",
    "DeliveryError",
    "EntryKind",
    "Feature",
    "FeatureSpec",
    "Finding",
    "FindingKind",
    "Frequency",
    "Group",
    "GroupUsage",
    "IdempotencyConflictError",
    "InMemoryStorage",
    "InsufficientCreditsError",
    "LedgerEntry",
    "LimitScope",
    "LongRow",
    "Mailer",
    "Member",
    "MemberUsage",
    "NotFoundError",
    "Period",
    "PermissionDeniedError",
    "Plan",
    "PlanNotEligibleError",
    "RangeOutsideCycleError",
    "Report",
    "ReportRow",
    "Role",
    "Snapshot",
    "SqlStorage",
    "Storage",
    "StorageError",
    "Team",
    "UsageCell",
    "ValidationError",
    "aggregate",
    "allowed_actions",
    "find_unusual",
    "from_dict",
    "safe_cell",
    "sum_cells",
    "to_dict",
    "write_ledger_csv",
    "write_report_csv",
]
