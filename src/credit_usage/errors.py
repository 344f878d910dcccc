"""The exceptions credit_usage raises.

A host catches one type, :class:`CreditUsageError`, or a subclass when it
cares about the reason::

    CreditUsageError
    ├── ValidationError              validation_error       bad input; nothing was written
    │   ├── RangeOutsideCycleError   range_outside_cycle    a snapshot range outside the cycle
    │   └── AlreadyExistsError       already_exists         a team, group or member id taken
    ├── NotFoundError                not_found              an unknown team, user, group or entry
    ├── PermissionDeniedError        permission_denied      the viewer may not do this
    ├── PlanNotEligibleError         plan_not_eligible      the team's plan does not include this
    ├── CreditLimitExceededError     credit_limit_exceeded  a user or group limit would be exceeded
    ├── InsufficientCreditsError     insufficient_credits   the team's pool would go negative
    ├── IdempotencyConflictError     idempotency_conflict   an entry id reused with another payload
    ├── DeliveryError                delivery_failed        a report email could not be sent
    └── StorageError                 storage_error          the backend failed (cause chained)

Every error has a stable :attr:`~CreditUsageError.code`, an
:attr:`~CreditUsageError.http_status` a web backend may answer with, and the
figures of its message as attributes (``InsufficientCreditsError.remaining``,
``IdempotencyConflictError.entry_id``, ...), listed in its ``fields``;
``credit_usage.to_dict(error)`` is a JSON-ready body::

    >>> from credit_usage import IdempotencyConflictError, to_dict
    >>> error = IdempotencyConflictError("entry id 'e1' was reused", team_id="acme", entry_id="e1")
    >>> to_dict(error)["code"], error.entry_id
    ('idempotency_conflict', 'e1')

Every message names the offending value. Adapters translate driver errors
with ``raise StorageError(...) from exc`` so a stack trace still shows the
cause. A figure an adapter of a host does not give reads as ``None``.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

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
    """The root of every error this library raises.

    Args:
        message: what was wrong, naming the value.
        figures: the figures of the message, by the names in :attr:`fields`.
    """

    #: A stable, machine-readable name of the error.
    code: ClassVar[str] = "credit_usage_error"
    #: The HTTP status a web backend would answer with.
    http_status: ClassVar[int] = 500
    #: The names of the figures this error carries as attributes.
    fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, message: str, **figures: Any) -> None:
        unknown = sorted(set(figures) - set(self.fields))
        if unknown:
            raise TypeError(f"{type(self).__name__} has no fields {unknown!r}")
        super().__init__(message)
        self.message = message
        for name in self.fields:
            setattr(self, name, figures.get(name))

    def details(self) -> dict[str, Any]:
        """The figures, by name, in the order of :attr:`fields`."""
        return {name: getattr(self, name) for name in self.fields}


class ValidationError(CreditUsageError, ValueError):
    """Input was malformed or broke a rule; nothing was written.

    ``field`` names the argument or attribute when one is to blame.
    """

    code = "validation_error"
    http_status = 422
    fields: ClassVar[tuple[str, ...]] = ("field",)
    field: str | None


class RangeOutsideCycleError(ValidationError):
    """A snapshot's date range does not lie inside the current billing cycle."""

    code = "range_outside_cycle"
    fields: ClassVar[tuple[str, ...]] = (
        "field",
        "first",
        "last",
        "cycle_first_day",
        "cycle_last_day",
    )
    first: date | None
    last: date | None
    cycle_first_day: date | None
    cycle_last_day: date | None


class AlreadyExistsError(ValidationError):
    """A team, group or member with that id already exists."""

    code = "already_exists"
    http_status = 409
    fields: ClassVar[tuple[str, ...]] = ("field", "team_id", "resource", "resource_id")
    team_id: str | None
    resource: str | None
    resource_id: str | None

    @classmethod
    def team(cls, team_id: str) -> AlreadyExistsError:
        """The team id is taken."""
        return cls(
            f"team {team_id!r} already exists",
            field="team_id",
            team_id=team_id,
            resource="team",
            resource_id=team_id,
        )

    @classmethod
    def group(cls, team_id: str, group_id: str) -> AlreadyExistsError:
        """The group id is taken in the team."""
        return cls(
            f"group {group_id!r} already exists in team {team_id!r}",
            field="group_id",
            team_id=team_id,
            resource="group",
            resource_id=group_id,
        )

    @classmethod
    def member(cls, team_id: str, user_id: str) -> AlreadyExistsError:
        """The user is a member of the team already."""
        return cls(
            f"user {user_id!r} is already a member of team {team_id!r}",
            field="user_id",
            team_id=team_id,
            resource="user",
            resource_id=user_id,
        )


