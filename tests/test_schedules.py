"""Report schedules: weekly and monthly periods, due dates after an outage, safe recipient lists."""

from __future__ import annotations

import itertools
import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from email.headerregistry import Address
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from credit_usage import BillingSchedule, DateRange, Frequency, Team, ValidationError
from credit_usage.domain import cycles, schedules
from credit_usage.domain.schedules import (
    MAX_RECIPIENTS,
    DeliveryResult,
    DeliveryStatus,
    ReportPeriod,
    ReportSchedule,
    due_periods,
    next_due,
    report_period_at,
    require_recipients,
)
from tests.conftest import make_team
from tests.strategies import aware_instants, emails
from tests.strategies import schedules as billing_schedules

#: The smallest step of a datetime: "just before" an instant.
TICK = timedelta(microseconds=1)
DAY = timedelta(days=1)
WEEK = timedelta(days=7)

#: Zones whose clocks make weeks and months awkward: DST in March and November
#: (New York), 30-minute DST (Lord Howe), DST gaps at midnight (Santiago on a
#: Sunday, Tehran on a Monday), an ambiguous Monday midnight (Jerusalem, 2002),
#: a day that never happened (Kiritimati, 1994-12-31) and the extreme offsets.
TRICKY_ZONES = (
    "UTC",
    "Asia/Tokyo",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Tehran",
    "Asia/Jerusalem",
    "Pacific/Kiritimati",
    "Pacific/Chatham",
    "Etc/GMT+12",
    "Antarctica/Vostok",
    "Africa/Casablanca",
)
ALL_ZONES = sorted(available_timezones())


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def wall(instant: datetime, zone: str) -> datetime:
    """What a clock on the wall in ``zone`` reads at ``instant``."""
    return instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def zone_names() -> st.SearchStrategy[str]:
    """Any IANA zone this system knows, the awkward ones drawn half the time."""
    return st.one_of(st.sampled_from(TRICKY_ZONES), st.sampled_from(ALL_ZONES))


def frequencies() -> st.SearchStrategy[Frequency]:
    return st.sampled_from(Frequency)


@st.composite
def teams(draw: st.DrawFn) -> Team:
    """A team in any zone, billed monthly or annually from any anchor."""
    return make_team(billing=draw(billing_schedules()), timezone=draw(zone_names()))


def addresses() -> st.SearchStrategy[str]:
    """Addresses RFC 5322 calls dot-atoms: any atext, dots only between atoms."""
    atext = r"[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]"
    return st.from_regex(
        rf"{atext}{{1,10}}(\.{atext}{{1,5}}){{0,2}}@[a-z0-9-]{{1,12}}(\.[a-z0-9-]{{1,8}})?\.[a-z]{{2,6}}",
        fullmatch=True,
    )


def schedule(**overrides: Any) -> ReportSchedule:
    values: dict[str, Any] = {
        "schedule_id": "weekly-usage",
        "team_id": "acme",
        "frequency": "weekly",
        "recipients": ["ann@example.com"],
        "created_by": "ana",
        "created_at": utc(2026, 3, 4, 9),
    }
    return ReportSchedule(**(values | overrides))


