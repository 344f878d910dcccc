"""The storage contract: the tests every :class:`~credit_usage.ports.Storage` passes.

A host proves its adapter by subclassing :class:`StorageContract` and
overriding one pytest fixture, ``storage``, that returns a fresh, empty
storage for each test::

    import pytest
    from credit_usage import Storage
    from credit_usage.testing import StorageContract

    class TestMyStorage(StorageContract):
        @pytest.fixture
        def storage(self) -> Storage:
            return MyStorage()

The tests use nothing but the protocol (:class:`~credit_usage.ports.Storage`
and :class:`~credit_usage.ports.LedgerTransaction`), so they run unchanged on
any adapter. They are grouped by what they cover, one base class per group;
:class:`StorageContract` combines them all, and a host may subclass a single
group while it builds its adapter up. ``verify`` and ``rebuild`` are not part
of the protocol: their tests skip on a storage that lacks them.

The builders (:func:`make_team`, :func:`usage`, :func:`grant`,
:func:`reversal`, :func:`append_entries`, ...) keep the tests short and are
there for a host's own tests too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest

from credit_usage.domain.aggregate import UsageCell
from credit_usage.domain.cycles import BillingSchedule, Period
from credit_usage.domain.ledger import ALL_TYPES, TEAM_SCOPE, Balance, BalanceKey, Batch
from credit_usage.domain.model import (
    EntryKind,
    Feature,
    Group,
    LedgerEntry,
    Member,
    Plan,
    Role,
    Team,
)
from credit_usage.errors import (
    AlreadyExistsError,
    IdempotencyConflictError,
    InsufficientCreditsError,
    NotFoundError,
)
from credit_usage.ports import Decision, LedgerTransaction, Storage, TeamReads, WritePlan

__all__ = [
    "CYCLE",
    "END_OF_TIME",
    "MIA_API_EMAIL",
    "NEW_YORK",
    "NEXT_CYCLE",
    "PREVIOUS_CYCLE",
    "RECORDED",
    "START_OF_TIME",
    "T0",
    "AppendContract",
    "CellKey",
    "ConcurrencyContract",
    "GroupsAndMembersContract",
    "IsolationContract",
    "LedgerReadsContract",
    "LedgerTransactionContract",
    "MaintenanceContract",
    "OneCallReads",
    "StorageContract",
    "TeamsContract",
    "TimeZoneContract",
    "append_entries",
    "cell_totals",
    "ledger",
    "make_group",
    "make_member",
    "make_team",
    "reads",
    "reversal",
    "seed_team",
    "team_pool",
    "usage",
]

T = TypeVar("T")

#: The instant the builders' entries occur at: inside :data:`CYCLE` of :func:`make_team`.
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
#: When the builders' entries were recorded (microseconds, to prove they survive).
RECORDED = datetime(2026, 3, 2, 12, 0, 5, 123456, tzinfo=UTC)
#: The first day of the cycle holding :data:`T0` (the default team's anchor is the 15th).
CYCLE = date(2026, 2, 15)
#: The first day of the cycle before :data:`CYCLE`.
PREVIOUS_CYCLE = date(2026, 1, 15)
#: The first day of the cycle after :data:`CYCLE`.
NEXT_CYCLE = date(2026, 3, 15)
#: Bounds that hold every entry of the tests.
START_OF_TIME = datetime(1970, 1, 1, tzinfo=UTC)
END_OF_TIME = datetime(2100, 1, 1, tzinfo=UTC)

#: A team time zone at UTC-5 around :data:`T0`.
NEW_YORK = ZoneInfo("America/New_York")

#: A cell of usage: (user, group, feature, credit type).
CellKey = tuple[str, str | None, Feature, str]
#: The cell of the builders' default usage entry.
MIA_API_EMAIL: CellKey = ("mia", "sales", Feature.API, "email")


# -- builders -------------------------------------------------------------------------
def make_team(
    team_id: str = "acme",
    *,
    name: str = "Acme",
    plan: Plan | str = Plan.PRO,
    billing: BillingSchedule | None = None,
    credits_per_cycle: int = 10_000,
    timezone: str = "UTC",
    credit_types: tuple[str, ...] = ("email", "phone"),
) -> Team:
    """A team billed monthly from 2025-01-15, so :data:`T0` falls in :data:`CYCLE`."""
    return Team(
        team_id=team_id,
        name=name,
        plan=plan,
        billing=billing or BillingSchedule(anchor=date(2025, 1, 15)),
        credits_per_cycle=credits_per_cycle,
        timezone=timezone,
        credit_types=credit_types,
    )


def make_group(group_id: str, *, team_id: str = "acme", name: str | None = None) -> Group:
    """A group named after its id unless ``name`` is given."""
    return Group(team_id=team_id, group_id=group_id, name=name or group_id.title())


def make_member(
    user_id: str,
    *,
    team_id: str = "acme",
    group_id: str | None = None,
    role: Role | str = Role.MEMBER,
    active: bool = True,
    name: str | None = None,
    email: str | None = None,
) -> Member:
    """A member with a name and email derived from the ids unless given."""
    return Member(
        team_id=team_id,
        user_id=user_id,
        name=name or user_id.title(),
        email=email or f"{user_id}@{team_id}.test",
        role=role,
        group_id=group_id,
        active=active,
    )


def seed_team(storage: Storage, team: Team | None = None) -> Team:
    """Store ``team`` (default :func:`make_team`) with its groups and members.

    Groups ``sales`` and ``support``; Ada is an admin in no group, Mia is in
    sales and Noa in support: the users and groups the builders' entries use.
    """
    team = team or make_team()
    team_id = team.team_id
    storage.add_team(team)
    storage.add_group(make_group("sales", team_id=team_id))
    storage.add_group(make_group("support", team_id=team_id))
    storage.add_member(make_member("ada", team_id=team_id, role=Role.ADMIN))
    storage.add_member(make_member("mia", team_id=team_id, group_id="sales"))
    storage.add_member(make_member("noa", team_id=team_id, group_id="support"))
    return team


def usage(
    entry_id: str,
    *,
    amount: int = 10,
    team_id: str = "acme",
    user_id: str = "mia",
    group_id: str | None = "sales",
    feature: Feature | str = Feature.API,
    credit_type: str = "email",
    occurred_at: datetime = T0,
    recorded_at: datetime | None = RECORDED,
) -> LedgerEntry:
    """A usage entry of Mia (in sales) on the API, in email credits, at :data:`T0`."""
    return LedgerEntry(
        team_id=team_id,
        entry_id=entry_id,
        kind=EntryKind.USAGE,
        user_id=user_id,
        group_id=group_id,
        feature=feature,
        credit_type=credit_type,
        amount=amount,
        occurred_at=occurred_at,
        recorded_at=recorded_at,
    )


def grant(
    entry_id: str,
    *,
    amount: int = 100,
    team_id: str = "acme",
    occurred_at: datetime = T0,
    recorded_at: datetime | None = RECORDED,
) -> LedgerEntry:
    """A grant of credits to the team's pool for the cycle of ``occurred_at``."""
    return LedgerEntry(
        team_id=team_id,
        entry_id=entry_id,
        kind=EntryKind.GRANT,
        user_id=None,
        group_id=None,
        feature=None,
        credit_type=None,
        amount=amount,
        occurred_at=occurred_at,
        recorded_at=recorded_at,
    )


