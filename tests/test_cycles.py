"""Billing cycles: month-end anchoring, time zones and DST gaps, negative indexes, date ranges."""

from __future__ import annotations

import calendar
import itertools
import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest
from dateutil import tz as dateutil_tz
from hypothesis import example, given
from hypothesis import strategies as st

from credit_usage import BillingSchedule, Cycle, DateRange, Period, ValidationError
from credit_usage.domain.validation import EARLIEST_DAY, LATEST_DAY
from tests.conftest import make_team
from tests.strategies import (
    aware_instants,
    cycle_indexes,
    date_ranges,
    durations,
    schedules,
    zone_names,
)

#: The smallest step of a datetime: "just before" an instant.
TICK = timedelta(microseconds=1)
DAY = timedelta(days=1)
#: The supported days, as messages name them.
SPAN = re.escape("0002-01-01..9997-12-31")
#: The furthest offsets from UTC (+14, -12), and a zone with DST.
EDGE_ZONES = ("Pacific/Kiritimati", "Etc/GMT-14", "Etc/GMT+12", "America/New_York")


def expected_first_day(schedule: BillingSchedule, k: int) -> date:
    """The anchor's day in the month (or year) ``k`` steps away, clamped to that month's end.

    Worked out with plain month arithmetic, independently of ``relativedelta``.
    """
    anchor = schedule.anchor
    if schedule.period is Period.MONTHLY:
        year, month0 = divmod(anchor.year * 12 + anchor.month - 1 + k, 12)
        month = month0 + 1
    else:
        year, month = anchor.year + k, anchor.month
    return date(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))


def local_midnight_exists(day: date, tz: ZoneInfo) -> bool:
    """Whether the wall clock in ``tz`` ever reads ``day`` 00:00 (not skipped by a DST gap)."""
    wall = datetime.combine(day, time(0), tzinfo=tz)
    return wall.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall.replace(tzinfo=None)


def wall(instant: datetime, tz: ZoneInfo) -> datetime:
    """What a clock on the wall in ``tz`` reads at ``instant``."""
    return instant.astimezone(tz).replace(tzinfo=None)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


class TestCyclesTileTime:
    """Consecutive cycles meet exactly: no instant is in two cycles or in none."""

    @given(schedule=schedules(), tz=zone_names(), k=cycle_indexes())
    def test_each_cycle_ends_where_the_next_begins(
        self, schedule: BillingSchedule, tz: str, k: int
    ) -> None:
        """Cycle k ends at the very instant cycle k + 1 starts, and starts before it ends."""
        this, following = schedule.cycle(k, tz), schedule.cycle(k + 1, tz)
        assert (this.index, following.index) == (k, k + 1)
        assert this.end == following.start
        assert this.start < this.end

    @given(schedule=schedules(), tz=zone_names(), k=cycle_indexes())
    def test_last_day_is_the_day_before_the_next_first_day(
        self, schedule: BillingSchedule, tz: str, k: int
    ) -> None:
        """A cycle's last local day is the day before the next cycle's first day."""
        this, following = schedule.cycle(k, tz), schedule.cycle(k + 1, tz)
        assert this.last_day == following.first_day - timedelta(days=1)
        assert this.date_range == DateRange(first=this.first_day, last=this.last_day)


