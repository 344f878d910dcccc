"""The rules of writing the ledger, and the derived figures each write updates.

A write is a :class:`Batch`: the new entries plus what they add to the daily
roll-ups, the per-cycle counters and the per-cycle balances. A storage adapter
applies a batch in one transaction; it never works out the figures itself, so
every adapter derives them the same way. :func:`check_team_pool` (and, later,
the limit checks) read the balances inside that transaction and refuse the
batch before anything is written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, NamedTuple, TypeVar

from attrs import frozen

from credit_usage.domain.cycles import Cycle, local_midnight
from credit_usage.domain.model import EntryKind, LedgerEntry, Team
from credit_usage.errors import InsufficientCreditsError, ValidationError

__all__ = [
    "ALL_TYPES",
    "MAX_LEDGER_VOLUME",
    "TEAM_SCOPE",
    "Balance",
    "BalanceKey",
    "Batch",
    "CycleKey",
    "DayKey",
    "check_reversal",
    "check_team_pool",
    "check_volume",
    "drift",
    "team_key",
]

#: The balance scope of the team's own pool.
TEAM_SCOPE = "team"
#: The credit type of a balance that counts all credit types together.
ALL_TYPES = ""
#: The most credits a team's ledger may move over its life (the sum of every
#: entry's amount). Every roll-up, counter, balance and sum of them is bounded
#: by it, so none can overflow the 64-bit integers of a SQL backend (SQLite
#: would silently turn an overflowing sum into a float): 10**18 < 2**63 - 1
#: with room for ``credits_per_cycle`` on top.
MAX_LEDGER_VOLUME = 10**18


class DayKey(NamedTuple):
    """A daily roll-up cell: the local day in the team's time zone and the usage dimensions."""

    day: date
    user_id: str
    group_id: str | None
    feature: str
    credit_type: str


class CycleKey(NamedTuple):
    """A per-cycle counter cell; ``cycle`` is the cycle's first local day."""

    cycle: date
    user_id: str
    group_id: str | None
    feature: str
    credit_type: str


class BalanceKey(NamedTuple):
    """A per-cycle balance: the team pool (``scope="team"``), a user or a group.

    ``credit_type`` is :data:`ALL_TYPES` for the balance of all types together.
    """

    cycle: date
    scope: str
    subject_id: str
    credit_type: str


class Balance(NamedTuple):
    """Net credits used and credits granted in one balance."""

    used: int = 0
    granted: int = 0

    def plus(self, used: int = 0, granted: int = 0) -> Balance:
        """This balance with ``used`` and ``granted`` added."""
        plus: Balance = _tuple(Balance, (self[0] + used, self[1] + granted))
        return plus


#: Builds a key from a plain tuple of its fields, without the keyword-aware
#: ``__new__`` of a ``NamedTuple`` (which costs a Python call per key).
_tuple: Any = tuple.__new__


def team_key(cycle: date) -> BalanceKey:
    """The key of the team pool's balance in the cycle starting on ``cycle``."""
    return BalanceKey(cycle, TEAM_SCOPE, "", ALL_TYPES)


@frozen
class Batch:
    """New ledger entries and everything they add to the derived figures.

    ``volume`` is the sum of the entries' amounts, whatever their kind: what
    they add to the team's :meth:`~credit_usage.ports.TeamReads.volume`.
    """

    entries: tuple[LedgerEntry, ...]
    daily: Mapping[DayKey, int]
    cycles: Mapping[CycleKey, int]
    balances: Mapping[BalanceKey, Balance]
    volume: int = 0

    @classmethod
    def of(cls, team: Team, entries: Iterable[LedgerEntry]) -> Batch:
        """Derive the roll-up, counter and balance deltas of ``entries`` for ``team``.

        A reversal carries its original's ``occurred_at``, so it lands in the
        original's cycle and day and nets out there.
        """
        entries = tuple(entries)
        # Hot path (bulk imports): net the entries into one cell per (local day,
        # user, group, feature, credit type) with plain tuples and locals, then
        # roll the cells up level by level -- days into cycle counters, those
        # into each member's credit types, those into the balances -- so each
        # level costs one dict update per key of the level below, not per entry.
        grant_kind, usage_kind = EntryKind.GRANT, EntryKind.USAGE
        tz = team.tz
        # Entries were validated on construction: a usage or reversal has a user,
        # a feature and a credit type, so the cell's fields are never None.
        cells: dict[tuple[Any, ...], int] = {}
        granted: dict[date, int] = {}
        volume = 0
        for entry in entries:
            amount = entry.amount
            volume += amount
            day = entry.occurred_at.astimezone(tz).date()
            kind = entry.kind
            if kind is grant_kind:
                granted[day] = granted.get(day, 0) + amount
                continue
            cell = (day, entry.user_id, entry.group_id, entry.feature, entry.credit_type)
            cells[cell] = cells.get(cell, 0) + (amount if kind is usage_kind else -amount)

        # A cycle starts at a local midnight, so the local day decides it: one
        # lookup of the team's schedule per distinct day, not per entry.
        cycle_of = _CycleOfDay(team)
        counters: dict[tuple[Any, ...], int] = {}
        for (day, user_id, group_id, feature, credit_type), delta in cells.items():
            counter = (cycle_of.get(day) or cycle_of(day), user_id, group_id, feature, credit_type)
            counters[counter] = counters.get(counter, 0) + delta
        spent: dict[tuple[Any, ...], int] = {}
        for (cycle, user_id, group_id, _, credit_type), delta in counters.items():
            subject = (cycle, user_id, group_id, credit_type)
            spent[subject] = spent.get(subject, 0) + delta
        used: defaultdict[tuple[date, str, str, str], int] = defaultdict(int)
        for (cycle, user_id, group_id, credit_type), delta in spent.items():
            used[(cycle, TEAM_SCOPE, "", ALL_TYPES)] += delta
            used[(cycle, "user", user_id, ALL_TYPES)] += delta
            used[(cycle, "user", user_id, credit_type)] += delta
            if group_id is not None:
                used[(cycle, "group", group_id, ALL_TYPES)] += delta
                used[(cycle, "group", group_id, credit_type)] += delta

        daily = {_tuple(DayKey, cell): delta for cell, delta in cells.items()}
        cycles = {_tuple(CycleKey, key): delta for key, delta in counters.items()}
        balances = {
            _tuple(BalanceKey, key): _tuple(Balance, (delta, 0)) for key, delta in used.items()
        }
        for day, amount in granted.items():
            pool = team_key(cycle_of.get(day) or cycle_of(day))
            balances[pool] = balances.get(pool, Balance()).plus(granted=amount)
        return cls(entries, daily, cycles, balances, volume)

    @classmethod
    def empty(cls) -> Batch:
        """A batch that writes nothing."""
        return cls((), {}, {}, {}, 0)


