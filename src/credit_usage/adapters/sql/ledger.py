"""The ledger recorder: one transaction per call, appends, and the figures derived from the ledger.

:meth:`LedgerRecorder.append` locks the team's row (``SELECT ... FOR UPDATE``;
``BEGIN IMMEDIATE`` has locked the database already on SQLite), reads the
team from that very row, runs the service's plan with a :class:`SqlReads` on
the same connection, then inserts the entries with one bulk statement, adds
to the daily roll-ups, per-cycle counters and balances with one upsert each,
and moves the team's ledger position and volume on. Reads of usage sum
roll-ups or counters in SQL; only the ledger stream, :meth:`LedgerRecorder.verify`,
:meth:`LedgerRecorder.rebuild` and the checks inside a write read raw ledger rows.
"""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from credit_usage.adapters.sql import rows
from credit_usage.adapters.sql.bulk import BulkWriter, ChainedWrites
from credit_usage.adapters.sql.datastore import Datastore, driver_error
from credit_usage.adapters.sql.outbox import OutboxRecorder
from credit_usage.adapters.sql.reads import SqlReads
from credit_usage.adapters.sql.schema import (
    ENTRY_COLUMNS,
    FIGURE_DIMENSIONS,
    LEDGER_ROW,
    Tables,
    cell_key,
)
from credit_usage.domain.ledger import (
    ALL_TYPES,
    Balance,
    BalanceKey,
    Batch,
    CycleKey,
    DayKey,
    drift,
)
from credit_usage.domain.model import LedgerEntry, Team
from credit_usage.errors import IdempotencyConflictError, NotFoundError, StorageError
from credit_usage.ports import Decision, Query, WritePlan

__all__ = ["LedgerRecorder"]

T = TypeVar("T")

#: Ledger entries derived at a time when the figures are rebuilt or verified.
REBUILD_PAGE: Final = 50_000
_BEFORE_TIME: Final = rows.micros(datetime.min.replace(tzinfo=UTC))
#: Where a page row (``ENTRY_COLUMNS`` then ``seq``) holds the keyset of the next page.
_PAGE_OCCURRED_AT: Final = ENTRY_COLUMNS.index("occurred_at")
_PAGE_SEQ: Final = len(ENTRY_COLUMNS)


