"""Scheduled usage reports: who gets them, which periods they cover, when each is due.

A :class:`ReportSchedule` sends a team's usage report every week or every
month to a short list of recipients. Each report covers one
:class:`ReportPeriod` and is due at the period's end:

* **monthly** periods are the team's billing cycles (``Team.cycle_at``). A
  team billed annually gets monthly periods from the same anchor, so a
  "monthly" report never covers a year.
* **weekly** periods run from Monday 00:00 to the next Monday 00:00 in the
  team's time zone, with a skipped midnight (a DST gap) handled by
  :func:`~credit_usage.domain.cycles.local_midnight`, exactly as cycles are.

Periods are half-open ``[start, end)`` in UTC and tile time: each ends where
the next begins. The first report of a schedule covers the period in which it
was created; :func:`due_periods` lists every period from that one whose end
has passed, so a scheduler that was down for a month catches up on each
missed week, oldest first.

Recipient lists are checked by :func:`require_recipients`: every address must
be exactly one bare ASCII ``local@domain`` that :mod:`email.headerregistry`
parses back unchanged, with nothing in it that could start a new header line.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping, Set
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum

from attrs import field, frozen

from credit_usage.domain.cycles import BillingSchedule, Cycle, DateRange, Period, local_midnight
from credit_usage.domain.model import Frequency, Team
from credit_usage.domain.validation import (
    MAX_EMAIL_LENGTH,
    require_aware,
    require_email,
    require_id,
    require_text,
    to_enum,
)
from credit_usage.errors import ValidationError

__all__ = [
    "MAX_RECIPIENTS",
    "DeliveryResult",
    "DeliveryStatus",
    "ReportPeriod",
    "ReportSchedule",
    "due_periods",
    "next_due",
    "report_period_at",
    "require_recipients",
]

#: The most recipients a stored schedule may hold, whatever the service allows:
#: RFC 5321 only promises that a mail server accepts 100 recipients a message.
MAX_RECIPIENTS = 100

_WEEK = timedelta(days=7)
#: From a Monday to the Sunday that ends its week.
_LAST = timedelta(days=6)
_SHOWN = 40
#: Characters refused in an address even where the parser would accept them:
#: header and list syntax, so a value can never become two addresses or a group.
_FORBIDDEN = frozenset("\x00<>,;")
#: Control and format characters, line and paragraph separators: anything
#: that could end a header line or hide what an address really is.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _shown(value: object) -> str:
    """``value`` for a message: only the start of a long text."""
    if isinstance(value, str) and len(value) > _SHOWN:
        return f"{value[:_SHOWN]!r}... ({len(value)} characters)"
    return repr(value)


def _bad_recipient(value: object, why: str) -> ValidationError:
    return ValidationError(
        f"recipients must be bare email addresses (local@domain), got {_shown(value)}: {why}",
        field="recipients",
    )


def _max_recipients(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(
            f"max_recipients must be an integer of at least 1, got {value!r}",
            field="max_recipients",
        )
    return value


def _recipient(value: object) -> str:
    """One address, or a ValidationError naming it."""
    return _address(value, _bad_recipient, dotted=True)


def _bad_sender(value: object, why: str) -> ValidationError:
    return ValidationError(
        f"sender must be a bare email address (local@domain), got {_shown(value)}: {why}",
        field="sender",
    )


def require_sender(value: object) -> str:
    """The From address of report and alert emails, or a ValidationError.

    The same rules as a recipient, except that the domain may be a single
    label (``credit-usage@localhost``): a sender is configured by the host,
    who knows its own mail server.
    """
    return _address(value, _bad_sender, dotted=False)


def _address(value: object, bad: Callable[[object, str], ValidationError], *, dotted: bool) -> str:
    """``value`` if it is one bare ASCII address that reads back unchanged."""
    if not isinstance(value, str):
        raise bad(value, "not a string")
    if len(value) > MAX_EMAIL_LENGTH:
        raise bad(value, f"it is longer than {MAX_EMAIL_LENGTH} characters")
    for char in value:
        if char in _FORBIDDEN or unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            raise bad(value, f"it contains the character U+{ord(char):04X}")
    if not value.isascii():
        # Reports are composed with plain ASCII addresses (no SMTPUTF8):
        # refuse now what every delivery would refuse later.
        raise bad(value, "it is not ASCII (write a domain as xn--...)")
    if dotted:
        try:
            require_email(value)
        except ValidationError as exc:
            raise bad(value, exc.message) from exc
    else:
        local, at, domain = value.rpartition("@")
        if not at or not local or not domain or any(c.isspace() for c in value):
            raise bad(value, "it is not local@domain")
    from email.headerregistry import Address  # 10 ms to import: only when needed

    try:
        address = Address(addr_spec=value)
    # The parser raises ValueError (header defects are ValueErrors too) or
    # HeaderParseError; anything else it might raise on odd text is refused alike.
    except Exception as exc:
        raise bad(value, f"{type(exc).__name__}: {exc}") from exc
    if address.display_name or address.addr_spec != value:
        # Comments ("a(c)@x.com") are dropped and odd local parts quoted: what
        # the parser reads back is not what was given.
        raise bad(value, f"it reads as {address.addr_spec!r}")
    return value


def require_recipients(recipients: Iterable[str], *, max_recipients: int) -> tuple[str, ...]:
    """The addresses of ``recipients``, in order, each once; else a ValidationError.

    ``recipients`` is an ordered collection (a list or tuple) of 1 to
    ``max_recipients`` distinct addresses; a single string, a set or a
    mapping is refused. Each address is a bare ``local@domain`` that
    :class:`email.headerregistry.Address` parses back unchanged and that
    :func:`~credit_usage.domain.validation.require_email` accepts, all ASCII
    (an international domain in its ``xn--`` form): no display name
    (``"Ann <a@x.com>"``), group, comment or list, and no control or format
    character, line separator, NUL, ``<``, ``>``, ``,`` or ``;``.
    Addresses equal but for case are kept once, spelled as they first
    appear; the limit counts distinct addresses. Every error has
    ``field="recipients"`` (``"max_recipients"`` for a bad limit) and names
    the value at fault.

    Example:
        >>> require_recipients(["ann@x.com", "bo@x.com", "ANN@x.com"], max_recipients=5)
        ('ann@x.com', 'bo@x.com')
    """
    limit = _max_recipients(max_recipients)
    if isinstance(recipients, str | bytes | bytearray | memoryview):
        raise ValidationError(
            f"recipients must be a list of email addresses, not a single string: "
            f"got {_shown(recipients)}",
            field="recipients",
        )
    if isinstance(recipients, Set | Mapping) or not isinstance(recipients, Iterable):
        raise ValidationError(
            f"recipients must be a list or tuple of email addresses (in order), "
            f"got {_shown(recipients)}",
            field="recipients",
        )
    kept: dict[str, str] = {}
    for value in recipients:
        address = _recipient(value)
        kept.setdefault(address.lower(), address)
        if len(kept) > limit:
            # Stop reading: the rest of a long (or endless) iterable is not needed.
            raise ValidationError(
                f"recipients must hold at most {limit} distinct addresses, got more: "
                f"{address!r} is address {limit + 1}",
                field="recipients",
            )
    if not kept:
        raise ValidationError(
            f"recipients must hold at least one address, got {_shown(recipients)}",
            field="recipients",
        )
    return tuple(kept.values())


# --- the schedule ---------------------------------------------------------------


def _schedule_id(value: str) -> str:
    return require_id("schedule_id", value)


def _team_id(value: str) -> str:
    return require_id("team_id", value)


def _created_by(value: str) -> str:
    return require_id("created_by", value)


def _frequency(value: Frequency | str) -> Frequency:
    return to_enum(Frequency, value)


def _recipients(value: Iterable[str]) -> tuple[str, ...]:
    return require_recipients(value, max_recipients=MAX_RECIPIENTS)


def _created_at(value: datetime) -> datetime:
    return require_aware("created_at", value)


def _active(value: bool) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"active must be True or False, got {value!r}", field="active")
    return value


@frozen(kw_only=True)
class ReportSchedule:
    """A team's usage report, emailed to ``recipients`` every week or month.

    ``recipients`` holds 1 to :data:`MAX_RECIPIENTS` distinct addresses (see
    :func:`require_recipients`; the service applies its own, lower
    ``max_recipients`` before building one). ``created_by`` is the user who
    set it up; ``created_at`` is stored in UTC, and the first report covers
    the period it falls in. An inactive schedule sends nothing.
    """

    schedule_id: str = field(converter=_schedule_id)
    team_id: str = field(converter=_team_id)
    frequency: Frequency = field(converter=_frequency)
    recipients: tuple[str, ...] = field(converter=_recipients)
    created_by: str = field(converter=_created_by)
    created_at: datetime = field(converter=_created_at)
    active: bool = field(default=True, converter=_active)


# --- deliveries -----------------------------------------------------------------


class DeliveryStatus(StrEnum):
    """What became of one scheduled report."""

    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


def _status(value: DeliveryStatus | str) -> DeliveryStatus:
    return to_enum(DeliveryStatus, value)


def _period(value: DateRange) -> DateRange:
    if not isinstance(value, DateRange):
        raise ValidationError(f"period must be a DateRange, got {value!r}", field="period")
    return value


def _message_id(value: str | None) -> str | None:
    return None if value is None else require_text("message_id", value)


def _error(value: str | None) -> str | None:
    return None if value is None else require_text("error", value)


@frozen(kw_only=True)
class DeliveryResult:
    """The outcome of sending one schedule's report for one period.

    ``sent`` carries no ``error`` (and the mail's ``message_id`` when the
    mailer gave one); ``failed`` says why in ``error`` (at most
    1,000 characters: shorten a long server reply); ``skipped`` sent nothing,
    so it has no ``message_id``, and may give its reason in ``error``.
    """

    schedule_id: str = field(converter=_schedule_id)
    team_id: str = field(converter=_team_id)
    period: DateRange = field(converter=_period)
    status: DeliveryStatus = field(converter=_status)
    message_id: str | None = field(default=None, converter=_message_id)
    error: str | None = field(default=None, converter=_error)

    def __attrs_post_init__(self) -> None:
        if self.status is DeliveryStatus.SENT and self.error is not None:
            raise ValidationError(
                f"a sent report has no error, got {_shown(self.error)}", field="error"
            )
        if self.status is DeliveryStatus.FAILED and self.error is None:
            raise ValidationError("a failed delivery must say why: error is None", field="error")
        if self.status is DeliveryStatus.SKIPPED and self.message_id is not None:
            raise ValidationError(
                f"a skipped report sent no message, got message_id {self.message_id!r}",
                field="message_id",
            )


# --- periods --------------------------------------------------------------------


def _days(value: DateRange) -> DateRange:
    if not isinstance(value, DateRange):
        raise ValidationError(f"days must be a DateRange, got {value!r}", field="days")
    return value


def _start(value: datetime) -> datetime:
    return require_aware("start", value)


def _end(value: datetime) -> datetime:
    return require_aware("end", value, end=True)


@frozen(kw_only=True)
class ReportPeriod:
    """What one report covers: local ``days``, and ``[start, end)`` in UTC.

    The report is due at ``end``, the instant the last day is over.
    """

    days: DateRange = field(converter=_days)
    start: datetime = field(converter=_start)
    end: datetime = field(converter=_end)

    def __attrs_post_init__(self) -> None:
        if self.start >= self.end:
            raise ValidationError(
                f"a report period must end after it starts, got {self.start.isoformat()} "
                f"to {self.end.isoformat()}",
                field="end",
            )

    def __contains__(self, instant: object) -> bool:
        return isinstance(instant, datetime) and self.start <= instant < self.end


def _team(value: object) -> Team:
    if not isinstance(value, Team):
        raise ValidationError(f"team must be a Team, got {value!r}", field="team")
    return value


def _monthly(team: Team) -> BillingSchedule:
    """The cycles monthly reports follow: the billing cycles, or monthly ones if billed annually."""
    if team.billing.period is Period.MONTHLY:
        return team.billing
    return BillingSchedule(anchor=team.billing.anchor, period=Period.MONTHLY)


class _Periods:
    """A team's report periods of one frequency, stepped one at a time.

    Each step costs a constant number of time-zone conversions, so listing
    ``n`` periods is linear in ``n``.
    """

    def __init__(self, frequency: Frequency | str, team: Team) -> None:
        self.frequency = to_enum(Frequency, frequency)
        self.team = _team(team)
        self.tz: tzinfo = team.tz
        self.monthly = _monthly(team) if self.frequency is Frequency.MONTHLY else None

    def at(self, what: str, instant: datetime) -> ReportPeriod:
        """The period holding ``instant``."""
        instant = require_aware(what, instant, self.tz)
        if self.monthly is not None:
            return self._of_cycle(self.monthly.cycle_at(instant, self.tz))
        monday = instant.astimezone(self.tz).date()
        monday -= timedelta(days=monday.weekday())
        start = local_midnight(monday, self.tz)
        # Where a clock falls back across Monday midnight, an instant of the new
        # week can read Sunday again (no IANA zone does so at present): walk to
        # the week whose bounds hold the instant, as BillingSchedule.cycle_at does.
        while start > instant:
            monday -= _WEEK
            start = local_midnight(monday, self.tz)
        end = local_midnight(monday + _WEEK, self.tz)
        while end <= instant:
            monday, start = monday + _WEEK, end
            end = local_midnight(monday + _WEEK, self.tz)
        return self._of_week(monday, start, end)

    def after(self, period: ReportPeriod) -> ReportPeriod:
        """The period that begins where ``period`` ends."""
        if self.monthly is not None:
            return self._of_cycle(self.monthly.cycle_at(period.end, self.tz))
        monday = period.days.first + _WEEK
        return self._of_week(monday, period.end, local_midnight(monday + _WEEK, self.tz))

    @staticmethod
    def _of_week(monday: date, start: datetime, end: datetime) -> ReportPeriod:
        return ReportPeriod(days=DateRange(first=monday, last=monday + _LAST), start=start, end=end)

    @staticmethod
    def _of_cycle(cycle: Cycle) -> ReportPeriod:
        return ReportPeriod(days=cycle.date_range, start=cycle.start, end=cycle.end)


def report_period_at(frequency: Frequency | str, team: Team, instant: datetime) -> ReportPeriod:
    """The period of ``frequency`` reports for ``team`` that holds ``instant``.

    Monthly: the billing cycle holding it (for a team billed annually, the
    monthly cycle from the same anchor). Weekly: from the local midnight that
    begins its Monday to the one that begins the next Monday, in the team's
    time zone. Raises :class:`ValidationError` for a naive instant, an
    unknown frequency, or a period with a day outside the supported span.

    Example:
        >>> from datetime import UTC, datetime
        >>> from credit_usage.testing.builders import make_team
        >>> period = report_period_at("weekly", make_team(), datetime(2026, 3, 4, tzinfo=UTC))
        >>> str(period.days), period.end.isoformat()
        ('2026-03-02..2026-03-08', '2026-03-09T00:00:00+00:00')
    """
    return _Periods(frequency, team).at("instant", instant)


def due_periods(
    frequency: Frequency | str, team: Team, *, created_at: datetime, now: datetime
) -> list[ReportPeriod]:
    """Every period whose report is due by ``now``, oldest first.

    The first is the period holding ``created_at`` (a schedule's first
    report covers the period in which it was created); the last is the
    latest one with ``end <= now``. Nothing is due while ``now`` is before
    the first period's end, so ``now`` before ``created_at`` gives ``[]``.
    Which of these were already sent is the caller's business.
    """
    periods = _Periods(frequency, team)
    now = require_aware("now", now, periods.tz)
    period = periods.at("created_at", created_at)
    due: list[ReportPeriod] = []
    while period.end <= now:
        due.append(period)
        period = periods.after(period)
    return due


def next_due(
    frequency: Frequency | str, team: Team, *, created_at: datetime, now: datetime
) -> datetime:
    """When the next report falls due: the end of the first period not due by ``now``.

    That is the end of the period holding ``now``, or of the first period
    (the one holding ``created_at``) while ``now`` is before it; computed in
    constant time, whatever the gap, for storage to index due schedules.
    """
    periods = _Periods(frequency, team)
    first = periods.at("created_at", created_at)
    if require_aware("now", now, periods.tz) < first.end:
        return first.end
    return periods.at("now", now).end
