"""Hostile input: any text, day, instant or time zone is accepted as a storable value or refused.

The contract: bad input raises ValidationError and nothing else. These
properties throw everything at the domain -- lone surrogates, huge texts,
the whole range of ``datetime``, zones at UTC+14 and UTC-12, time zones
that raise -- and check that every value is either built (and then fits
every storage) or refused with a ValidationError.
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from credit_usage import (
    BillingSchedule,
    Cycle,
    DateRange,
    Group,
    LedgerEntry,
    Member,
    Period,
    Team,
    ValidationError,
)
from credit_usage.domain.validation import (
    EARLIEST_DAY,
    LATEST_DAY,
    MAX_EMAIL_LENGTH,
    MAX_ID_LENGTH,
    MAX_NAME_LENGTH,
)

#: The smallest step of a datetime: "just before" an instant.
TICK = timedelta(microseconds=1)
DAY = timedelta(days=1)
#: The supported days as messages name them.
SPAN = f"{EARLIEST_DAY.isoformat()}..{LATEST_DAY.isoformat()}"

# --- text -------------------------------------------------------------------

#: Characters of every Unicode category. Lone surrogates (Cs) are drawn on
#: their own: among all code points they are too rare to come up otherwise.
ANY_CHARACTER = st.one_of(
    st.characters(categories=["Cs"]),
    st.characters(categories=["L", "M", "N", "P", "S", "Z", "Cc", "Cf", "Co", "Cn"]),
    st.sampled_from("\x00 \t\n\r\u2028@."),
)


def hostile_text() -> st.SearchStrategy[str]:
    """Any text: surrogates, NUL, white space, and lengths on both sides of every bound."""
    lengths = [
        MAX_EMAIL_LENGTH,
        MAX_EMAIL_LENGTH + 1,
        MAX_ID_LENGTH,
        MAX_ID_LENGTH + 1,
        MAX_NAME_LENGTH,
        MAX_NAME_LENGTH + 1,
        70_000,
    ]
    return st.one_of(
        st.text(ANY_CHARACTER),
        # Good text with one hostile character somewhere in it.
        st.builds(
            lambda head, bad, tail: head + bad + tail,
            st.text(min_size=1, max_size=8),
            ANY_CHARACTER,
            st.text(max_size=8),
        ),
        st.builds(operator.mul, st.sampled_from("xé😀\ud800 "), st.sampled_from(lengths)),
        # Emails that are well formed but for their characters or length.
        st.builds(
            "{}@{}.test".format,
            st.text(ANY_CHARACTER, min_size=1, max_size=8),
            st.text(ANY_CHARACTER, min_size=1, max_size=8),
        ),
        st.builds(
            lambda n: "m" * n + "@acme.test",
            st.sampled_from([MAX_EMAIL_LENGTH - 10, MAX_EMAIL_LENGTH - 9, 70_000]),
        ),
    )


WHEN = datetime(2026, 3, 1, 12, tzinfo=UTC)

#: A valid value of each type; each test replaces one text field.
VALID: dict[type[Any], dict[str, Any]] = {
    Member: {
        "team_id": "acme",
        "user_id": "mia",
        "name": "Mia",
        "email": "mia@acme.test",
        "role": "member",
        "group_id": "sales",
    },
    Group: {"team_id": "acme", "group_id": "sales", "name": "Sales"},
    Team: {
        "team_id": "acme",
        "name": "Acme",
        "plan": "pro",
        "billing": BillingSchedule(anchor=date(2026, 1, 1)),
        "credits_per_cycle": 100,
        "timezone": "UTC",
        "credit_types": ("standard",),
    },
    LedgerEntry: {
        "team_id": "acme",
        "entry_id": "r1",
        "kind": "reversal",
        "user_id": "mia",
        "group_id": "sales",
        "feature": "api",
        "credit_type": "email",
        "amount": 5,
        "occurred_at": WHEN,
        "reverses": "e1",
    },
}

TEXT_FIELDS = [
    (Member, "team_id"),
    (Member, "user_id"),
    (Member, "name"),
    (Member, "email"),
    (Member, "group_id"),
    (Group, "team_id"),
    (Group, "group_id"),
    (Group, "name"),
    (Team, "team_id"),
    (Team, "name"),
    (Team, "timezone"),
    (Team, "credit_types"),
    (LedgerEntry, "team_id"),
    (LedgerEntry, "entry_id"),
    (LedgerEntry, "user_id"),
    (LedgerEntry, "group_id"),
    (LedgerEntry, "credit_type"),
    (LedgerEntry, "reverses"),
]


def strings_of(value: object) -> list[tuple[str, str]]:
    """Every (field, text) pair of an attrs value, tuples of text included."""
    found = []
    for field in attrs.fields(type(value)):
        held = getattr(value, field.name)
        for text in held if isinstance(held, tuple) else (held,):
            if isinstance(text, str):
                found.append((field.name, text))
    return found


class TestAnyText:
    """Any text in any field gives a value whose every string fits every storage, or a refusal."""

    @pytest.mark.parametrize(
        ("cls", "field"), TEXT_FIELDS, ids=[f"{c.__name__}.{f}" for c, f in TEXT_FIELDS]
    )
    @given(text=hostile_text())
    @example(text="a\ud800")
    @example(text="mia\udfff@acme.test")
    @example(text="\ud83d\ude00")  # the halves of 😀, each on its own
    @example(text="N" * 70_000)
    @example(text="m" * (MAX_EMAIL_LENGTH - 9) + "@acme.test")
    def test_any_text_builds_a_storable_value_or_is_refused(
        self, cls: type[Any], field: str, text: str
    ) -> None:
        """Built: every string encodes as UTF-8, holds no NUL and is within its bound."""
        fields = {**VALID[cls], field: (text,) if field == "credit_types" else text}
        try:
            value = cls(**fields)
        except ValidationError:
            return
        for name, held in strings_of(value):
            held.encode("utf-8")
            assert "\x00" not in held
            if name == "name":
                assert len(held) <= MAX_NAME_LENGTH
            elif name == "email":
                assert len(held) <= MAX_EMAIL_LENGTH
            else:
                assert len(held) <= MAX_ID_LENGTH

    @pytest.mark.parametrize("cls", list(VALID), ids=lambda cls: cls.__name__)
    @given(data=st.data())
    def test_hostile_text_in_several_fields_at_once_builds_a_storable_value_or_is_refused(
        self, cls: type[Any], data: st.DataObject
    ) -> None:
        """With any of its text fields hostile together, a value is still storable or refused."""
        # Each field hostile or valid, so that a value is sometimes built despite the rest.
        hostile = data.draw(
            st.fixed_dictionaries(
                {
                    field: hostile_text() | st.just(VALID[cls][field])
                    for c, field in TEXT_FIELDS
                    if c is cls and field != "credit_types"
                }
            )
        )
        try:
            value = cls(**{**VALID[cls], **hostile})
        except ValidationError:
            return
        for _, held in strings_of(value):
            held.encode("utf-8")


# --- days and instants --------------------------------------------------------

#: The extremes of the offsets (UTC+14, UTC-12), with and without DST, and
#: zones whose year-1 local mean time is odd (Kiritimati is at -10:29:20).
EDGE_ZONE_NAMES = (
    "Pacific/Kiritimati",
    "Etc/GMT-14",
    "Etc/GMT+12",
    "America/New_York",
    "Pacific/Chatham",
    "America/Santiago",
    "UTC",
)


def zones() -> st.SearchStrategy[tzinfo]:
    """Any IANA zone, the extreme ones often."""
    return st.one_of(st.sampled_from([ZoneInfo(name) for name in EDGE_ZONE_NAMES]), st.timezones())


def any_instants() -> st.SearchStrategy[datetime]:
    """Aware datetimes over the whole range of datetime, its ends and the span's often."""

    def between(low: datetime, high: datetime) -> st.SearchStrategy[datetime]:
        return st.datetimes(min_value=low, max_value=high, timezones=zones())

    return st.one_of(
        st.datetimes(timezones=zones()),
        between(datetime.min, datetime(1, 1, 3)),
        between(datetime(1, 12, 30), datetime(2, 1, 3)),
        between(datetime(9997, 12, 29), datetime(9998, 1, 3)),
        between(datetime(9999, 12, 29), datetime.max),
    )