class TestMonthlyPeriodsAreBillingCycles:
    """A monthly report covers one billing cycle and is due when the cycle ends."""

    @given(team=teams(), instant=aware_instants())
    def test_a_monthly_period_is_the_billing_cycle_holding_the_instant(
        self, team: Team, instant: datetime
    ) -> None:
        """For a team billed monthly, the period's days and bounds are its cycle's."""
        team = make_team(
            billing=BillingSchedule(anchor=team.billing.anchor), timezone=team.timezone
        )
        cycle = team.cycle_at(instant)
        period = report_period_at(Frequency.MONTHLY, team, instant)
        assert period == ReportPeriod(days=cycle.date_range, start=cycle.start, end=cycle.end)

    def test_the_report_of_a_cycle_is_due_at_the_cycles_end(self) -> None:
        """Nothing is due a microsecond before the cycle ends; the cycle is due at its end."""
        team = make_team(billing=BillingSchedule(anchor=date(2025, 1, 15)), timezone="Asia/Tokyo")
        created = local("Asia/Tokyo", 2025, 3, 20, 9)
        end = local("Asia/Tokyo", 2025, 4, 15).astimezone(UTC)
        assert due_periods("monthly", team, created_at=created, now=end - TICK) == []
        [period] = due_periods("monthly", team, created_at=created, now=end)
        assert period.days == DateRange(first=date(2025, 3, 15), last=date(2025, 4, 14))
        assert (period.start, period.end) == (local("Asia/Tokyo", 2025, 3, 15), end)
        assert next_due("monthly", team, created_at=created, now=end - TICK) == end
        assert next_due("monthly", team, created_at=created, now=end) == local(
            "Asia/Tokyo", 2025, 5, 15
        )

    def test_created_on_the_last_day_of_a_cycle_the_first_report_covers_that_cycle(self) -> None:
        """Created at 23:59 on a cycle's last day, the first report covers that (ending) cycle."""
        team = make_team(timezone="America/New_York")  # billed from the 15th
        created = local("America/New_York", 2025, 4, 14, 23, 59)
        period = report_period_at("monthly", team, created)
        assert period.days == DateRange(first=date(2025, 3, 15), last=date(2025, 4, 14))
        assert period.end == local("America/New_York", 2025, 4, 15)
        [due] = due_periods("monthly", team, created_at=created, now=period.end)
        assert due == period

    def test_created_at_the_exact_start_of_a_cycle_the_first_report_covers_that_cycle(
        self,
    ) -> None:
        """Created at a cycle's first instant, the first report covers that cycle, not the last."""
        team = make_team(timezone="America/New_York")
        cycle = team.billing.cycle(3, team.tz)
        period = report_period_at("monthly", team, cycle.start)
        assert (period.start, period.end) == (cycle.start, cycle.end)
        assert due_periods("monthly", team, created_at=cycle.start, now=cycle.end - TICK) == []

    def test_a_team_billed_annually_gets_monthly_periods_from_its_anchor(self) -> None:
        """With annual billing from Jan 31, monthly periods start Jan 31, Feb 28, Mar 31, ..."""
        team = make_team(billing=BillingSchedule(anchor=date(2025, 1, 31), period="annual"))
        due = due_periods("monthly", team, created_at=utc(2025, 2, 1), now=utc(2025, 5, 1))
        assert [str(period.days) for period in due] == [
            "2025-01-31..2025-02-27",
            "2025-02-28..2025-03-30",
            "2025-03-31..2025-04-29",
        ]


