"""SqlStorage: the storage port on SQLAlchemy 2 Core, for SQLite, PostgreSQL and MariaDB.

It composes the pieces of this package: the tables (``schema``), the
backend's behaviour (``dialect`` and one module per backend), connections,
transactions and errors (``datastore``), and the two recorders, ``directory``
(teams, groups, members) and ``ledger`` (reads, appends, derived figures).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from credit_usage.adapters.credentials import mask_url, redact, url_secrets
from credit_usage.adapters.sql import migrate
from credit_usage.adapters.sql.datastore import BoundDatastore, Datastore
from credit_usage.adapters.sql.dialect import dialect_for
from credit_usage.adapters.sql.directory import DirectoryRecorder
from credit_usage.adapters.sql.ledger import LedgerRecorder
from credit_usage.adapters.sql.schema import (
    DEFAULT_PREFIX,
    MYSQL_DIALECTS,
    Tables,
    is_mysql,
    make_metadata,
    metadata,
)
from credit_usage.domain.model import Group, Member, Team
from credit_usage.errors import StorageError, ValidationError
from credit_usage.ports import Query, WritePlan

__all__ = ["SqlStorage"]

T = TypeVar("T")

_EXTRAS = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}


@functools.lru_cache(maxsize=64)
def _shared_metadata(prefix: str, mysql: bool) -> sa.MetaData:
    """The tables for ``prefix``, shared by every storage using it (building them takes ms)."""
    if prefix == DEFAULT_PREFIX and not mysql:
        return metadata
    return make_metadata(prefix, dialect=MYSQL_DIALECTS[0] if mysql else None)


def _is_memory_sqlite(url: sa.URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or url.query.get("mode") == "memory"


class SqlStorage:
    """Teams, members and the ledger in SQL tables; implements :class:`~credit_usage.ports.Storage`.

    Thread-safe: every call takes its own connection from the engine's pool
    and runs in one transaction. A host's own engine is left as it was: the
    storage changes no setting of it or of its connections.

    Args:
        engine: a SQLAlchemy engine for SQLite, PostgreSQL (psycopg 3) or
            MariaDB/MySQL (PyMySQL).
        table_prefix: prepended to every table name, so the tables can live
            beside a host's own.

    Attributes:
        engine: the engine given.
        table_prefix: the prefix given.
        metadata: the tables, as :meth:`create_schema` makes them on the
            engine's dialect, for a host's migrations.

    Example:
        >>> storage = SqlStorage.from_url("sqlite://", table_prefix="usage_")
        >>> storage.create_schema()
        >>> sorted(storage.metadata.tables)[0]
        'usage_balances'
    """

    def __init__(self, engine: Engine, *, table_prefix: str = DEFAULT_PREFIX) -> None:
        if not isinstance(engine, Engine):
            raise ValidationError(
                f"engine must be a SQLAlchemy Engine, got {engine!r}", field="engine"
            )
        dialect = dialect_for(engine)
        self.metadata = _shared_metadata(table_prefix, is_mysql(engine.dialect.name))
        self.engine = engine
        self.table_prefix = table_prefix
        self._store = Datastore(engine, dialect)
        tables = Tables(self.metadata, table_prefix)
        self._ledger = LedgerRecorder(self._store, tables)
        self._directory = DirectoryRecorder(self._store, tables, self._ledger)

    @classmethod
    def from_url(
        cls, url: str | sa.URL, *, table_prefix: str = DEFAULT_PREFIX, **engine_kwargs: Any
    ) -> SqlStorage:
        """A storage on a new engine for ``url``, set up for the library.

        ``sqlite:///path/usage.db`` (a file: WAL journal, 30 s busy timeout,
        foreign keys on), ``sqlite://`` (in memory, one connection shared by
        all threads), ``postgresql+psycopg://user:password@host/db``,
        ``mysql+pymysql://user:password@host/db`` (sessions in strict SQL mode).

        Args:
            url: a SQLAlchemy database URL.
            table_prefix: prepended to every table name.
            engine_kwargs: passed to :func:`sqlalchemy.create_engine`.

        Raises:
            ValidationError: ``url`` is not a database URL or names an unknown dialect.
            StorageError: the database driver is not installed.
        """
        try:
            parsed = sa.make_url(url)
        except (SQLAlchemyError, ValueError, TypeError) as exc:
            raise ValidationError(
                f"not a database URL: {mask_url(str(url))!r} (expected e.g. "
                "'sqlite:///usage.db' or 'postgresql+psycopg://user@host/db')",
                field="url",
            ) from exc
        rendered = parsed.render_as_string(hide_password=False)
        # The text as typed too: SQLAlchemy misreads a raw "@" in a password,
        # and the driver then echoes pieces of it as the host's name.
        secrets = url_secrets(rendered) + (url_secrets(url) if isinstance(url, str) else ())
        shown = mask_url(rendered)
        kwargs = dict(engine_kwargs)
        if parsed.get_backend_name() == "sqlite" and _is_memory_sqlite(parsed):
            kwargs.setdefault("poolclass", StaticPool)
            kwargs.setdefault("connect_args", {"check_same_thread": False})
        try:
            engine = sa.create_engine(parsed, **kwargs)
        except sa.exc.NoSuchModuleError as exc:
            raise ValidationError(
                f"unknown database dialect in {shown!r}: {redact(str(exc), secrets)}",
                field="url",
            ) from exc
        except ImportError as exc:
            extra = _EXTRAS.get(parsed.get_backend_name(), "")
            hint = f"; install it with: pip install 'credit_usage[{extra}]'" if extra else ""
            raise StorageError(
                f"the database driver for {shown!r} is not installed "
                f"({redact(str(exc), secrets)}){hint}",
                operation="load the database driver",
            ) from exc
        except (SQLAlchemyError, TypeError) as exc:
            raise ValidationError(
                f"cannot build an engine for {shown!r}: {redact(str(exc), secrets)}",
                field="url",
            ) from exc
        dialect_for(engine).configure_engine(engine)
        storage = cls(engine, table_prefix=table_prefix)
        storage._store.hide(secrets)
        return storage

    def bind(self, connection: Connection) -> SqlStorage:
        """This storage inside a host's open transaction on ``connection``.

        Every call of the storage returned runs as a savepoint of that
        transaction: the host's rows and the usage it records commit together
        or roll back together, and a write the library refuses (a limit, an
        idempotency conflict) rolls back only its savepoint, leaving the
        host's transaction usable. The host's isolation level applies,
        nothing is retried, and the team's row stays locked from the first
        write until the host's transaction ends. Make one per transaction::

            with engine.begin() as connection:
                connection.execute(orders.insert(), order)
                app = CreditUsage(storage.bind(connection))
                app.record_usage(...)

        Raises:
            ValidationError: ``connection`` is no SQLAlchemy ``Connection``, or
                is of another database family than the storage's tables; a
                call on the bound storage raises it when the connection is
                closed or has no transaction.
        """
        if not isinstance(connection, Connection):
            raise ValidationError(
                f"connection must be a SQLAlchemy Connection, got {connection!r}",
                field="connection",
            )
        if is_mysql(connection.dialect.name) != is_mysql(self.engine.dialect.name):
            raise ValidationError(
                f"a connection of the {connection.dialect.name!r} dialect cannot hold tables "
                f"made for {self.engine.dialect.name!r}",
                field="connection",
            )
        store = BoundDatastore(connection, dialect_for(connection.engine), self._store.secrets)
        bound = copy.copy(self)
        bound.engine = connection.engine
        bound._store = store
        bound._ledger = self._ledger.using(store)
        bound._directory = self._directory.using(store, bound._ledger)
        return bound

    @property
    def bound(self) -> bool:
        """Whether this storage works inside a host's transaction (see :meth:`bind`)."""
        return isinstance(self._store, BoundDatastore)

    def __repr__(self) -> str:
        return f"SqlStorage({self._store.shown_url!r}, table_prefix={self.table_prefix!r})"

    # -- schema -----------------------------------------------------------------------
    def create_schema(self) -> None:
        """Create the newest tables, or bring older ones (release 0.1.0's too) up to date.

        Idempotent: on a current schema it changes nothing. The schema's
        revision is kept in the table ``<prefix>alembic_version``.

        Raises:
            StorageError: the database holds a schema newer than this library.
            ValidationError: the storage is bound to a host's transaction
                (migrate on the engine, where DDL may commit on its own).
        """
        self._migrate("create the tables", migrate.create_schema)

    def upgrade_schema(self) -> None:
        """Bring the tables to the newest schema; nothing when they are current.

        Raises:
            StorageError: the database holds a schema newer than this library.
            ValidationError: the storage is bound to a host's transaction.
        """
        self._migrate("upgrade the tables", migrate.upgrade_schema)

    def drop_schema(self) -> None:
        """Drop the tables and their version table, and every team's data with them."""
        self._migrate("drop the tables", migrate.drop_schema)

    def _migrate(self, doing: str, step: Callable[[Connection, sa.MetaData, str], None]) -> None:
        if self.bound:
            raise ValidationError(
                f"cannot {doing} inside a host's transaction; call it on a storage of the "
                "engine (SqlStorage(engine)) or run the migrations with your own Alembic",
                field="connection",
            )
        # Not run again on a deadlock: on MariaDB each DDL statement commits on its own.
        self._store.transaction(
            doing,
            lambda conn: step(conn, self.metadata, self.table_prefix),
            write=True,
            retry=False,
        )

    # -- teams, groups, members -------------------------------------------------------
    def add_team(self, team: Team) -> None:
        """Store a new team. Raises ``AlreadyExistsError`` if its id is taken."""
        self._directory.add_team(team)

    def update_team(self, team: Team) -> None:
        """Replace a team; a new time zone or billing schedule re-derives its figures."""
        self._directory.update_team(team)

    def add_group(self, group: Group) -> None:
        """Store a new group. Raises ``AlreadyExistsError`` if its id is taken in the team."""
        self._directory.add_group(group)

    def add_member(self, member: Member) -> None:
        """Store a new member. Raises ``AlreadyExistsError`` if the user is in the team."""
        self._directory.add_member(member)

    def update_member(self, member: Member) -> None:
        """Replace a member. Raises ``NotFoundError`` if the user is not in the team."""
        self._directory.update_member(member)

    # -- one transaction per call -------------------------------------------------------
    def read(self, team_id: str, query: Query[T]) -> T:
        """Run ``query`` in one read transaction of the team; see the port ``Ledger``."""
        return self._ledger.read(team_id, query)

    def due_teams(self, now: datetime) -> list[str]:
        """The teams with a report due or an alert to deliver (see the port ``Outbox``)."""
        return self._ledger.outbox.due_teams(now)

    def append(self, team_id: str, plan: WritePlan[T]) -> T:
        """Run ``plan`` with the team locked and write its batch; see the port ``Ledger``."""
        return self._ledger.append(team_id, plan)

    # -- maintenance --------------------------------------------------------------------
    def verify(self, team_id: str) -> list[str]:
        """Differences between the stored roll-ups, counters, balances and volume and the ledger.

        Runs with the team's write lock held, so that concurrent writes cannot
        show up as drift.

        Returns:
            One line per differing figure, sorted; empty when they agree.

        Raises:
            NotFoundError: the team does not exist.
        """
        return self._ledger.verify(team_id)

    def rebuild(self, team_id: str) -> None:
        """Derive the team's roll-ups, counters, balances and volume from the ledger again.

        Raises:
            NotFoundError: the team does not exist.
        """
        self._ledger.rebuild(team_id)
