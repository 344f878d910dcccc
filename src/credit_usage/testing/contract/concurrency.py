"""The contract of writers on several threads sharing one storage."""

from __future__ import annotations

import time

from credit_usage.domain.ledger import Balance, Batch
from credit_usage.domain.model import LedgerEntry
from credit_usage.errors import InsufficientCreditsError
from credit_usage.ports import Decision, LedgerTransaction, Storage, WritePlan
from credit_usage.testing.builders import (
    CYCLE,
    MIA_API_EMAIL,
    T0,
    append_entries,
    cell_totals,
    ledger,
    make_team,
    reads,
    seed_team,
    team_pool,
    usage,
)
from credit_usage.testing.contract._base import _NeedsStorage, _run_concurrently, _seed_two_teams


class ConcurrencyContract(_NeedsStorage):
    """Writers on several threads sharing one storage object: no lost update, no overspend."""

    workers = 8
    appends_per_worker = 25

    def test_concurrent_pool_checks_never_overspend(self, storage: Storage) -> None:
        """Plans that append only what fits the pool use exactly the pool, not a credit more."""
        amount, capacity = 5, 600
        attempts = self.workers * self.appends_per_worker
        team = seed_team(storage, make_team(credits_per_cycle=capacity))
        key = team_pool(CYCLE)
        landed: list[str] = []
        refused: list[str] = []

        def checked(entry: LedgerEntry) -> WritePlan[str]:
            # What check_team_pool does: read the pool, refuse what would overspend it.
            def plan(tx: LedgerTransaction) -> Decision[str]:
                used = tx.balances([key])[key].used
                time.sleep(0.0005)  # Let another writer run between the read and the write.
                if used + entry.amount > team.credits_per_cycle:
                    raise InsufficientCreditsError(f"{used} used, {entry.amount} more asked")
                return Decision(Batch.of(team, [entry]), entry.entry_id)

            return plan

        def work(worker: int) -> None:
            for i in range(self.appends_per_worker):
                entry = usage(f"w{worker}-{i}", amount=amount)
                try:
                    storage.append("acme", checked(entry))
                except InsufficientCreditsError:
                    refused.append(entry.entry_id)
                else:
                    landed.append(entry.entry_id)

        _run_concurrently(self.workers, work)

        expected_used = min(capacity, attempts * amount)
        assert reads(storage, "acme").balances([key]) == {key: Balance(used=expected_used)}
        assert len(landed) == expected_used // amount
        assert len(refused) == attempts - len(landed)
        assert sorted(e.entry_id for e in ledger(storage)) == sorted(landed)
        assert cell_totals(reads(storage, "acme").usage_in_cycles(CYCLE, CYCLE)) == {
            MIA_API_EMAIL: expected_used
        }

    def test_concurrent_appends_of_distinct_entries_all_land(self, storage: Storage) -> None:
        """Every entry appended concurrently is stored once and counted once in every figure."""
        attempts = self.workers * self.appends_per_worker
        team = seed_team(storage)
        users = (("ada", None), ("mia", "sales"), ("noa", "support"))

        def work(worker: int) -> None:
            user_id, group_id = users[worker % 3]
            for i in range(self.appends_per_worker):
                entry = usage(f"w{worker}-{i}", amount=3, user_id=user_id, group_id=group_id)
                append_entries(storage, team, entry)

        _run_concurrently(self.workers, work)

        stored = ledger(storage)
        assert len(stored) == attempts
        assert len({e.entry_id for e in stored}) == attempts
        assert reads(storage, "acme").balances([team_pool(CYCLE)]) == {
            team_pool(CYCLE): Balance(used=3 * attempts)
        }
        assert (
            sum(cell_totals(reads(storage, "acme").usage_in_cycles(CYCLE, CYCLE)).values())
            == 3 * attempts
        )
        on_day = reads(storage, "acme").usage_on_days(T0.date(), T0.date())
        assert sum(cell_totals(on_day).values()) == 3 * attempts

    def test_concurrent_writers_of_two_teams_each_land_in_their_own(self, storage: Storage) -> None:
        """Writers of two teams using the same entry ids at once each fill only their team."""
        teams = _seed_two_teams(storage)
        per_team = self.workers // 2 * self.appends_per_worker

        def work(worker: int) -> None:
            team = teams[worker % 2]
            for i in range(self.appends_per_worker):
                entry = usage(f"w{worker // 2}-{i}", amount=1, team_id=team.team_id)
                append_entries(storage, team, entry)

        _run_concurrently(self.workers, work)

        for team, seeded_used, granted in ((teams[0], 7, 100), (teams[1], 20, 50)):
            stored = ledger(storage, team.team_id)
            assert {e.team_id for e in stored} == {team.team_id}
            assert len([e for e in stored if e.entry_id.startswith("w")]) == per_team
            assert reads(storage, team.team_id).balances([team_pool(CYCLE)]) == {
                team_pool(CYCLE): Balance(used=seeded_used + per_team, granted=granted)
            }
