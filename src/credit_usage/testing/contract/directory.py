"""The contract of the directory writes: teams, groups and members."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from credit_usage.domain.cycles import BillingSchedule, Period
from credit_usage.domain.ledger import Balance
from credit_usage.domain.model import FeatureSpec, Plan, Role
from credit_usage.errors import AlreadyExistsError, NotFoundError
from credit_usage.ports import Storage
from credit_usage.testing.builders import (
    CYCLE,
    MIA_API_EMAIL,
    T0,
    append_entries,
    cell_totals,
    grant,
    ledger,
    make_group,
    make_member,
    make_team,
    reads,
    reversal,
    seed_team,
    team_pool,
    usage,
)
from credit_usage.testing.contract._base import _NeedsStorage


class TeamsContract(_NeedsStorage):
    """add_team, get_team and update_team, re-deriving figures when days or cycles move."""

    def test_a_stored_team_reads_back_equal(self, storage: Storage) -> None:
        """A stored team reads back with every field as stored, its own features in order."""
        team = make_team(
            plan=Plan.PREMIUM,
            billing=BillingSchedule(anchor=date(2024, 2, 29), period=Period.ANNUAL),
            credits_per_cycle=0,
            timezone="Asia/Kolkata",
            credit_types=("phone", "email", "export"),
        )
        storage.add_team(team)
        assert reads(storage, "acme").team == team
        own = make_team(
            "globex",
            plan="gold-2026",
            features=(
                FeatureSpec(value="search", label="Recherche, « rapide »"),
                FeatureSpec(value="enrich", label='=Enrich "x"'),
            ),
        )
        storage.add_team(own)
        assert reads(storage, "globex").team == own
        assert reads(storage, "globex").team.plan == "gold-2026"

    def test_reading_an_unknown_team_is_not_found(self, storage: Storage) -> None:
        """read of a team id never stored raises NotFoundError before the query runs."""
        storage.add_team(make_team("acme"))
        ran: list[str] = []
        with pytest.raises(NotFoundError):
            storage.read("globex", lambda tx: ran.append(tx.team.team_id))
        assert ran == []

    def test_appending_to_an_unknown_team_is_not_found(self, storage: Storage) -> None:
        """append to a team id never stored raises NotFoundError and writes nothing."""
        storage.add_team(make_team("acme"))
        with pytest.raises(NotFoundError):
            append_entries(storage, make_team("globex"), usage("u1", team_id="globex"))
        assert ledger(storage, "acme") == []

    def test_adding_a_taken_team_id_is_already_exists(self, storage: Storage) -> None:
        """add_team with a taken id raises AlreadyExistsError and keeps the first team."""
        storage.add_team(make_team(name="First"))
        with pytest.raises(AlreadyExistsError):
            storage.add_team(make_team(name="Second"))
        team = reads(storage, "acme").team
        assert team is not None
        assert team.name == "First"

    def test_updating_an_unknown_team_is_not_found(self, storage: Storage) -> None:
        """update_team of a team never stored raises NotFoundError and stores nothing."""
        with pytest.raises(NotFoundError):
            storage.update_team(make_team())
        with pytest.raises(NotFoundError):
            reads(storage, "acme").team  # noqa: B018 - reading is the test

    def test_update_team_replaces_the_team(self, storage: Storage) -> None:
        """After update_team, get_team returns the new settings."""
        storage.add_team(make_team())
        changed = make_team(name="Acme Inc", plan=Plan.SCALE, credit_types=("sms",))
        storage.update_team(changed)
        assert reads(storage, "acme").team == changed

    def test_a_new_time_zone_moves_usage_to_its_new_local_day(self, storage: Storage) -> None:
        """Changing the time zone re-derives the daily roll-ups from the ledger."""
        team = seed_team(storage)
        late_evening_in_new_york = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
        append_entries(storage, team, usage("u1", amount=10, occurred_at=late_evening_in_new_york))
        assert cell_totals(
            reads(storage, "acme").usage_on_days(date(2026, 3, 2), date(2026, 3, 2))
        ) == {MIA_API_EMAIL: 10}

        storage.update_team(make_team(timezone="America/New_York"))

        assert reads(storage, "acme").usage_on_days(date(2026, 3, 2), date(2026, 3, 2)) == []
        assert cell_totals(
            reads(storage, "acme").usage_on_days(date(2026, 3, 1), date(2026, 3, 1))
        ) == {MIA_API_EMAIL: 10}

    def test_a_new_billing_schedule_moves_usage_and_grants_to_the_new_cycle(
        self, storage: Storage
    ) -> None:
        """Changing the billing schedule re-derives the cycle counters and balances."""
        team = seed_team(storage)
        used = usage("u1", amount=10)
        append_entries(storage, team, used, grant("g1", amount=50), reversal("r1", used, amount=3))
        new_cycle = date(2026, 3, 1)

        storage.update_team(make_team(billing=BillingSchedule(anchor=date(2025, 1, 1))))

        assert reads(storage, "acme").usage_in_cycles(CYCLE, CYCLE) == []
        assert cell_totals(reads(storage, "acme").usage_in_cycles(new_cycle, new_cycle)) == {
            MIA_API_EMAIL: 7
        }
        balances = reads(storage, "acme").balances([team_pool(CYCLE), team_pool(new_cycle)])
        assert balances == {
            team_pool(CYCLE): Balance(),
            team_pool(new_cycle): Balance(used=7, granted=50),
        }

    def test_other_team_changes_keep_the_figures(self, storage: Storage) -> None:
        """Changing the name, plan or credits leaves every derived figure as it was."""
        team = seed_team(storage)
        append_entries(storage, team, usage("u1", amount=10), grant("g1", amount=50))

        storage.update_team(make_team(name="Acme Inc", plan=Plan.SCALE, credits_per_cycle=5))

        assert cell_totals(reads(storage, "acme").usage_in_cycles(CYCLE, CYCLE)) == {
            MIA_API_EMAIL: 10
        }
        assert cell_totals(reads(storage, "acme").usage_on_days(T0.date(), T0.date())) == {
            MIA_API_EMAIL: 10
        }
        assert reads(storage, "acme").balances([team_pool(CYCLE)]) == {
            team_pool(CYCLE): Balance(used=10, granted=50)
        }


class GroupsAndMembersContract(_NeedsStorage):
    """add_group, list_groups, add_member, update_member, get_member and list_members."""

    def test_groups_are_listed_by_group_id(self, storage: Storage) -> None:
        """list_groups returns every group of the team ordered by group_id."""
        storage.add_team(make_team())
        groups = [make_group(g, name=f"Team {g}") for g in ("support", "emea-sales", "b", "a")]
        for group in groups:
            storage.add_group(group)
        assert reads(storage, "acme").groups() == sorted(groups, key=lambda g: g.group_id)

    def test_adding_a_taken_group_id_is_already_exists(self, storage: Storage) -> None:
        """add_group with an id taken in the team raises AlreadyExistsError and keeps the first."""
        storage.add_team(make_team())
        storage.add_group(make_group("sales", name="Sales EMEA"))
        with pytest.raises(AlreadyExistsError):
            storage.add_group(make_group("sales", name="Sales US"))
        assert reads(storage, "acme").groups() == [make_group("sales", name="Sales EMEA")]

    def test_a_team_without_groups_or_members_lists_none(self, storage: Storage) -> None:
        """list_groups and list_members of a new team are empty."""
        storage.add_team(make_team())
        assert reads(storage, "acme").groups() == []
        assert reads(storage, "acme").members() == []

    def test_members_are_listed_by_user_id_deactivated_ones_included(
        self, storage: Storage
    ) -> None:
        """list_members returns every member, active or not, ordered by user_id."""
        seed_team(storage)
        storage.add_member(make_member("bea", active=False))
        storage.add_member(make_member("zed", group_id="support"))
        listed = reads(storage, "acme").members()
        assert [m.user_id for m in listed] == ["ada", "bea", "mia", "noa", "zed"]
        assert [m.active for m in listed] == [True, False, True, True, True]

    def test_a_stored_member_reads_back_equal(self, storage: Storage) -> None:
        """get_member returns the member with every field as stored."""
        seed_team(storage)
        member = make_member(
            "zoë",
            name='Zoë O\'Brien, "ZB"',
            email="zoe+credits@acme.example",
            role=Role.MANAGER,
            group_id=None,
            active=False,
        )
        storage.add_member(member)
        stored = reads(storage, "acme").member("zoë")
        assert stored == member
        assert stored is not None
        assert stored.role is Role.MANAGER
        assert stored.group_id is None

    def test_adding_a_user_twice_is_already_exists(self, storage: Storage) -> None:
        """add_member of a user already in the team raises AlreadyExistsError, keeps the first."""
        seed_team(storage)
        with pytest.raises(AlreadyExistsError):
            storage.add_member(make_member("mia", role=Role.ADMIN))
        assert reads(storage, "acme").member("mia") == make_member("mia", group_id="sales")

    def test_update_member_replaces_the_member(self, storage: Storage) -> None:
        """After update_member, get_member and list_members return the new fields."""
        seed_team(storage)
        moved = make_member("mia", group_id="support", role=Role.MANAGER, active=False)
        storage.update_member(moved)
        assert reads(storage, "acme").member("mia") == moved
        assert moved in reads(storage, "acme").members()
        assert len(reads(storage, "acme").members()) == 3

    def test_updating_an_unknown_member_is_not_found(self, storage: Storage) -> None:
        """update_member of a user not in the team raises NotFoundError and adds nobody."""
        seed_team(storage)
        with pytest.raises(NotFoundError):
            storage.update_member(make_member("zed"))
        assert reads(storage, "acme").member("zed") is None

    def test_get_member_is_scoped_to_its_team(self, storage: Storage) -> None:
        """The same user_id in two teams is two members; one team does not see the other's."""
        storage.add_team(make_team("acme"))
        storage.add_team(make_team("globex"))
        storage.add_member(make_member("mia", team_id="acme", role=Role.ADMIN))
        storage.add_member(make_member("mia", team_id="globex", role=Role.MEMBER))
        storage.add_member(make_member("only-acme", team_id="acme"))
        acme_mia = reads(storage, "acme").member("mia")
        globex_mia = reads(storage, "globex").member("mia")
        assert acme_mia is not None
        assert globex_mia is not None
        assert (acme_mia.team_id, acme_mia.role) == ("acme", Role.ADMIN)
        assert (globex_mia.team_id, globex_mia.role) == ("globex", Role.MEMBER)
        assert reads(storage, "globex").member("only-acme") is None
        assert reads(storage, "acme").member("nobody") is None

    def test_ids_are_exact_strings(self, storage: Storage) -> None:
        """Ids differing in case or a trailing space are different teams, groups and members."""
        storage.add_team(make_team("acme"))
        storage.add_team(make_team("Acme", name="Other Acme"))
        for user_id in ("mia", "Mia", "mia "):
            storage.add_member(make_member(user_id, email="mia@acme.test"))
        for group_id in ("sales", "Sales", "sales "):
            storage.add_group(make_group(group_id))

        acme = reads(storage, "Acme").team
        assert acme is not None
        assert acme.name == "Other Acme"
        with pytest.raises(NotFoundError):
            reads(storage, "ACME").team  # noqa: B018 - reading is the test
        assert [m.user_id for m in reads(storage, "acme").members()] == ["Mia", "mia", "mia "]
        assert [g.group_id for g in reads(storage, "acme").groups()] == ["Sales", "sales", "sales "]
        assert reads(storage, "Acme").members() == []
        assert reads(storage, "acme").member("MIA") is None
        stored = reads(storage, "acme").member("mia ")
        assert stored is not None
        assert stored.user_id == "mia "