class NotFoundError(CreditUsageError, LookupError):
    """The team, user, group or ledger entry does not exist (in that team).

    ``resource`` is ``"team"``, ``"user"``, ``"group"`` or ``"entry"``.
    """

    code = "not_found"
    http_status = 404
    fields: ClassVar[tuple[str, ...]] = ("team_id", "resource", "resource_id")
    team_id: str | None
    resource: str | None
    resource_id: str | None

    @classmethod
    def team(cls, team_id: str) -> NotFoundError:
        """No team has this id."""
        return cls(
            f"team {team_id!r} does not exist",
            team_id=team_id,
            resource="team",
            resource_id=team_id,
        )

    @classmethod
    def user(cls, team_id: str, user_id: str) -> NotFoundError:
        """The user is not a member of the team."""
        return cls(
            f"user {user_id!r} is not a member of team {team_id!r}",
            team_id=team_id,
            resource="user",
            resource_id=user_id,
        )

    @classmethod
    def group(cls, team_id: str, group_id: str) -> NotFoundError:
        """The team has no group with this id."""
        return cls(
            f"group {group_id!r} does not exist in team {team_id!r}",
            team_id=team_id,
            resource="group",
            resource_id=group_id,
        )

    @classmethod
    def entry(cls, team_id: str, entry_id: str) -> NotFoundError:
        """The team's ledger has no entry with this id."""
        return cls(
            f"entry {entry_id!r} does not exist in team {team_id!r}",
            team_id=team_id,
            resource="entry",
            resource_id=entry_id,
        )


class PermissionDeniedError(CreditUsageError):
    """The acting user may not perform this action."""

    code = "permission_denied"
    http_status = 403
    fields: ClassVar[tuple[str, ...]] = ("team_id", "viewer_id", "action")
    team_id: str | None
    viewer_id: str | None
    action: str | None


class PlanNotEligibleError(CreditUsageError):
    """The team's plan does not include team usage views and exports."""

    code = "plan_not_eligible"
    http_status = 403
    fields: ClassVar[tuple[str, ...]] = ("team_id", "plan", "eligible_plans")
    team_id: str | None
    plan: str | None
    eligible_plans: list[str] | None


class CreditLimitExceededError(CreditUsageError):
    """Recording the usage would take a user or group over its credit limit."""

    code = "credit_limit_exceeded"
    http_status = 402
    fields: ClassVar[tuple[str, ...]] = (
        "team_id", "scope", "subject_id", "credit_type", "cycle", "limit", "used", "requested",
    )  # fmt: skip
    team_id: str | None
    scope: str | None
    subject_id: str | None
    credit_type: str | None
    cycle: date | None
    limit: int | None
    used: int | None
    requested: int | None


class InsufficientCreditsError(CreditUsageError):
    """The team has not enough credits left in the cycle for this usage.

    ``cycle`` is the first local day of the cycle.
    """

    code = "insufficient_credits"
    http_status = 402
    fields: ClassVar[tuple[str, ...]] = (
        "team_id",
        "cycle",
        "total",
        "used",
        "remaining",
        "requested",
    )
    team_id: str | None
    cycle: date | None
    total: int | None
    used: int | None
    remaining: int | None
    requested: int | None


class IdempotencyConflictError(CreditUsageError):
    """An ``entry_id`` was reused with a different payload."""

    code = "idempotency_conflict"
    http_status = 409
    fields: ClassVar[tuple[str, ...]] = ("team_id", "entry_id")
    team_id: str | None
    entry_id: str | None


class DeliveryError(CreditUsageError):
    """An email could not be delivered.

    ``host`` is the mail server, ``reply_code`` and ``reply`` its answer
    (``None`` when it never answered: refused, timed out, dropped).
    """

    code = "delivery_failed"
    http_status = 502
    fields: ClassVar[tuple[str, ...]] = ("host", "reply_code", "reply")
    host: str | None
    reply_code: int | None
    reply: str | None


class StorageError(CreditUsageError):
    """The storage backend failed; the driver's exception is the ``__cause__``.

    ``operation`` says what was being done ("append to the ledger of team 'acme'").
    """

    code = "storage_error"
    http_status = 503
    fields: ClassVar[tuple[str, ...]] = ("operation",)
    operation: str | None