class TestMonthEndAnchoring:
    """Cycle k starts on the anchor's day, or on the month's last day when the month is shorter."""

    @given(schedule=schedules(), tz=zone_names(), k=cycle_indexes())
    def test_first_day_is_the_anchor_day_clamped_to_the_months_end(
        self, schedule: BillingSchedule, tz: str, k: int
    ) -> None:
        """first_day is the anchor's day k months (years) on, or that month's last day."""
        assert schedule.cycle(k, tz).first_day == expected_first_day(schedule, k)

    def test_a_jan_31_anchor_through_a_leap_year(self) -> None:
        """A Jan 31 anchor gives Feb 29, Mar 31, Apr 30, ... and Jan 31 again a year on."""
        schedule = BillingSchedule(anchor=date(2024, 1, 31))
        first_days = [schedule.cycle(k, "UTC").first_day for k in range(13)]
        assert first_days == [
            date(2024, 1, 31),
            date(2024, 2, 29),
            date(2024, 3, 31),
            date(2024, 4, 30),
            date(2024, 5, 31),
            date(2024, 6, 30),
            date(2024, 7, 31),
            date(2024, 8, 31),
            date(2024, 9, 30),
            date(2024, 10, 31),
            date(2024, 11, 30),
            date(2024, 12, 31),
            date(2025, 1, 31),
        ]

    def test_the_february_cycle_of_a_jan_31_anchor_runs_to_march_30(self) -> None:
        """After a clamped Feb 29 start, the cycle still ends before Mar 31."""
        cycle = BillingSchedule(anchor=date(2024, 1, 31)).cycle(1, "UTC")
        assert cycle == Cycle(
            index=1,
            start=utc(2024, 2, 29),
            end=utc(2024, 3, 31),
            first_day=date(2024, 2, 29),
            last_day=date(2024, 3, 30),
        )

    def test_a_clamped_month_does_not_drag_later_cycles_back(self) -> None:
        """Each cycle is computed from the anchor, so Mar 31 follows Feb 28 in a common year."""
        schedule = BillingSchedule(anchor=date(2025, 1, 31))
        assert schedule.cycle(1, "UTC").first_day == date(2025, 2, 28)
        assert schedule.cycle(2, "UTC").first_day == date(2025, 3, 31)

    def test_an_annual_feb_29_anchor_falls_on_feb_28_in_common_years(self) -> None:
        """An annual Feb 29 anchor gives Feb 28 in common years and Feb 29 in leap years."""
        schedule = BillingSchedule(anchor=date(2024, 2, 29), period="annual")
        assert schedule.cycle(1, "UTC").first_day == date(2025, 2, 28)
        assert schedule.cycle(1, "UTC").last_day == date(2026, 2, 27)
        assert schedule.cycle(3, "UTC").last_day == date(2028, 2, 28)
        assert schedule.cycle(4, "UTC").first_day == date(2028, 2, 29)
        assert schedule.cycle(-1, "UTC").first_day == date(2023, 2, 28)


class TestNegativeIndexes:
    """Cycles before the anchor have negative indexes and follow the same rule."""

    def test_cycles_before_a_jan_31_anchor(self) -> None:
        """Cycle -1 of a Jan 31, 2024 anchor starts Dec 31, 2023; cycle -11 on Feb 28, 2023."""
        schedule = BillingSchedule(anchor=date(2024, 1, 31))
        assert schedule.cycle(-1, "UTC").first_day == date(2023, 12, 31)
        assert schedule.cycle(-1, "UTC").last_day == date(2024, 1, 30)
        assert schedule.cycle(-11, "UTC").first_day == date(2023, 2, 28)
        assert schedule.cycle(-12, "UTC").first_day == date(2023, 1, 31)

    def test_an_instant_before_the_anchor_is_in_a_negative_cycle(self) -> None:
        """cycle_at an instant before the anchor finds the negative cycle that holds it."""
        schedule = BillingSchedule(anchor=date(2024, 1, 31))
        cycle = schedule.cycle_at(utc(2023, 3, 30, 23, 59), "UTC")
        assert (cycle.index, cycle.first_day) == (-11, date(2023, 2, 28))


