"""Hypothesis strategies for credit_usage's values, shared by the property tests.

Each strategy draws only values the domain accepts, unless its name says
otherwise; the tests state the invariants.
"""

from __future__ import annotations

import calendar
import operator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from credit_usage import (
    BillingSchedule,
    CreditLimit,
    Cycle,
    DateRange,
    EntryKind,
    Feature,
    Group,
    GroupUsage,
    LedgerEntry,
    LimitScope,
    LongRow,
    Member,
    MemberUsage,
    Period,
    Plan,
    Report,
    ReportRow,
    Role,
    Snapshot,
    Team,
)
from credit_usage.domain.validation import MAX_NAME_LENGTH
from credit_usage.testing.builders import grant, reversal, usage

#: Zones with the awkward cases: DST gaps at midnight (Santiago, Sao Paulo,
#: Tehran), half-hour DST (Lord Howe), 45-minute offsets (Chatham), half-hour
#: offsets without DST (Kolkata), Ramadan switches (Casablanca).
ZONE_NAMES = (
    "UTC",
    "America/New_York",
    "America/Santiago",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/Sao_Paulo",
    "Asia/Tehran",
    "Africa/Casablanca",
)
ZONES = tuple(ZoneInfo(name) for name in ZONE_NAMES)

#: Characters a spreadsheet reads as the start of a formula (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")

#: The dimensions of the small ledgers drawn by :func:`ledgers`.
USERS = ("ana", "bo", "cy", "di")
GROUPS = (None, "sales", "support")
CREDIT_TYPES = ("standard", "email", "phone")
#: Around when the drawn ledgers happen (aggregation does not look at time).
BASE_INSTANT = datetime(2026, 1, 1, tzinfo=UTC)


def zone_names() -> st.SearchStrategy[str]:
    """One of :data:`ZONE_NAMES`."""
    return st.sampled_from(ZONE_NAMES)


def periods() -> st.SearchStrategy[Period]:
    return st.sampled_from(Period)


@st.composite
def _month_end_biased_dates(draw: st.DrawFn, min_year: int, max_year: int) -> date:
    year = draw(st.integers(min_year, max_year))
    month = draw(st.integers(1, 12))
    # Days 29-31 are where month-end anchoring goes wrong: draw them half the time
    # (clamped to the month's length, which favours the last day of short months).
    day = draw(st.one_of(st.integers(29, 31), st.integers(1, 28)))
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def anchors(min_year: int = 1950, max_year: int = 2050) -> st.SearchStrategy[date]:
    """Anchor dates, days 29-31 and Feb 29 drawn often."""
    leap_years = [y for y in range(min_year, max_year + 1) if calendar.isleap(y)]
    return st.one_of(
        _month_end_biased_dates(min_year, max_year),
        st.sampled_from(leap_years).map(lambda year: date(year, 2, 29)),
    )


def schedules() -> st.SearchStrategy[BillingSchedule]:
    return st.builds(BillingSchedule, anchor=anchors(), period=periods())


def cycle_indexes() -> st.SearchStrategy[int]:
    """Cycle numbers around the anchor, half of them negative."""
    return st.integers(-240, 240)


def aware_instants(
    min_value: datetime = datetime(1960, 1, 1), max_value: datetime = datetime(2040, 12, 31)
) -> st.SearchStrategy[datetime]:
    """Aware datetimes in any of :data:`ZONES`, skipped and repeated wall times included."""
    # Attaching the zone to a naive wall time is several times faster than
    # st.datetimes(timezones=...), and reaches DST gaps and folds all the same.
    return st.builds(
        lambda wall, tz, fold: wall.replace(tzinfo=tz, fold=fold),
        st.datetimes(min_value=min_value, max_value=max_value),
        st.sampled_from(ZONES),
        st.integers(0, 1),
    )


def utc_instants() -> st.SearchStrategy[datetime]:
    return aware_instants().map(lambda instant: instant.astimezone(UTC))


def durations() -> st.SearchStrategy[timedelta]:
    """From a microsecond to a few years."""
    return st.one_of(
        st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=2)),
        st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=4 * 366)),
    )


def date_ranges() -> st.SearchStrategy[DateRange]:
    return st.builds(
        lambda first, length: DateRange(first=first, last=first + timedelta(days=length)),
        st.dates(min_value=date(1970, 1, 1), max_value=date(2090, 1, 1)),
        st.integers(0, 400),
    )


