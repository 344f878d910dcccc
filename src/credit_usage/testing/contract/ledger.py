"""The contract of ``append`` and of what a write plan reads in its transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest

from credit_usage.domain.ledger import ALL_TYPES, Balance, BalanceKey, Batch
from credit_usage.domain.model import Feature, LedgerEntry
from credit_usage.errors import IdempotencyConflictError, InsufficientCreditsError
from credit_usage.ports import Decision, LedgerTransaction, Storage, WritePlan
from credit_usage.testing.builders import (
    CYCLE,
    MIA_API_EMAIL,
    NEXT_CYCLE,
    T0,
    append_entries,
    cell_totals,
    grant,
    ledger,
    reads,
    reversal,
    seed_team,
    team_pool,
    usage,
)
from credit_usage.testing.contract._base import _in_transaction, _NeedsStorage


class AppendContract(_NeedsStorage):
    """append: atomic batches, refused plans, idempotency and big batches."""

    def test_append_writes_entries_and_every_derived_figure(self, storage: Storage) -> None:
        """An appended batch's entries, roll-ups, counters and balances can all be read back."""
        team = seed_team(storage)
        entries = [
            usage("u1", amount=10),
            usage("u2", amount=4, user_id="noa", group_id="support", credit_type="phone"),
            grant("g1", amount=100),
        ]
        append_entries(storage, team, *entries)

        assert ledger(storage) == entries
        expected = {MIA_API_EMAIL: 10, ("noa", "support", Feature.API, "phone"): 4}
        assert cell_totals(reads(storage, "acme").usage_on_days(T0.date(), T0.date())) == expected
        assert cell_totals(reads(storage, "acme").usage_in_cycles(CYCLE, CYCLE)) == expected
        assert reads(storage, "acme").balances([team_pool(CYCLE)]) == {
            team_pool(CYCLE): Balance(used=14, granted=100)
        }

    def test_appends_add_to_the_figures_already_stored(self, storage: Storage) -> None:
        """A later append adds to the stored figures; it never replaces them."""
        team = seed_team(storage)
        append_entries(storage, team, usage("u1", amount=10), grant("g1", amount=100))
        append_entries(storage, team, usage("u2", amount=5), grant("g2", amount=20))
        append_entries(storage, team, usage("u3", amount=1))

        assert cell_totals(reads(storage, "acme").usage_on_days(T0.date(), T0.date())) == {
            MIA_API_EMAIL: 16
        }
        assert cell_totals(reads(storage, "acme").usage_in_cycles(CYCLE, CYCLE)) == {
            MIA_API_EMAIL: 16
        }
        assert reads(storage, "acme").balances([team_pool(CYCLE)]) == {
            team_pool(CYCLE): Balance(used=16, granted=120)
        }

    def test_a_refusing_plan_writes_nothing_and_its_exception_propagates_unchanged(
        self, storage: Storage
    ) -> None:
        """When the plan raises, append re-raises that very exception and stores nothing."""
        team = seed_team(storage)
        append_entries(storage, team, usage("u1", amount=10))
        refusal = InsufficientCreditsError("no credits left")

        def plan(tx: LedgerTransaction) -> Decision[None]:
            tx.find_entries(["u1", "u2"])
            tx.reversed_totals(["u1"])
            tx.balances([team_pool(CYCLE)])
            raise refusal

        with pytest.raises(InsufficientCreditsError) as raised:
            storage.append("acme", plan)
        assert raised.value is refusal
        assert [e.entry_id for e in ledger(storage)] == ["u1"]
        assert reads(storage, "acme").balances([team_pool(CYCLE)]) == {
            team_pool(CYCLE): Balance(used=10)
        }

    def test_the_team_can_be_written_again_after_a_refused_plan(self, storage: Storage) -> None:
        """A refused plan releases the team: the next append runs and lands."""
        team = seed_team(storage)

        def refuse(tx: LedgerTransaction) -> Decision[None]:
            tx.balances([team_pool(CYCLE)])
            raise KeyError("refused")

        for _ in range(3):
            with pytest.raises(KeyError):
                storage.append("acme", refuse)
        append_entries(storage, team, usage("u1"))
        assert [e.entry_id for e in ledger(storage)] == ["u1"]

    def test_an_empty_batch_writes_nothing(self, storage: Storage) -> None:
        """A plan returning an empty batch leaves the ledger and every figure unchanged."""
        team = seed_team(storage)
        append_entries(storage, team, usage("u1", amount=10))
        storage.append("acme", lambda tx: Decision(Batch.empty(), None))
        append_entries(storage, team)

        assert [e.entry_id for e in ledger(storage)] == ["u1"]
        assert cell_totals(reads(storage, "acme").usage_in_cycles(CYCLE, CYCLE)) == {
            MIA_API_EMAIL: 10
        }
        assert reads(storage, "acme").balances([team_pool(CYCLE)]) == {
            team_pool(CYCLE): Balance(used=10)
        }

    def test_an_id_repeated_within_one_batch_is_an_idempotency_conflict(
        self, storage: Storage
    ) -> None:
        """A batch holding one entry id twice raises IdempotencyConflictError and stores nothing."""
        team = seed_team(storage)
        with pytest.raises(IdempotencyConflictError):
            append_entries(storage, team, usage("e1", amount=10), usage("e1", amount=10))
        assert ledger(storage) == []
        assert reads(storage, "acme").balances([team_pool(CYCLE)]) == {team_pool(CYCLE): Balance()}

    def test_a_stored_entry_id_is_an_idempotency_conflict_and_nothing_of_the_batch_is_written(
        self, storage: Storage
    ) -> None:
        """An id already in the team raises IdempotencyConflictError; nothing of the batch lands."""
        team = seed_team(storage)
        append_entries(storage, team, usage("u1", amount=10))
        with pytest.raises(IdempotencyConflictError):
            append_entries(
                storage, team, usage("u2", amount=5), usage("u1", amount=99), grant("g1")
            )

        assert ledger(storage) == [usage("u1", amount=10)]
        assert reads(storage, "acme").entry("u2") is None
        assert cell_totals(reads(storage, "acme").usage_on_days(T0.date(), T0.date())) == {
            MIA_API_EMAIL: 10
        }
        assert cell_totals(reads(storage, "acme").usage_in_cycles(CYCLE, CYCLE)) == {
            MIA_API_EMAIL: 10
        }
        assert reads(storage, "acme").balances([team_pool(CYCLE)]) == {
            team_pool(CYCLE): Balance(used=10)
        }

    def test_entry_ids_are_exact_strings(self, storage: Storage) -> None:
        """Entry ids differing in case or a trailing space are different entries, not conflicts."""
        team = seed_team(storage)
        e1 = usage("e1", amount=1)
        append_entries(storage, team, e1)
        append_entries(storage, team, usage("E1", amount=2), usage("e1 ", amount=4))
        append_entries(storage, team, reversal("r1", e1))
        seen: list[tuple[set[str], dict[str, int]]] = []

        def read(tx: LedgerTransaction) -> None:
            found = tx.find_entries(["e1", "E1", "e1 ", "E1 ", "r1 "])
            assert all(entry_id == e.entry_id for entry_id, e in found.items())
            seen.append((set(found), tx.reversed_totals(["e1", "E1", "e1 "])))

        _in_transaction(storage, "acme", read)
        assert seen == [({"e1", "E1", "e1 "}, {"e1": 1, "E1": 0, "e1 ": 0})]
        stored = reads(storage, "acme").entry("e1 ")
        assert stored is not None
        assert (stored.entry_id, stored.amount) == ("e1 ", 4)
        assert reads(storage, "acme").entry("E1 ") is None

    def test_a_large_batch_is_written_and_read_in_full(self, storage: Storage) -> None:
        """A batch of 2,000 entries lands whole, and transaction reads take 2,000 ids or keys."""
        team = seed_team(storage)
        count = 2_000
        users = (("ada", None), ("mia", "sales"), ("noa", "support"))
        entries = [
            usage(
                f"bulk-{i:05d}",
                amount=1 + i % 7,
                user_id=users[i % 3][0],
                group_id=users[i % 3][1],
                occurred_at=T0 - timedelta(days=i % 10, seconds=i),
            )
            for i in range(count)
        ]
        append_entries(storage, team, *entries)
        ids = [e.entry_id for e in entries]
        total = sum(e.amount for e in entries)
        unknown_users = [BalanceKey(CYCLE, "user", f"nobody-{i}", ALL_TYPES) for i in range(count)]
        seen: dict[str, object] = {}

        def read(tx: LedgerTransaction) -> None:
            seen["found"] = tx.find_entries([*ids, "missing-1", "missing-2"])
            seen["reversed"] = tx.reversed_totals(ids)
            seen["balances"] = tx.balances([*unknown_users, team_pool(CYCLE)])

        _in_transaction(storage, "acme", read)

        assert seen["found"] == {e.entry_id: e for e in entries}
        assert seen["reversed"] == dict.fromkeys(ids, 0)
        assert seen["balances"] == {
            **dict.fromkeys(unknown_users, Balance()),
            team_pool(CYCLE): Balance(used=total),
        }
        stored = ledger(storage)
        assert len(stored) == count
        assert {e.entry_id for e in stored} == set(ids)
        assert [e.occurred_at for e in stored] == sorted(e.occurred_at for e in entries)
        on_days = reads(storage, "acme").usage_on_days(T0.date() - timedelta(days=9), T0.date())
        assert sum(cell_totals(on_days).values()) == total
        assert reads(storage, "acme").balances(unknown_users) == dict.fromkeys(
            unknown_users, Balance()
        )


