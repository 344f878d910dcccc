"""The in-memory storage: the reference implementation, test double and notebook backend.

Thread-safe: one re-entrant lock serialises every call, so a write's checks
and its append are atomic with respect to other threads, and a read sees one
state from its first look to its last.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Collection, Iterator
from datetime import date, datetime
from typing import TypeVar

import attrs

from credit_usage.adapters.mail import InMemoryMailer
from credit_usage.domain.aggregate import MemberSums, UsageCell, member_sums
from credit_usage.domain.alerts import LimitAlert, alert_order
from credit_usage.domain.delivery import Delivery, ScheduledReport, alert_delivery_id
from credit_usage.domain.ledger import Balance, BalanceKey, Batch, CycleKey, DayKey, drift
from credit_usage.domain.limits import LimitKey, limit_key
from credit_usage.domain.model import (
    CreditLimit,
    EntryKind,
    Group,
    LedgerEntry,
    LedgerRow,
    Member,
    Team,
    ledger_row,
)
from credit_usage.errors import AlreadyExistsError, IdempotencyConflictError, NotFoundError
from credit_usage.ports import Decision, Query, WritePlan

__all__ = ["InMemoryMailer", "InMemoryStorage"]

T = TypeVar("T")


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
    volume: int = 0
    limits: dict[LimitKey, CreditLimit] = attrs.Factory(dict)
    schedules: dict[str, ScheduledReport] = attrs.Factory(dict)
    deliveries: dict[str, Delivery] = attrs.Factory(dict)
    # Insertion order is creation order.
    alerts: dict[str, LimitAlert] = attrs.Factory(dict)

    def decide(self, decision: Decision[object]) -> None:
        """Write what a plan decided: the batch, then the rest."""
        self.apply(decision.batch)
        for limit in decision.set_limits:
            self.limits[limit_key(limit)] = limit
        for limit in decision.removed_limits:
            self.limits.pop(limit_key(limit), None)
        for scheduled in decision.set_schedules:
            self.schedules[scheduled.schedule.schedule_id] = scheduled
        for delivery in decision.set_deliveries:
            self.deliveries[delivery.delivery_id] = delivery
        for alert in decision.new_alerts:
            self.alerts.setdefault(alert.alert_id, alert)

    def has_work(self, now: datetime) -> bool:
        """Whether a schedule is due or an alert undelivered (for ``due_teams``)."""
        if any(
            s.schedule.active and s.next_due is not None and s.next_due <= now
            for s in self.schedules.values()
        ):
            return True
        for alert_id in self.alerts:
            delivery = self.deliveries.get(alert_delivery_id(alert_id))
            if delivery is None or not delivery.state.final:
                return True
        return False

    def apply(self, batch: Batch) -> None:
        stored = self.entries
        ids = {entry.entry_id: entry for entry in batch.entries}
        if len(ids) != len(batch.entries) or not stored.keys().isdisjoint(ids):
            seen: set[str] = set()
            for entry in batch.entries:
                if entry.entry_id in stored or entry.entry_id in seen:
                    raise IdempotencyConflictError(
                        f"entry id {entry.entry_id!r} is already in team {self.team.team_id!r}",
                        team_id=self.team.team_id,
                        entry_id=entry.entry_id,
                    )
                seen.add(entry.entry_id)
        stored.update(ids)
        reversal = EntryKind.REVERSAL
        for entry in batch.entries:
            if entry.kind is reversal and entry.reverses is not None:
                self.reversed[entry.reverses] += entry.amount
        self._add_figures(batch)

    def _add_figures(self, batch: Batch) -> None:
        daily, cycles, balances = self.daily, self.cycles, self.balances
        for day_key, credits in batch.daily.items():
            daily[day_key] += credits
        for cycle_key, credits in batch.cycles.items():
            cycles[cycle_key] += credits
        stored = balances.get
        for balance_key, delta in batch.balances.items():
            old = stored(balance_key)
            balances[balance_key] = delta if old is None else old.plus(*delta)
        self.volume += batch.volume

    def derive_again(self) -> None:
        self.daily.clear()
        self.cycles.clear()
        self.balances.clear()
        self.volume = 0
        self._add_figures(Batch.of(self.team, self.entries.values()))


class _Reads:
    """A team's data as one call sees it: the storage's lock is held meanwhile."""

    def __init__(self, data: _TeamData) -> None:
        self._data = data

    @property
    def team(self) -> Team:
        return self._data.team

    def member(self, user_id: str) -> Member | None:
        return self._data.members.get(user_id)

    def members(self) -> list[Member]:
        return sorted(self._data.members.values(), key=lambda m: m.user_id)

    def groups(self) -> list[Group]:
        return sorted(self._data.groups.values(), key=lambda g: g.group_id)

    def limits(self, subject_ids: Collection[str] | None = None) -> list[CreditLimit]:
        stored = self._data.limits
        keys = sorted(stored)
        if subject_ids is not None:
            keys = [key for key in keys if stored[key].subject_id in subject_ids]
        return [stored[key] for key in keys]

    def schedules(self) -> list[ScheduledReport]:
        return [self._data.schedules[key] for key in sorted(self._data.schedules)]

    def deliveries(self, delivery_ids: Collection[str]) -> dict[str, Delivery]:
        stored = self._data.deliveries
        return {i: stored[i] for i in delivery_ids if i in stored}

    def alerts(self) -> list[LimitAlert]:
        return sorted(self._data.alerts.values(), key=alert_order)

    def find_entries(self, entry_ids: Collection[str]) -> dict[str, LedgerEntry]:
        entries = self._data.entries
        return {i: entries[i] for i in entry_ids if i in entries}

    def reversed_totals(self, entry_ids: Collection[str]) -> dict[str, int]:
        return {i: self._data.reversed.get(i, 0) for i in entry_ids}

    def iter_entries(self, start: datetime, end: datetime) -> Iterator[LedgerEntry]:
        selected = [e for e in self._data.entries.values() if start <= e.occurred_at < end]
        # sorted() is stable, so entries at the same instant keep insertion order.
        selected.sort(key=lambda e: e.occurred_at)
        return iter(selected)

    def iter_ledger_rows(self, start: datetime, end: datetime) -> Iterator[LedgerRow]:
        return map(ledger_row, self.iter_entries(start, end))

    def usage_in_cycles(self, first: date, last: date) -> list[UsageCell]:
        totals: defaultdict[tuple[str, str | None, object, str], int] = defaultdict(int)
        for key, credits in self._data.cycles.items():
            if first <= key.cycle <= last:
                totals[(key.user_id, key.group_id, key.feature, key.credit_type)] += credits
        return _cells(totals)

    def usage_on_days(self, first: date, last: date) -> list[UsageCell]:
        totals: defaultdict[tuple[str, str | None, object, str], int] = defaultdict(int)
        for key, credits in self._data.daily.items():
            if first <= key.day <= last:
                totals[(key.user_id, key.group_id, key.feature, key.credit_type)] += credits
        return _cells(totals)

    def member_sums_in_cycles(self, first: date, last: date) -> dict[str, MemberSums]:
        return member_sums(self.usage_in_cycles(first, last))

    def member_sums_on_days(self, first: date, last: date) -> dict[str, MemberSums]:
        return member_sums(self.usage_on_days(first, last))

    def balances(self, keys: Collection[BalanceKey]) -> dict[BalanceKey, Balance]:
        return {k: self._data.balances.get(k, Balance()) for k in keys}

    def volume(self) -> int:
        return self._data.volume


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

    def __repr__(self) -> str:
        return "InMemoryStorage()"

    def _data(self, team_id: str) -> _TeamData:
        data = self._teams.get(team_id)
        if data is None:
            raise NotFoundError.team(team_id)
        return data

    # -- teams, groups, members -------------------------------------------------
    def add_team(self, team: Team) -> None:
        with self._lock:
            if team.team_id in self._teams:
                raise AlreadyExistsError.team(team.team_id)
            self._teams[team.team_id] = _TeamData(team)

    def update_team(self, team: Team) -> None:
        with self._lock:
            data = self._data(team.team_id)
            old, data.team = data.team, team
            if (old.timezone, old.billing) != (team.timezone, team.billing):
                data.derive_again()

    def add_group(self, group: Group) -> None:
        with self._lock:
            data = self._data(group.team_id)
            if group.group_id in data.groups:
                raise AlreadyExistsError.group(group.team_id, group.group_id)
            data.groups[group.group_id] = group

    def add_member(self, member: Member) -> None:
        with self._lock:
            data = self._data(member.team_id)
            if member.user_id in data.members:
                raise AlreadyExistsError.member(member.team_id, member.user_id)
            data.members[member.user_id] = member

    def update_member(self, member: Member) -> None:
        with self._lock:
            data = self._data(member.team_id)
            if member.user_id not in data.members:
                raise NotFoundError.user(member.team_id, member.user_id)
            data.members[member.user_id] = member

    # -- one transaction per call -------------------------------------------------
    def read(self, team_id: str, query: Query[T]) -> T:
        with self._lock:
            return query(_Reads(self._data(team_id)))

    def append(self, team_id: str, plan: WritePlan[T]) -> T:
        with self._lock:
            data = self._data(team_id)
            decision = plan(_Reads(data))
            data.decide(decision)
            return decision.result

    def due_teams(self, now: datetime) -> list[str]:
        with self._lock:
            return [team_id for team_id, data in self._teams.items() if data.has_work(now)]

    # -- maintenance ------------------------------------------------------------
    def verify(self, team_id: str) -> list[str]:
        """Differences between the stored figures and those derived from the ledger.

        Returns an empty list when they agree.
        """
        with self._lock:
            data = self._data(team_id)
            fresh = Batch.of(data.team, data.entries.values())
            problems = _drift(data, fresh)
            if data.volume != fresh.volume:
                problems.append(f"volume: stored {data.volume}, ledger says {fresh.volume}")
            return sorted(problems)

    def rebuild(self, team_id: str) -> None:
        """Derive the roll-ups, counters, balances and volume from the ledger again."""
        with self._lock:
            self._data(team_id).derive_again()


def _drift(data: _TeamData, fresh: Batch) -> list[str]:
    return sorted(
        drift("daily roll-up", data.daily, fresh.daily, 0)
        + drift("cycle counter", data.cycles, fresh.cycles, 0)
        + drift("balance", data.balances, fresh.balances, Balance())
    )