class TestWeeklyPeriods:
    """A weekly report covers Monday 00:00 to the next Monday 00:00 on the team's clock."""

    @pytest.mark.parametrize(
        ("zone", "instant", "monday", "start", "end"),
        [
            # No DST: Monday 00:00 JST is Sunday 15:00Z.
            (
                "Asia/Tokyo",
                utc(2026, 3, 4, 12),
                date(2026, 3, 2),
                utc(2026, 3, 1, 15),
                utc(2026, 3, 8, 15),
            ),
            # The week DST starts (Sun Mar 8) is an hour short: 05:00Z to 04:00Z.
            (
                "America/New_York",
                utc(2026, 3, 4),
                date(2026, 3, 2),
                utc(2026, 3, 2, 5),
                utc(2026, 3, 9, 4),
            ),
            # The week DST ends (Sun Nov 1) is an hour long: 04:00Z to 05:00Z.
            (
                "America/New_York",
                utc(2026, 10, 28),
                date(2026, 10, 26),
                utc(2026, 10, 26, 4),
                utc(2026, 11, 2, 5),
            ),
            # Lord Howe moves its clocks by 30 minutes: +11 to +10:30 in April, back in October.
            (
                "Australia/Lord_Howe",
                utc(2026, 4, 1),
                date(2026, 3, 30),
                utc(2026, 3, 29, 13),
                utc(2026, 4, 5, 13, 30),
            ),
            (
                "Australia/Lord_Howe",
                utc(2026, 9, 30),
                date(2026, 9, 28),
                utc(2026, 9, 27, 13, 30),
                utc(2026, 10, 4, 13),
            ),
            # Santiago skips Sunday 2026-09-06 00:00; the week holding it is an hour short.
            (
                "America/Santiago",
                utc(2026, 9, 2),
                date(2026, 8, 31),
                utc(2026, 8, 31, 4),
                utc(2026, 9, 7, 3),
            ),
            # And repeats Saturday 23:00-24:00 on 2026-04-04: an hour long.
            (
                "America/Santiago",
                utc(2026, 4, 1),
                date(2026, 3, 30),
                utc(2026, 3, 30, 3),
                utc(2026, 4, 6, 4),
            ),
            # UTC+14.
            (
                "Pacific/Kiritimati",
                utc(2026, 3, 4),
                date(2026, 3, 2),
                utc(2026, 3, 1, 10),
                utc(2026, 3, 8, 10),
            ),
            # Kiritimati went from -10 to +14 and skipped Saturday 1994-12-31: a six-day week.
            (
                "Pacific/Kiritimati",
                utc(1994, 12, 28),
                date(1994, 12, 26),
                utc(1994, 12, 26, 10),
                utc(1995, 1, 1, 10),
            ),
        ],
    )
    def test_a_week_runs_from_local_monday_midnight_to_the_next(
        self, zone: str, instant: datetime, monday: date, start: datetime, end: datetime
    ) -> None:
        """The week holding the instant: Monday to Sunday locally, midnight to midnight in UTC."""
        period = report_period_at("weekly", make_team(timezone=zone), instant)
        assert period.days == DateRange(first=monday, last=monday + timedelta(days=6))
        assert (period.start, period.end) == (start, end)
        assert wall(period.start, zone) == datetime.combine(monday, time(0))
        assert wall(period.end, zone) == datetime.combine(monday + WEEK, time(0))

    def test_a_monday_midnight_skipped_by_dst_starts_the_week_after_the_gap(self) -> None:
        """Tehran jumped from 00:00 to 01:00 on Monday 2021-03-22: that week starts at 01:00."""
        team = make_team(timezone="Asia/Tehran")
        period = report_period_at("weekly", team, utc(2021, 3, 24))
        assert period.start == utc(2021, 3, 21, 20, 30)
        assert wall(period.start, "Asia/Tehran") == datetime(2021, 3, 22, 1)
        assert wall(period.start - TICK, "Asia/Tehran").date() == date(2021, 3, 21)
        assert period.start == cycles.local_midnight(date(2021, 3, 22), team.tz)
        assert report_period_at("weekly", team, period.start - TICK).end == period.start

    def test_an_ambiguous_monday_midnight_starts_the_week_at_its_first_occurrence(self) -> None:
        """Jerusalem read Monday 2002-10-07 00:00 twice; the week starts at the first, 21:00Z."""
        team = make_team(timezone="Asia/Jerusalem")
        period = report_period_at("weekly", team, utc(2002, 10, 9))
        assert period.start == utc(2002, 10, 6, 21)
        assert report_period_at("weekly", team, utc(2002, 10, 6, 22)) == period  # the repeat

    def test_created_on_sunday_at_2359_local_the_first_report_covers_that_week(self) -> None:
        """A minute before Monday, the schedule's first week is the one ending that midnight."""
        team = make_team(timezone="America/New_York")
        created = local("America/New_York", 2026, 3, 8, 23, 59)  # the Sunday DST began
        period = report_period_at("weekly", team, created)
        assert str(period.days) == "2026-03-02..2026-03-08"
        assert period.end == local("America/New_York", 2026, 3, 9)
        assert due_periods("weekly", team, created_at=created, now=period.end) == [period]

    def test_created_on_monday_at_0000_local_the_first_report_covers_the_new_week(self) -> None:
        """At Monday 00:00 exactly the new week has begun; the old one is never reported."""
        team = make_team(timezone="America/New_York")
        created = local("America/New_York", 2026, 3, 9)
        period = report_period_at("weekly", team, created)
        assert str(period.days) == "2026-03-09..2026-03-15"
        assert period.start == created
        assert due_periods("weekly", team, created_at=created, now=period.end - TICK) == []

    def test_a_clock_falling_back_across_midnight_leaves_its_repeat_in_the_new_week(self) -> None:
        """Instants after Monday began are in its week, though the clock reads Sunday again."""
        team = _TeamOnItsOwnClock(
            team_id="odd",
            name="Odd",
            plan="pro",
            billing=BillingSchedule(anchor=date(2024, 1, 1)),
            credits_per_cycle=0,
        )
        monday = report_period_at("weekly", team, utc(2024, 1, 8, 12))
        assert monday.start == utc(2024, 1, 7, 23)  # Monday 00:00 at +1
        repeat = utc(2024, 1, 7, 23, 45)  # after the fall-back: Sunday 23:45 at +0
        assert repeat.astimezone(team.tz).date() == date(2024, 1, 7)
        assert report_period_at("weekly", team, repeat) == monday
        assert report_period_at("weekly", team, monday.start - TICK).end == monday.start