def cycles() -> st.SearchStrategy[Cycle]:
    """Cycles as a schedule makes them (UTC bounds)."""
    return st.builds(
        lambda schedule, k, tz: schedule.cycle(k, tz),
        schedules(),
        st.integers(-24, 24),
        zone_names(),
    )


# --- text -------------------------------------------------------------------


#: Text any storage can hold: everything but NUL, which PostgreSQL refuses, and
#: lone surrogates, which UTF-8 cannot encode.
STORABLE = st.characters(exclude_characters="\x00", exclude_categories=["Cs"])


def ids() -> st.SearchStrategy[str]:
    """Identifiers: any non-empty text of at most 255 characters, NUL excepted."""
    return st.one_of(
        st.text(STORABLE, min_size=1, max_size=24),
        st.text(alphabet="abc-_.0123456789", min_size=255, max_size=255),
    )


def names() -> st.SearchStrategy[str]:
    """Names: any storable text with something other than white space, formula starts included."""
    return spreadsheet_text().filter(
        lambda text: (
            text.strip() != ""
            and "\x00" not in text
            and len(text) <= MAX_NAME_LENGTH
            and _encodes_as_utf8(text)
        )
    )


def _encodes_as_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def emails() -> st.SearchStrategy[str]:
    return st.from_regex(
        r"[a-z0-9][a-z0-9._%+'=-]{0,15}@[a-z0-9-]{1,12}\.[a-z]{2,6}", fullmatch=True
    )


def slugs() -> st.SearchStrategy[str]:
    """Credit type slugs: ``[a-z0-9][a-z0-9_-]{0,63}``."""
    return st.from_regex(r"[a-z0-9][a-z0-9_-]{0,63}", fullmatch=True)


def spreadsheet_text() -> st.SearchStrategy[str]:
    """Any text, often starting like a formula or full of CSV syntax."""
    return st.one_of(
        st.text(),
        st.builds(operator.add, st.sampled_from(FORMULA_STARTS), st.text()),
        st.text(alphabet=st.sampled_from("=+-@\t\r\n\",' ;a\x00\x0b\x85\u2028")),
    )


# --- model ------------------------------------------------------------------


def credits(min_value: int = 0) -> st.SearchStrategy[int]:
    return st.integers(min_value, 10**12)


def teams() -> st.SearchStrategy[Team]:
    return st.builds(
        Team,
        team_id=ids(),
        name=names(),
        plan=st.sampled_from(Plan).map(str) | slugs(),
        billing=schedules(),
        credits_per_cycle=credits(),
        timezone=zone_names(),
        credit_types=st.lists(slugs(), min_size=1, max_size=4, unique=True).map(tuple),
    )


def groups() -> st.SearchStrategy[Group]:
    return st.builds(Group, team_id=ids(), group_id=ids(), name=names())


def members() -> st.SearchStrategy[Member]:
    return st.builds(
        Member,
        team_id=ids(),
        user_id=ids(),
        name=names(),
        email=emails(),
        role=st.sampled_from(Role),
        group_id=st.none() | ids(),
        active=st.booleans(),
    )


def credit_limits() -> st.SearchStrategy[CreditLimit]:
    return st.builds(
        CreditLimit,
        scope=st.sampled_from(LimitScope),
        subject_id=ids(),
        credits=credits(),
        credit_type=st.none() | slugs(),
    )


@st.composite
def ledger_entries(draw: st.DrawFn) -> LedgerEntry:
    """One valid entry of any kind, its datetimes in any zone."""
    kind = draw(st.sampled_from(EntryKind))
    common = {
        "team_id": draw(ids()),
        "entry_id": draw(ids()),
        "kind": kind,
        "amount": draw(credits(1)),
        "occurred_at": draw(aware_instants()),
        "recorded_at": draw(st.none() | aware_instants()),
    }
    if kind is EntryKind.GRANT:
        return LedgerEntry(user_id=None, group_id=None, feature=None, credit_type=None, **common)
    return LedgerEntry(
        user_id=draw(ids()),
        group_id=draw(st.none() | ids()),
        feature=draw(st.sampled_from(Feature)),
        credit_type=draw(slugs()),
        reverses=draw(ids()) if kind is EntryKind.REVERSAL else None,
        **common,
    )


