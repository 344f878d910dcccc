"""Invariants of the service over random ledgers, on every storage."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import attrs
from hypothesis import given
from hypothesis import strategies as st

from credit_usage import (
    CreditUsage,
    DateRange,
    EntryKind,
    Feature,
    Group,
    LedgerEntry,
    Member,
    Storage,
    aggregate,
)
from tests.conftest import NOW, Clock, make_team

USERS = ["ada", "bea", "cy", "dov"]
GROUPS = [None, "g1", "g2"]
TYPES = ("email", "phone", "export")
ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham", "America/Santiago"]
# Two cycles back to now: usage lands in the current and in past cycles.
EARLIEST = datetime(2026, 9, 10, tzinfo=UTC)


@st.composite
def ledgers(draw: st.DrawFn) -> list[LedgerEntry]:
    """Usage entries with partial reversals of some of them."""
    count = draw(st.integers(min_value=0, max_value=40))
    entries = []
    for i in range(count):
        at = EARLIEST + timedelta(
            seconds=draw(st.integers(0, int((NOW - EARLIEST).total_seconds())))
        )
        entries.append(
            LedgerEntry(
                team_id="acme",
                entry_id=f"u{i}",
                kind=EntryKind.USAGE,
                user_id=draw(st.sampled_from(USERS)),
                group_id=draw(st.sampled_from(GROUPS)),
                feature=draw(st.sampled_from(list(Feature))),
                credit_type=draw(st.sampled_from(TYPES)),
                amount=draw(st.integers(1, 500)),
                occurred_at=at,
            )
        )
    reversals = []
    for original in draw(st.lists(st.sampled_from(entries), unique=True)) if entries else []:
        reversals.append(
            LedgerEntry(
                team_id="acme",
                entry_id=f"r-{original.entry_id}",
                kind=EntryKind.REVERSAL,
                user_id=original.user_id,
                group_id=original.group_id,
                feature=original.feature,
                credit_type=original.credit_type,
                amount=draw(st.integers(1, original.amount)),
                occurred_at=original.occurred_at,
                reverses=original.entry_id,
            )
        )
    return entries + reversals


_teams = itertools.count()


def build(
    storage: Storage, entries: list[LedgerEntry], timezone: str = "UTC"
) -> tuple[CreditUsage, str, list[LedgerEntry]]:
    """A fresh team in ``storage`` (one per example: no schema to create each time)."""
    team_id = f"t{next(_teams)}"
    app = CreditUsage(storage=storage, clock=Clock(NOW))
    app.create_team(make_team(team_id=team_id, timezone=timezone, credit_types=TYPES))
    for group_id in GROUPS[1:]:
        assert group_id is not None
        app.add_group(Group(team_id=team_id, group_id=group_id, name=group_id.upper()))
    for user_id in USERS:
        app.add_member(
            Member(team_id=team_id, user_id=user_id, name=user_id.title(),
                   email=f"{user_id}@acme.test", role="admin")
        )  # fmt: skip
    return app, team_id, [attrs.evolve(e, team_id=team_id) for e in entries]


@given(entries=ledgers())
def test_every_breakdown_sums_to_the_team_total(
    storage: Storage, entries: list[LedgerEntry]
) -> None:
    """By member, group, feature and credit type, the current cycle sums to ``used``."""
    app, team_id, entries = build(storage, entries)
    app.record_many(entries, enforce_limits=False)
    snap = app.snapshot("ada", team_id)
    report = app.usage_report("ada", team_id, snap.cycle)
    assert sum(m.used for m in snap.members) == snap.used
    assert sum(g.total for g in report.by_group()) == snap.used
    assert sum(sum(m.by_feature.values()) for m in snap.members) == snap.used
    assert sum(sum(m.by_credit_type.values()) for m in snap.members) == snap.used
    assert sum(r.total for r in report.rows) == snap.used
    assert sum(r.credits for r in report.long_rows()) == snap.used


@given(entries=ledgers(), timezone=st.sampled_from(ZONES), data=st.data())
def test_replaying_the_ledger_equals_the_roll_ups(
    storage: Storage, entries: list[LedgerEntry], timezone: str, data: st.DataObject
) -> None:
    """Any period's report equals a pure aggregation of the entries on those local days."""
    app, team_id, entries = build(storage, entries, timezone)
    app.record_many(entries, enforce_limits=False)
    team = app.get_team(team_id)
    first = data.draw(st.dates(date(2026, 9, 1), date(2026, 11, 30)))
    last = data.draw(st.dates(first, date(2026, 12, 5)))
    period = DateRange(first=first, last=last)
    expected = aggregate(
        [e for e in entries if first <= team.local_day(e.occurred_at) <= last],
        by=("user_id", "group_id", "feature", "credit_type"),
    )
    report = app.usage_report("ada", team_id, period)
    got = Counter(
        {
            (long.user_id, long.group_id, long.feature, long.credit_type): long.credits
            for long in report.long_rows()
        }
    )
    assert got == Counter({k: v for k, v in expected.items() if v})
    for cycle in team.cycles_between(EARLIEST, NOW):
        in_cycle = [e for e in entries if e.occurred_at in cycle]
        assert app.usage_report("ada", team_id, cycle).total == sum(aggregate(in_cycle).values())


@given(entries=ledgers(), data=st.data())
def test_duplicates_count_once(
    storage: Storage, entries: list[LedgerEntry], data: st.DataObject
) -> None:
    """Replaying entries, in any batches and order, gives the same totals as recording once."""
    app, team_id, entries = build(storage, entries)
    repeated = entries + data.draw(st.lists(st.sampled_from(entries))) if entries else []
    usages = [e for e in repeated if e.kind is EntryKind.USAGE]
    reversals = [e for e in repeated if e.kind is EntryKind.REVERSAL]
    # Originals first, so each reversal finds the entry it reverses.
    for batch in (usages, reversals, usages, reversals):
        app.record_many(batch, enforce_limits=False)
    new = app.record_many(entries, enforce_limits=False)
    assert new == 0
    snap = app.snapshot("ada", team_id)
    cycle_entries = [e for e in entries if e.occurred_at in snap.cycle]
    assert snap.used == sum(aggregate(cycle_entries).values())
