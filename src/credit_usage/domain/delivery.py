"""Exactly-once delivery of emails: claim before sending, mark after.

Every email the library sends -- a scheduled report for one period, a limit
alert -- has one :class:`Delivery` record in its team, keyed by a stable
``delivery_id``. A sender first *claims* it (in a transaction, with the team
locked), sends, then *marks* it sent or failed. A claim not marked within the
lease is taken as abandoned (a crashed worker) and may be claimed again; the
message is then sent again with the same ``Message-ID``, so mail systems drop
the copy -- a period is never skipped. ``sent`` and ``skipped`` are final.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

import attrs
from attrs import frozen

if TYPE_CHECKING:
    from credit_usage.domain.schedules import ReportSchedule

__all__ = [
    "DEFAULT_LEASE",
    "Delivery",
    "DeliveryState",
    "ScheduledReport",
    "alert_delivery_id",
    "claim",
    "describe_failure",
    "finish",
    "report_delivery_id",
]

#: How long a claim holds before it is taken as abandoned.
DEFAULT_LEASE = timedelta(minutes=15)


class DeliveryState(StrEnum):
    """Where one email stands."""

    CLAIMED = "claimed"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def final(self) -> bool:
        """Whether nothing more will be done: sent, or skipped for a recorded reason."""
        return self in (DeliveryState.SENT, DeliveryState.SKIPPED)


@frozen(kw_only=True)
class Delivery:
    """One email of a team and where it stands.

    ``delivery_id`` is ``report:<schedule_id>:<first day>`` for a report
    period, ``alert:<alert_id>`` for a limit alert. ``attempts`` counts the
    claims; ``error`` is the reason of the last failure or skip.
    """

    team_id: str
    delivery_id: str
    state: DeliveryState
    message_id: str | None
    claimed_at: datetime | None
    attempts: int
    error: str | None = None
    finished_at: datetime | None = None


def report_delivery_id(schedule_id: str, first: date) -> str:
    """The delivery id of a schedule's report for the period starting on ``first``."""
    return f"report:{schedule_id}:{first.isoformat()}"


def alert_delivery_id(alert_id: str) -> str:
    """The delivery id of a limit alert."""
    return f"alert:{alert_id}"


@frozen(kw_only=True)
class ScheduledReport:
    """A report schedule and when its next report falls due (``None`` once cancelled)."""

    schedule: ReportSchedule
    next_due: datetime | None


def claim(
    existing: Delivery | None,
    *,
    team_id: str,
    delivery_id: str,
    message_id: str,
    now: datetime,
    lease: timedelta = DEFAULT_LEASE,
) -> Delivery | None:
    """The claimed delivery, or ``None`` when it is not to be sent now.

    Not claimable: a final delivery (sent or skipped), and one claimed by
    another sender less than ``lease`` ago. A failed delivery, or a claim
    older than the lease, is claimed again with the same message id.
    """
    if existing is None:
        return Delivery(
            team_id=team_id,
            delivery_id=delivery_id,
            state=DeliveryState.CLAIMED,
            message_id=message_id,
            claimed_at=now,
            attempts=1,
        )
    if existing.state.final:
        return None
    if (
        existing.state is DeliveryState.CLAIMED
        and existing.claimed_at is not None
        and now < existing.claimed_at + lease
    ):
        return None
    return attrs.evolve(
        existing,
        state=DeliveryState.CLAIMED,
        message_id=existing.message_id or message_id,
        claimed_at=now,
        attempts=existing.attempts + 1,
    )


def finish(
    delivery: Delivery, state: DeliveryState, *, now: datetime, error: str | None = None
) -> Delivery:
    """``delivery`` marked ``state`` (sent, failed or skipped) at ``now``."""
    return attrs.evolve(delivery, state=state, finished_at=now, error=error)


#: The longest error text kept for a failed or skipped delivery.
MAX_ERROR_LENGTH = 1000


def describe_failure(exc: BaseException) -> str:
    """``exc`` as the stored reason of a failed delivery: one line of at most 1,000 characters.

    A mail server's reply may be long or hold any character; what is kept
    is the exception's type and message, with control characters (NUL
    included, which PostgreSQL cannot store) and lone surrogates replaced.
    """
    text = f"{type(exc).__name__}: {exc}"
    text = "".join(
        " " if ch < " " or ch == "\x7f" or "\ud800" <= ch <= "\udfff" else ch for ch in text
    )
    if len(text) > MAX_ERROR_LENGTH:
        text = text[: MAX_ERROR_LENGTH - 3] + "..."
    return text
