"""The contract that keeps teams apart in one storage."""

from __future__ import annotations

from datetime import date

import pytest

from credit_usage.domain.cycles import BillingSchedule
from credit_usage.domain.ledger import ALL_TYPES, Balance, BalanceKey
from credit_usage.domain.model import Role
from credit_usage.errors import NotFoundError
from credit_usage.ports import LedgerTransaction, Storage
from credit_usage.testing.builders import (
    CYCLE,
    MIA_API_EMAIL,
    T0,
    cell_totals,
    ledger,
    make_group,
    make_member,
    make_team,
    reads,
    team_pool,
    usage,
)
from credit_usage.testing.contract._base import _in_transaction, _NeedsStorage, _seed_two_teams


class IsolationContract(_NeedsStorage):
    """Two teams with identical user, group and entry ids never see each other's data."""

    def test_the_same_entry_id_may_be_used_in_two_teams(self, storage: Storage) -> None:
        """Entry ids are unique per team: another team's id is no idempotency conflict."""
        _seed_two_teams(storage)
        acme_entry = reads(storage, "acme").entry("e1")
        globex_entry = reads(storage, "globex").entry("e1")
        assert acme_entry == usage("e1", amount=10)
        assert globex_entry == usage("e1", amount=20, team_id="globex")

    def test_ledger_reads_see_only_their_team(self, storage: Storage) -> None:
        """Every ledger read (entries, usage cells, balances) returns its own team's data only."""
        _seed_two_teams(storage)
        assert [(e.team_id, e.entry_id) for e in ledger(storage, "acme")] == [
            ("acme", "e1"),
            ("acme", "g1"),
            ("acme", "r1"),
        ]
        assert [(e.team_id, e.entry_id) for e in ledger(storage, "globex")] == [
            ("globex", "e1"),
            ("globex", "g1"),
        ]
        assert reads(storage, "globex").entry("r1") is None
        assert cell_totals(reads(storage, "acme").usage_in_cycles(CYCLE, CYCLE)) == {
            MIA_API_EMAIL: 7
        }
        assert cell_totals(reads(storage, "globex").usage_in_cycles(CYCLE, CYCLE)) == {
            MIA_API_EMAIL: 20
        }
        assert cell_totals(reads(storage, "acme").usage_on_days(T0.date(), T0.date())) == {
            MIA_API_EMAIL: 7
        }
        assert cell_totals(reads(storage, "globex").usage_on_days(T0.date(), T0.date())) == {
            MIA_API_EMAIL: 20
        }
        keys = [team_pool(CYCLE), BalanceKey(CYCLE, "group", "sales", ALL_TYPES)]
        assert reads(storage, "acme").balances(keys) == {
            team_pool(CYCLE): Balance(used=7, granted=100),
            keys[1]: Balance(used=7),
        }
        assert reads(storage, "globex").balances(keys) == {
            team_pool(CYCLE): Balance(used=20, granted=50),
            keys[1]: Balance(used=20),
        }
        with pytest.raises(NotFoundError):
            ledger(storage, "initech")

    def test_a_plan_reads_only_its_team(self, storage: Storage) -> None:
        """find_entries, reversed_totals and balances in a plan read the appending team only."""
        _seed_two_teams(storage)
        seen: dict[str, tuple[set[str], dict[str, int], Balance]] = {}

        for team_id in ("acme", "globex"):

            def read(tx: LedgerTransaction, team_id: str = team_id) -> None:
                found = tx.find_entries(["e1", "g1", "r1"])
                assert {e.team_id for e in found.values()} == {team_id}
                pool = tx.balances([team_pool(CYCLE)])[team_pool(CYCLE)]
                seen[team_id] = (set(found), tx.reversed_totals(["e1"]), pool)

            _in_transaction(storage, team_id, read)

        assert seen == {
            "acme": ({"e1", "g1", "r1"}, {"e1": 3}, Balance(used=7, granted=100)),
            "globex": ({"e1", "g1"}, {"e1": 0}, Balance(used=20, granted=50)),
        }

    def test_groups_and_members_are_read_per_team(self, storage: Storage) -> None:
        """list_groups, list_members, get_member and update_member touch one team only."""
        _seed_two_teams(storage)
        storage.add_group(make_group("ops", team_id="globex"))
        storage.update_member(make_member("mia", team_id="acme", role=Role.ADMIN))

        assert [g.group_id for g in reads(storage, "acme").groups()] == ["sales", "support"]
        assert [g.group_id for g in reads(storage, "globex").groups()] == [
            "ops",
            "sales",
            "support",
        ]
        assert {m.team_id for m in reads(storage, "globex").members()} == {"globex"}
        assert reads(storage, "globex").member("mia") == make_member(
            "mia", team_id="globex", group_id="sales"
        )
        acme_mia = reads(storage, "acme").member("mia")
        assert acme_mia is not None
        assert acme_mia.role is Role.ADMIN

    def test_updating_one_team_leaves_the_others_figures_alone(self, storage: Storage) -> None:
        """Re-deriving a team after a time zone or billing change does not touch another team."""
        _seed_two_teams(storage)
        storage.update_team(
            make_team(
                "acme",
                timezone="America/New_York",
                billing=BillingSchedule(anchor=date(2025, 1, 1)),
            )
        )

        assert reads(storage, "globex").team == make_team("globex", name="Globex")
        assert cell_totals(reads(storage, "globex").usage_in_cycles(CYCLE, CYCLE)) == {
            MIA_API_EMAIL: 20
        }
        assert cell_totals(reads(storage, "globex").usage_on_days(T0.date(), T0.date())) == {
            MIA_API_EMAIL: 20
        }
        assert reads(storage, "globex").balances([team_pool(CYCLE)]) == {
            team_pool(CYCLE): Balance(used=20, granted=50)
        }
        assert reads(storage, "acme").usage_in_cycles(CYCLE, CYCLE) == []
