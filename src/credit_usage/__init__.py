"""credit_usage: track, cap and report the credits each member of a customer team uses.

Everything a host needs is importable from here::

    from credit_usage import CreditUsage, InMemoryStorage
    app = CreditUsage(storage=InMemoryStorage())

SQLAlchemy is imported only when :class:`SqlStorage` is first used, so a host
on in-memory storage (or its own adapter) does not pay for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from credit_usage.adapters.memory import InMemoryMailer, InMemoryStorage
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
    from credit_usage.adapters.smtp import SmtpMailer
    from credit_usage.adapters.sql import SqlStorage
    from credit_usage.domain.alerts import LimitAlert
    from credit_usage.domain.schedules import DeliveryResult, DeliveryStatus, ReportSchedule
    from credit_usage.domain.unusual import Finding, FindingKind, find_unusual

__version__ = "0.1.0"


#: Names imported on first use: SqlStorage loads SQLAlchemy (tens of
#: milliseconds), SmtpMailer smtplib and ssl; the others are modules a host
#: that only records usage never needs.
_LAZY = {
    "SqlStorage": "credit_usage.adapters.sql",
    "SmtpMailer": "credit_usage.adapters.smtp",
    "LimitAlert": "credit_usage.domain.alerts",
    "DeliveryResult": "credit_usage.domain.schedules",
    "DeliveryStatus": "credit_usage.domain.schedules",
    "ReportSchedule": "credit_usage.domain.schedules",
    "Finding": "credit_usage.domain.unusual",
    "FindingKind": "credit_usage.domain.unusual",
    "find_unusual": "credit_usage.domain.unusual",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
    "DeliveryResult",
    "DeliveryStatus",
    "EntryKind",
    "Feature",
    "FeatureSpec",
    "Finding",
    "FindingKind",
    "Frequency",
    "Group",
    "GroupUsage",
    "IdempotencyConflictError",
    "InMemoryMailer",
    "InMemoryStorage",
    "InsufficientCreditsError",
    "LedgerEntry",
    "LimitAlert",
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
    "ReportSchedule",
    "Role",
    "SmtpMailer",
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
