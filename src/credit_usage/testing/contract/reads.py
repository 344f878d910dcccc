"""The contract of the ledger reads, in UTC and in a team time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from credit_usage.domain.aggregate import MemberSums, member_sums
from credit_usage.domain.ledger import ALL_TYPES, Balance, BalanceKey
from credit_usage.domain.model import Feature, LedgerEntry, ledger_row
from credit_usage.ports import Storage, TeamReads
from credit_usage.testing.builders import (
    CYCLE,
    END_OF_TIME,
    MIA_API_EMAIL,
    NEW_YORK,
    NEXT_CYCLE,
    PREVIOUS_CYCLE,
    START_OF_TIME,
    T0,
    CellKey,
    append_entries,
    cell_totals,
    grant,
    ledger,
    make_team,
    reads,
    reversal,
    seed_team,
    team_pool,
    usage,
)
from credit_usage.testing.contract._base import _NeedsStorage, _run_concurrently


class LedgerReadsContract(_NeedsStorage):
    """get_entry, iter_entries, usage_in_cycles, usage_on_days and get_balances."""

    def test_get_entry_round_trips_every_field(self, storage: Storage) -> None:
        """get_entry returns every field as written: enums as enums, amounts beyond 32 bits."""
        team = seed_team(storage)
        india = timezone(timedelta(hours=5, minutes=30))
        used = usage(
            "u1",
            amount=5_000_000_000,
            user_id="ada",
            group_id=None,
            feature=Feature.WORKSPACE,
            credit_type="phone",
            occurred_at=datetime(2026, 3, 2, 17, 29, 59, 999_999, tzinfo=india),
            recorded_at=datetime(2026, 3, 2, 12, 0, 0, 1, tzinfo=UTC),
        )
        granted = grant("g1", amount=1, occurred_at=datetime(2026, 2, 15, 0, 0, 0, 1, tzinfo=UTC))
        reversed_ = reversal("r1", used, amount=456)
        # Ids are any text up to 255 characters, emoji included.
        long_id = usage("évènement-🎉-" + "x" * 243, user_id="noa", group_id="support")
        append_entries(storage, team, used, granted, reversed_, long_id)

        for entry in (used, granted, reversed_, long_id):
            stored = reads(storage, "acme").entry(entry.entry_id)
            assert stored == entry
            assert stored is not None
            assert stored.kind is entry.kind
            assert stored.feature == entry.feature
            assert type(stored.feature) is type(entry.feature)
            assert stored.occurred_at.utcoffset() is not None
            assert stored.recorded_at is not None
            assert stored.recorded_at.utcoffset() is not None
            assert stored.recorded_at == entry.recorded_at
        assert reads(storage, "acme").balances([team_pool(CYCLE)]) == {
            team_pool(CYCLE): Balance(used=5_000_000_000 - 456 + 10, granted=1)
        }

    def test_an_unknown_entry_reads_as_none(self, storage: Storage) -> None:
        """get_entry of an id never appended is None."""
        team = seed_team(storage)
        append_entries(storage, team, usage("u1"))
        assert reads(storage, "acme").entry("u2") is None

    def test_iter_entries_is_half_open(self, storage: Storage) -> None:
        """iter_entries yields start <= occurred_at < end, whatever zone the bounds are in."""
        team = seed_team(storage)
        start, end = T0, T0 + timedelta(hours=1)
        tick = timedelta(microseconds=1)
        append_entries(
            storage,
            team,
            usage("before", occurred_at=start - tick),
            usage("at-start", occurred_at=start),
            usage("last", occurred_at=end - tick),
            usage("at-end", occurred_at=end),
        )

        def ids(first: datetime, last: datetime) -> list[str]:
            return [e.entry_id for e in reads(storage).iter_entries(first, last)]

        assert ids(start, end) == ["at-start", "last"]
        assert ids(start.astimezone(NEW_YORK), end.astimezone(NEW_YORK)) == ["at-start", "last"]
        assert ids(start, start) == []

    def test_iter_entries_orders_by_occurred_at_then_insertion(self, storage: Storage) -> None:
        """Entries come by occurred_at, ties in insertion order: a reversal follows its original."""
        team = seed_team(storage)
        b = usage("b", occurred_at=T0)
        append_entries(storage, team, usage("a", occurred_at=T0 + timedelta(hours=1)), b)
        append_entries(storage, team, usage("c", occurred_at=T0))
        append_entries(storage, team, reversal("r", b, amount=3))
        append_entries(storage, team, usage("d", occurred_at=T0.astimezone(NEW_YORK)))
        append_entries(storage, team, usage("e", occurred_at=T0 - timedelta(microseconds=1)))
        later = T0 + timedelta(hours=2)
        append_entries(storage, team, usage("z", occurred_at=later), usage("y", occurred_at=later))
        # 12:00 at UTC+5 is 07:00 UTC: ordered by instant, not by wall-clock text.
        append_entries(
            storage,
            team,
            usage("f", occurred_at=datetime(2026, 3, 2, 12, tzinfo=timezone(timedelta(hours=5)))),
        )

        assert [e.entry_id for e in ledger(storage)] == [
            "f",
            "e",
            "b",
            "c",
            "r",
            "d",
            "a",
            "z",
            "y",
        ]

    def test_other_reads_may_run_while_iter_entries_is_half_read(self, storage: Storage) -> None:
        """Inside one read, other reads may run between two steps of iter_entries."""
        team = seed_team(storage)
        written = [usage(f"u{i}", occurred_at=T0 + timedelta(seconds=i)) for i in range(5)]
        append_entries(storage, team, *written)

        def query(tx: TeamReads) -> list[LedgerEntry]:
            entries = tx.iter_entries(START_OF_TIME, END_OF_TIME)
            first = next(entries)
            assert first.user_id is not None
            assert tx.member(first.user_id) is not None
            assert tx.find_entries(["u4"]) == {"u4": written[4]}
            assert cell_totals(tx.usage_in_cycles(CYCLE, CYCLE)) == {MIA_API_EMAIL: 50}
            return [first, *entries]

        assert storage.read("acme", query) == written

    def test_an_abandoned_stream_does_not_hold_the_team(self, storage: Storage) -> None:
        """A read that leaves iter_entries half read, or fails in the middle, releases the team."""
        team = seed_team(storage)
        append_entries(storage, team, *(usage(f"u{i}") for i in range(5)))
        kept: list[object] = []

        def fail_midway(tx: TeamReads) -> None:
            entries = tx.iter_entries(START_OF_TIME, END_OF_TIME)
            kept.append(entries)  # As a host's error tracker keeps a traceback alive.
            next(entries)
            raise KeyError("the consumer failed")

        with pytest.raises(KeyError):
            storage.read("acme", fail_midway)
        storage.read("acme", lambda tx: next(tx.iter_entries(START_OF_TIME, END_OF_TIME)))

        def write() -> None:
            append_entries(storage, team, usage("after"))

        _run_concurrently(1, lambda _: write())
        assert reads(storage).entry("after") == usage("after")
        assert len(kept) == 1

    def test_iter_entries_gives_aware_datetimes_equal_to_those_written(
        self, storage: Storage
    ) -> None:
        """Every occurred_at and recorded_at read back is aware and the same instant as written."""
        team = seed_team(storage)
        written = [
            usage(
                "u1",
                occurred_at=datetime(2026, 3, 2, 7, 8, 9, 10, tzinfo=NEW_YORK),
                recorded_at=datetime(2026, 3, 2, 23, 59, 59, 999_999, tzinfo=NEW_YORK),
            ),
            usage("u2", occurred_at=datetime(2026, 3, 1, 0, 0, 0, 1, tzinfo=UTC)),
            grant("g1", occurred_at=datetime(2026, 2, 20, 10, 30, 15, 500_000, tzinfo=UTC)),
        ]
        append_entries(storage, team, *written)

        stored = {e.entry_id: e for e in ledger(storage)}
        for entry in written:
            read = stored[entry.entry_id]
            assert read.occurred_at.utcoffset() is not None
            assert read.occurred_at == entry.occurred_at
            assert read.recorded_at is not None
            assert read.recorded_at.utcoffset() is not None
            assert read.recorded_at == entry.recorded_at

    def test_usage_in_cycles_sums_the_cycles_from_first_to_last(self, storage: Storage) -> None:
        """usage_in_cycles adds the counters of the cycles starting first..last and of no other."""
        team = seed_team(storage)
        append_entries(
            storage,
            team,
            usage("jan", amount=1, occurred_at=datetime(2026, 1, 20, tzinfo=UTC)),
            usage("feb", amount=2, occurred_at=T0),
            usage("mar", amount=4, occurred_at=datetime(2026, 3, 20, tzinfo=UTC)),
            usage("noa", amount=8, user_id="noa", group_id="support", occurred_at=T0),
        )
        noa = ("noa", "support", Feature.API, "email")

        def in_cycles(first: date, last: date) -> dict[CellKey, int]:
            return cell_totals(reads(storage).usage_in_cycles(first, last))

        assert in_cycles(PREVIOUS_CYCLE, CYCLE) == {MIA_API_EMAIL: 3, noa: 8}
        assert in_cycles(PREVIOUS_CYCLE, NEXT_CYCLE) == {MIA_API_EMAIL: 7, noa: 8}
        assert in_cycles(CYCLE, NEXT_CYCLE) == {MIA_API_EMAIL: 6, noa: 8}
        assert in_cycles(NEXT_CYCLE, NEXT_CYCLE) == {MIA_API_EMAIL: 4}
        assert in_cycles(date(2025, 12, 15), date(2025, 12, 15)) == {}
        assert in_cycles(date(1970, 1, 1), date(2099, 12, 31)) == {MIA_API_EMAIL: 7, noa: 8}
        assert in_cycles(NEXT_CYCLE, CYCLE) == {}

    def test_usage_on_days_includes_both_bounds(self, storage: Storage) -> None:
        """usage_on_days adds the roll-ups of first..last inclusive, across cycle boundaries."""
        team = seed_team(storage)
        days = [date(2026, 3, d) for d in (1, 2, 3, 4, 14, 15)]
        append_entries(
            storage,
            team,
            *(
                usage(f"u{i}", amount=2**i, occurred_at=datetime.combine(day, T0.timetz()))
                for i, day in enumerate(days)
            ),
        )

        def on_days(first: date, last: date) -> dict[CellKey, int]:
            return cell_totals(reads(storage, "acme").usage_on_days(first, last))

        assert on_days(date(2026, 3, 2), date(2026, 3, 3)) == {MIA_API_EMAIL: 2 + 4}
        assert on_days(date(2026, 3, 2), date(2026, 3, 2)) == {MIA_API_EMAIL: 2}
        assert on_days(date(2026, 3, 14), date(2026, 3, 15)) == {MIA_API_EMAIL: 16 + 32}
        assert on_days(date(2026, 3, 5), date(2026, 3, 13)) == {}

    def test_usage_is_split_by_user_group_feature_and_credit_type(self, storage: Storage) -> None:
        """Usage reads give a cell per (user, group, feature, credit type), group None included."""
        team = seed_team(storage)
        append_entries(
            storage,
            team,
            usage("u1", amount=10),
            usage("u2", amount=4, credit_type="phone"),
            usage("u3", amount=2, feature=Feature.WORKSPACE),
            usage("u4", amount=7, user_id="noa", group_id="support"),
            usage("u5", amount=1, group_id=None),
            usage("u6", amount=5),
            grant("g1", amount=1_000),
        )
        expected = {
            MIA_API_EMAIL: 15,
            ("mia", "sales", Feature.API, "phone"): 4,
            ("mia", "sales", Feature.WORKSPACE, "email"): 2,
            ("noa", "support", Feature.API, "email"): 7,
            ("mia", None, Feature.API, "email"): 1,
        }
        assert cell_totals(reads(storage, "acme").usage_in_cycles(CYCLE, CYCLE)) == expected
        assert cell_totals(reads(storage, "acme").usage_on_days(T0.date(), T0.date())) == expected

    def test_reversals_net_out_and_fully_reversed_usage_leaves_no_cell(
        self, storage: Storage
    ) -> None:
        """Reversals subtract from their original's cells; a cell netting to zero is omitted."""
        team = seed_team(storage)
        gone = usage("gone", amount=10, credit_type="phone")
        kept = usage("kept", amount=10)
        append_entries(storage, team, gone, kept, reversal("r1", gone, amount=4))
        append_entries(
            storage, team, reversal("r2", gone, amount=6), reversal("r3", kept, amount=3)
        )

        assert cell_totals(reads(storage, "acme").usage_in_cycles(CYCLE, CYCLE)) == {
            MIA_API_EMAIL: 7
        }
        assert cell_totals(reads(storage, "acme").usage_on_days(T0.date(), T0.date())) == {
            MIA_API_EMAIL: 7
        }
        assert reads(storage, "acme").balances(
            [team_pool(CYCLE), BalanceKey(CYCLE, "user", "mia", "phone")]
        ) == {
            team_pool(CYCLE): Balance(used=7),
            BalanceKey(CYCLE, "user", "mia", "phone"): Balance(),
        }

    def test_iter_ledger_rows_are_the_entries_as_rows(self, storage: Storage) -> None:
        """iter_ledger_rows: iter_entries' entries, in its order, as ledger_row gives them."""
        team = seed_team(storage)
        first = usage("u1", amount=10, occurred_at=T0 - timedelta(hours=1))
        append_entries(
            storage,
            team,
            first,
            usage("u2", amount=4, credit_type="phone", group_id=None),
            grant("g1", amount=1_000),
            usage("later", amount=1, occurred_at=T0 + timedelta(days=2)),
        )
        append_entries(storage, team, reversal("r1", first, amount=3), usage("u3", amount=2))
        tx = reads(storage, "acme")
        for start, end in ((START_OF_TIME, END_OF_TIME), (T0, T0 + timedelta(days=2))):
            rows = tx.iter_ledger_rows(start, end)
            assert rows == [ledger_row(e) for e in tx.iter_entries(start, end)]
        rows = tx.iter_ledger_rows(START_OF_TIME, END_OF_TIME)
        assert [row[0] for row in rows] == ["u1", "r1", "u2", "g1", "u3", "later"]
        assert all(row[2].utcoffset() == timedelta(0) for row in rows)
        assert rows[3][4:8] == (None, None, None, None)

    def test_member_sums_are_the_sums_of_the_cells(self, storage: Storage) -> None:
        """member_sums_*: each user's cells summed by feature and by credit type.

        Across groups, several cycles and days, with reversals (one netting a
        cell to zero) and a grant: always ``member_sums`` of the cells.
        """
        team = seed_team(storage)
        gone = usage("gone", amount=10, credit_type="phone", feature=Feature.PLATFORM)
        earlier = usage("early", amount=3, occurred_at=T0 - timedelta(days=31))
        append_entries(
            storage,
            team,
            usage("u1", amount=10),
            usage("u2", amount=4, credit_type="phone"),
            usage("u3", amount=2, feature=Feature.WORKSPACE, group_id="support"),
            usage("u4", amount=7, user_id="noa", group_id="support"),
            usage("u5", amount=1, group_id=None, occurred_at=T0 + timedelta(days=1)),
            gone,
            earlier,
            reversal("r1", gone, amount=10),
            reversal("r2", earlier, amount=1),
            grant("g1", amount=1_000),
        )
        tx = reads(storage, "acme")
        expected = member_sums(tx.usage_in_cycles(CYCLE, CYCLE))
        assert expected["mia"] == MemberSums(
            {Feature.API.value: 15, Feature.WORKSPACE.value: 2}, {"email": 13, "phone": 4}
        )
        assert tx.member_sums_in_cycles(CYCLE, CYCLE) == expected
        both = member_sums(tx.usage_in_cycles(PREVIOUS_CYCLE, CYCLE))
        assert both["mia"].by_credit_type == {"email": 15, "phone": 4}
        assert tx.member_sums_in_cycles(PREVIOUS_CYCLE, CYCLE) == both
        assert tx.member_sums_in_cycles(NEXT_CYCLE, NEXT_CYCLE) == {}
        assert tx.member_sums_in_cycles(CYCLE, PREVIOUS_CYCLE) == {}
        days = (T0.date(), T0.date() + timedelta(days=1))
        assert tx.member_sums_on_days(*days) == member_sums(tx.usage_on_days(*days))
        assert tx.member_sums_on_days(T0.date(), T0.date())["mia"].by_feature == {
            Feature.API.value: 14,
            Feature.WORKSPACE.value: 2,
        }

    def test_get_balances_reads_every_scope_and_zero_for_the_rest(self, storage: Storage) -> None:
        """get_balances reads pool, user and group balances; keys never written read Balance()."""
        team = seed_team(storage)
        append_entries(
            storage,
            team,
            usage("u1", amount=10),
            usage("u2", amount=4, credit_type="phone"),
            usage("u3", amount=7, user_id="noa", group_id="support"),
            usage("u4", amount=1, user_id="ada", group_id=None),
            grant("g1", amount=100),
            grant("g2", amount=30, occurred_at=datetime(2026, 3, 20, tzinfo=UTC)),
        )
        expected = {
            team_pool(CYCLE): Balance(used=22, granted=100),
            team_pool(NEXT_CYCLE): Balance(granted=30),
            team_pool(PREVIOUS_CYCLE): Balance(),
            BalanceKey(CYCLE, "user", "mia", ALL_TYPES): Balance(used=14),
            BalanceKey(CYCLE, "user", "mia", "email"): Balance(used=10),
            BalanceKey(CYCLE, "user", "mia", "phone"): Balance(used=4),
            BalanceKey(CYCLE, "user", "ada", ALL_TYPES): Balance(used=1),
            BalanceKey(CYCLE, "group", "sales", ALL_TYPES): Balance(used=14),
            BalanceKey(CYCLE, "group", "support", "email"): Balance(used=7),
            BalanceKey(CYCLE, "group", "support", "phone"): Balance(),
            BalanceKey(NEXT_CYCLE, "user", "mia", ALL_TYPES): Balance(),
        }
        assert reads(storage, "acme").balances(list(expected)) == expected
        assert reads(storage, "acme").balances([]) == {}


