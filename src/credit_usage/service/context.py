"""What every use case shares: the ports, the clock, and the checks that start a call.

A use case is a function of a :class:`Context` and the call's arguments. It
validates its input, then runs everything it decides on inside one storage
transaction (:meth:`~credit_usage.ports.Ledger.read` or
:meth:`~credit_usage.ports.Ledger.append`), so what it reads is one state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from attrs import frozen

from credit_usage.domain.access import Action, authorize
from credit_usage.domain.cycles import Cycle, DateRange
from credit_usage.domain.model import LedgerEntry, Team
from credit_usage.domain.validation import require_aware
from credit_usage.errors import (
    IdempotencyConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from credit_usage.ports import Decision, Mailer, Query, Storage, TeamReads, WritePlan

__all__ = ["Clock", "Context", "check_same", "require_instance"]

T = TypeVar("T")

#: Returns the current instant, timezone-aware.
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The system clock, in UTC."""
    return datetime.now(UTC)


@frozen(kw_only=True)
class Context:
    """The ports and settings a :class:`~credit_usage.CreditUsage` was built with."""

    storage: Storage
    mailer: Mailer | None
    clock: Clock
    future_tolerance: timedelta
    eligible_plans: frozenset[str]
    sender: str
    max_recipients: int

    def now(self) -> datetime:
        """The clock's current instant, checked to be aware, in UTC."""
        return require_aware("clock()", self.clock())

    def authorize(
        self, tx: TeamReads, viewer_id: str, action: Action, *, subject: str | None = None
    ) -> Team:
        """The team of ``tx`` when ``viewer_id``, read from ``tx``, may take ``action`` there.

        Raises:
            PermissionDeniedError: unknown, deactivated or other-team viewer,
                or a role without the action.
            PlanNotEligibleError: the team's plan has no team usage views.
        """
        team = tx.team
        authorize(
            tx.member(viewer_id),
            viewer_id,
            team,
            action,
            subject_user_id=subject,
            eligible=self.eligible_plans,
        )
        return team

    def read_as(self, viewer_id: str, team_id: str, query: Query[T]) -> T:
        """Run the viewer-scoped ``query`` in one read transaction of ``team_id``.

        A team that does not exist is refused as a team the viewer is not in
        (``PermissionDeniedError``), so no caller learns which team ids exist.
        """
        started: list[bool] = []

        def run(tx: TeamReads) -> T:
            started.append(True)
            return query(tx)

        with _unknown_team_denied(viewer_id, team_id, started):
            return self.storage.read(team_id, run)

    def write_as(self, viewer_id: str, team_id: str, plan: WritePlan[T]) -> T:
        """Run the viewer-scoped write ``plan`` in one write transaction of ``team_id``.

        An unknown team is refused as in :meth:`read_as`.
        """
        started: list[bool] = []

        def run(tx: TeamReads) -> Decision[T]:
            started.append(True)
            return plan(tx)

        with _unknown_team_denied(viewer_id, team_id, started):
            return self.storage.append(team_id, run)

    def check_not_in_future(self, entry: LedgerEntry, now: datetime) -> None:
        """Refuse usage dated further ahead of ``now`` than the future tolerance.

        Raises:
            ValidationError: naming both instants and the tolerance.
        """
        if entry.occurred_at > now + self.future_tolerance:
            raise ValidationError(
                f"entry {entry.entry_id!r} occurred_at {entry.occurred_at.isoformat()} is more "
                f"than {self.future_tolerance} ahead of the clock ({now.isoformat()}); usage "
                "cannot be recorded in the future",
                field="occurred_at",
            )

    def period(self, team: Team, period: DateRange | Cycle | None, now: datetime) -> DateRange:
        """The local days of ``period``; the cycle of ``now`` when it is ``None``."""
        if period is None:
            return team.cycle_at(now).date_range
        if isinstance(period, Cycle):
            return period.date_range
        if isinstance(period, DateRange):
            return period
        raise ValidationError(f"period must be a DateRange or a Cycle, got {period!r}")


@contextmanager
def _unknown_team_denied(viewer_id: str, team_id: str, started: list[bool]) -> Iterator[None]:
    """Turn the storage's "no such team" (raised before the call's function ran) into a denial."""
    try:
        yield
    except NotFoundError:
        if started:
            raise
        raise PermissionDeniedError(
            f"user {viewer_id!r} is not a member of team {team_id!r}",
            team_id=team_id,
            viewer_id=viewer_id,
        ) from None


def require_instance(cls: type[object], value: object) -> None:
    """Refuse a value of the wrong type with a ``ValidationError``."""
    if not isinstance(value, cls):
        raise ValidationError(f"expected a {cls.__name__}, got {value!r}")


def check_same(stored: LedgerEntry, candidate: LedgerEntry) -> None:
    """Refuse a candidate that reuses a stored entry's id with another payload.

    Raises:
        IdempotencyConflictError: naming the id and what is stored under it.
    """
    if not stored.same_payload(candidate):
        raise IdempotencyConflictError(
            f"entry id {candidate.entry_id!r} was already recorded in team "
            f"{candidate.team_id!r} with another payload (stored {stored.kind} of "
            f"{stored.amount} at {stored.occurred_at.isoformat()})",
            team_id=candidate.team_id,
            entry_id=candidate.entry_id,
        )
