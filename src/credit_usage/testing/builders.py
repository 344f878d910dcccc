"""Builders of teams, groups, members and ledger entries, and shorthands to read them back.

They keep the storage contract (:mod:`credit_usage.testing.contract`) short,
and serve a host's own tests, this project's tests and its benchmarks too.
This module needs no pytest.

Every builder makes valid objects of team ``acme`` (:func:`make_team`), billed
monthly from the 15th, so that entries at :data:`T0` fall in :data:`CYCLE`;
keyword arguments override any field. :func:`seed_team` stores the team with
the groups and members the entries use.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import UTC, date, datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from credit_usage.domain.aggregate import MemberSums, UsageCell
from credit_usage.domain.alerts import LimitAlert
from credit_usage.domain.cycles import BillingSchedule
from credit_usage.domain.delivery import Delivery, ScheduledReport
from credit_usage.domain.ledger import ALL_TYPES, TEAM_SCOPE, Balance, BalanceKey, Batch
from credit_usage.domain.model import (
    DEFAULT_FEATURES,
    CreditLimit,
    EntryKind,
    Feature,
    FeatureSpec,
    Group,
    LedgerEntry,
    LedgerRow,
    Member,
    Plan,
    Role,
    Team,
)
from credit_usage.ports import Decision, Storage, TeamReads

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
    "CellKey",
    "OneCallReads",
    "append_entries",
    "cell_totals",
    "grant",
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
CellKey = tuple[str, str | None, str, str]
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
    features: tuple[FeatureSpec, ...] = DEFAULT_FEATURES,
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
        features=features,
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

    def iter_ledger_rows(self, start: datetime, end: datetime) -> list[LedgerRow]:
        return self._read(lambda tx: list(tx.iter_ledger_rows(start, end)))

    def member_sums_in_cycles(self, first: date, last: date) -> dict[str, MemberSums]:
        return self._read(lambda tx: tx.member_sums_in_cycles(first, last))

    def member_sums_on_days(self, first: date, last: date) -> dict[str, MemberSums]:
        return self._read(lambda tx: tx.member_sums_on_days(first, last))

    def balances(self, keys: Collection[BalanceKey]) -> dict[BalanceKey, Balance]:
        return self._read(lambda tx: tx.balances(keys))

    def limits(self, subject_ids: Collection[str] | None = None) -> list[CreditLimit]:
        return self._read(lambda tx: tx.limits(subject_ids))

    def schedules(self) -> list[ScheduledReport]:
        return self._read(lambda tx: tx.schedules())

    def deliveries(self, delivery_ids: Collection[str]) -> dict[str, Delivery]:
        return self._read(lambda tx: tx.deliveries(delivery_ids))

    def alerts(self) -> list[LimitAlert]:
        return self._read(lambda tx: tx.alerts())

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

    Each cell must be unique, non-zero and carry its feature as a plain ``str``
    (a stored feature is the team's slug, whatever enum the writer passed).
    """
    totals: dict[CellKey, int] = {}
    for cell in cells:
        key = (cell.user_id, cell.group_id, cell.feature, cell.credit_type)
        assert key not in totals, f"two cells for {key}"
        assert type(cell.feature) is str, f"feature {cell.feature!r} is not a plain str"
        assert cell.credits != 0, f"a zero cell for {key}"
        totals[key] = cell.credits
    return totals
