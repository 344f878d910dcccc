"""SQLite: the embedded default.

Transactions are begun explicitly, as the first statement on the connection,
which the ``sqlite3`` driver honours without changing how it treats the
host's own transactions on the same engine: ``BEGIN IMMEDIATE`` for a write
takes the database's write lock at once, so the team is locked from the
write's first read to its commit (waiting up to the busy timeout behind
another writer); a plain ``BEGIN`` for a read gives every statement of the
read one snapshot (in WAL mode, readers and the writer do not wait for each
other).
"""

from __future__ import annotations

from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine

from credit_usage.adapters.sql.dialect import SqlDialect

__all__ = ["BUSY_TIMEOUT_MS", "SqliteDialect"]

#: How long a writer waits for another writer's lock, on engines the storage makes.
BUSY_TIMEOUT_MS = 30_000


def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # The busy timeout first: switching to WAL may have to wait for a lock.
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        # Readers and a writer proceed together; ":memory:" answers "memory".
        cursor.execute("PRAGMA journal_mode = WAL")
    finally:
        cursor.close()


class SqliteDialect(SqlDialect):
    """SQLite through the standard library's ``sqlite3`` driver."""

    names: ClassVar[tuple[str, ...]] = ("sqlite",)

    def configure_engine(self, engine: Engine) -> None:
        # Only on engines the storage made: WAL is a property of the database
        # file and foreign keys one of the connection, both the host's to choose.
        if not event.contains(engine, "connect", _on_connect):
            event.listen(engine, "connect", _on_connect)

    def begin(self, conn: Connection, *, write: bool) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    def join(self, conn: Connection, *, write: bool) -> None:
        # The driver begins a transaction only before a data-changing statement,
        # and a SAVEPOINT outside one would begin one that RELEASE commits: so
        # begin the host's transaction now if the host has not written yet, a
        # write taking the database's write lock at once.
        if not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    def insert(self, table: sa.Table) -> Any:
        return sqlite.insert(table)