class TestLocalMidnight:
    """A cycle starts at local midnight of its first day, or just after a DST gap that skips it."""

    @given(schedule=schedules(), name=zone_names(), k=cycle_indexes())
    @example(schedule=BillingSchedule(anchor=date(2026, 8, 6)), name="America/Santiago", k=1)
    @example(schedule=BillingSchedule(anchor=date(2022, 3, 22)), name="Asia/Tehran", k=0)
    @example(schedule=BillingSchedule(anchor=date(2018, 10, 4)), name="America/Sao_Paulo", k=1)
    @example(
        schedule=BillingSchedule(anchor=date(1941, 10, 1), period="annual"),
        name="Asia/Kolkata",
        k=0,
    )
    @example(schedule=BillingSchedule(anchor=date(2010, 5, 2)), name="Africa/Casablanca", k=0)
    @example(schedule=BillingSchedule(anchor=date(1919, 3, 31)), name="America/Toronto", k=0)
    def test_start_is_local_midnight_or_the_end_of_the_gap_that_skips_it(
        self, schedule: BillingSchedule, name: str, k: int
    ) -> None:
        """At start the wall clock crosses into first_day: 00:00, or past a gap that skips it."""
        tz = ZoneInfo(name)
        cycle = schedule.cycle(k, name)
        midnight = datetime.combine(cycle.first_day, time(0))
        assert cycle.start.tzinfo is UTC
        assert cycle.start.astimezone(tz).date() == cycle.first_day
        # One tick earlier the clock still reads the day before: start is the first such instant.
        assert wall(cycle.start - TICK, tz) < midnight
        if local_midnight_exists(cycle.first_day, tz):
            assert wall(cycle.start, tz) == midnight
        else:
            assert wall(cycle.start, tz) > midnight
            assert (cycle.start - TICK).astimezone(tz).utcoffset() != cycle.start.astimezone(
                tz
            ).utcoffset()

    def test_new_york_cycles_start_at_5z_in_winter_and_4z_in_summer(self) -> None:
        """Midnight in New York is 05:00 UTC under EST and 04:00 UTC under EDT."""
        schedule = BillingSchedule(anchor=date(2026, 1, 15))
        winter, summer = (
            schedule.cycle(0, "America/New_York"),
            schedule.cycle(6, "America/New_York"),
        )
        assert winter.start == utc(2026, 1, 15, 5)
        assert summer.start == utc(2026, 7, 15, 4)
        assert winter.end == utc(2026, 2, 15, 5)

    def test_santiagos_missing_midnight_starts_the_cycle_after_the_gap(self) -> None:
        """Santiago skips 2026-09-06 00:00 (clocks jump to 01:00), so the cycle starts at 04:00Z."""
        santiago = ZoneInfo("America/Santiago")
        assert not local_midnight_exists(date(2026, 9, 6), santiago)
        # The transition: 03:59:59Z is Sept 5, 23:59:59 at -04; 04:00Z is Sept 6, 01:00 at -03.
        assert wall(utc(2026, 9, 6, 4) - TICK, santiago).date() == date(2026, 9, 5)
        assert wall(utc(2026, 9, 6, 4), santiago) == datetime(2026, 9, 6, 1)

        schedule = BillingSchedule(anchor=date(2026, 8, 6))
        cycle = schedule.cycle(1, "America/Santiago")
        assert cycle.start == utc(2026, 9, 6, 4)
        assert cycle.first_day == date(2026, 9, 6)
        assert schedule.cycle(0, "America/Santiago").end == cycle.start
        assert schedule.cycle_at(utc(2026, 9, 6, 3, 59, 59), "America/Santiago").index == 0
        assert schedule.cycle_at(utc(2026, 9, 6, 4), "America/Santiago").index == 1

    def test_a_midnight_inside_a_gap_that_starts_earlier_maps_to_the_gaps_end(self) -> None:
        """Toronto skipped 1919-03-30 23:30 to 00:30: Mar 31 begins at 00:30 local, 04:30Z."""
        toronto = ZoneInfo("America/Toronto")
        assert not local_midnight_exists(date(1919, 3, 31), toronto)
        assert wall(utc(1919, 3, 31, 4, 30) - TICK, toronto) == datetime(
            1919, 3, 30, 23, 29, 59, 999999
        )
        assert wall(utc(1919, 3, 31, 4, 30), toronto) == datetime(1919, 3, 31, 0, 30)

        schedule = BillingSchedule(anchor=date(1919, 3, 31))
        cycle = schedule.cycle(0, toronto)
        assert cycle.start == utc(1919, 3, 31, 4, 30)
        # An instant of Mar 31 (local 00:45) belongs to the cycle that starts that day.
        assert schedule.cycle_at(utc(1919, 3, 31, 4, 45), toronto) == cycle

    def test_a_team_asks_its_own_time_zone(self) -> None:
        """Team.cycle_at and Team.cycles_between use the team's time zone."""
        team = make_team(billing=BillingSchedule(anchor=date(2026, 1, 15)), timezone="Asia/Kolkata")
        cycle = team.cycle_at(utc(2026, 3, 14, 18, 29))
        assert cycle.first_day == date(2026, 2, 15)
        assert team.cycle_at(utc(2026, 3, 14, 18, 30)).first_day == date(2026, 3, 15)
        assert team.cycles_between(utc(2026, 3, 1), utc(2026, 3, 20)) == [
            team.billing.cycle(1, "Asia/Kolkata"),
            team.billing.cycle(2, "Asia/Kolkata"),
        ]