def reversal(
    entry_id: str,
    original: LedgerEntry,
    *,
    amount: int | None = None,
    recorded_at: datetime | None = RECORDED,
) -> LedgerEntry:
    """A reversal of ``amount`` (default: all) of ``original``, matching it as the rules ask."""
    return LedgerEntry(
        team_id=original.team_id,
        entry_id=entry_id,
        kind=EntryKind.REVERSAL,
        user_id=original.user_id,
        group_id=original.group_id,
        feature=original.feature,
        credit_type=original.credit_type,
        amount=original.amount if amount is None else amount,
        occurred_at=original.occurred_at,
        recorded_at=recorded_at,
        reverses=original.entry_id,
    )


def append_entries(storage: Storage, team: Team, *entries: LedgerEntry) -> None:
    """Append ``entries`` in one batch with a plan that checks nothing."""
    decision = Decision(Batch.of(team, entries), None)
    storage.append(team.team_id, lambda tx: decision)


class OneCallReads:
    """The reads of :class:`~credit_usage.ports.TeamReads`, each in a transaction of its own.

    Shorthand for tests that look at one figure at a time:
    ``reads(storage, "acme").members()`` is
    ``storage.read("acme", lambda tx: tx.members())``. Streams are read to
    the end inside their transaction and returned as lists.
    """

    def __init__(self, storage: Storage, team_id: str) -> None:
        self._storage = storage
        self._team_id = team_id

    def _read(self, query: Callable[[TeamReads], T]) -> T:
        return self._storage.read(self._team_id, query)

    @property
    def team(self) -> Team:
        return self._read(lambda tx: tx.team)

    def member(self, user_id: str) -> Member | None:
        return self._read(lambda tx: tx.member(user_id))

    def members(self) -> list[Member]:
        return self._read(lambda tx: tx.members())

    def groups(self) -> list[Group]:
        return self._read(lambda tx: tx.groups())

    def entry(self, entry_id: str) -> LedgerEntry | None:
        """The stored entry with ``entry_id``, or ``None`` (through ``find_entries``)."""
        return self._read(lambda tx: tx.find_entries([entry_id]).get(entry_id))

    def find_entries(self, entry_ids: Collection[str]) -> dict[str, LedgerEntry]:
        return self._read(lambda tx: tx.find_entries(entry_ids))

    def reversed_totals(self, entry_ids: Collection[str]) -> dict[str, int]:
        return self._read(lambda tx: tx.reversed_totals(entry_ids))

    def iter_entries(self, start: datetime, end: datetime) -> list[LedgerEntry]:
        return self._read(lambda tx: list(tx.iter_entries(start, end)))

    def usage_in_cycles(self, first: date, last: date) -> list[UsageCell]:
        return self._read(lambda tx: tx.usage_in_cycles(first, last))

    def usage_on_days(self, first: date, last: date) -> list[UsageCell]:
        return self._read(lambda tx: tx.usage_on_days(first, last))

    def balances(self, keys: Collection[BalanceKey]) -> dict[BalanceKey, Balance]:
        return self._read(lambda tx: tx.balances(keys))

    def volume(self) -> int:
        return self._read(lambda tx: tx.volume())