def any_days() -> st.SearchStrategy[date]:
    """Any date, the ends of date and of the supported span often."""
    return st.one_of(
        st.dates(),
        st.sampled_from(
            [date.min, EARLIEST_DAY - DAY, EARLIEST_DAY, LATEST_DAY, LATEST_DAY + DAY, date.max]
        ),
        st.dates(EARLIEST_DAY - 2 * DAY, EARLIEST_DAY + 400 * DAY),
        st.dates(LATEST_DAY - 400 * DAY, LATEST_DAY + 2 * DAY),
    )


def supported_days() -> st.SearchStrategy[date]:
    """Days of the supported span, its ends often."""
    return any_days().filter(lambda day: EARLIEST_DAY <= day <= LATEST_DAY)


def schedules() -> st.SearchStrategy[BillingSchedule]:
    """Schedules anchored anywhere in the span, near its ends often."""
    return st.builds(BillingSchedule, anchor=supported_days(), period=st.sampled_from(Period))


def supported(instant: datetime, tz: tzinfo) -> bool:
    """Whether ``instant`` falls on a supported day in ``tz``."""
    try:
        day = instant.astimezone(tz).date()
    except (OverflowError, ValueError):
        return False
    return EARLIEST_DAY <= day <= LATEST_DAY


#: The two ends of the span at their worst: an annual cycle a year outside
#: it, in the zones furthest from UTC.
EARLIEST_WORST = (
    BillingSchedule(anchor=date(2024, 1, 2), period="annual"),
    datetime(2, 1, 1, tzinfo=UTC),
    ZoneInfo("Etc/GMT-14"),
)
LATEST_WORST = (
    BillingSchedule(anchor=date(2024, 12, 31), period="annual"),
    datetime(9997, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ZoneInfo("Etc/GMT+12"),
)


class TestAnyInstant:
    """An instant on a supported day has a cycle (local day) and is stored (UTC day); no other."""

    @given(schedule=schedules(), instant=any_instants(), tz=zones())
    @example(*EARLIEST_WORST)
    @example(*LATEST_WORST)
    # The midnight that starts 0002-01-01 at UTC+14 is still 0001-12-31 in UTC.
    @example(EARLIEST_WORST[0], datetime(2, 1, 1, tzinfo=ZoneInfo("Etc/GMT-14")), UTC)
    @example(BillingSchedule(anchor=date(2024, 1, 31)), datetime(9999, 12, 31, 12, tzinfo=UTC), UTC)
    @example(
        BillingSchedule(anchor=date(2024, 1, 31)),
        datetime(1, 1, 1, tzinfo=ZoneInfo("America/New_York")),
        ZoneInfo("America/New_York"),
    )
    @example(BillingSchedule(anchor=date(2024, 1, 31)), datetime(1, 1, 1, 23, 59, tzinfo=UTC), UTC)
    def test_cycle_at_holds_a_supported_instant_and_refuses_any_other(
        self, schedule: BillingSchedule, instant: datetime, tz: tzinfo
    ) -> None:
        """cycle_at gives the cycle holding the instant exactly when its local day is supported."""
        if not supported(instant, tz):
            with pytest.raises(ValidationError, match=re.escape(SPAN)):
                schedule.cycle_at(instant, tz)
            return
        cycle = schedule.cycle_at(instant, tz)
        assert cycle.start <= instant.astimezone(UTC) < cycle.end
        assert cycle == schedule.cycle(cycle.index, tz)

    @given(schedule=schedules(), instant=any_instants(), length=st.timedeltas(TICK, 800 * DAY))
    @example(LATEST_WORST[0], LATEST_WORST[1], TICK)
    @example(LATEST_WORST[0], datetime(9997, 12, 31, tzinfo=ZoneInfo("Etc/GMT+12")), DAY)
    def test_cycles_between_cover_an_interval_or_refuse_it(
        self, schedule: BillingSchedule, instant: datetime, length: timedelta
    ) -> None:
        """Cycles tile [start, end) when both ends are supported; otherwise perhaps a refusal."""
        tz = instant.tzinfo
        assert tz is not None
        try:
            end = instant.astimezone(UTC) + length
        except (OverflowError, ValueError):
            end = datetime.max.replace(tzinfo=UTC)
        try:
            found = schedule.cycles_between(instant, end, tz)
        except ValidationError:
            assert not (supported(instant, tz) and supported(end, tz))
            return
        assert instant in found[0]
        assert end - TICK in found[-1]
        for before, after in itertools.pairwise(found):
            assert before.end == after.start

    @given(instant=any_instants())
    @example(datetime(9999, 12, 31, 12, tzinfo=UTC))
    @example(datetime(1, 1, 1, 23, 59, tzinfo=UTC))
    def test_occurred_at_is_kept_in_utc_when_supported_and_refused_otherwise(
        self, instant: datetime
    ) -> None:
        """A ledger entry (which knows no time zone) takes an instant whose UTC day is supported."""
        fields = {**VALID[LedgerEntry], "occurred_at": instant, "recorded_at": instant}
        if not supported(instant, UTC):
            with pytest.raises(ValidationError, match=f"occurred_at.*{re.escape(SPAN)}"):
                LedgerEntry(**fields)
            return
        entry = LedgerEntry(**fields)
        assert entry.occurred_at.tzinfo is UTC
        assert entry.occurred_at.timestamp() == instant.timestamp()


class TestAnyDay:
    """Dates are supported from EARLIEST_DAY to LATEST_DAY; every computation on them works."""

    @given(first=any_days(), last=any_days(), tz=zones(), schedule=schedules())
    @example(date.min, date.max, UTC, EARLIEST_WORST[0])
    @example(EARLIEST_DAY, LATEST_DAY, ZoneInfo("Etc/GMT-14"), EARLIEST_WORST[0])
    @example(EARLIEST_DAY, LATEST_DAY, ZoneInfo("Etc/GMT+12"), LATEST_WORST[0])
    @example(EARLIEST_DAY, EARLIEST_DAY, ZoneInfo("Etc/GMT-14"), EARLIEST_WORST[0])
    @example(LATEST_DAY, LATEST_DAY, ZoneInfo("Etc/GMT+12"), LATEST_WORST[0])
    def test_a_range_of_any_two_days_is_built_with_start_and_end_or_refused(
        self, first: date, last: date, tz: tzinfo, schedule: BillingSchedule
    ) -> None:
        """Built exactly when both days are supported and in order; then its bounds have cycles."""
        if not EARLIEST_DAY <= first <= last <= LATEST_DAY:
            with pytest.raises(ValidationError):
                DateRange(first=first, last=last)
            return
        date_range = DateRange(first=first, last=last)
        start, end = date_range.start(tz), date_range.end(tz)
        assert start.tzinfo is UTC
        assert end.tzinfo is UTC
        # Not ==: a zone may skip a whole day (Pacific/Apia, 2011-12-30).
        assert start <= end
        assert start.astimezone(tz).date() >= first
        assert (end - TICK).astimezone(tz).date() <= last
        # What a report does with a range: find the cycles of its first and last instants.
        assert start in schedule.cycle_at(start, tz)
        assert end - TICK in schedule.cycle_at(end - TICK, tz)
        if date_range.days <= 800:
            found = schedule.cycles_between(start, end, tz)
            assert not found or (start in found[0] and end - TICK in found[-1])

    @given(anchor=any_days(), period=st.sampled_from(Period))
    def test_a_schedule_is_anchored_on_a_supported_day_or_refused(
        self, anchor: date, period: Period
    ) -> None:
        """The anchor must be a supported day; the message names it and the span."""
        if EARLIEST_DAY <= anchor <= LATEST_DAY:
            assert BillingSchedule(anchor=anchor, period=period).anchor == anchor
        else:
            with pytest.raises(ValidationError, match=f"anchor.*{re.escape(SPAN)}"):
                BillingSchedule(anchor=anchor, period=period)

    @given(schedule=schedules(), k=st.integers() | st.integers(-120_000, 120_000), tz=zones())
    @example(BillingSchedule(anchor=date(2024, 1, 31)), 10**30, UTC)
    @example(BillingSchedule(anchor=date(2024, 1, 31)), -(10**30), UTC)
    @example(BillingSchedule(anchor=date(2024, 1, 31), period="annual"), 7975, UTC)
    def test_any_cycle_index_gives_a_cycle_holding_a_supported_day_or_is_refused(
        self, schedule: BillingSchedule, k: int, tz: tzinfo
    ) -> None:
        """cycle(k) and first_day(k) agree: a cycle holding a supported day, or a refusal."""
        try:
            cycle = schedule.cycle(k, tz)
        except ValidationError:
            with pytest.raises(ValidationError, match=str(k)):
                schedule.first_day(k)
            return
        assert schedule.first_day(k) == cycle.first_day
        assert cycle.first_day <= LATEST_DAY
        assert cycle.last_day >= EARLIEST_DAY
        assert cycle.start < cycle.end


# --- time zones that misbehave ----------------------------------------------


class Hostile(tzinfo):
    """A time zone that answers every question about offsets with ``answer``.

    An exception is raised; anything else (a timedelta, None, junk) is returned.
    """

    def __init__(self, answer: object) -> None:
        self.answer = answer

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer  # type: ignore[return-value]

    def dst(self, dt: datetime | None) -> timedelta | None:
        if isinstance(self.answer, BaseException):
            raise self.answer
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "Hostile"

    def __repr__(self) -> str:
        return f"Hostile({self.answer!r})"


def answers() -> st.SearchStrategy[object]:
    """What a hostile tzinfo might answer: errors of any type, offsets in and out of range, junk."""
    return st.one_of(
        st.sampled_from(
            [RuntimeError, KeyError, OverflowError, ValueError, TypeError, ZeroDivisionError]
        ).map(lambda error: error("hostile")),
        st.timedeltas(),
        st.timedeltas(-DAY + TICK, DAY - TICK),
        st.sampled_from([None, 5, "+01:00", 1.5]),
    )


class TestHostileTimeZones:
    """A tzinfo that raises or answers nonsense is refused: a ValidationError chained from it."""

    @given(answer=answers(), wall=st.datetimes())
    @example(RuntimeError("hostile"), datetime(2026, 3, 1))
    @example(timedelta(hours=24), datetime(2026, 3, 1))
    def test_an_instant_in_a_hostile_zone_is_refused_or_kept_in_utc(
        self, answer: object, wall: datetime
    ) -> None:
        """occurred_at in such a zone is kept in UTC, or refused with the zone's error as cause."""
        instant = wall.replace(tzinfo=Hostile(answer))
        entry = attempt(lambda: LedgerEntry(**{**VALID[LedgerEntry], "occurred_at": instant}))
        if isinstance(entry, ValidationError):
            if isinstance(answer, Exception):
                assert entry.__cause__ is answer
            return
        assert isinstance(entry, LedgerEntry)
        assert isinstance(answer, timedelta)
        assert entry.occurred_at == (wall - answer).replace(tzinfo=UTC)

    @given(answer=answers(), instant=any_instants(), schedule=schedules())
    @example(RuntimeError("hostile"), WHEN, BillingSchedule(anchor=date(2024, 1, 31)))
    def test_cycles_in_a_hostile_zone_hold_the_instant_or_are_refused(
        self, answer: object, instant: datetime, schedule: BillingSchedule
    ) -> None:
        """cycle_at, cycle and DateRange.start in such a zone work or raise ValidationError."""
        tz = Hostile(answer)
        found = attempt(lambda: schedule.cycle_at(instant, tz))
        cycle = attempt(lambda: schedule.cycle(0, tz))
        start = attempt(lambda: DateRange(first=schedule.anchor, last=schedule.anchor).start(tz))
        if isinstance(answer, Exception):
            assert isinstance(found, ValidationError)
            assert isinstance(cycle, ValidationError)
            assert isinstance(start, ValidationError)
            assert cycle.__cause__ is answer
            assert start.__cause__ is answer
        if not isinstance(found, ValidationError):
            assert isinstance(found, Cycle)
            assert found.start <= instant < found.end

    @pytest.mark.parametrize("tz", [5, None, b"UTC", object()])
    def test_a_zone_that_is_neither_a_name_nor_a_tzinfo_is_refused(self, tz: Any) -> None:
        """cycle, cycle_at and DateRange.start take an IANA name or a tzinfo, and nothing else."""
        schedule = BillingSchedule(anchor=date(2024, 1, 31))
        with pytest.raises(ValidationError, match="timezone"):
            schedule.cycle(0, tz)
        with pytest.raises(ValidationError, match="timezone"):
            schedule.cycle_at(WHEN, tz)
        with pytest.raises(ValidationError, match="timezone"):
            DateRange(first=date(2026, 1, 1), last=date(2026, 1, 2)).start(tz)


def attempt(call: Callable[[], object]) -> object:
    """What ``call`` returns, or the ValidationError it raises; any other exception escapes."""
    try:
        return call()
    except ValidationError as refusal:
        return refusal
