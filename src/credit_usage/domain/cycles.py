"""Billing cycles and date ranges.

Cycle *k* of a schedule starts at local midnight (in the team's time zone) of
``anchor + k months`` (or years). It is computed from the anchor every time
with :class:`dateutil.relativedelta.relativedelta` -- never by stepping from
the previous cycle -- so a Jan 31 anchor gives Feb 28 (29), Mar 31, Apr 30, ...
and an annual Feb 29 anchor gives Feb 28 in common years.

Cycles are half-open ``[start, end)`` in UTC. A local midnight that does not
exist (a DST gap, as in America/Santiago) maps to the first instant after the
gap. When the gap starts at midnight, PEP 495 ``fold=0`` (the offset in force
before the transition) lands exactly there; when midnight falls inside a gap
that starts earlier (Toronto, 1919-03-30 23:30 -> 00:30), ``fold=0`` would land
after the gap's end, so the transition is searched for instead.

Only cycles that hold at least one supported day (``EARLIEST_DAY`` to
``LATEST_DAY`` in :mod:`credit_usage.domain.validation`) are computed; asking
for any other, or for the cycle of an instant outside that span, is a
:class:`~credit_usage.errors.ValidationError`, never an overflow.
"""

from __future__ import annotations

import functools
import operator
from datetime import MAXYEAR, MINYEAR, UTC, date, datetime, time, timedelta, timezone, tzinfo
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from attrs import field, frozen
from dateutil.relativedelta import relativedelta

from credit_usage.domain.validation import (
    EARLIEST_DAY,
    LATEST_DAY,
    SUPPORTED_SPAN,
    local_date,
    require_aware,
    require_day,
    to_enum,
    zone,
)
from credit_usage.errors import ValidationError

__all__ = ["BillingSchedule", "Cycle", "DateRange", "Period", "local_midnight"]


class Period(StrEnum):
    """How long a billing cycle lasts."""

    MONTHLY = "monthly"
    ANNUAL = "annual"


def _period(value: Period | str) -> Period:
    return to_enum(Period, value)


def _first(value: date) -> date:
    return require_day("first", value)


def _last(value: date) -> date:
    return require_day("last", value)


def _anchor(value: date) -> date:
    return require_day("anchor", value)


def _zone(tz: object) -> tzinfo:
    """The time zone ``tz`` names (an IANA name), or ``tz`` itself if a tzinfo."""
    if isinstance(tz, str):
        return zone(tz)
    if isinstance(tz, tzinfo):
        return tz
    raise ValidationError(f"timezone must be an IANA zone name or a tzinfo, got {tz!r}")


def _index(k: object) -> int:
    try:
        return operator.index(k)  # type: ignore[arg-type]
    except TypeError:
        raise ValidationError(f"cycle index must be an integer, got {k!r}") from None


_TICK = timedelta(microseconds=1)


def local_midnight(day: date, tz: tzinfo) -> datetime:
    """The UTC instant at which ``day`` begins in ``tz`` (after any DST gap).

    Raises :class:`ValidationError` (chained from the cause) when that
    instant is not representable or ``tz`` fails.
    """
    try:
        return _local_midnight(day, tz)
    except Exception as exc:  # OverflowError near year 1 or 9999; a custom tzinfo
        raise ValidationError(
            f"the start of a day in time zone {tz} must be representable, got {day!r} "
            f"({type(exc).__name__}: {exc})"
        ) from exc


def _local_midnight(day: date, tz: tzinfo) -> datetime:
    wall = datetime.combine(day, time(0))
    instant = wall.replace(tzinfo=tz).astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == wall:
        return instant
    # Midnight is skipped. ``fold=1`` reads it with the offset after the gap,
    # an instant before the transition; ``instant`` is at or after it. The day
    # begins at the first instant whose wall clock reads midnight or later.
    before = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    after = instant
    while after - before > _TICK:
        middle = before + (after - before) // 2
        if middle.astimezone(tz).replace(tzinfo=None) >= wall:
            after = middle
        else:
            before = middle
    return after


@frozen(kw_only=True)
class DateRange:
    """Calendar days ``first`` to ``last``, both inclusive, in the team's time zone."""

    first: date = field(converter=_first)
    last: date = field(converter=_last)

    def __attrs_post_init__(self) -> None:
        if self.first > self.last:
            raise ValidationError(
                f"date range is reversed: first {self.first.isoformat()} is after "
                f"last {self.last.isoformat()}"
            )

    @property
    def days(self) -> int:
        """How many days the range covers."""
        return (self.last - self.first).days + 1

    def __contains__(self, day: object) -> bool:
        # A datetime is a date subclass but not a calendar day (its day depends
        # on the time zone), and comparing it with a date raises TypeError.
        return (
            isinstance(day, date)
            and not isinstance(day, datetime)
            and self.first <= day <= self.last
        )

    def start(self, tz: tzinfo | str) -> datetime:
        """The UTC instant the range begins."""
        return local_midnight(self.first, _zone(tz))

    def end(self, tz: tzinfo | str) -> datetime:
        """The UTC instant just after the range (the next day's midnight)."""
        return local_midnight(self.last + timedelta(days=1), _zone(tz))

    def __str__(self) -> str:
        return f"{self.first.isoformat()}..{self.last.isoformat()}"


