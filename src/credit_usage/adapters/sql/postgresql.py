"""PostgreSQL (psycopg 3), and the databases that speak its dialect.

A write runs at ``READ COMMITTED`` whatever the engine's default: each of its
statements sees what the previous holder of the team's row lock committed.
A read runs at ``REPEATABLE READ``, read only: one snapshot for all its
statements, and never a serialization failure.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from credit_usage.adapters.sql.dialect import SqlDialect

__all__ = ["CockroachDialect", "PostgresDialect"]

#: SQLSTATEs of a transaction the server aborted so another could go on.
_RETRYABLE: Final = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
#: PostgreSQL hashes a constant ``IN`` list from this many items on.
_HASHED_LIST: Final = 9
#: Where a connection keeps the isolation level and read-only flag begin() replaced.
_SAVED: Final = "credit_usage.saved_transaction_characteristics"


def _idle(raw: Any) -> bool:
    """Whether the psycopg connection ``raw`` is outside any transaction (status IDLE)."""
    return bool(raw.info.transaction_status == 0)


class PostgresDialect(SqlDialect):
    """PostgreSQL, Citus included."""

    names: ClassVar[tuple[str, ...]] = ("postgresql",)
    # 65,535 parameters a statement: without statistics yet the planner may
    # filter the team's rows against the list, so fewer, longer lists.
    in_chunk: ClassVar[int] = 10_000
    column_arrays: ClassVar[bool] = True

    def begin(self, conn: Connection, *, write: bool) -> None:
        raw = conn.connection.driver_connection
        if conn.dialect.driver == "psycopg" and raw is not None and _idle(raw):
            from psycopg import IsolationLevel  # the driver in use: imported already

            # psycopg states both in the BEGIN it sends with the first
            # statement: no round trip of its own (see finish()).
            conn.info[_SAVED] = (raw.isolation_level, raw.read_only)
            raw.isolation_level = (
                IsolationLevel.READ_COMMITTED if write else IsolationLevel.REPEATABLE_READ
            )
            raw.read_only = not write
            return
        conn.exec_driver_sql(
            "SET TRANSACTION ISOLATION LEVEL READ COMMITTED"
            if write
            else "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
        )

    def finish(self, conn: Connection) -> None:
        saved = conn.info.pop(_SAVED, None)
        if saved is None or conn.closed or conn.invalidated:
            return
        raw = conn.connection.driver_connection
        if raw is not None and _idle(raw):
            raw.isolation_level, raw.read_only = saved

    def insert(self, table: sa.Table) -> Any:
        return postgresql.insert(table)

    def one_of(self, column: sa.ColumnElement[Any], name: str) -> sa.ColumnElement[bool]:
        """``column = ANY(:name)``: one array parameter, whatever the list's length.

        An expanding ``IN`` of 10,000 entry ids is rendered, sent and parsed
        as a statement with 10,000 placeholders for every batch.
        """
        return column == sa.any_(sa.bindparam(name, type_=postgresql.ARRAY(column.type)))

    def retryable(self, error: BaseException) -> bool:
        return getattr(error, "sqlstate", None) in _RETRYABLE

    def before_long_lists(self, conn: Connection, listed: int) -> None:
        """Plan this transaction's statements for their actual values.

        psycopg prepares a statement it has run five times, and PostgreSQL may
        then reuse a generic plan. For a long ``IN (...)`` list of parameters a
        generic plan cannot hash the list, and on a table without statistics
        yet (a first import) it filters every row of the team against the
        list, one by one: a 10,000-entry ``record_many`` took seconds. Custom
        plans cost a little planning and fix that.
        """
        if listed >= _HASHED_LIST:
            conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")


class CockroachDialect(PostgresDialect):
    """CockroachDB through its SQLAlchemy dialect: PostgreSQL without ``unnest`` bulk writes."""

    names: ClassVar[tuple[str, ...]] = ("cockroachdb",)
    column_arrays: ClassVar[bool] = False

    def begin(self, conn: Connection, *, write: bool) -> None:
        # CockroachDB runs every transaction SERIALIZABLE; aborted ones are retried.
        return

    def before_long_lists(self, conn: Connection, listed: int) -> None:
        return