class TestCycleAt:
    """cycle_at(t) is the one cycle whose [start, end) holds t."""

    @given(schedule=schedules(), tz=zone_names(), instant=aware_instants())
    def test_cycle_at_contains_the_instant(
        self, schedule: BillingSchedule, tz: str, instant: datetime
    ) -> None:
        """The cycle found for an instant contains it and is the schedule's cycle of that index."""
        cycle = schedule.cycle_at(instant, tz)
        assert cycle.start <= instant < cycle.end
        assert instant in cycle
        assert cycle == schedule.cycle(cycle.index, tz)

    @given(schedule=schedules(), tz=zone_names(), k=cycle_indexes())
    def test_the_bounds_of_a_cycle_belong_to_the_right_cycles(
        self, schedule: BillingSchedule, tz: str, k: int
    ) -> None:
        """A cycle's start is in it; the instant before it is in the previous cycle (half-open)."""
        cycle = schedule.cycle(k, tz)
        assert schedule.cycle_at(cycle.start, tz) == cycle
        assert schedule.cycle_at(cycle.start - TICK, tz).index == k - 1
        assert cycle.end not in cycle

    def test_a_zone_name_and_a_zoneinfo_give_the_same_cycle(self) -> None:
        """The time zone may be passed by IANA name or as a tzinfo."""
        schedule = BillingSchedule(anchor=date(2024, 1, 31))
        instant = utc(2024, 3, 1, 2)
        assert schedule.cycle_at(instant, "Pacific/Chatham") == schedule.cycle_at(
            instant, ZoneInfo("Pacific/Chatham")
        )

    @given(schedule=schedules(), tz=zone_names(), instant=aware_instants())
    def test_any_tzinfo_gives_the_cycle_of_the_iana_zone(
        self, schedule: BillingSchedule, tz: str, instant: datetime
    ) -> None:
        """dateutil's zones (not cached, unlike IANA zones) find the same cycle as ZoneInfo."""
        other = dateutil_tz.gettz(tz)
        assert other is not None
        assert schedule.cycle_at(instant, other) == schedule.cycle_at(instant, tz)

    def test_a_tzinfo_of_its_own_is_asked_every_time(self) -> None:
        """Cycle bounds are remembered only for immutable zones: a tzinfo of the host's is not."""

        class Shifting(tzinfo):
            """UTC+0, then UTC+12 once the host changes it."""

            offset = timedelta(0)

            def utcoffset(self, dt: datetime | None) -> timedelta:
                return self.offset

            def dst(self, dt: datetime | None) -> timedelta:
                return timedelta(0)

        zone_ = Shifting()
        schedule = BillingSchedule(anchor=date(2026, 1, 1))
        instant = utc(2026, 3, 31, 13)
        assert schedule.cycle_at(instant, zone_).first_day == date(2026, 3, 1)
        zone_.offset = timedelta(hours=12)  # 1 April, 01:00 local
        assert schedule.cycle_at(instant, zone_).first_day == date(2026, 4, 1)

    def test_a_naive_instant_is_refused(self) -> None:
        """A naive datetime has no place in time, so cycle_at refuses it."""
        with pytest.raises(ValidationError, match="2024-03-01T02:00:00"):
            BillingSchedule(anchor=date(2024, 1, 31)).cycle_at(datetime(2024, 3, 1, 2), "UTC")

    def test_an_unknown_time_zone_is_refused(self) -> None:
        """An invalid zone name is a ValidationError naming it."""
        with pytest.raises(ValidationError, match="Mars/Olympus"):
            BillingSchedule(anchor=date(2024, 1, 31)).cycle_at(utc(2024, 3, 1), "Mars/Olympus")