class _FallsBackAcrossMidnight(tzinfo):
    """+1 until 2024-01-07 23:30Z (Monday 00:30 local), then +0: Sunday 23:30 comes again."""

    _SWITCH = datetime(2024, 1, 7, 23, 30)

    def utcoffset(self, dt: datetime | None) -> timedelta:
        if dt is None:
            return timedelta(0)
        wall_time = dt.replace(tzinfo=None)
        first_pass = wall_time < self._SWITCH + timedelta(hours=1) and not dt.fold
        if wall_time < self._SWITCH or first_pass:
            return timedelta(hours=1)
        return timedelta(0)

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str:
        return "ODD"

    def fromutc(self, dt: datetime) -> datetime:
        instant = dt.replace(tzinfo=None)
        if instant < self._SWITCH:
            return (instant + timedelta(hours=1)).replace(tzinfo=self)
        ambiguous = instant < self._SWITCH + timedelta(hours=1)
        return instant.replace(tzinfo=self, fold=int(ambiguous))


class _TeamOnItsOwnClock(Team):
    """A team whose clock falls back across a Monday midnight, which no IANA zone does."""

    @property
    def tz(self) -> tzinfo:
        return _FallsBackAcrossMidnight()


class TestMissedReports:
    """After an outage every missed period is due, oldest first; none twice, none skipped."""

    def test_a_four_week_outage_lists_the_four_missed_weeks_oldest_first(self) -> None:
        """Created Monday morning and down for four weeks: weeks 1-4 are due, week 5 is not."""
        team = make_team(timezone="Asia/Tokyo")
        created = local("Asia/Tokyo", 2026, 2, 2, 9)
        now = local("Asia/Tokyo", 2026, 3, 4, 18)
        due = due_periods(Frequency.WEEKLY, team, created_at=created, now=now)
        assert [str(period.days) for period in due] == [
            "2026-02-02..2026-02-08",
            "2026-02-09..2026-02-15",
            "2026-02-16..2026-02-22",
            "2026-02-23..2026-03-01",
        ]
        assert [period.end for period in due] == [
            local("Asia/Tokyo", 2026, 2, day) for day in (9, 16, 23)
        ] + [local("Asia/Tokyo", 2026, 3, 2)]
        assert next_due("weekly", team, created_at=created, now=now) == local(
            "Asia/Tokyo", 2026, 3, 9
        )

    def test_nothing_is_due_before_the_schedule_was_created(self) -> None:
        """A clock behind the creation time lists no period; the first is due at its end."""
        team = make_team(timezone="Asia/Tokyo")
        created = local("Asia/Tokyo", 2026, 2, 4, 9)
        earlier = created - timedelta(days=30)
        assert due_periods("weekly", team, created_at=created, now=earlier) == []
        assert next_due("weekly", team, created_at=created, now=earlier) == local(
            "Asia/Tokyo", 2026, 2, 9
        )

    @pytest.mark.parametrize("frequency", list(Frequency))
    def test_listing_years_of_periods_costs_a_few_midnights_per_period(
        self, frequency: Frequency, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Twenty years of periods take a bounded number of local-midnight lookups each: linear."""
        calls = 0
        real = cycles.local_midnight

        def counted(day: date, tz: tzinfo) -> datetime:
            nonlocal calls
            calls += 1
            return real(day, tz)

        monkeypatch.setattr(cycles, "local_midnight", counted)
        monkeypatch.setattr(schedules, "local_midnight", counted)
        team = make_team(timezone="America/New_York")
        due = due_periods(frequency, team, created_at=utc(2006, 1, 4), now=utc(2026, 1, 4))
        assert len(due) >= {Frequency.WEEKLY: 1040, Frequency.MONTHLY: 239}[frequency]
        assert calls <= 6 * len(due) + 10
        calls = 0
        next_due(frequency, team, created_at=utc(2006, 1, 4), now=utc(2026, 1, 4))
        assert calls <= 20


class TestPeriodInvariants:
    """Periods tile time from the schedule's creation, whatever the zone, anchor or frequency."""

    @given(
        frequency=frequencies(),
        team=teams(),
        created_at=aware_instants(datetime(2000, 1, 1), datetime(2040, 12, 31)),
        span=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3 * 366)),
    )
    @example(
        frequency=Frequency.WEEKLY,
        team=make_team(timezone="Asia/Tehran"),
        created_at=utc(2021, 3, 1),
        span=timedelta(days=60),
    )
    @example(
        frequency=Frequency.MONTHLY,
        team=make_team(
            billing=BillingSchedule(anchor=date(2024, 1, 31)), timezone="Pacific/Kiritimati"
        ),
        created_at=utc(2024, 1, 30, 10),
        span=timedelta(days=400),
    )
    def test_due_periods_tile_time_from_creation_with_no_gap_or_overlap(
        self, frequency: Frequency, team: Team, created_at: datetime, span: timedelta
    ) -> None:
        """Periods meet end to start, days run on, the first holds creation, the next is not due."""
        now = created_at.astimezone(UTC) + span
        due = due_periods(frequency, team, created_at=created_at, now=now)
        first = report_period_at(frequency, team, created_at)
        assert created_at in first
        assert due[:1] in ([], [first])
        for before, after in itertools.pairwise(due):
            assert before.end == after.start
            assert before.days.last + DAY == after.days.first
        for period in due:
            assert period.end <= now
            assert report_period_at(frequency, team, period.start) == period
        following = report_period_at(frequency, team, due[-1].end) if due else first
        assert following.end > now
        if due:
            assert following.start == due[-1].end
            assert following.days.first == due[-1].days.last + DAY
        assert next_due(frequency, team, created_at=created_at, now=now) == following.end

    @given(frequency=frequencies(), team=teams(), instant=aware_instants())
    def test_a_period_contains_exactly_the_instants_between_its_bounds(
        self, frequency: Frequency, team: Team, instant: datetime
    ) -> None:
        """The period at t holds t and its start, not its end; its neighbours meet it there."""
        period = report_period_at(frequency, team, instant)
        assert period.start <= instant < period.end
        assert instant in period
        assert period.start in period
        assert period.end - TICK in period
        assert period.end not in period
        assert period.start - TICK not in period
        assert report_period_at(frequency, team, period.start) == period
        assert report_period_at(frequency, team, period.end - TICK) == period
        assert report_period_at(frequency, team, period.end).start == period.end
        assert report_period_at(frequency, team, period.start - TICK).end == period.start
        assert period.start.astimezone(team.tz).date() in period.days
        assert (period.end - TICK).astimezone(team.tz).date() in period.days
        if frequency is Frequency.WEEKLY:
            assert period.days.first.weekday() == 0
            assert period.days.days == 7