class _Statements:
    """Every statement of the recorder, built once per storage (SQLAlchemy caches them compiled)."""

    def __init__(self, tables: Tables, store: Datastore) -> None:
        teams, groups, members = tables.teams, tables.groups, tables.members
        ledger, daily, cycles = tables.ledger, tables.daily, tables.cycles
        balances = tables.balances
        dialect = store.dialect
        team_param: sa.BindParameter[str] = sa.bindparam("team_id")

        # A locking read returns the row as the previous lock holder committed
        # it (PostgreSQL re-reads a row it waited for), so ledger_seq is current.
        self.select_team = sa.select(teams).where(teams.c.team_id == team_param)
        self.lock_team = self.select_team.with_for_update()
        self.set_position = (
            teams.update()
            .where(teams.c.team_id == sa.bindparam("key_team"))
            .values(ledger_seq=sa.bindparam("new_seq"), ledger_volume=sa.bindparam("new_volume"))
        )
        self.set_volume = (
            teams.update()
            .where(teams.c.team_id == sa.bindparam("key_team"))
            .values(ledger_volume=sa.bindparam("new_volume"))
        )
        member_cols = [c for c in members.columns if c.name != "team_id"]
        self.select_member = sa.select(*member_cols).where(
            members.c.team_id == team_param, members.c.user_id == sa.bindparam("user_id")
        )
        self.select_members = sa.select(*member_cols).where(members.c.team_id == team_param)
        self.select_groups = sa.select(groups.c.group_id, groups.c.name).where(
            groups.c.team_id == team_param
        )
        limits = tables.limits
        self.select_limits = sa.select(
            limits.c.scope, limits.c.subject_id, limits.c.credit_type, limits.c.credits
        ).where(limits.c.team_id == team_param)
        self.select_limits_of = self.select_limits.where(
            dialect.one_of(limits.c.subject_id, "subject_ids")
        )
        self.delete_limit = limits.delete().where(
            limits.c.team_id == team_param,
            limits.c.scope == sa.bindparam("scope"),
            limits.c.subject_id == sa.bindparam("subject_id"),
            limits.c.credit_type == sa.bindparam("credit_type"),
        )
        self.insert_limit = limits.insert()

        entry_cols = [ledger.c[name] for name in ENTRY_COLUMNS]
        self.find_entries = sa.select(*entry_cols).where(
            ledger.c.team_id == team_param,
            dialect.one_of(ledger.c.entry_id, "entry_ids"),
        )
        self.reversed_totals = (
            sa.select(ledger.c.reverses, sa.func.sum(ledger.c.amount))
            .where(
                ledger.c.team_id == team_param,
                dialect.one_of(ledger.c.reverses, "entry_ids"),
            )
            .group_by(ledger.c.reverses)
        )
        # Keyset pages through the (team_id, occurred_at, seq) index: a buffered
        # query per page, so no cursor stays open between pages and other
        # statements may run on the connection meanwhile (MariaDB's streaming
        # cursor forbids that). The OR is spelled out rather than as a
        # row-value comparison, which not every backend turns into an index range.
        after_at: sa.BindParameter[int] = sa.bindparam("after_at")
        after_seq: sa.BindParameter[int] = sa.bindparam("after_seq")
        self.entries_page = (
            sa.select(*entry_cols, ledger.c.seq)
            .where(
                ledger.c.team_id == team_param,
                ledger.c.occurred_at >= after_at,
                sa.or_(ledger.c.occurred_at > after_at, ledger.c.seq > after_seq),
                ledger.c.occurred_at < sa.bindparam("end"),
            )
            .order_by(ledger.c.occurred_at, ledger.c.seq)
            .limit(sa.bindparam("page"))
        )

        def summed(
            table: sa.Table, period: str, dims: Sequence[str], *, bigint: bool = False
        ) -> sa.Select[Any]:
            """Credits of ``table`` by ``dims`` over the periods first..last, zero sums left out."""
            total: sa.ColumnElement[Any] = sa.func.sum(table.c.credits)
            if bigint:  # PostgreSQL's SUM of a BIGINT is a NUMERIC; the raw reads want ints
                total = sa.cast(total, sa.BigInteger)
            columns = [table.c[name] for name in dims]
            return (
                sa.select(*columns, total)
                .where(
                    table.c.team_id == team_param,
                    table.c[period] >= sa.bindparam("first"),
                    table.c[period] <= sa.bindparam("last"),
                )
                .group_by(*columns)
                .having(total != 0)
            )

        self.usage_on_days = summed(daily, "day", FIGURE_DIMENSIONS)
        # Cycles are contiguous and every counter belongs to a cycle of the
        # team's schedule, so a range of first days is a range of cycles: no
        # IN list, however long the period.
        self.usage_in_cycles = summed(cycles, "cycle", FIGURE_DIMENSIONS)
        cdims = [cycles.c[name] for name in FIGURE_DIMENSIONS]
        # One cycle (a snapshot) holds one counter per cell already: no GROUP BY.
        self.usage_in_cycle = sa.select(*cdims, cycles.c.credits).where(
            cycles.c.team_id == team_param,
            cycles.c.cycle == sa.bindparam("first"),
            cycles.c.credits != 0,
        )
        # Per-user sums (snapshots): no group column, and the sums of a range
        # computed by the database, so fewer and narrower rows reach Python.
        # One cycle: by feature from the counters, grouped along their primary
        # key (no sort), and by credit type from the users' balances, which
        # hold exactly those sums: two narrow reads of a row per member and
        # feature or type, instead of one per member x feature x type.
        feature_sum = sa.cast(sa.func.sum(cycles.c.credits), sa.BigInteger)
        self.member_features_in_cycle = (
            sa.select(cycles.c.user_id, cycles.c.feature, feature_sum)
            .where(
                cycles.c.team_id == team_param,
                cycles.c.cycle == sa.bindparam("first"),
                cycles.c.credits != 0,
            )
            .group_by(cycles.c.user_id, cycles.c.group_id, cycles.c.feature)
        )
        self.member_types_in_cycle = sa.select(
            balances.c.subject_id, balances.c.credit_type, balances.c.used
        ).where(
            balances.c.team_id == team_param,
            balances.c.cycle == sa.bindparam("first"),
            balances.c.scope == "user",
            balances.c.credit_type != ALL_TYPES,
            balances.c.used != 0,
        )
        member_dims = ("user_id", "feature", "credit_type")
        self.member_cells_in_cycles = summed(cycles, "cycle", member_dims, bigint=True)
        self.member_cells_on_days = summed(daily, "day", member_dims, bigint=True)
        balance_cols = [
            balances.c[name]
            for name in ("cycle", "scope", "subject_id", "credit_type", "used", "granted")
        ]
        # Balance keys are 4-tuples; rather than a row-value IN (not indexable
        # everywhere) this asks for every cycle x scope x subject combination
        # through the primary key and drops the extra rows in Python.
        self.find_balances = sa.select(*balance_cols).where(
            balances.c.team_id == team_param,
            balances.c.cycle.in_(sa.bindparam("cycles", expanding=True)),
            balances.c.scope.in_(sa.bindparam("scopes", expanding=True)),
            dialect.one_of(balances.c.subject_id, "subjects"),
        )
        # The balances of one cycle (nearly every write and read): no date column
        # to convert, so its rows are read as the driver returns them.
        self.find_balances_in_cycle = sa.select(*balance_cols[1:]).where(
            balances.c.team_id == team_param,
            balances.c.cycle == sa.bindparam("cycle"),
            balances.c.scope.in_(sa.bindparam("scopes", expanding=True)),
            dialect.one_of(balances.c.subject_id, "subjects"),
        )
        dims = [daily.c[name] for name in FIGURE_DIMENSIONS]
        self.all_daily: sa.Select[Any] = sa.select(daily.c.day, *dims, daily.c.credits).where(
            daily.c.team_id == team_param
        )
        self.all_cycles: sa.Select[Any] = sa.select(cycles.c.cycle, *cdims, cycles.c.credits).where(
            cycles.c.team_id == team_param
        )
        self.all_balances = sa.select(*balance_cols).where(balances.c.team_id == team_param)
        self.clear_derived = [
            table.delete().where(table.c.team_id == team_param) for table in tables.derived
        ]

        extra = ("cell_key",) if tables.keyed_cells else ()

        def upsert(table: sa.Table, columns: tuple[str, ...], add: tuple[str, ...]) -> BulkWriter:
            key = [c.name for c in table.primary_key.columns]
            return BulkWriter(table, columns, dialect, key=key, add=add)

        self.insert_entries = BulkWriter(ledger, LEDGER_ROW, dialect)
        self.add_daily = upsert(
            daily, ("team_id", "day", *FIGURE_DIMENSIONS, "credits", *extra), ("credits",)
        )
        self.add_cycles = upsert(
            cycles, ("team_id", "cycle", *FIGURE_DIMENSIONS, "credits", *extra), ("credits",)
        )
        self.add_balances = upsert(
            balances,
            ("team_id", "cycle", "scope", "subject_id", "credit_type", "used", "granted"),
            ("used", "granted"),
        )
        self.keyed_cells = tables.keyed_cells
        # PostgreSQL: an append's five writes as one statement (one round trip).
        self.append_all = (
            ChainedWrites(
                (self.insert_entries, self.add_daily, self.add_cycles, self.add_balances),
                self.set_position,
            )
            if dialect.column_arrays
            else None
        )
        self.ledger_table = ledger.name