def reads(storage: Storage, team_id: str = "acme") -> OneCallReads:
    """The team's reads, one transaction per call (see :class:`OneCallReads`)."""
    return OneCallReads(storage, team_id)


def team_pool(cycle: date) -> BalanceKey:
    """The key of the team pool's balance in the cycle starting on ``cycle``."""
    return BalanceKey(cycle, TEAM_SCOPE, "", ALL_TYPES)


def ledger(storage: Storage, team_id: str = "acme") -> list[LedgerEntry]:
    """Every entry of the team, in the order ``iter_entries`` gives."""
    return reads(storage, team_id).iter_entries(START_OF_TIME, END_OF_TIME)


def cell_totals(cells: Iterable[UsageCell]) -> dict[CellKey, int]:
    """Credits per (user, group, feature, credit type), checking the cells' shape.

    Each cell must be unique, non-zero and carry a :class:`Feature`.
    """
    totals: dict[CellKey, int] = {}
    for cell in cells:
        key = (cell.user_id, cell.group_id, cell.feature, cell.credit_type)
        assert key not in totals, f"two cells for {key}"
        assert type(cell.feature) is Feature, f"feature {cell.feature!r} is not a Feature"
        assert cell.credits != 0, f"a zero cell for {key}"
        totals[key] = cell.credits
    return totals


def _in_transaction(storage: Storage, team_id: str, read: Callable[[TeamReads], None]) -> None:
    """Run ``read`` inside an append that writes nothing."""

    def plan(tx: TeamReads) -> Decision[None]:
        read(tx)
        return Decision(Batch.empty(), None)

    storage.append(team_id, plan)