class TestPeriodInputs:
    """Report periods refuse what has no place in time, as ValidationErrors."""

    def test_a_naive_instant_is_refused_naming_it(self) -> None:
        """A naive datetime is a ValidationError naming it."""
        with pytest.raises(ValidationError, match="2026-03-04T09:00:00"):
            report_period_at("weekly", make_team(), datetime(2026, 3, 4, 9))

    def test_an_unknown_frequency_is_refused_naming_it(self) -> None:
        """Only weekly and monthly are frequencies."""
        with pytest.raises(ValidationError, match="'daily'"):
            due_periods("daily", make_team(), created_at=utc(2026, 1, 1), now=utc(2026, 2, 1))

    def test_a_naive_now_is_refused(self) -> None:
        """``now`` must be aware too."""
        with pytest.raises(ValidationError, match="now") as caught:
            due_periods("weekly", make_team(), created_at=utc(2026, 1, 1), now=datetime(2026, 2, 1))
        assert caught.value.field == "now"

    def test_something_other_than_a_team_is_refused(self) -> None:
        """The team is a Team."""
        with pytest.raises(ValidationError, match="'acme'"):
            report_period_at("weekly", "acme", utc(2026, 1, 1))  # type: ignore[arg-type]

    def test_a_week_reaching_past_the_supported_days_is_refused(self) -> None:
        """The week holding 9997-12-31 ends in 9998: a ValidationError, not an overflow."""
        with pytest.raises(ValidationError, match=r"9998, 1, 4"):
            report_period_at("weekly", make_team(), utc(9997, 12, 31, 12))

    def test_a_period_ending_before_it_starts_is_refused(self) -> None:
        """A ReportPeriod is never empty or reversed."""
        days = DateRange(first=date(2026, 3, 2), last=date(2026, 3, 8))
        with pytest.raises(ValidationError, match="2026-03-09"):
            ReportPeriod(days=days, start=utc(2026, 3, 9), end=utc(2026, 3, 9))


# --- recipients -------------------------------------------------------------------


