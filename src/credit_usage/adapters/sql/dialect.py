"""What differs between SQL backends, chosen once when a storage is built.

:class:`SqlDialect` holds the defaults; each backend's module overrides what
it does differently -- how a transaction begins, how rows are upserted, which
errors are worth retrying, how an engine the storage made itself is set up --
so no other module asks which database it talks to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from credit_usage.errors import ValidationError

__all__ = ["SqlDialect", "dialect_for"]


class SqlDialect:
    """The behaviour of one family of backends; subclasses override what differs."""

    #: SQLAlchemy dialect names this class serves.
    names: ClassVar[tuple[str, ...]] = ()
    #: Ids per ``IN (...)`` list: well below every backend's parameter limit.
    in_chunk: ClassVar[int] = 500
    #: Whether bulk writes send one array per column (``unnest``) rather than
    #: a list of rows to the driver's ``executemany``.
    column_arrays: ClassVar[bool] = False

    def configure_engine(self, engine: Engine) -> None:
        """Set up an engine the storage created itself (never a host's engine)."""

    def begin(self, conn: Connection, *, write: bool) -> None:
        """Start the transaction ``conn`` has just begun: a write or a read of one state.

        Called as the transaction's first statement. A write must hold the
        team's lock from its first read on (the recorders lock the team's row);
        a read must see one snapshot from its first statement to its last.
        """

    def finish(self, conn: Connection) -> None:
        """Undo what :meth:`begin` set on the connection, once its transaction has ended.

        The connection goes back to the pool as the engine's owner left it.
        """

    def join(self, conn: Connection, *, write: bool) -> None:
        """Prepare a host's connection, inside the host's transaction, for a call's savepoint."""

    def insert(self, table: sa.Table) -> Any:
        """An INSERT of ``table`` with the backend's upsert clause available."""
        raise NotImplementedError

    def upsert(self, table: sa.Table, key: Sequence[str], add: Sequence[str]) -> sa.Executable:
        """An INSERT that, where ``key`` is stored already, adds the ``add`` columns to it."""
        insert = self.insert(table)
        statement: sa.Executable = insert.on_conflict_do_update(
            index_elements=list(key),
            set_={c: table.c[c] + insert.excluded[c] for c in add},
        )
        return statement

    def one_of(self, column: sa.ColumnElement[Any], name: str) -> sa.ColumnElement[bool]:
        """``column`` is one of the values of the list parameter ``name``.

        An expanding ``IN (...)``: SQLAlchemy renders one placeholder per value.
        """
        return column.in_(sa.bindparam(name, expanding=True))

    def retryable(self, error: BaseException) -> bool:
        """Whether the driver's ``error`` aborted a transaction that may simply run again.

        Deadlocks and serialization failures: the database rolled back one
        transaction to let another go on; nothing of it was written.
        """
        return False

    def before_long_lists(self, conn: Connection, listed: int) -> None:
        """Prepare ``conn`` for statements with ``IN`` lists of ``listed`` parameters."""


def dialect_for(engine: Engine) -> SqlDialect:
    """The :class:`SqlDialect` of ``engine``.

    Raises:
        ValidationError: the engine's backend is not one the storage supports.
    """
    # Imported here: each backend module subclasses SqlDialect from this one.
    from credit_usage.adapters.sql.mysql import MySqlDialect
    from credit_usage.adapters.sql.postgresql import CockroachDialect, PostgresDialect
    from credit_usage.adapters.sql.sqlite import SqliteDialect

    name = engine.dialect.name
    for cls in (SqliteDialect, PostgresDialect, CockroachDialect, MySqlDialect):
        if name in cls.names:
            return cls()
    raise ValidationError(
        "SqlStorage supports SQLite, PostgreSQL (and Citus, CockroachDB) and "
        f"MariaDB/MySQL, got an engine of the {name!r} dialect",
        field="engine",
    )