class TimeZoneContract(_NeedsStorage):
    """Local days and cycles of a team outside UTC (America/New_York, UTC-5 in early March)."""

    def test_usage_lands_on_the_local_day_either_side_of_midnight(self, storage: Storage) -> None:
        """Local midnight, not UTC midnight, splits the daily roll-ups."""
        team = seed_team(storage, make_team(timezone="America/New_York"))
        local_midnight = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
        append_entries(
            storage,
            team,
            usage("evening", amount=1, occurred_at=datetime(2026, 3, 2, 3, 0, tzinfo=UTC)),
            usage("last-instant", amount=2, occurred_at=local_midnight - timedelta(microseconds=1)),
            usage("midnight", amount=4, occurred_at=local_midnight),
        )

        def on_day(day: date) -> dict[CellKey, int]:
            return cell_totals(reads(storage, "acme").usage_on_days(day, day))

        assert on_day(date(2026, 3, 1)) == {MIA_API_EMAIL: 1 + 2}
        assert on_day(date(2026, 3, 2)) == {MIA_API_EMAIL: 4}

    def test_usage_lands_in_the_cycle_starting_at_local_midnight(self, storage: Storage) -> None:
        """A cycle starts at local midnight, so 04:59:59 UTC still counts in the cycle before."""
        team = seed_team(storage, make_team(timezone="America/New_York"))
        cycle_start = datetime(2026, 2, 15, 5, 0, tzinfo=UTC)
        append_entries(
            storage,
            team,
            usage("before", amount=1, occurred_at=cycle_start - timedelta(microseconds=1)),
            usage("after", amount=2, occurred_at=cycle_start),
        )

        assert cell_totals(
            reads(storage, "acme").usage_in_cycles(PREVIOUS_CYCLE, PREVIOUS_CYCLE)
        ) == {MIA_API_EMAIL: 1}
        assert cell_totals(reads(storage, "acme").usage_in_cycles(CYCLE, CYCLE)) == {
            MIA_API_EMAIL: 2
        }
        assert reads(storage, "acme").balances([team_pool(PREVIOUS_CYCLE), team_pool(CYCLE)]) == {
            team_pool(PREVIOUS_CYCLE): Balance(used=1),
            team_pool(CYCLE): Balance(used=2),
        }