class _CellRows:
    """Rows of the roll-up and counter tables, with their ``cell_key`` where the table has one.

    The key digests a cell's dimensions; a batch's daily and cycle rows share
    their cells, so each is digested once.
    """

    def __init__(self, team_id: str, keyed: bool) -> None:
        self._team_id = team_id
        self._keyed = keyed
        self._keys: dict[tuple[str, str, str, str], tuple[bytes, ...]] = {}

    def row(self, period: date, key: DayKey | CycleKey, credits: int) -> tuple[object, ...]:
        dims = (key.user_id, key.group_id or "", key.feature, key.credit_type)
        row = (self._team_id, period, *dims, credits)
        if not self._keyed:
            return row
        digest = self._keys.get(dims)
        if digest is None:
            digest = self._keys[dims] = (cell_key(*dims),)
        return row + digest


class _EntryConflict(Exception):
    """A unique violation on (team_id, entry_id), carried out of the rolled-back write."""

    def __init__(self, entries: Sequence[LedgerEntry]) -> None:
        super().__init__("entry id already stored")
        self.entries = entries


class LedgerRecorder:
    """Reads and appends of the ledger and its derived figures, one transaction per call."""

    def __init__(self, store: Datastore, tables: Tables) -> None:
        self.store = store
        self.sql = _Statements(tables, store)
        self.teams = rows.TeamDecoder()
        self.outbox = OutboxRecorder(store, tables)

    def using(self, store: Datastore) -> LedgerRecorder:
        """This recorder on another datastore of the same dialect, sharing its statements."""
        recorder = copy.copy(self)
        recorder.store = store
        recorder.outbox = self.outbox.using(store)
        return recorder

    # -- one transaction per call -------------------------------------------------
    def read(self, team_id: str, query: Query[T]) -> T:
        def work(conn: Connection) -> T:
            row = conn.execute(self.sql.select_team, {"team_id": team_id}).first()
            if row is None:
                raise NotFoundError.team(team_id)
            return query(SqlReads(self, conn, row))

        return self.store.transaction(f"read team {team_id!r}", work, write=False)

    def locked(self, conn: Connection, team_id: str) -> SqlReads:
        """Lock the team's row in ``conn``'s write transaction; its reads under that lock.

        Raises:
            NotFoundError: the team does not exist.
        """
        row = conn.execute(self.sql.lock_team, {"team_id": team_id}).first()
        if row is None:
            raise NotFoundError.team(team_id)
        return SqlReads(self, conn, row)

    def append(self, team_id: str, plan: WritePlan[T]) -> T:
        def work(conn: Connection) -> T:
            reads = self.locked(conn, team_id)
            decision = plan(reads)
            batch = decision.batch
            if batch.entries:
                self._write(conn, team_id, reads, batch)
            self._change_limits(conn, team_id, decision)
            self.outbox.write(
                conn,
                team_id,
                decision.set_schedules,
                decision.set_deliveries,
                decision.new_alerts,
            )
            return decision.result

        try:
            return self.store.transaction(
                f"append to the ledger of team {team_id!r}", work, write=True
            )
        except _EntryConflict as conflict:
            # Described only now: PostgreSQL refuses reads in a failed transaction.
            raise self._conflict(team_id, conflict.entries) from conflict.__cause__

    def _write(self, conn: Connection, team_id: str, reads: SqlReads, batch: Batch) -> None:
        """Insert the batch's entries, add its figures and move the team's position on.

        Raises:
            _EntryConflict: an entry id of the batch is stored already.
        """
        sql = self.sql
        entry_rows = [
            rows.entry_row(team_id, reads.ledger_seq + 1 + i, e)
            for i, e in enumerate(batch.entries)
        ]
        position = {
            "key_team": team_id,
            "new_seq": reads.ledger_seq + len(entry_rows),
            "new_volume": reads.volume() + batch.volume,
        }
        if sql.append_all is not None:
            try:
                sql.append_all.run(conn, [entry_rows, *self._figure_rows(team_id, batch)], position)
            except IntegrityError as exc:
                table = getattr(getattr(exc.orig, "diag", None), "table_name", None)
                if table != sql.ledger_table:
                    raise
                raise _EntryConflict(batch.entries) from driver_error(exc)
            return
        try:
            sql.insert_entries.run(conn, entry_rows)
        except IntegrityError as exc:
            raise _EntryConflict(batch.entries) from driver_error(exc)
        conn.execute(sql.set_position, position)
        self.add_figures(conn, team_id, batch)

    def _change_limits(self, conn: Connection, team_id: str, decision: Decision[T]) -> None:
        """Store the decision's limits (each replacing its key's) and delete the removed ones."""
        for limit in (*decision.set_limits, *decision.removed_limits):
            conn.execute(self.sql.delete_limit, rows.limit_key_values(team_id, limit))
        for limit in decision.set_limits:
            conn.execute(self.sql.insert_limit, rows.limit_values(team_id, limit))

    def add_figures(self, conn: Connection, team_id: str, batch: Batch) -> None:
        """Add the batch's roll-up, counter and balance deltas, one upsert per table."""
        sql = self.sql
        daily, cycles, balances = self._figure_rows(team_id, batch)
        sql.add_daily.run(conn, daily)
        sql.add_cycles.run(conn, cycles)
        sql.add_balances.run(conn, balances)

    def _figure_rows(
        self, team_id: str, batch: Batch
    ) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[object, ...]]]:
        """The rows of the batch's roll-up, counter and balance deltas."""
        cell = _CellRows(team_id, self.sql.keyed_cells)
        return (
            [cell.row(k.day, k, n) for k, n in batch.daily.items()],
            [cell.row(k.cycle, k, n) for k, n in batch.cycles.items()],
            [
                (team_id, k.cycle, k.scope, k.subject_id, k.credit_type, b.used, b.granted)
                for k, b in batch.balances.items()
            ],
        )

    def _conflict(self, team_id: str, entries: Sequence[LedgerEntry]) -> IdempotencyConflictError:
        """Which entry ids clashed, worked out after the failed write rolled back."""
        repeated = sorted(i for i, n in Counter(e.entry_id for e in entries).items() if n > 1)
        if repeated:
            return IdempotencyConflictError(
                f"entry ids {repeated!r} are repeated in one write to team {team_id!r}",
                team_id=team_id,
                entry_id=repeated[0],
            )
        ids = [e.entry_id for e in entries]
        try:
            stored = sorted(self.read(team_id, lambda tx: list(tx.find_entries(ids))))
        except (StorageError, NotFoundError):
            stored = []
        if len(stored) == 1:
            message = f"entry id {stored[0]!r} is already in team {team_id!r}"
        elif stored:
            message = f"entry ids {stored[:10]!r} are already in team {team_id!r}"
        else:
            message = f"an entry id of this write is already in team {team_id!r}"
        return IdempotencyConflictError(
            message, team_id=team_id, entry_id=stored[0] if stored else None
        )

    # -- the ledger, page by page ---------------------------------------------------
    def row_pages(
        self, conn: Connection, team_id: str, start: int, end: int, page: int
    ) -> Iterator[Sequence[Any]]:
        """Ledger rows with ``start <= occurred_at < end`` (microseconds), by occurred_at then seq.

        In pages of at most ``page`` rows of ``ENTRY_COLUMNS`` and ``seq``, one query each.
        """
        # The first page starts just before ``start``: no stored seq is negative.
        params: dict[str, object] = {
            "team_id": team_id,
            "after_at": start,
            "after_seq": -1,
            "end": end,
            "page": page,
        }
        while True:
            found = conn.execute(self.sql.entries_page, params).all()
            if not found:
                return
            yield found
            if len(found) < page:
                return
            last = found[-1]
            params["after_at"], params["after_seq"] = last.occurred_at, last.seq

    def raw_pages(
        self, conn: Connection, team_id: str, start: int, end: int, page: int
    ) -> Iterator[list[Any]]:
        """:meth:`row_pages` as the driver returns the rows (plain tuples, no conversion)."""
        params: dict[str, object] = {
            "team_id": team_id,
            "after_at": start,
            "after_seq": -1,
            "end": end,
            "page": page,
        }
        at, seq = _PAGE_OCCURRED_AT, _PAGE_SEQ
        while True:
            found = rows.raw(conn.execute(self.sql.entries_page, params))
            if not found:
                return
            yield found
            if len(found) < page:
                return
            last = found[-1]
            params["after_at"], params["after_seq"] = last[at], last[seq]

    # -- maintenance ----------------------------------------------------------------
    def derive_again(self, conn: Connection, team: Team) -> None:
        """Replace the team's roll-ups, counters, balances and volume by the ledger's."""
        for delete in self.sql.clear_derived:
            conn.execute(delete, {"team_id": team.team_id})
        volume = 0
        for chunk in self._whole_ledger(conn, team.team_id):
            batch = Batch.of(team, chunk)
            volume += batch.volume
            self.add_figures(conn, team.team_id, batch)
        conn.execute(self.sql.set_volume, {"key_team": team.team_id, "new_volume": volume})

    def _whole_ledger(self, conn: Connection, team_id: str) -> Iterator[list[LedgerEntry]]:
        end = rows.micros(datetime.max.replace(tzinfo=UTC)) + 1
        decode = rows.EntryDecoder(team_id)
        for page in self.row_pages(conn, team_id, _BEFORE_TIME, end, REBUILD_PAGE):
            yield [decode(row) for row in page]

    def verify(self, team_id: str) -> list[str]:
        def work(conn: Connection) -> list[str]:
            reads = self.locked(conn, team_id)
            daily: defaultdict[DayKey, int] = defaultdict(int)
            counters: defaultdict[CycleKey, int] = defaultdict(int)
            balances: defaultdict[BalanceKey, Balance] = defaultdict(Balance)
            volume = 0
            for chunk in self._whole_ledger(conn, team_id):
                batch = Batch.of(reads.team, chunk)
                volume += batch.volume
                for day_key, credits in batch.daily.items():
                    daily[day_key] += credits
                for cycle_key, credits in batch.cycles.items():
                    counters[cycle_key] += credits
                for balance_key, delta in batch.balances.items():
                    balances[balance_key] = balances[balance_key].plus(
                        used=delta.used, granted=delta.granted
                    )
            stored = self._stored_figures(conn, team_id)
            problems = (
                drift("daily roll-up", stored.daily, daily, 0)
                + drift("cycle counter", stored.cycles, counters, 0)
                + drift("balance", stored.balances, balances, Balance())
            )
            if reads.volume() != volume:
                problems.append(f"volume: stored {reads.volume()}, ledger says {volume}")
            return sorted(problems)

        return self.store.transaction(f"verify team {team_id!r}", work, write=True)

    def rebuild(self, team_id: str) -> None:
        def work(conn: Connection) -> None:
            self.derive_again(conn, self.locked(conn, team_id).team)

        self.store.transaction(f"rebuild team {team_id!r}", work, write=True)

    def _stored_figures(self, conn: Connection, team_id: str) -> Batch:
        params = {"team_id": team_id}
        daily = {
            DayKey(day, user, group or None, feature, credit_type): int(credits)
            for day, user, group, feature, credit_type, credits in conn.execute(
                self.sql.all_daily, params
            )
        }
        cycles = {
            CycleKey(cycle, user, group or None, feature, credit_type): int(credits)
            for cycle, user, group, feature, credit_type, credits in conn.execute(
                self.sql.all_cycles, params
            )
        }
        balances = {
            BalanceKey(cycle, scope, subject, credit_type): Balance(int(used), int(granted))
            for cycle, scope, subject, credit_type, used, granted in conn.execute(
                self.sql.all_balances, params
            )
        }
        return Batch((), daily, cycles, balances)