class LedgerTransactionContract(_NeedsStorage):
    """What a plan reads: find_entries, reversed_totals and balances."""

    def test_find_entries_returns_only_stored_ids(self, storage: Storage) -> None:
        """find_entries maps each stored id to its entry and leaves unknown ids out."""
        team = seed_team(storage)
        u1, g1 = usage("u1"), grant("g1")
        append_entries(storage, team, u1, g1, usage("u2"))
        seen: list[dict[str, LedgerEntry]] = []

        def read(tx: LedgerTransaction) -> None:
            seen.append(tx.find_entries(["u1", "g1", "nope"]))
            seen.append(tx.find_entries([]))
            seen.append(tx.find_entries(["nope"]))

        _in_transaction(storage, "acme", read)
        assert seen == [{"u1": u1, "g1": g1}, {}, {}]

    def test_reversed_totals_sum_the_reversals_and_read_zero_for_none(
        self, storage: Storage
    ) -> None:
        """reversed_totals gives each id asked the credits reversed from it so far (0 if none)."""
        team = seed_team(storage)
        u1, u2 = usage("u1", amount=10), usage("u2", amount=8)
        append_entries(storage, team, u1, u2, reversal("r1", u1, amount=3))
        append_entries(storage, team, reversal("r2", u1, amount=4))
        seen: list[dict[str, int]] = []

        _in_transaction(storage, "acme", lambda tx: seen.append(tx.reversed_totals(["u1", "u2"])))
        assert seen == [{"u1": 7, "u2": 0}]

    def test_balances_read_zero_for_keys_never_written(self, storage: Storage) -> None:
        """tx.balances gives every key asked: Balance() if never written, else used and granted."""
        team = seed_team(storage)
        append_entries(storage, team, usage("u1", amount=10), grant("g1", amount=100))
        append_entries(storage, team, usage("u2", amount=5, credit_type="phone"))
        keys = [
            team_pool(CYCLE),
            team_pool(NEXT_CYCLE),
            BalanceKey(CYCLE, "user", "mia", ALL_TYPES),
            BalanceKey(CYCLE, "user", "mia", "email"),
            BalanceKey(CYCLE, "group", "sales", "phone"),
            BalanceKey(CYCLE, "user", "noa", ALL_TYPES),
        ]
        seen: list[dict[BalanceKey, Balance]] = []

        _in_transaction(storage, "acme", lambda tx: seen.append(tx.balances(keys)))
        assert seen == [
            {
                team_pool(CYCLE): Balance(used=15, granted=100),
                team_pool(NEXT_CYCLE): Balance(),
                BalanceKey(CYCLE, "user", "mia", ALL_TYPES): Balance(used=15),
                BalanceKey(CYCLE, "user", "mia", "email"): Balance(used=10),
                BalanceKey(CYCLE, "group", "sales", "phone"): Balance(used=5),
                BalanceKey(CYCLE, "user", "noa", ALL_TYPES): Balance(),
            }
        ]

    def test_a_plan_sees_what_earlier_appends_wrote(self, storage: Storage) -> None:
        """Each plan reads the entries, reversals and balances of every append before it."""
        team = seed_team(storage)
        u1 = usage("u1", amount=10)
        seen: list[tuple[dict[str, LedgerEntry], dict[str, int], Balance]] = []

        def plan_of(*entries: LedgerEntry) -> WritePlan[int]:
            def plan(tx: LedgerTransaction) -> Decision[int]:
                found = tx.find_entries(["u1", "r1"])
                reversed_ = tx.reversed_totals(["u1"])
                pool = tx.balances([team_pool(CYCLE)])[team_pool(CYCLE)]
                seen.append((found, reversed_, pool))
                return Decision(Batch.of(team, entries), len(entries))

            return plan

        r1 = reversal("r1", u1, amount=4)
        storage.append("acme", plan_of(u1))
        storage.append("acme", plan_of(r1))
        storage.append("acme", plan_of())
        assert seen == [
            ({}, {"u1": 0}, Balance()),
            ({"u1": u1}, {"u1": 0}, Balance(used=10)),
            ({"u1": u1, "r1": r1}, {"u1": 4}, Balance(used=6)),
        ]