class TestCyclesBetween:
    """cycles_between(a, b) lists, in order, exactly the cycles that overlap [a, b)."""

    @given(schedule=schedules(), tz=zone_names(), start=aware_instants(), length=durations())
    def test_cycles_between_cover_the_interval_exactly(
        self, schedule: BillingSchedule, tz: str, start: datetime, length: timedelta
    ) -> None:
        """The first cycle holds a, the last holds b - ε, they are consecutive and each overlaps."""
        end = start.astimezone(UTC) + length
        found = schedule.cycles_between(start, end, tz)
        assert found
        assert start in found[0]
        assert end - TICK in found[-1]
        for before, after in itertools.pairwise(found):
            assert after.index == before.index + 1
            assert before.end == after.start
        for cycle in found:
            assert cycle.start < end
            assert cycle.end > start

    def test_an_empty_interval_has_no_cycles(self) -> None:
        """[a, a) is empty, so no cycle overlaps it."""
        instant = utc(2024, 3, 1)
        assert (
            BillingSchedule(anchor=date(2024, 1, 31)).cycles_between(instant, instant, "UTC") == []
        )

    def test_an_interval_ending_at_a_cycle_start_excludes_that_cycle(self) -> None:
        """The end is exclusive: an interval ending at a cycle's start does not include it."""
        schedule = BillingSchedule(anchor=date(2024, 1, 31))
        found = schedule.cycles_between(utc(2024, 1, 31), utc(2024, 3, 31), "UTC")
        assert [cycle.first_day for cycle in found] == [date(2024, 1, 31), date(2024, 2, 29)]

    def test_a_reversed_interval_is_refused(self) -> None:
        """An interval whose start is after its end is a ValidationError naming both."""
        with pytest.raises(ValidationError, match=r"2024-03-02.*2024-03-01"):
            BillingSchedule(anchor=date(2024, 1, 31)).cycles_between(
                utc(2024, 3, 2), utc(2024, 3, 1), "UTC"
            )


class TestDateRange:
    """A DateRange is both-inclusive local days, never reversed."""

    def test_a_reversed_range_is_refused_naming_both_dates(self) -> None:
        """first after last is a ValidationError that names both dates."""
        with pytest.raises(ValidationError, match=r"2024-03-02.*2024-03-01"):
            DateRange(first=date(2024, 3, 2), last=date(2024, 3, 1))

    @pytest.mark.parametrize(
        ("first", "last", "days"),
        [
            (date(2024, 3, 1), date(2024, 3, 1), 1),
            (date(2024, 2, 1), date(2024, 2, 29), 29),
            (date(2023, 12, 31), date(2024, 12, 31), 367),
        ],
    )
    def test_days_counts_both_ends(self, first: date, last: date, days: int) -> None:
        """days counts the first and the last day."""
        assert DateRange(first=first, last=last).days == days

    @given(date_range=date_ranges(), day=st.dates())
    def test_a_day_is_in_the_range_exactly_when_between_first_and_last(
        self, date_range: DateRange, day: date
    ) -> None:
        """`day in range` holds exactly for first <= day <= last."""
        assert (day in date_range) == (date_range.first <= day <= date_range.last)
        assert date_range.first in date_range
        assert date_range.last in date_range

    def test_something_other_than_a_date_is_not_in_a_range(self) -> None:
        """A string is never in a date range."""
        assert "2024-03-01" not in DateRange(first=date(2024, 3, 1), last=date(2024, 3, 2))

    def test_a_datetime_is_not_a_day_of_the_range(self) -> None:
        """A datetime is not a calendar day: `in` says False rather than raising TypeError."""
        date_range = DateRange(first=date(2024, 3, 1), last=date(2024, 3, 2))
        assert datetime(2024, 3, 1, 12) not in date_range
        assert datetime(2024, 3, 1, 12, tzinfo=UTC) not in date_range

    def test_datetimes_are_not_dates(self) -> None:
        """Range bounds are calendar days; a datetime is refused naming it."""
        with pytest.raises(ValidationError, match="2024"):
            DateRange(first=datetime(2024, 3, 1), last=date(2024, 3, 2))

    def test_a_range_spans_local_midnights(self) -> None:
        """start/end are the local midnights of first and of the day after last."""
        date_range = DateRange(first=date(2026, 1, 1), last=date(2026, 1, 31))
        new_york = ZoneInfo("America/New_York")
        assert date_range.start(new_york) == utc(2026, 1, 1, 5)
        assert date_range.end(new_york) == utc(2026, 2, 1, 5)
        assert str(date_range) == "2026-01-01..2026-01-31"


