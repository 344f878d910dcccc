"""A team's data as one transaction of the SQL storage sees it.

:class:`SqlReads` is the SQL storage's :class:`~credit_usage.ports.TeamReads`:
every read runs on the transaction's connection, so a call sees one state,
and, in a write, the state under the team's lock.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import date, datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from credit_usage.adapters.sql import rows
from credit_usage.domain.aggregate import MemberSums, UsageCell, sum_by_member
from credit_usage.domain.alerts import LimitAlert
from credit_usage.domain.delivery import Delivery, ScheduledReport
from credit_usage.domain.ledger import Balance, BalanceKey
from credit_usage.domain.limits import limit_key
from credit_usage.domain.model import CreditLimit, Group, LedgerEntry, LedgerRow, Member, Team

if TYPE_CHECKING:
    from credit_usage.adapters.sql.ledger import LedgerRecorder

__all__ = ["STREAM_PAGE", "SqlReads"]

#: Ledger rows fetched per query when streaming an export: a page of raw rows
#: is what an export holds in memory (about 1 kB a row).
STREAM_PAGE = 2_000
#: Rows fetched per query by the audit export's row stream: plain tuples, about
#: 300 bytes each, so a page stays a few megabytes.
LEDGER_PAGE = 10_000
#: Above this many subjects, a write reads all the team's limits rather than
#: sending a long ``IN`` list (a bulk import naming most of the team).
MAX_LIMIT_SUBJECTS = 500


class SqlReads:
    """A team's data as one transaction sees it: SQL's :class:`~credit_usage.ports.TeamReads`."""

    def __init__(self, recorder: LedgerRecorder, conn: Connection, row: sa.Row[Any]) -> None:
        self._recorder = recorder
        self._sql = recorder.sql
        self._conn = conn
        self.team_id: str = row.team_id
        self._team = recorder.teams(row)
        #: The team's ledger position when the transaction began.
        self.ledger_seq = int(row.ledger_seq)
        self._volume = int(row.ledger_volume)

    @property
    def team(self) -> Team:
        return self._team

    def member(self, user_id: str) -> Member | None:
        params = {"team_id": self.team_id, "user_id": user_id}
        row = self._conn.execute(self._sql.select_member, params).first()
        return None if row is None else rows.member(self.team_id, row)

    def members(self) -> list[Member]:
        found = self._conn.execute(self._sql.select_members, {"team_id": self.team_id})
        listed = rows.members(self.team_id, rows.raw(found))
        # Sorted here, not by ORDER BY: database collations disagree with Python's order.
        listed.sort(key=attrgetter("user_id"))
        return listed

    def limits(self, subject_ids: Collection[str] | None = None) -> list[CreditLimit]:
        if subject_ids is None or len(subject_ids) > MAX_LIMIT_SUBJECTS:
            params: dict[str, object] = {"team_id": self.team_id}
            found = self._conn.execute(self._sql.select_limits, params).all()
        elif not subject_ids:
            return []
        else:
            params = {"team_id": self.team_id, "subject_ids": sorted(subject_ids)}
            found = self._conn.execute(self._sql.select_limits_of, params).all()
        listed = (rows.credit_limit(row) for row in found)
        if subject_ids is not None:
            listed = (limit for limit in listed if limit.subject_id in subject_ids)
        return sorted(listed, key=limit_key)

    def groups(self) -> list[Group]:
        found = self._conn.execute(self._sql.select_groups, {"team_id": self.team_id}).all()
        listed = [Group(team_id=self.team_id, group_id=g, name=n) for g, n in found]
        return sorted(listed, key=lambda g: g.group_id)

    def find_entries(self, entry_ids: Collection[str]) -> dict[str, LedgerEntry]:
        ids = list(dict.fromkeys(entry_ids))
        found: dict[str, LedgerEntry] = {}
        decode = rows.EntryDecoder(self.team_id)
        self._recorder.store.dialect.before_long_lists(self._conn, len(ids))
        for chunk in rows.chunks(ids, self._recorder.store.dialect.in_chunk):
            params = {"team_id": self.team_id, "entry_ids": list(chunk)}
            for row in self._conn.execute(self._sql.find_entries, params):
                found[row[0]] = decode(row)
        return found

    def reversed_totals(self, entry_ids: Collection[str]) -> dict[str, int]:
        ids = list(dict.fromkeys(entry_ids))
        totals = dict.fromkeys(ids, 0)
        dialect = self._recorder.store.dialect
        dialect.before_long_lists(self._conn, len(ids))
        for chunk in rows.chunks(ids, dialect.in_chunk):
            params = {"team_id": self.team_id, "entry_ids": list(chunk)}
            for reverses, total in self._conn.execute(self._sql.reversed_totals, params):
                totals[reverses] = int(total)
        return totals

    def iter_entries(self, start: datetime, end: datetime) -> Iterator[LedgerEntry]:
        pages = self._recorder.row_pages(
            self._conn, self.team_id, rows.micros(start), rows.micros(end), STREAM_PAGE
        )
        decode = rows.EntryDecoder(self.team_id)
        # Decoded one by one: only a page of raw rows is held at a time.
        return (decode(row) for page in pages for row in page)

    def iter_ledger_rows(self, start: datetime, end: datetime) -> Iterator[LedgerRow]:
        pages = self._recorder.raw_pages(
            self._conn, self.team_id, rows.micros(start), rows.micros(end), LEDGER_PAGE
        )
        return rows.ledger_rows(pages)

    def usage_in_cycles(self, first: date, last: date) -> list[UsageCell]:
        if first > last:
            return []
        statement = self._sql.usage_in_cycle if first == last else self._sql.usage_in_cycles
        params = {"team_id": self.team_id, "first": first, "last": last}
        return rows.cells(self._conn.execute(statement, params))

    def usage_on_days(self, first: date, last: date) -> list[UsageCell]:
        params = {"team_id": self.team_id, "first": first, "last": last}
        return rows.cells(self._conn.execute(self._sql.usage_on_days, params))

    def member_sums_in_cycles(self, first: date, last: date) -> dict[str, MemberSums]:
        if first > last:
            return {}
        params = {"team_id": self.team_id, "first": first, "last": last}
        if first < last:
            found = self._conn.execute(self._sql.member_cells_in_cycles, params)
            return sum_by_member(rows.raw(found))
        by_feature = rows.raw(self._conn.execute(self._sql.member_features_in_cycle, params))
        by_type = rows.raw(self._conn.execute(self._sql.member_types_in_cycle, params))
        return rows.split_member_sums(by_feature, by_type)

    def member_sums_on_days(self, first: date, last: date) -> dict[str, MemberSums]:
        params = {"team_id": self.team_id, "first": first, "last": last}
        found = self._conn.execute(self._sql.member_cells_on_days, params)
        return sum_by_member(rows.raw(found))

    def balances(self, keys: Collection[BalanceKey]) -> dict[BalanceKey, Balance]:
        wanted = set(keys)
        found: dict[BalanceKey, Balance] = {}
        if wanted:
            dialect = self._recorder.store.dialect
            cycles = sorted({k.cycle for k in wanted})
            scopes = sorted({k.scope for k in wanted})
            subjects = sorted({k.subject_id for k in wanted})
            dialect.before_long_lists(self._conn, max(len(cycles), len(subjects)))
            if len(cycles) == 1:
                [cycle] = cycles
                for subject_chunk in rows.chunks(subjects, dialect.in_chunk):
                    params = {
                        "team_id": self.team_id,
                        "cycle": cycle,
                        "scopes": scopes,
                        "subjects": list(subject_chunk),
                    }
                    statement = self._sql.find_balances_in_cycle
                    for scope, subject, credit_type, used, granted in rows.raw(
                        self._conn.execute(statement, params)
                    ):
                        key = BalanceKey(cycle, scope, subject, credit_type)
                        if key in wanted:
                            found[key] = Balance(used, granted)
                return {k: found.get(k, Balance()) for k in keys}
            for cycle_chunk in rows.chunks(cycles, 100):
                for subject_chunk in rows.chunks(subjects, dialect.in_chunk):
                    params = {
                        "team_id": self.team_id,
                        "cycles": list(cycle_chunk),
                        "scopes": scopes,
                        "subjects": list(subject_chunk),
                    }
                    for cycle, scope, subject, credit_type, used, granted in self._conn.execute(
                        self._sql.find_balances, params
                    ):
                        key = BalanceKey(cycle, scope, subject, credit_type)
                        if key in wanted:
                            found[key] = Balance(int(used), int(granted))
        return {k: found.get(k, Balance()) for k in keys}

    def schedules(self) -> list[ScheduledReport]:
        return self._recorder.outbox.schedules(self._conn, self.team_id)

    def deliveries(self, delivery_ids: Collection[str]) -> dict[str, Delivery]:
        return self._recorder.outbox.deliveries(self._conn, self.team_id, delivery_ids)

    def alerts(self) -> list[LimitAlert]:
        return self._recorder.outbox.alerts(self._conn, self.team_id)

    def volume(self) -> int:
        return self._volume