def _run_concurrently(workers: int, work: Callable[[int], None]) -> None:
    """Run ``work(i)`` on ``workers`` threads released together; re-raise the first failure."""
    barrier = threading.Barrier(workers)
    failures: list[BaseException] = []

    def run(worker: int) -> None:
        try:
            barrier.wait(timeout=30)
            work(worker)
        except BaseException as exc:  # Handed to the test's thread below.
            failures.append(exc)

    threads = [
        threading.Thread(target=run, args=(i,), name=f"writer-{i}", daemon=True)
        for i in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"writers still running after 60 s (deadlock?): {stuck}"
    if failures:
        raise failures[0]


# -- the contract ---------------------------------------------------------------------
class _NeedsStorage:
    """Declares the one fixture a host overrides."""

    @pytest.fixture
    def storage(self) -> Storage:
        """A fresh, empty storage; subclasses must override this fixture."""
        raise NotImplementedError(
            f"{type(self).__name__} must override the `storage` fixture to return a fresh, "
            "empty storage, e.g.\n\n"
            "    @pytest.fixture\n"
            "    def storage(self) -> Storage:\n"
            "        return MyStorage()\n"
        )


class TeamsContract(_NeedsStorage):
    """add_team, get_team and update_team, re-deriving figures when days or cycles move."""

    def test_a_stored_team_reads_back_equal(self, storage: Storage) -> None:
        """get_team returns the team with every field as stored."""
        team = make_team(
            plan=Plan.PREMIUM,
            billing=BillingSchedule(anchor=date(2024, 2, 29), period=Period.ANNUAL),
            credits_per_cycle=0,
            timezone="Asia/Kolkata",
            credit_types=("phone", "email", "export"),
        )
        storage.add_team(team)
        assert reads(storage, "acme").team == team

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
            assert stored.feature is entry.feature
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


def _seed_two_teams(storage: Storage) -> tuple[Team, Team]:
    """Teams acme and globex with the same user, group and entry ids but other amounts."""
    acme = seed_team(storage, make_team("acme"))
    globex = seed_team(storage, make_team("globex", name="Globex"))
    acme_use = usage("e1", amount=10)
    append_entries(storage, acme, acme_use, grant("g1", amount=100))
    append_entries(storage, acme, reversal("r1", acme_use, amount=3))
    append_entries(
        storage,
        globex,
        usage("e1", amount=20, team_id="globex"),
        grant("g1", amount=50, team_id="globex"),
    )
    return acme, globex


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


class MaintenanceContract(_NeedsStorage):
    """verify and rebuild, for storages that offer them (they are not part of the protocol)."""

    def test_verify_finds_no_drift_after_writes_and_updates(self, storage: Storage) -> None:
        """verify(team_id) finds no drift when every figure came from appends and updates."""
        verify = getattr(storage, "verify", None)
        if verify is None:
            pytest.skip(f"{type(storage).__name__} has no verify()")
        acme, _ = _seed_two_teams(storage)
        append_entries(storage, acme, usage("u2", amount=5, user_id="noa", group_id="support"))
        storage.update_team(make_team(timezone="America/New_York"))
        assert verify("acme") == []
        assert verify("globex") == []

    def test_rebuild_keeps_the_figures_appends_wrote(self, storage: Storage) -> None:
        """rebuild(team_id) derives from the ledger the same figures the appends stored."""
        rebuild = getattr(storage, "rebuild", None)
        if rebuild is None:
            pytest.skip(f"{type(storage).__name__} has no rebuild()")
        _seed_two_teams(storage)
        keys = [team_pool(CYCLE), BalanceKey(CYCLE, "user", "mia", "email")]
        before = (
            cell_totals(reads(storage, "acme").usage_in_cycles(CYCLE, CYCLE)),
            cell_totals(reads(storage, "acme").usage_on_days(T0.date(), T0.date())),
            reads(storage, "acme").balances(keys),
        )
        rebuild("acme")
        after = (
            cell_totals(reads(storage, "acme").usage_in_cycles(CYCLE, CYCLE)),
            cell_totals(reads(storage, "acme").usage_on_days(T0.date(), T0.date())),
            reads(storage, "acme").balances(keys),
        )
        assert after == before


# pytest collects the tests of the last base first: listed backwards, they run
# in the order of this module.
class StorageContract(
    MaintenanceContract,
    ConcurrencyContract,
    IsolationContract,
    TimeZoneContract,
    LedgerReadsContract,
    LedgerTransactionContract,
    AppendContract,
    GroupsAndMembersContract,
    TeamsContract,
):
    """Every test a :class:`~credit_usage.ports.Storage` adapter must pass.

    Subclass it in a test module (its name must start with ``Test`` for pytest
    to collect it) and override the ``storage`` fixture to return a fresh,
    empty storage; a generator fixture may clean up after the test. The
    concurrency tests call the storage from several threads at once.
    """