@st.composite
def ledgers(draw: st.DrawFn, team_id: str = "acme") -> list[LedgerEntry]:
    """A team's ledger: usage, grants and reversals, each reversal within what is left of its usage.

    Users, groups, features and credit types come from small pools so that
    breakdowns have several entries per key. The entries are shuffled.
    """
    entries: list[LedgerEntry] = []
    left_to_reverse: dict[str, int] = {}
    usage_by_id: dict[str, LedgerEntry] = {}
    for number in range(draw(st.integers(0, 20))):
        entry_id = f"e{number}"
        kind = draw(st.sampled_from(EntryKind))
        occurred_at = BASE_INSTANT + timedelta(minutes=draw(st.integers(0, 60 * 24 * 90)))
        reversible = sorted(key for key, left in left_to_reverse.items() if left)
        if kind is EntryKind.GRANT:
            entry = grant(
                entry_id,
                amount=draw(st.integers(1, 1000)),
                team_id=team_id,
                occurred_at=occurred_at,
                recorded_at=None,
            )
        elif kind is EntryKind.REVERSAL and reversible:
            original = usage_by_id[draw(st.sampled_from(reversible))]
            amount = draw(st.integers(1, left_to_reverse[original.entry_id]))
            left_to_reverse[original.entry_id] -= amount
            entry = reversal(entry_id, original, amount=amount, recorded_at=None)
        else:
            entry = usage(
                entry_id,
                team_id=team_id,
                user_id=draw(st.sampled_from(USERS)),
                group_id=draw(st.sampled_from(GROUPS)),
                feature=draw(st.sampled_from(Feature)),
                credit_type=draw(st.sampled_from(CREDIT_TYPES)),
                amount=draw(st.integers(1, 1000)),
                occurred_at=occurred_at,
                recorded_at=None,
            )
            usage_by_id[entry_id] = entry
            left_to_reverse[entry_id] = entry.amount
        entries.append(entry)
    return draw(st.permutations(entries))


# --- results ----------------------------------------------------------------


def by_feature(
    values: st.SearchStrategy[int] | None = None,
) -> st.SearchStrategy[dict[str, int]]:
    values = credits() if values is None else values
    return st.fixed_dictionaries(dict.fromkeys((f.value for f in Feature), values))


@st.composite
def report_rows(draw: st.DrawFn, text: st.SearchStrategy[str] | None = None) -> ReportRow:
    """Wide report rows; every text cell drawn from ``text`` (any text by default)."""
    text = spreadsheet_text() if text is None else text
    features = draw(by_feature())
    return ReportRow(
        user_id=draw(text),
        name=draw(text),
        email=draw(text),
        group_id=draw(st.none() | text),
        group_name=draw(text),
        role=draw(st.sampled_from(Role)),
        credit_type=draw(text),
        by_feature=features,
        total=sum(features.values()),
    )


def long_rows(text: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[LongRow]:
    """Long report rows; every text cell drawn from ``text`` (any text by default)."""
    text = spreadsheet_text() if text is None else text
    return st.builds(
        LongRow,
        user_id=text,
        name=text,
        email=text,
        group_id=st.none() | text,
        group_name=text,
        feature=st.sampled_from(Feature).map(str),
        credit_type=text,
        credits=credits(1),
    )


def member_usages() -> st.SearchStrategy[MemberUsage]:
    return st.builds(
        MemberUsage,
        user_id=ids(),
        name=names(),
        email=emails(),
        role=st.sampled_from(Role),
        group_id=st.none() | ids(),
        used=credits(),
        by_feature=by_feature(),
        by_credit_type=st.dictionaries(slugs(), credits(), max_size=3),
        limit=st.none() | credits(),
        limit_remaining=st.none() | credits(),
    )


def snapshots() -> st.SearchStrategy[Snapshot]:
    return st.builds(
        Snapshot,
        team_id=ids(),
        cycle=cycles(),
        date_range=st.none() | date_ranges(),
        total_credits=credits(),
        used=credits(),
        remaining=st.integers(-(10**12), 10**12),
        members=st.lists(member_usages(), max_size=3),
    )


def group_usages() -> st.SearchStrategy[GroupUsage]:
    return st.builds(
        GroupUsage,
        group_id=st.none() | ids(),
        name=st.text(),
        total=credits(),
        by_feature=by_feature(),
        by_credit_type=st.dictionaries(slugs(), credits(), max_size=3),
    )


def reports() -> st.SearchStrategy[Report]:
    return st.builds(
        Report,
        team_id=ids(),
        period=date_ranges(),
        rows=st.lists(report_rows(), max_size=3),
    )
