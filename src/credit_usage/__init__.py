"""credit_usage: track, cap and report the credits each member of a customer team uses.

Everything a host needs is importable from here::

    from credit_usage import CreditUsage, InMemoryStorage
    app = CreditUsage(storage=InMemoryStorage())
"""

from __future__ import annotations

from credit_usage.adapters.memory import InMemoryStorage
from credit_usage.adapters.sql import SqlStorage
from credit_usage.domain.access import Action, allowed_actions
from credit_usage.domain.aggregate import UsageCell, aggregate, sum_cells
from credit_usage.domain.cycles import BillingSchedule, Cycle, DateRange, Period
from credit_usage.domain.model import (
    CreditLimit,
    EntryKind,
    Feature,
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

__version__ = "0.1.0"

__all__ = [
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
    "from_dict",
    "safe_cell",
    "sum_cells",
    "to_dict",
    "write_ledger_csv",
    "write_report_csv",
]