@frozen(kw_only=True)
class Cycle:
    """One billing cycle: ``[start, end)`` in UTC, ``first_day..last_day`` locally."""

    index: int
    start: datetime
    end: datetime
    first_day: date
    last_day: date

    @property
    def date_range(self) -> DateRange:
        """The cycle's local days as a :class:`DateRange`."""
        return DateRange(first=self.first_day, last=self.last_day)

    def __contains__(self, instant: object) -> bool:
        return isinstance(instant, datetime) and self.start <= instant < self.end


@frozen(kw_only=True)
class BillingSchedule:
    """When a team's billing cycles start.

    Example:
        >>> from datetime import date, datetime, UTC
        >>> s = BillingSchedule(anchor=date(2024, 1, 31))
        >>> s.cycle_at(datetime(2024, 2, 29, 12, tzinfo=UTC), "UTC").first_day
        datetime.date(2024, 2, 29)
    """

    anchor: date = field(converter=_anchor)
    period: Period = field(default=Period.MONTHLY, converter=_period)

    def _step(self, k: int) -> relativedelta:
        if self.period is Period.MONTHLY:
            return relativedelta(months=k)
        return relativedelta(years=k)

    def _unsupported(self, k: int) -> ValidationError:
        return ValidationError(
            f"cycle index must name a cycle holding a day from {SUPPORTED_SPAN}, got {k!r} "
            f"({self.period} cycles from {self.anchor.isoformat()})"
        )

    def _day(self, k: int, asked: int) -> date:
        """The day cycle ``k`` begins on, if a date can hold it (else refuse ``asked``)."""
        if self.period is Period.MONTHLY:
            year = self.anchor.year + (self.anchor.month - 1 + k) // 12
        else:
            year = self.anchor.year + k
        if not MINYEAR <= year <= MAXYEAR:
            raise self._unsupported(asked)
        day: date = self.anchor + self._step(k)
        return day

    def _days(self, k: object) -> tuple[int, date, date]:
        """``k``, cycle k's first day and the day after its last, if it holds a supported day."""
        k = _index(k)
        first, following = self._day(k, k), self._day(k + 1, k)
        if first > LATEST_DAY or following <= EARLIEST_DAY:
            raise self._unsupported(k)
        return k, first, following

    def first_day(self, k: int) -> date:
        """The local date cycle ``k`` begins on (clamped to the month's end)."""
        return self._days(k)[1]

    def cycle(self, k: int, tz: tzinfo | str) -> Cycle:
        """Cycle number ``k`` (0 starts at the anchor; negative is before it)."""
        zone_ = _zone(tz)
        k, first, following = self._days(k)
        return Cycle(
            index=k,
            start=local_midnight(first, zone_),
            end=local_midnight(following, zone_),
            first_day=first,
            last_day=following - timedelta(days=1),
        )

    def cycle_at(self, instant: datetime, tz: tzinfo | str) -> Cycle:
        """The cycle that contains ``instant`` (an aware datetime)."""
        zone_ = _zone(tz)
        instant = require_aware("instant", instant, zone_)
        local = local_date("instant", instant, zone_)
        if self.period is Period.MONTHLY:
            k = (local.year - self.anchor.year) * 12 + (local.month - self.anchor.month)
        else:
            k = local.year - self.anchor.year
        # The estimate is off by at most one either way (the anchor's day of the
        # month); walk to the cycle whose bounds hold the instant.
        start, cycle = (_start, _cycle) if type(zone_) in _FIXED_ZONES else _UNCACHED
        while start(self, zone_, k, k) > instant:
            k -= 1
        while start(self, zone_, k + 1, k) <= instant:
            k += 1
        return cycle(self, zone_, k)

    def cycles_between(self, start: datetime, end: datetime, tz: tzinfo | str) -> list[Cycle]:
        """Every cycle that overlaps ``[start, end)``, in order."""
        zone_ = _zone(tz)
        start = require_aware("start", start, zone_)
        end = require_aware("end", end, zone_, end=True)
        if start > end:
            raise ValidationError(f"start {start.isoformat()} is after end {end.isoformat()}")
        if start == end:
            return []
        cycles = [self.cycle_at(start, zone_)]
        while cycles[-1].end < end:
            cycles.append(self.cycle(cycles[-1].index + 1, zone_))
        return cycles


def _start_of(schedule: BillingSchedule, zone_: tzinfo, k: int, asked: int) -> datetime:
    """The instant cycle ``k`` of ``schedule`` begins in ``zone_`` (else refuse ``asked``)."""
    return local_midnight(schedule._day(k, asked), zone_)


def _cycle_of(schedule: BillingSchedule, zone_: tzinfo, k: int) -> Cycle:
    """Cycle ``k`` of ``schedule`` in ``zone_``."""
    return schedule.cycle(k, zone_)


# Writes look up the cycle of nearly the same instant again and again: the
# bounds of a schedule's cycles are computed once per zone. Only for zones
# that are immutable values (IANA zones, fixed offsets); any other tzinfo is
# asked every time.
_FIXED_ZONES: Final = (ZoneInfo, timezone)
_start = functools.lru_cache(maxsize=4096)(_start_of)
_cycle = functools.lru_cache(maxsize=4096)(_cycle_of)
_UNCACHED: Final = (_start_of, _cycle_of)