def refused(value: object, match: str | None = None, *, max_recipients: int = 5) -> ValidationError:
    """The ValidationError ``require_recipients([value])`` raises, which must name ``value``."""
    with pytest.raises(ValidationError) as caught:
        require_recipients([value], max_recipients=max_recipients)  # type: ignore[list-item]
    assert caught.value.field == "recipients"
    assert re.search(re.escape(match if match is not None else repr(value)), str(caught.value))
    return caught.value


class TestRecipients:
    """A recipient list is 1 to max_recipients bare addresses, deduplicated, order kept."""

    @pytest.mark.parametrize(
        "recipients",
        [
            ["ann@example.com"],
            ("ann@example.com", "bo.smith+reports@sub.example.co.uk"),
            ["o'neil@example.ie", "x_y-z=1@a-b.example", "a@[192.0.2.1]"],
            ["ann@xn--bcher-kva.example"],
        ],
    )
    def test_valid_lists_come_back_as_tuples_in_order(self, recipients: list[str]) -> None:
        """Valid addresses are returned unchanged, in the order given."""
        assert require_recipients(recipients, max_recipients=5) == tuple(recipients)

    def test_any_iterable_in_order_is_accepted(self) -> None:
        """A generator is read once, in order."""
        addresses = (f"u{n}@example.com" for n in range(3))
        assert require_recipients(addresses, max_recipients=3) == (
            "u0@example.com",
            "u1@example.com",
            "u2@example.com",
        )

    def test_duplicates_are_dropped_case_insensitively_keeping_the_first_spelling(self) -> None:
        """Ann@Example.com and ann@example.COM are one recipient, spelled as first given."""
        got = require_recipients(
            ["Ann@Example.com", "bo@example.com", "ann@example.COM", "BO@example.com"],
            max_recipients=2,
        )
        assert got == ("Ann@Example.com", "bo@example.com")

    def test_the_limit_counts_distinct_addresses(self) -> None:
        """Ten copies of one address are one recipient; a second address is one too many for 1."""
        assert require_recipients(["a@x.com"] * 10, max_recipients=1) == ("a@x.com",)
        with pytest.raises(ValidationError, match=r"at most 1 .*'b@x\.com'") as caught:
            require_recipients(["a@x.com", "A@X.COM", "b@x.com"], max_recipients=1)
        assert caught.value.field == "recipients"

    def test_too_many_recipients_are_refused(self) -> None:
        """Six distinct addresses exceed a limit of five."""
        with pytest.raises(ValidationError, match="at most 5") as caught:
            require_recipients([f"u{n}@example.com" for n in range(6)], max_recipients=5)
        assert caught.value.field == "recipients"

    def test_an_endless_iterable_is_refused_without_reading_it_all(self) -> None:
        """Reading stops at the first address over the limit."""
        endless = (f"u{n}@example.com" for n in itertools.count())
        with pytest.raises(ValidationError, match=r"u5@example\.com"):
            require_recipients(endless, max_recipients=5)

    @pytest.mark.parametrize("recipients", [[], (), iter([])])
    def test_an_empty_list_is_refused(self, recipients: Any) -> None:
        """A report needs at least one recipient."""
        with pytest.raises(ValidationError, match="at least one") as caught:
            require_recipients(recipients, max_recipients=5)
        assert caught.value.field == "recipients"

    @pytest.mark.parametrize(
        "recipients",
        ["ann@example.com", b"ann@example.com", "ann@example.com, bo@example.com"],
    )
    def test_a_bare_string_is_refused(self, recipients: Any) -> None:
        """A string is one value, not a list: its characters are never taken for addresses."""
        with pytest.raises(ValidationError, match=re.escape(repr(recipients))) as caught:
            require_recipients(recipients, max_recipients=5)
        assert caught.value.field == "recipients"

    @pytest.mark.parametrize(
        "recipients", [{"ann@example.com"}, {"ann@example.com": "Ann"}, None, 5]
    )
    def test_unordered_collections_and_non_collections_are_refused(self, recipients: Any) -> None:
        """A set or mapping has no order to keep; None and numbers are not lists."""
        with pytest.raises(ValidationError, match=re.escape(repr(recipients))) as caught:
            require_recipients(recipients, max_recipients=5)
        assert caught.value.field == "recipients"

    @pytest.mark.parametrize(
        "address",
        [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "ann@@example.com",
            "ann@example.com.",
            "ann..bo@example.com",
            ".ann@example.com",
            "ann bo@example.com",
            '"ann bo"@example.com',
            "ann(comment)@example.com",
            "ann@example.com(comment)",
            "ännä@example.com",
            "ann@bücher.example",
            "ann@例え.jp",
            "a" * 250 + "@example.com",
        ],
    )
    def test_malformed_addresses_are_refused_naming_them(self, address: str) -> None:
        """Anything but one plain ASCII local@domain is a ValidationError naming it."""
        refused(address, address[:40])

    @pytest.mark.parametrize(
        "address",
        [
            "Ann <ann@example.com>",
            "<ann@example.com>",
            '"Ann" <ann@example.com>',
            "ann@example.com (Ann)",
            "team: ann@example.com, bo@example.com;",
            "team:;",
        ],
    )
    def test_display_names_and_groups_are_refused(self, address: str) -> None:
        """Display names, angle brackets and group syntax are header syntax, not an address."""
        refused(address)

    @pytest.mark.parametrize(
        "address",
        [
            "ann@example.com\r\nBcc: eve@evil.com",
            "ann@example.com\nX: y",
            "ann@example.com\rX: y",
            "ann@example.com\u2028Bcc: eve@evil.com",
            "ann@example.com\u2029",
            "ann@example.com\u0085Bcc: eve@evil.com",
            "ann@example.com\x00",
            "ann\x00@example.com",
            "ann@example.com\t",
            "ann@exa\x0bmple.com",
            "ann@exa\u200bmple.com",  # zero-width space (Cf)
            "ann@example.com\u202e",  # right-to-left override (Cf)
            "ann@example.com\ufeff",  # byte order mark (Cf)
        ],
    )
    def test_header_injection_and_control_characters_are_refused(self, address: str) -> None:
        """CR, LF, other control and format characters, separators and NUL are refused."""
        error = refused(address)
        assert "U+" in str(error)

    @pytest.mark.parametrize(
        "address",
        [
            "ann@example.com,bo@example.com",
            "ann@example.com, bo@example.com",
            "ann@example.com;bo@example.com",
            "ann@example.com>",
        ],
    )
    def test_lists_joined_into_one_string_are_refused(self, address: str) -> None:
        """A comma or semicolon would make one value two recipients."""
        refused(address)

    @pytest.mark.parametrize("value", [None, 5, b"ann@example.com", ["ann@example.com"]])
    def test_a_recipient_that_is_not_a_string_is_refused(self, value: object) -> None:
        """Each recipient is a str."""
        refused(value)

    def test_the_bad_address_is_named_among_good_ones(self) -> None:
        """The message names the offending address, not the whole list."""
        with pytest.raises(ValidationError, match=re.escape(repr("bad address"))):
            require_recipients(["ann@example.com", "bad address"], max_recipients=5)

    @pytest.mark.parametrize("limit", [0, -1, True, 1.5, "5", None])
    def test_max_recipients_must_be_a_positive_integer(self, limit: object) -> None:
        """The limit is an int of at least 1; booleans are not integers here."""
        with pytest.raises(ValidationError, match=re.escape(repr(limit))) as caught:
            require_recipients(["ann@example.com"], max_recipients=limit)  # type: ignore[arg-type]
        assert caught.value.field == "max_recipients"

    @given(st.lists(addresses(), min_size=1, max_size=8))
    def test_valid_addresses_are_kept_once_each_in_first_seen_order(
        self, addresses: list[str]
    ) -> None:
        """The result is the input with later case-insensitive repeats removed."""
        expected: list[str] = []
        for address in addresses:
            if address.lower() not in {kept.lower() for kept in expected}:
                expected.append(address)
        assert require_recipients(addresses, max_recipients=8) == tuple(expected)

    @given(
        st.one_of(
            st.lists(
                st.one_of(
                    st.text(),
                    emails(),
                    addresses(),
                    st.builds(lambda a, b: a + b, addresses(), st.text(max_size=8)),
                    st.text(alphabet=st.sampled_from('ab@.<>,;:"() \r\n\t\x00\u2028\u200b')),
                    st.none(),
                    st.integers(),
                ),
                max_size=6,
            ),
            st.text(),
            st.none(),
            st.sets(addresses(), max_size=2),
        ),
        st.integers(-1, 6),
    )
    def test_anything_is_either_a_valid_recipient_tuple_or_a_validation_error(
        self, recipients: Any, limit: int
    ) -> None:
        """No input raises anything but ValidationError; what passes is safe to put in a header."""
        outcome: tuple[str, ...] | ValidationError
        try:
            outcome = require_recipients(recipients, max_recipients=limit)
        except ValidationError as error:
            outcome = error
        if isinstance(outcome, ValidationError):
            assert outcome.field in {"recipients", "max_recipients"}
            return
        got = outcome
        assert 1 <= len(got) <= limit
        assert len({address.lower() for address in got}) == len(got)
        for address in got:
            assert address in recipients
            assert Address(addr_spec=address).addr_spec == address
            assert address.isascii()
            assert not any(
                unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp", "Zs"} for char in address
            )
            assert not set(address) & set("<>,;\x00\r\n")


