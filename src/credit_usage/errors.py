"""The exceptions credit_usage raises.

A host catches one type, :class:`CreditUsageError`, or a subclass when it
cares about the reason::

    CreditUsageError
    ├── ValidationError              bad input; nothing was written
    │   ├── RangeOutsideCycleError   a snapshot range outside the current cycle
    │   └── AlreadyExistsError       a team, group or member id already taken
    ├── NotFoundError                an unknown team, user, group or entry
    ├── PermissionDeniedError        the viewer may not do this
    ├── PlanNotEligibleError         the team's plan does not include this
    ├── CreditLimitExceededError     a user or group limit would be exceeded
    ├── InsufficientCreditsError     the team's pool for the cycle would go negative
    ├── IdempotencyConflictError     an entry id reused with another payload
    ├── DeliveryError                a report email could not be sent
    └── StorageError                 the storage backend failed (cause chained)

Every message names the offending value. Adapters translate driver errors
with ``raise StorageError(...) from exc`` so a stack trace still shows the
cause.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExistsError",
    "CreditLimitExceededError",
    "CreditUsageError",
    "DeliveryError",
    "IdempotencyConflictError",
    "InsufficientCreditsError",
    "NotFoundError",
    "PermissionDeniedError",
    "PlanNotEligibleError",
    "RangeOutsideCycleError",
    "StorageError",
    "ValidationError",
]


class CreditUsageError(Exception):
    """The root of every error this library raises."""


class ValidationError(CreditUsageError, ValueError):
    """Input was malformed or broke a rule; nothing was written."""


class RangeOutsideCycleError(ValidationError):
    """A snapshot's date range does not lie inside the current billing cycle."""


class AlreadyExistsError(ValidationError):
    """A team, group or member with that id already exists."""


class NotFoundError(CreditUsageError, LookupError):
    """The team, user, group or ledger entry does not exist (in that team)."""


class PermissionDeniedError(CreditUsageError):
    """The acting user may not perform this action."""


class PlanNotEligibleError(CreditUsageError):
    """The team's plan does not include this feature (Free has no team views)."""


class CreditLimitExceededError(CreditUsageError):
    """Recording the usage would take a user or group over its credit limit."""


class InsufficientCreditsError(CreditUsageError):
    """The team has not enough credits left in the cycle for this usage."""


class IdempotencyConflictError(CreditUsageError):
    """An ``entry_id`` was reused with a different payload."""


class DeliveryError(CreditUsageError):
    """A report email could not be delivered."""


class StorageError(CreditUsageError):
    """The storage backend failed; the driver's exception is the ``__cause__``."""
