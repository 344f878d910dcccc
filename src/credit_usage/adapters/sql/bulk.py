"""Bulk writes: many rows of one table in one statement.

SQLAlchemy's executemany builds the bind parameters of each row in Python,
several microseconds a row, and a batch of 10,000 ledger entries writes some
30,000 rows. So a :class:`BulkWriter` compiles its statement once per
dialect, after the dialect has met its server, and hands the rows -- tuples in
the order of the writer's ``columns`` -- to the driver through
:meth:`Connection.exec_driver_sql`, with only the bind processors the dialect
needs (SQLite's dates, say):

* SQLite and MariaDB: the driver's ``executemany`` (PyMySQL folds it into
  multi-row ``VALUES``);
* PostgreSQL: one ``INSERT ... SELECT FROM unnest(<one array per column>)``,
  which the server runs as a single statement instead of once per row.

The cursor events fire as for any statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.compiler import SQLCompiler

from credit_usage.adapters.sql.dialect import SqlDialect

__all__ = ["BulkWriter"]


class BulkWriter:
    """An INSERT (or, with ``key``, an additive upsert) of rows of ``columns``.

    With ``key``, a row whose key is stored already adds its ``add`` columns
    to the stored ones (``ON CONFLICT DO UPDATE`` / ``ON DUPLICATE KEY UPDATE``).
    """

    def __init__(
        self,
        table: sa.Table,
        columns: Sequence[str],
        dialect: SqlDialect,
        *,
        key: Sequence[str] = (),
        add: Sequence[str] = (),
    ) -> None:
        missing = set(table.c.keys()) - set(columns)
        if missing:
            raise ValueError(f"rows of {table.name} must carry every column, missing {missing}")
        self.table = table
        self.columns = tuple(columns)
        self._dialect = dialect
        self._key = tuple(key)
        self._add = tuple(add)
        self._compiled: tuple[Dialect, str, list[int] | None, list[tuple[int, Any]]] | None = None

    def statement(self) -> sa.Executable:
        """The Core statement, with one bind parameter per column."""
        table, dialect = self.table, self._dialect
        if dialect.column_arrays:
            arrays = [
                sa.cast(sa.bindparam(name), postgresql.ARRAY(table.c[name].type))
                for name in self.columns
            ]
            rows = sa.func.unnest(*arrays).table_valued(*self.columns).render_derived()
            insert = dialect.insert(table).from_select(
                list(self.columns), sa.select(*[rows.c[name] for name in self.columns])
            )
            if not self._key:
                return insert  # type: ignore[no-any-return]
            statement: sa.Executable = insert.on_conflict_do_update(
                index_elements=list(self._key),
                set_={c: table.c[c] + insert.excluded[c] for c in self._add},
            )
            return statement
        if self._key:
            return dialect.upsert(table, self._key, self._add)
        return dialect.insert(table)  # type: ignore[no-any-return]

    def _compile(self, dialect: Dialect) -> tuple[str, list[int] | None, list[tuple[int, Any]]]:
        compiled = self._compiled
        if compiled is not None and compiled[0] is dialect:
            return compiled[1], compiled[2], compiled[3]
        statement = self.statement()
        assert isinstance(statement, sa.sql.ClauseElement)
        sql = statement.compile(dialect=dialect, column_keys=list(self.columns))
        assert isinstance(sql, SQLCompiler)
        order: list[int] | None = None
        if sql.positional:
            position = {name: i for i, name in enumerate(self.columns)}
            order = [position[name] for name in sql.positiontup or ()]
            if order == list(range(len(self.columns))):
                order = None
        processors = [
            (i, processor)
            for i, name in enumerate(self.columns)
            if (processor := self.table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
            is not None
        ]
        text = str(sql)
        if self._dialect.column_arrays and dialect.driver == "psycopg":
            # The arrays travel in psycopg's binary format: its text format
            # quotes every element through a regular expression, a third of a
            # 10,000-entry batch's time.
            for name in self.columns:
                text = text.replace(f"%({name})s", f"%({name})b")
        self._compiled = (dialect, text, order, processors)
        return text, order, processors

    def arrays(self, dialect: Dialect, rows: list[tuple[object, ...]]) -> dict[str, list[object]]:
        """``rows`` as one list per column, keyed by column name (PostgreSQL's parameters)."""
        _, _, processors = self._compile(dialect)
        return {
            name: list(column)
            for name, column in zip(self.columns, _converted(rows, processors), strict=True)
        }

    def run(self, conn: Connection, rows: list[tuple[object, ...]]) -> None:
        """Write ``rows`` (tuples in the order of ``columns``) in one statement."""
        if not rows:
            return
        dialect = conn.dialect
        sql, order, processors = self._compile(dialect)
        if self._dialect.column_arrays:
            conn.exec_driver_sql(sql, self.arrays(dialect, rows))
            return
        if processors:
            columns = _converted(rows, processors)
            if order is not None:
                columns = [columns[i] for i in order]
                order = None
            rows = list(zip(*columns, strict=True))
        params: list[Any] = rows
        if not dialect.positional:
            params = [dict(zip(self.columns, row, strict=True)) for row in rows]
        elif order is not None:
            params = [tuple(row[i] for i in order) for row in rows]
        conn.exec_driver_sql(sql, params)


def _converted(
    rows: list[tuple[object, ...]], processors: list[tuple[int, Any]]
) -> list[Sequence[object]]:
    """``rows`` column by column, each column passed through its bind processor, if any.

    A batch holds few distinct days and cycles, so each value is converted once.
    """
    columns: list[Sequence[object]] = list(zip(*rows, strict=True))
    for i, processor in processors:
        memo: dict[object, object] = {}
        columns[i] = [
            memo[v] if v in memo else memo.setdefault(v, processor(v)) for v in columns[i]
        ]
    return columns


class ChainedWrites:
    """Bulk writes and a closing statement sent as one PostgreSQL statement.

    Each writer's ``INSERT ... SELECT FROM unnest(...)`` becomes a
    data-modifying ``WITH`` clause of the closing statement, its parameters
    renamed apart: the server runs every clause exactly once, in one
    snapshot, and the client waits for one reply instead of one per table.
    An append writes four tables and moves the team's position: one round
    trip instead of five. The writers must touch distinct tables (a row may
    be changed once per statement).
    """

    def __init__(self, writers: Sequence[BulkWriter], closing: sa.Executable) -> None:
        self._writers = tuple(writers)
        self._closing = closing
        self._texts: dict[tuple[Dialect, tuple[int, ...]], str] = {}

    def _text(self, dialect: Dialect, present: tuple[int, ...]) -> str:
        text = self._texts.get((dialect, present))
        if text is None:
            clauses = []
            for i in present:
                writer = self._writers[i]
                sql, _, _ = writer._compile(dialect)
                for name in writer.columns:
                    sql = sql.replace(f"%({name})b", f"%(w{i}_{name})b")
                clauses.append(f"w{i} AS ({sql})")
            closing = str(self._closing.compile(dialect=dialect))  # type: ignore[attr-defined]
            text = f"WITH {', '.join(clauses)} {closing}" if clauses else closing
            self._texts[(dialect, present)] = text
        return text

    def run(
        self,
        conn: Connection,
        rows: Sequence[list[tuple[object, ...]]],
        params: dict[str, object],
    ) -> None:
        """Write ``rows[i]`` with writer ``i`` (empty lists left out); close with ``params``."""
        dialect = conn.dialect
        present = tuple(i for i, r in enumerate(rows) if r)
        values = dict(params)
        for i in present:
            writer = self._writers[i]
            for name, column in writer.arrays(dialect, rows[i]).items():
                values[f"w{i}_{name}"] = column
        conn.exec_driver_sql(self._text(dialect, present), values)