class _CycleOfDay(dict[date, date]):
    """The first day of the cycle holding each local day, looked up once per day."""

    def __init__(self, team: Team) -> None:
        super().__init__()
        self._team = team
        self._known: list[Cycle] = []

    def __call__(self, day: date) -> date:
        for cycle in self._known:
            if cycle.first_day <= day <= cycle.last_day:
                self[day] = cycle.first_day
                return cycle.first_day
        cycle = self._team.cycle_at(local_midnight(day, self._team.tz))
        self._known.append(cycle)
        self[day] = cycle.first_day
        return cycle.first_day


K = TypeVar("K")
V = TypeVar("V")


def drift(what: str, stored: Mapping[K, V], derived: Mapping[K, V], zero: V) -> list[str]:
    """One line per key whose stored figure differs from the one derived from the ledger.

    A key missing on one side counts as ``zero``.
    """
    problems = []
    for key in set(stored) | set(derived):
        have, want = stored.get(key, zero), derived.get(key, zero)
        if have != want:
            problems.append(f"{what} {key}: stored {have}, ledger says {want}")
    return problems


def check_team_pool(team: Team, batch: Batch, balances: Mapping[BalanceKey, Balance]) -> None:
    """Refuse a batch that would use more than the team has in any cycle.

    ``balances`` are the stored balances before the batch, read inside the
    write's transaction. A cycle's total is ``credits_per_cycle`` plus its grants.

    Raises:
        InsufficientCreditsError: naming the cycle, what is left and what was asked.
    """
    for key, delta in batch.balances.items():
        if key.scope != TEAM_SCOPE or delta.used <= 0:
            continue
        stored = balances.get(key, Balance())
        total = team.credits_per_cycle + stored.granted + delta.granted
        if stored.used + delta.used > total:
            left = total - stored.used
            raise InsufficientCreditsError(
                f"team {team.team_id!r} has {left} credits left in the cycle starting "
                f"{key.cycle.isoformat()} (total {total}, used {stored.used}), "
                f"but {delta.used} were requested",
                team_id=team.team_id,
                cycle=key.cycle,
                total=total,
                used=stored.used,
                remaining=left,
                requested=delta.used,
            )


def check_volume(team: Team, batch: Batch, volume: int) -> None:
    """Refuse a batch that would take the team's ledger past :data:`MAX_LEDGER_VOLUME`.

    ``volume`` is the team's stored volume before the batch, read inside the
    write's transaction.

    Raises:
        ValidationError: naming the bound, the stored volume and the batch's.
    """
    if volume + batch.volume > MAX_LEDGER_VOLUME:
        raise ValidationError(
            f"team {team.team_id!r} has moved {volume} credits; {batch.volume} more would "
            f"exceed the bound of {MAX_LEDGER_VOLUME} credits a team's ledger may move, "
            "which keeps every sum within 64-bit integers"
        )


def check_reversal(
    reversal: LedgerEntry, original: LedgerEntry | None, reversed_so_far: int
) -> None:
    """Refuse a reversal that does not match its original or exceeds what is left of it.

    Raises:
        ValidationError: the original is not a usage entry, the reversal's
            user, group, feature, credit type or ``occurred_at`` differ from
            it, or more than the remainder would be reversed.
    """
    if original is None or original.kind is not EntryKind.USAGE:
        raise ValidationError(
            f"reversal {reversal.entry_id!r} must reverse a usage entry, got {reversal.reverses!r}"
        )
    mismatched = [
        name
        for name in ("user_id", "group_id", "feature", "credit_type", "occurred_at")
        if getattr(reversal, name) != getattr(original, name)
    ]
    if mismatched:
        raise ValidationError(
            f"reversal {reversal.entry_id!r} must match its original {original.entry_id!r} "
            f"in {', '.join(mismatched)}"
        )
    remainder = original.amount - reversed_so_far
    if reversal.amount > remainder:
        raise ValidationError(
            f"reversal {reversal.entry_id!r} of {reversal.amount} credits exceeds the "
            f"{remainder} credits left to reverse on entry {original.entry_id!r}"
        )
