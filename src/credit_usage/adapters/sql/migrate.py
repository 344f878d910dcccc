"""Create the SQL storage's tables at the newest schema, or bring older ones up to date.

The migrations are an Alembic script directory shipped in this package
(``credit_usage/adapters/sql/migrations``). Each table prefix keeps its own
version table, ``{prefix}alembic_version``, so two prefixes in one database
never collide. Both functions work on a connection inside a transaction the
caller opened, and run every migration in it: on SQLite and PostgreSQL a
failed upgrade leaves nothing behind; MariaDB/MySQL commit each DDL statement
implicitly, so there an upgrade that fails half-way is not rolled back.

What each function does, by what the database holds for the prefix:

* no tables: :func:`create_schema` creates the newest tables and stamps
  :data:`HEAD`; :func:`upgrade_schema` runs every migration from the first.
* tables but no version table (release 0.1.0): both stamp the revision the
  tables match, then upgrade to :data:`HEAD`.
* an older revision: both upgrade to :data:`HEAD`.
* :data:`HEAD`: :func:`upgrade_schema` does nothing; :func:`create_schema`
  makes only tables that are missing (none: it only reads).
* a revision this release does not know (a newer release's): both raise
  :class:`~credit_usage.errors.StorageError` naming it, before any change.

A database that release 0.1.0 made has the tables but no version table (its
``create_schema()`` was ``metadata.create_all``); it is recognised by its
``{prefix}teams`` table. Which revision its tables match is read from the
teams' columns: ``ledger_volume`` came with 0002, ``features`` with 0003.

Alembic is imported inside the functions: ``import credit_usage`` stays fast.

Example:
    >>> import sqlalchemy as sa
    >>> from credit_usage.adapters.sql.schema import make_metadata
    >>> engine = sa.create_engine("sqlite://")
    >>> with engine.begin() as conn:
    ...     create_schema(conn, make_metadata("usage_"), "usage_")
    ...     current_revision(conn, "usage_") == HEAD
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.schema import DropTable

from credit_usage.adapters.sql.schema import is_mysql
from credit_usage.errors import StorageError, ValidationError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "HEAD",
    "REVISIONS",
    "create_schema",
    "current_revision",
    "drop_schema",
    "upgrade_schema",
    "version_table",
]

#: Every revision this release knows, oldest first (``tests/test_migrations.py``
#: checks it against the script directory).
REVISIONS: Final = (
    "0001_initial",
    "0002_team_scoped_keys",
    "0003_configurable_product",
    "0004_credit_limits",
    "0005_outbox",
)
#: The newest revision: the schema that ``schema.make_metadata`` describes.
HEAD: Final = REVISIONS[-1]
_INITIAL, _TEAM_SCOPED_KEYS, _CONFIGURABLE_PRODUCT, _CREDIT_LIMITS, _OUTBOX = REVISIONS
#: Tables release 0.1.0 made that migration 0002 drops (children first).
_RELEASE_0_1_0_ONLY: Final = (
    "{prefix}report_deliveries",
    "{prefix}report_schedules",
    "{prefix}credit_limits",
)
#: The Alembic script directory, shipped in the package (installed unzipped).
_SCRIPTS: Final = Path(__file__).resolve().parent / "migrations"


def version_table(prefix: str) -> str:
    """The name of the Alembic version table of the tables with ``prefix``."""
    return f"{prefix}alembic_version"


def current_revision(conn: Connection, prefix: str) -> str | None:
    """The revision stored in ``prefix``'s version table; ``None`` when it is absent or empty.

    Raises:
        StorageError: the version table holds more than one revision.
    """
    stored = _stored_revisions(conn, prefix)
    if len(stored) > 1:
        raise StorageError(
            f"the version table {version_table(prefix)!r} holds several revisions "
            f"{sorted(stored)!r}; credit_usage's migrations have one line of revisions"
        )
    return stored[0] if stored else None


def create_schema(conn: Connection, metadata: sa.MetaData, prefix: str) -> None:
    """Make the newest schema for ``prefix`` on ``conn``; idempotent.

    An empty database gets ``metadata``'s tables and the head revision in the
    version table. Tables already there are upgraded, as by
    :func:`upgrade_schema`, rather than stamped: a 0.1.0 database, whose host
    calls ``create_schema()`` at start-up as 0.1.0 advised, is brought up to
    date instead of being mislabelled as current (or refused, breaking every
    such host's next deploy). At the head revision only missing tables are
    made, as 0.1.0's ``create_schema()`` did: a complete current schema sees
    nothing but reads.

    Args:
        conn: a connection inside a transaction the caller commits.
        metadata: the tables for ``prefix`` and ``conn``'s dialect
            (``make_metadata(prefix, dialect=conn.dialect.name)``).
        prefix: the tables' prefix.

    Raises:
        StorageError: the schema is newer than this release knows (nothing changed).
        ValidationError: ``metadata`` is not for ``prefix`` and ``conn``'s dialect.
    """
    _check_metadata(conn, metadata, prefix)
    stored = _known_revision(conn, prefix)
    if stored == HEAD:
        # Only reads when every table is there; makes any that was dropped.
        metadata.create_all(conn)
        return
    if stored is None and _unversioned_revision(conn, prefix) is None:
        _begin_sqlite(conn)
        metadata.create_all(conn)
        _stamp(conn, prefix, HEAD)
        return
    _upgrade(conn, prefix, stored)


def upgrade_schema(conn: Connection, metadata: sa.MetaData, prefix: str) -> None:
    """Bring ``prefix``'s schema on ``conn`` to the newest revision; nothing when current.

    A database without a version table but with ``{prefix}teams`` (one
    release 0.1.0 made) is stamped with the revision its tables match, then
    upgraded. A database without the tables gets every migration from the
    first, which ends at the schema :func:`create_schema` makes.

    Args:
        conn: a connection inside a transaction the caller commits.
        metadata: the tables for ``prefix`` and ``conn``'s dialect; checked to
            match them, as the upgrade ends at them.
        prefix: the tables' prefix.

    Raises:
        StorageError: the schema is newer than this release knows (nothing changed).
        ValidationError: ``metadata`` is not for ``prefix`` and ``conn``'s dialect.
    """
    _check_metadata(conn, metadata, prefix)
    stored = _known_revision(conn, prefix)
    if stored != HEAD:
        _upgrade(conn, prefix, stored)


def drop_schema(conn: Connection, metadata: sa.MetaData, prefix: str) -> None:
    """Drop ``prefix``'s tables and its version table, and every team's data with them.

    The tables only 0.1.0 made (``credit_limits``, ``report_schedules``,
    ``report_deliveries``) go too, should a database not yet upgraded hold them.
    """
    _check_metadata(conn, metadata, prefix)
    names = (*(name.format(prefix=prefix) for name in _RELEASE_0_1_0_ONLY), version_table(prefix))
    for name in names:
        conn.execute(DropTable(sa.Table(name, sa.MetaData()), if_exists=True))
    metadata.drop_all(conn)


# -- how ----------------------------------------------------------------------------------
def _check_metadata(conn: Connection, metadata: sa.MetaData, prefix: str) -> None:
    daily = metadata.tables.get(f"{prefix}daily_usage")
    if f"{prefix}teams" not in metadata.tables or daily is None:
        raise ValidationError(f"the metadata does not hold the tables with prefix {prefix!r}")
    if ("cell_key" in daily.c) != is_mysql(conn.dialect.name):
        raise ValidationError(
            f"the metadata is not for the {conn.dialect.name!r} dialect; build it with "
            f"make_metadata({prefix!r}, dialect={conn.dialect.name!r})"
        )


def _stored_revisions(conn: Connection, prefix: str) -> tuple[str, ...]:
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(conn, opts={"version_table": version_table(prefix)})
    return context.get_current_heads()


def _known_revision(conn: Connection, prefix: str) -> str | None:
    """The stored revision, refused (before anything changes) unless this release knows it."""
    stored = current_revision(conn, prefix)
    if stored is not None and stored not in REVISIONS:
        raise StorageError(
            f"the tables with prefix {prefix!r} are at schema revision {stored!r}, "
            f"which this release of credit_usage does not know (its newest is {HEAD!r}): "
            "a newer release made them; upgrade credit_usage rather than downgrade the schema"
        )
    return stored


def _unversioned_revision(conn: Connection, prefix: str) -> str | None:
    """The revision that tables without a version table match; ``None`` when there are none."""
    inspector = sa.inspect(conn)
    if not inspector.has_table(f"{prefix}teams"):
        return None
    columns = {column["name"] for column in inspector.get_columns(f"{prefix}teams")}
    if "features" in columns:
        if inspector.has_table(f"{prefix}limit_alerts"):
            return _OUTBOX
        limits = inspector.has_table(f"{prefix}credit_limits")
        return _CREDIT_LIMITS if limits else _CONFIGURABLE_PRODUCT
    if "ledger_volume" in columns:
        return _TEAM_SCOPED_KEYS
    return _INITIAL


def _upgrade(conn: Connection, prefix: str, stored: str | None) -> None:
    from alembic import command

    _begin_sqlite(conn)
    config = _config(conn, prefix)
    if stored is None:
        unversioned = _unversioned_revision(conn, prefix)
        if unversioned is not None:
            command.stamp(config, unversioned)
    command.upgrade(config, HEAD)


def _stamp(conn: Connection, prefix: str, revision: str) -> None:
    from alembic import command

    command.stamp(_config(conn, prefix), revision)


def _config(conn: Connection, prefix: str) -> Config:
    from alembic.config import Config

    config = Config()
    # The option goes through ConfigParser interpolation: "%" must be doubled.
    config.set_main_option("script_location", str(_SCRIPTS).replace("%", "%%"))
    config.attributes["connection"] = conn
    config.attributes["table_prefix"] = prefix
    return config


def _begin_sqlite(conn: Connection) -> None:
    """Make sure the DDL to come runs inside the caller's transaction on SQLite.

    The ``sqlite3`` driver begins a transaction only before an INSERT, UPDATE
    or DELETE, so in a transaction opened with ``engine.begin()`` a CREATE,
    DROP or ALTER would commit at once. ``BEGIN`` opens the transaction the
    caller's commit or rollback then ends; a connection whose transaction has
    begun already (``SqlStorage`` begins with ``BEGIN IMMEDIATE``) is left as is.
    """
    if conn.dialect.name != "sqlite":
        return
    dbapi_connection = conn.connection.dbapi_connection
    if dbapi_connection is not None and not getattr(dbapi_connection, "in_transaction", True):
        conn.exec_driver_sql("BEGIN")