# --- schedules and deliveries -------------------------------------------------------


class TestReportSchedule:
    """A schedule is valid on construction: ids, frequency, recipients, an aware creation time."""

    def test_a_schedule_normalises_its_values(self) -> None:
        """A frequency string becomes the enum, created_at UTC, recipients a deduplicated tuple."""
        made = schedule(
            frequency="monthly",
            recipients=["Ann@example.com", "ann@example.com", "bo@example.com"],
            created_at=local("Asia/Tokyo", 2026, 3, 4, 9),
        )
        assert made.frequency is Frequency.MONTHLY
        assert made.recipients == ("Ann@example.com", "bo@example.com")
        assert made.created_at == utc(2026, 3, 4)
        assert made.created_at.tzinfo is UTC
        assert made.active is True

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("schedule_id", ""),
            ("team_id", "x" * 256),
            ("created_by", None),
            ("frequency", "daily"),
            ("recipients", "ann@example.com"),
            ("recipients", ["Ann <ann@example.com>"]),
            ("created_at", datetime(2026, 3, 4, 9)),
            ("active", "yes"),
        ],
    )
    def test_an_invalid_field_is_refused_naming_the_value(self, field: str, value: object) -> None:
        """Each field's rule gives a ValidationError naming the value."""
        with pytest.raises(ValidationError) as caught:
            schedule(**{field: value})
        if isinstance(value, list):
            [value] = value  # the message names the bad address, not the list
        shown = value.isoformat() if isinstance(value, datetime) else repr(value)[:40]
        assert shown in str(caught.value)

    def test_a_stored_schedule_holds_at_most_max_recipients(self) -> None:
        """MAX_RECIPIENTS bounds every schedule; the service applies its own lower limit first."""
        many = [f"u{n}@example.com" for n in range(MAX_RECIPIENTS + 1)]
        assert len(schedule(recipients=many[:MAX_RECIPIENTS]).recipients) == MAX_RECIPIENTS
        with pytest.raises(ValidationError, match=f"at most {MAX_RECIPIENTS}"):
            schedule(recipients=many)


