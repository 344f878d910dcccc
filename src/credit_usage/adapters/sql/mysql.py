"""MariaDB (and MySQL) through PyMySQL.

A write runs at ``READ COMMITTED``: InnoDB then takes no gap locks for its
reads, and with every key leading with ``team_id`` (see ``schema``) writers
of different teams lock disjoint rows. A read runs at ``REPEATABLE READ``,
read only, from one consistent snapshot. Deadlocks that InnoDB still reports
(error 1213) roll back one transaction, which is run again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Final

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection, Engine

from credit_usage.adapters.sql.dialect import SqlDialect

__all__ = ["STRICT_MODE", "MySqlDialect"]

#: ER_LOCK_DEADLOCK: the transaction was rolled back to break a deadlock.
_DEADLOCK: Final = 1213
#: Added to the session's ``sql_mode`` on engines the storage makes: a value
#: that does not fit its column is an error, never silently cut.
STRICT_MODE: Final = "STRICT_ALL_TABLES"


def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(
            "SET SESSION sql_mode = "
            f"CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), '{STRICT_MODE}')"
        )
    finally:
        cursor.close()


class MySqlDialect(SqlDialect):
    """MariaDB 10.4+ (the tested target) and MySQL."""

    names: ClassVar[tuple[str, ...]] = ("mysql", "mariadb")

    def configure_engine(self, engine: Engine) -> None:
        if not event.contains(engine, "connect", _on_connect):
            event.listen(engine, "connect", _on_connect)

    def begin(self, conn: Connection, *, write: bool) -> None:
        # Applies to the transaction the next statement starts.
        conn.exec_driver_sql(
            "SET TRANSACTION ISOLATION LEVEL READ COMMITTED"
            if write
            else "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
        )

    def insert(self, table: sa.Table) -> Any:
        return mysql.insert(table)

    def upsert(self, table: sa.Table, key: Sequence[str], add: Sequence[str]) -> sa.Executable:
        insert = self.insert(table)
        statement: sa.Executable = insert.on_duplicate_key_update(
            {c: table.c[c] + insert.inserted[c] for c in add}
        )
        return statement

    def retryable(self, error: BaseException) -> bool:
        args: tuple[object, ...] = getattr(error, "args", ())
        return bool(args) and args[0] == _DEADLOCK
