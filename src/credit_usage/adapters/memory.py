"""The in-memory storage: the reference implementation, test double and notebook backend.

Thread-safe: one re-entrant lock serialises every call, so a write's checks
and its append are atomic with respect to other threads.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Collection, Iterator
from datetime import date, datetime

import attrs

from credit_usage.domain.aggregate import UsageCell
from credit_usage.domain.ledger import Balance, BalanceKey, Batch, CycleKey, DayKey, drift
from credit_usage.domain.model import EntryKind, Group, LedgerEntry, Member, Team
from credit_usage.errors import AlreadyExistsError, IdempotencyConflictError, NotFoundError
from credit_usage.ports import WritePlan

__all__ = ["InMemoryStorage"]


@attrs.define
class _TeamData:
    team: Team
    groups: dict[str, Group] = attrs.Factory(dict)
    members: dict[str, Member] = attrs.Factory(dict)
    # Insertion order is the ledger's order.
    entries: dict[str, LedgerEntry] = attrs.Factory(dict)
    reversed: defaultdict[str, int] = attrs.Factory(lambda: defaultdict(int))
    daily: defaultdict[DayKey, int] = attrs.Factory(lambda: defaultdict(int))
    cycles: defaultdict[CycleKey, int] = attrs.Factory(lambda: defaultdict(int))
    balances: defaultdict[BalanceKey, Balance] = attrs.Factory(lambda: defaultdict(Balance))

    def apply(self, batch: Batch) -> None:
        seen: set[str] = set()
        for entry in batch.entries:
            if entry.entry_id in self.entries or entry.entry_id in seen:
                raise IdempotencyConflictError(
                    f"entry id {entry.entry_id!r} is already in team {self.team.team_id!r}"
                )
            seen.add(entry.entry_id)
        for entry in batch.entries:
            self.entries[entry.entry_id] = entry
            if entry.kind is EntryKind.REVERSAL and entry.reverses is not None:
                self.reversed[entry.reverses] += entry.amount
        self._add_figures(batch)

    def _add_figures(self, batch: Batch) -> None:
        for day_key, credits in batch.daily.items():
            self.daily[day_key] += credits
        for cycle_key, credits in batch.cycles.items():
            self.cycles[cycle_key] += credits
        for balance_key, delta in batch.balances.items():
            self.balances[balance_key] = self.balances[balance_key].plus(
                used=delta.used, granted=delta.granted
            )

    def derive_again(self) -> None:
        self.daily.clear()
        self.cycles.clear()
        self.balances.clear()
        self._add_figures(Batch.of(self.team, self.entries.values()))


class _Transaction:
    def __init__(self, data: _TeamData) -> None:
        self._data = data

    def find_entries(self, entry_ids: Collection[str]) -> dict[str, LedgerEntry]:
        entries = self._data.entries
        return {i: entries[i] for i in entry_ids if i in entries}

    def reversed_totals(self, entry_ids: Collection[str]) -> dict[str, int]:
        return {i: self._data.reversed.get(i, 0) for i in entry_ids}

    def balances(self, keys: Collection[BalanceKey]) -> dict[BalanceKey, Balance]:
        return {k: self._data.balances.get(k, Balance()) for k in keys}


def _cells(totals: dict[tuple[str, str | None, object, str], int]) -> list[UsageCell]:
    return [
        UsageCell(user_id=u, group_id=g, feature=f, credit_type=t, credits=c)  # type: ignore[arg-type]
        for (u, g, f, t), c in totals.items()
        if c
    ]


class InMemoryStorage:
    """Keeps everything in dictionaries; implements :class:`~credit_usage.ports.Storage`."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._teams: dict[str, _TeamData] = {}

    def _data(self, team_id: str) -> _TeamData:
        data = self._teams.get(team_id)
        if data is None:
            raise NotFoundError(f"team {team_id!r} does not exist")
        return data

    # -- teams, groups, members -------------------------------------------------
    def add_team(self, team: Team) -> None:
        with self._lock:
            if team.team_id in self._teams:
                raise AlreadyExistsError(f"team {team.team_id!r} already exists")
            self._teams[team.team_id] = _TeamData(team)

    def update_team(self, team: Team) -> None:
        with self._lock:
            data = self._data(team.team_id)
            old, data.team = data.team, team
            if (old.timezone, old.billing) != (team.timezone, team.billing):
                data.derive_again()

    def get_team(self, team_id: str) -> Team | None:
        with self._lock:
            data = self._teams.get(team_id)
            return None if data is None else data.team

    def add_group(self, group: Group) -> None:
        with self._lock:
            data = self._data(group.team_id)
            if group.group_id in data.groups:
                raise AlreadyExistsError(
                    f"group {group.group_id!r} already exists in team {group.team_id!r}"
                )
            data.groups[group.group_id] = group

    def list_groups(self, team_id: str) -> list[Group]:
        with self._lock:
            data = self._teams.get(team_id)
            return [] if data is None else sorted(data.groups.values(), key=lambda g: g.group_id)

    def add_member(self, member: Member) -> None:
        with self._lock:
            data = self._data(member.team_id)
            if member.user_id in data.members:
                raise AlreadyExistsError(
                    f"user {member.user_id!r} is already a member of team {member.team_id!r}"
                )
            data.members[member.user_id] = member

    def update_member(self, member: Member) -> None:
        with self._lock:
            data = self._data(member.team_id)
            if member.user_id not in data.members:
                raise NotFoundError(
                    f"user {member.user_id!r} is not a member of team {member.team_id!r}"
                )
            data.members[member.user_id] = member

    def get_member(self, team_id: str, user_id: str) -> Member | None:
        with self._lock:
            data = self._teams.get(team_id)
            return None if data is None else data.members.get(user_id)

    def list_members(self, team_id: str) -> list[Member]:
        with self._lock:
            data = self._teams.get(team_id)
            return [] if data is None else sorted(data.members.values(), key=lambda m: m.user_id)

    # -- the ledger -------------------------------------------------------------
    def append(self, team_id: str, plan: WritePlan) -> None:
        with self._lock:
            data = self._data(team_id)
            batch = plan(_Transaction(data))
            data.apply(batch)

    def get_entry(self, team_id: str, entry_id: str) -> LedgerEntry | None:
        with self._lock:
            data = self._teams.get(team_id)
            return None if data is None else data.entries.get(entry_id)

    def iter_entries(self, team_id: str, start: datetime, end: datetime) -> Iterator[LedgerEntry]:
        with self._lock:
            data = self._teams.get(team_id)
            selected = (
                []
                if data is None
                else [e for e in data.entries.values() if start <= e.occurred_at < end]
            )
        # sorted() is stable, so entries at the same instant keep insertion order.
        selected.sort(key=lambda e: e.occurred_at)
        return iter(selected)

    def usage_in_cycles(self, team_id: str, cycles: Collection[date]) -> list[UsageCell]:
        wanted = set(cycles)
        totals: defaultdict[tuple[str, str | None, object, str], int] = defaultdict(int)
        with self._lock:
            data = self._teams.get(team_id)
            for key, credits in ({} if data is None else data.cycles).items():
                if key.cycle in wanted:
                    totals[(key.user_id, key.group_id, key.feature, key.credit_type)] += credits
        return _cells(totals)

    def usage_on_days(self, team_id: str, first: date, last: date) -> list[UsageCell]:
        totals: defaultdict[tuple[str, str | None, object, str], int] = defaultdict(int)
        with self._lock:
            data = self._teams.get(team_id)
            for key, credits in ({} if data is None else data.daily).items():
                if first <= key.day <= last:
                    totals[(key.user_id, key.group_id, key.feature, key.credit_type)] += credits
        return _cells(totals)

    def get_balances(self, team_id: str, keys: Collection[BalanceKey]) -> dict[BalanceKey, Balance]:
        with self._lock:
            data = self._teams.get(team_id)
            stored = {} if data is None else data.balances
            return {k: stored.get(k, Balance()) for k in keys}

    # -- maintenance ------------------------------------------------------------
    def verify(self, team_id: str) -> list[str]:
        """Differences between the stored figures and those derived from the ledger.

        Returns an empty list when they agree.
        """
        with self._lock:
            data = self._data(team_id)
            fresh = Batch.of(data.team, data.entries.values())
            return _drift(data, fresh)

    def rebuild(self, team_id: str) -> None:
        """Derive the roll-ups, counters and balances from the ledger again."""
        with self._lock:
            self._data(team_id).derive_again()


def _drift(data: _TeamData, fresh: Batch) -> list[str]:
    return sorted(
        drift("daily roll-up", data.daily, fresh.daily, 0)
        + drift("cycle counter", data.cycles, fresh.cycles, 0)
        + drift("balance", data.balances, fresh.balances, Balance())
    )