class TestDeliveryResult:
    """A delivery result records what happened to one period's report, consistently."""

    period = DateRange(first=date(2026, 3, 2), last=date(2026, 3, 8))

    def result(self, **overrides: Any) -> DeliveryResult:
        values: dict[str, Any] = {
            "schedule_id": "weekly-usage",
            "team_id": "acme",
            "period": self.period,
            "status": "sent",
        }
        return DeliveryResult(**(values | overrides))

    def test_each_status_with_what_it_may_carry(self) -> None:
        """Sent may carry a message id, failed an error, skipped a reason."""
        sent = self.result(message_id="<1@mail.example.com>")
        assert sent.status is DeliveryStatus.SENT
        assert sent.error is None
        assert self.result(status="failed", error="421 try again later").status == "failed"
        assert (
            self.result(status=DeliveryStatus.SKIPPED, error="team has no members").message_id
            is None
        )
        assert [str(status) for status in DeliveryStatus] == ["sent", "failed", "skipped"]

    @pytest.mark.parametrize(
        ("overrides", "named"),
        [
            ({"error": "boom"}, "'boom'"),
            ({"status": "failed"}, "error is None"),
            ({"status": "skipped", "message_id": "<1@x>"}, "'<1@x>'"),
            ({"status": "bounced"}, "'bounced'"),
            ({"period": "2026-03-02..2026-03-08"}, "'2026-03-02..2026-03-08'"),
            ({"status": "failed", "error": ""}, "''"),
        ],
    )
    def test_inconsistent_or_invalid_results_are_refused(
        self, overrides: dict[str, Any], named: str
    ) -> None:
        """Sent with an error, failed without one, skipped with a message id: all refused."""
        with pytest.raises(ValidationError, match=re.escape(named)):
            self.result(**overrides)