class TestSupportedDays:
    """Days 0002-01-01 to 9997-12-31 work in every zone; beyond them, a ValidationError."""

    @pytest.mark.parametrize(
        ("first", "last", "named"),
        [
            (date.min, date.max, "first"),
            (date(2024, 1, 1), date.max, "last"),
            (EARLIEST_DAY - DAY, EARLIEST_DAY, "first"),
            (LATEST_DAY, LATEST_DAY + DAY, "last"),
        ],
    )
    def test_a_range_beyond_the_supported_days_is_refused_naming_the_day_and_span(
        self, first: date, last: date, named: str
    ) -> None:
        """A range reaching outside the span is refused, naming the bound at fault."""
        with pytest.raises(ValidationError, match=f"{named} must be a day from {SPAN}"):
            DateRange(first=first, last=last)

    @pytest.mark.parametrize("name", EDGE_ZONES)
    def test_a_range_of_all_supported_days_starts_and_ends_in_any_zone(self, name: str) -> None:
        """Every supported day begins and ends at a representable instant, even at UTC+14/-12."""
        tz = ZoneInfo(name)
        everything = DateRange(first=EARLIEST_DAY, last=LATEST_DAY)
        assert wall(everything.start(tz), tz) == datetime.combine(EARLIEST_DAY, time(0))
        assert wall(everything.end(tz), tz) == datetime.combine(LATEST_DAY + DAY, time(0))

    @pytest.mark.parametrize("anchor", [date.min, EARLIEST_DAY - DAY, LATEST_DAY + DAY, date.max])
    def test_an_anchor_outside_the_supported_days_is_refused(self, anchor: date) -> None:
        """A schedule anchored outside the span is refused, naming the anchor and the span."""
        with pytest.raises(ValidationError, match=f"anchor must be a day from {SPAN}"):
            BillingSchedule(anchor=anchor)

    @pytest.mark.parametrize("k", [10**30, -(10**30), 2**63, 100_000, -30_000])
    @pytest.mark.parametrize("period", Period)
    def test_a_cycle_index_beyond_the_supported_days_is_refused(
        self, k: int, period: Period
    ) -> None:
        """cycle(k) and first_day(k) refuse a cycle with no supported day, naming k and the span."""
        schedule = BillingSchedule(anchor=date(2024, 1, 31), period=period)
        with pytest.raises(ValidationError, match=f"cycle index .*{SPAN}, got {k}"):
            schedule.cycle(k, "UTC")
        with pytest.raises(ValidationError, match=f"cycle index .*{SPAN}, got {k}"):
            schedule.first_day(k)

    @pytest.mark.parametrize("k", [1.5, "1", None])
    def test_a_cycle_index_must_be_an_integer(self, k: object) -> None:
        """A float, text or None is no cycle index."""
        with pytest.raises(ValidationError, match=f"cycle index must be an integer, got {k!r}"):
            BillingSchedule(anchor=date(2024, 1, 31)).cycle(k, "UTC")  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("instant", "name"),
        [
            (datetime(9999, 12, 31, 12, tzinfo=UTC), "UTC"),
            (datetime(1, 1, 1, tzinfo=ZoneInfo("America/New_York")), "America/New_York"),
            (datetime(1, 1, 1, 23, 59, tzinfo=UTC), "UTC"),
            # In UTC still 9997-12-31, but already 9998-01-01 in Kiritimati.
            (datetime(9997, 12, 31, 10, tzinfo=UTC), "Pacific/Kiritimati"),
        ],
    )
    def test_the_cycle_of_an_instant_beyond_the_supported_days_is_refused(
        self, instant: datetime, name: str
    ) -> None:
        """Instants near year 1 or 9999 (in UTC or locally) are refused naming them and the span."""
        with pytest.raises(ValidationError, match=f"instant must fall on a day from {SPAN}"):
            BillingSchedule(anchor=date(2024, 1, 31)).cycle_at(instant, name)

    @pytest.mark.parametrize("name", EDGE_ZONES)
    @pytest.mark.parametrize(
        "schedule",
        [
            BillingSchedule(anchor=date(2024, 1, 2), period="annual"),
            BillingSchedule(anchor=date(2024, 12, 31), period="annual"),
            BillingSchedule(anchor=date(2024, 1, 31)),
        ],
        ids=["annual-jan-2", "annual-dec-31", "monthly-31"],
    )
    def test_the_first_and_last_supported_instants_have_their_cycle(
        self, schedule: BillingSchedule, name: str
    ) -> None:
        """The cycles of both ends of the span, up to a year beyond it, are computed in any zone."""
        tz = ZoneInfo(name)
        everything = DateRange(first=EARLIEST_DAY, last=LATEST_DAY)
        earliest, latest = everything.start(tz), everything.end(tz) - TICK
        for instant in (earliest, latest):
            cycle = schedule.cycle_at(instant, tz)
            assert cycle.start <= instant < cycle.end
        assert schedule.cycles_between(earliest, earliest + DAY, tz)
        assert schedule.cycles_between(latest - DAY, latest + TICK, tz)
        for beyond in (earliest - TICK, latest + TICK):
            with pytest.raises(ValidationError, match=SPAN):
                schedule.cycle_at(beyond, tz)

    def test_the_annual_cycles_of_all_supported_days_tile_them(self) -> None:
        """cycles_between over the whole span at UTC+14 gives 9,997 cycles, from year 1 on."""
        tz = ZoneInfo("Etc/GMT-14")
        schedule = BillingSchedule(anchor=date(2024, 1, 2), period="annual")
        found = schedule.cycles_between(
            datetime.combine(EARLIEST_DAY, time(0), tzinfo=UTC),
            datetime.combine(LATEST_DAY, time(0), tzinfo=UTC),
            tz,
        )
        assert found[0].first_day == date(1, 1, 2)
        assert found[-1].first_day == date(9997, 1, 2)
        assert len(found) == 9997

    def test_an_interval_running_beyond_the_supported_days_is_refused(self) -> None:
        """cycles_between refuses an end in year 9999 rather than overflowing."""
        with pytest.raises(ValidationError, match=f"end must fall on a day from {SPAN}, or be"):
            BillingSchedule(anchor=date(2024, 1, 31)).cycles_between(
                utc(2024, 1, 1), utc(9999, 12, 31), "UTC"
            )

    def test_a_cycle_reaching_beyond_the_supported_days_has_no_date_range(self) -> None:
        """A cycle may start before 0002-01-01; its days are then not a DateRange, refused."""
        cycle = BillingSchedule(anchor=date(2024, 1, 2), period="annual").cycle_at(
            utc(2, 1, 1), "UTC"
        )
        assert cycle.first_day == date(1, 1, 2)
        with pytest.raises(ValidationError, match=f"first must be a day from {SPAN}"):
            _ = cycle.date_range
