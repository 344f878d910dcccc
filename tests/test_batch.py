"""A write's derived figures: ``Batch.of`` against the rules applied entry by entry.

``Batch.of`` nets entries into cells and rolls the cells up level by level
for speed; these tests hold it to the plain statement of the rules, one entry
at a time, for any zone and billing schedule, and check that figures add up
however a ledger is split into batches.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from credit_usage import EntryKind, LedgerEntry, Team
from credit_usage.domain.ledger import (
    ALL_TYPES,
    TEAM_SCOPE,
    Balance,
    BalanceKey,
    Batch,
    CycleKey,
    DayKey,
)
from credit_usage.testing.builders import T0, grant, make_team, usage
from tests.strategies import ledgers, teams


def one_by_one(team: Team, entries: Iterable[LedgerEntry]) -> dict[str, Any]:
    """The figures the obvious way: each entry's day, cycle and balances on their own."""
    daily: Counter[DayKey] = Counter()
    cycles: Counter[CycleKey] = Counter()
    used: Counter[BalanceKey] = Counter()
    granted: Counter[BalanceKey] = Counter()
    volume = 0
    for e in entries:
        volume += e.amount
        day = e.occurred_at.astimezone(team.tz).date()
        cycle = team.cycle_at(e.occurred_at).first_day
        if e.kind is EntryKind.GRANT:
            granted[BalanceKey(cycle, TEAM_SCOPE, "", ALL_TYPES)] += e.amount
            continue
        assert e.user_id is not None
        assert e.feature is not None
        assert e.credit_type is not None
        delta = e.usage_delta
        daily[DayKey(day, e.user_id, e.group_id, e.feature, e.credit_type)] += delta
        cycles[CycleKey(cycle, e.user_id, e.group_id, e.feature, e.credit_type)] += delta
        subjects = [(TEAM_SCOPE, "", ALL_TYPES), ("user", e.user_id, ALL_TYPES)]
        subjects.append(("user", e.user_id, e.credit_type))
        if e.group_id is not None:
            subjects += [("group", e.group_id, ALL_TYPES), ("group", e.group_id, e.credit_type)]
        for scope, subject, credit_type in subjects:
            used[BalanceKey(cycle, scope, subject, credit_type)] += delta
    balances = {key: Balance(used.get(key, 0), granted.get(key, 0)) for key in {*used, *granted}}
    return {"daily": dict(daily), "cycles": dict(cycles), "balances": balances, "volume": volume}


def figures(batch: Batch) -> dict[str, Any]:
    return {
        "daily": dict(batch.daily),
        "cycles": dict(batch.cycles),
        "balances": dict(batch.balances),
        "volume": batch.volume,
    }


def added(*mappings: Mapping[Any, Any]) -> dict[Any, Any]:
    """Mappings summed key by key (a ``Balance`` field by field), zeros dropped."""
    total: dict[Any, Any] = {}
    for mapping in mappings:
        for key, value in mapping.items():
            old = total.get(key)
            if old is None:
                total[key] = value
            else:
                total[key] = old.plus(*value) if isinstance(old, Balance) else old + value
    return {k: v for k, v in total.items() if v not in (0, Balance())}


class TestBatchOf:
    @given(team=teams(), entries=ledgers())
    def test_matches_the_rules_applied_entry_by_entry(
        self, team: Team, entries: list[LedgerEntry]
    ) -> None:
        team = attrs.evolve(team, team_id="acme")
        assert figures(Batch.of(team, entries)) == one_by_one(team, entries)

    @given(team=teams(), entries=ledgers(), cut=st.integers(0, 20))
    def test_two_batches_add_up_to_one(
        self, team: Team, entries: list[LedgerEntry], cut: int
    ) -> None:
        team = attrs.evolve(team, team_id="acme")
        whole = Batch.of(team, entries)
        first, second = Batch.of(team, entries[:cut]), Batch.of(team, entries[cut:])
        assert added(whole.daily) == added(first.daily, second.daily)
        assert added(whole.cycles) == added(first.cycles, second.cycles)
        assert added(whole.balances) == added(first.balances, second.balances)
        assert whole.volume == first.volume + second.volume

    def test_keys_are_the_named_tuples(self) -> None:
        team = make_team(timezone="Asia/Kolkata")
        at = T0 + timedelta(hours=7)  # 00:30 the next day in Kolkata
        batch = Batch.of(team, [usage("u1", occurred_at=at), grant("g1", occurred_at=at)])
        assert all(type(k) is DayKey for k in batch.daily)
        assert all(type(k) is CycleKey for k in batch.cycles)
        assert all(type(k) is BalanceKey for k in batch.balances)
        assert all(type(b) is Balance for b in batch.balances.values())
        [day] = batch.daily
        assert day.day == at.astimezone(team.tz).date() == date(2026, 3, 3)
        pool = batch.balances[BalanceKey(date(2026, 2, 15), TEAM_SCOPE, "", ALL_TYPES)]
        assert pool == Balance(used=10, granted=100)
