"""SQL storages for the test suite: SQLite files, PostgreSQL and MariaDB databases.

``tests/conftest.py`` asks :func:`sql_storage_factory` for a factory of empty
storages of one kind. SQLite gets a new file per storage in the test's
``tmp_path``. PostgreSQL (127.0.0.1:5432, user ``postgres``) and MariaDB
(127.0.0.1:3306, user ``root``) get one scratch database per test session,
named ``credit_usage_test_<pid>_<random>`` and dropped when the session ends;
inside it each storage has its own table prefix (``t1_``, ``t2_``, ...) and its
tables are dropped after the test.

An unreachable server skips the test with the reason, or fails it when
``CREDIT_USAGE_REQUIRE_DATABASES=1`` (as ``.ci/run`` sets).
"""

from __future__ import annotations

import gc
import itertools
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from credit_usage import SqlStorage, Storage

__all__ = ["SQL_KINDS", "SqlStorageFactory", "server_url", "sql_storage_factory"]

#: The SQL storage kinds, in the order the suite runs them.
SQL_KINDS = ["sqlite", "postgres", "mariadb"]

SqlStorageFactory = Callable[[], SqlStorage]


@dataclass(frozen=True)
class _Server:
    label: str
    admin_url: str
    url: str  # with {database} to fill in
    create: str  # with {database} to fill in
    drop: str


_SERVERS = {
    "postgres": _Server(
        label="PostgreSQL at 127.0.0.1:5432",
        admin_url="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        # Durability is no concern in a scratch database; commits need not wait for fsync.
        url="postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
        "?options=-c%20synchronous_commit%3Doff",
        create='CREATE DATABASE "{database}"',
        # FORCE ends connections a failed test may have leaked (PostgreSQL 13+).
        drop='DROP DATABASE IF EXISTS "{database}" WITH (FORCE)',
    ),
    "mariadb": _Server(
        label="MariaDB at 127.0.0.1:3306",
        admin_url="mysql+pymysql://root@127.0.0.1:3306/",
        url="mysql+pymysql://root@127.0.0.1:3306/{database}?charset=utf8mb4",
        create="CREATE DATABASE `{database}` CHARACTER SET utf8mb4",
        drop="DROP DATABASE IF EXISTS `{database}`",
    ),
}


@dataclass
class _Database:
    """The session's scratch database on one server, or why the server is unreachable."""

    url: str | None = None
    unreachable: str | None = None
    prefixes: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    #: Table prefixes whose tables exist and are empty, ready for the next storage.
    clean: list[str] = field(default_factory=list)


#: One scratch database per server kind for the whole session.
_databases: dict[str, _Database] = {}


def _admin_engine(server: _Server) -> sa.Engine:
    # CREATE/DROP DATABASE cannot run inside a transaction on PostgreSQL.
    return sa.create_engine(
        server.admin_url,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": 5},
    )


def _session_database(kind: str, config: pytest.Config) -> _Database:
    database = _databases.get(kind)
    if database is not None:
        return database
    server = _SERVERS[kind]
    name = f"credit_usage_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = _admin_engine(server)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(server.create.format(database=name))
    except sa.exc.SQLAlchemyError as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
        database = _Database(unreachable=f"{server.label} is unreachable: {reason}")
    else:
        database = _Database(url=server.url.format(database=name))
        config.add_cleanup(lambda: _drop_database(server, name))
    finally:
        admin.dispose()
    _databases[kind] = database
    return database


def _drop_database(server: _Server, name: str) -> None:
    admin = _admin_engine(server)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(server.drop.format(database=name))
    finally:
        admin.dispose()


def server_url(kind: str, request: pytest.FixtureRequest) -> str:
    """The URL of the session's scratch database on ``kind``'s server.

    Skips the test when the server is unreachable, or fails it when
    ``CREDIT_USAGE_REQUIRE_DATABASES=1``.
    """
    database = _session_database(kind, request.config)
    if database.url is None:
        reason = database.unreachable or f"{kind} is unreachable"
        if os.environ.get("CREDIT_USAGE_REQUIRE_DATABASES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return database.url


def sql_storage_factory(kind: str, request: pytest.FixtureRequest) -> Iterator[SqlStorageFactory]:
    """Yield a factory of fresh, empty, schema-created storages of ``kind``; clean up after.

    Args:
        kind: ``"sqlite"``, ``"postgres"`` or ``"mariadb"``.
        request: the requesting fixture's request (for ``tmp_path`` and the session).
    """
    made: list[SqlStorage] = []
    if kind == "sqlite":
        tmp_path = request.getfixturevalue("tmp_path")

        def make() -> SqlStorage:
            storage = SqlStorage.from_url(f"sqlite:///{tmp_path / f'usage-{len(made) + 1}.db'}")
            made.append(storage)
            storage.create_schema()
            return storage

    elif kind in _SERVERS:
        url = server_url(kind, request)
        database = _databases[kind]

        def make() -> SqlStorage:
            # Creating ten tables costs a tenth of a second on a server; tables
            # emptied by an earlier test are as good as new.
            if database.clean:
                storage = SqlStorage.from_url(url, table_prefix=database.clean.pop())
                made.append(storage)
            else:
                storage = SqlStorage.from_url(url, table_prefix=f"t{next(database.prefixes)}_")
                made.append(storage)
                storage.create_schema()
            return storage

    else:
        raise ValueError(f"unknown storage kind {kind!r}")

    yield make

    for storage in made:
        if storage.engine.pool.checkedout():  # type: ignore[attr-defined]
            # Finalise generators the test abandoned, so that no open cursor
            # holds a lock the cleanup would wait for.
            gc.collect()
        storage.engine.dispose()
        if kind != "sqlite":
            _empty(storage, _databases[kind])


def _empty(storage: SqlStorage, database: _Database) -> None:
    """Delete every row of the storage's tables and offer them to the next test."""
    try:
        with storage.engine.begin() as conn:
            for table in reversed(storage.metadata.sorted_tables):
                conn.execute(table.delete())
    except sa.exc.SQLAlchemyError:
        # The test dropped or altered the tables: leave them to the session's DROP DATABASE.
        pass
    else:
        database.clean.append(storage.table_prefix)
    finally:
        storage.engine.dispose()


@contextmanager
def sibling_storages(storage: Storage, count: int) -> Iterator[list[Storage]]:
    """``count`` storage objects on the same data: new engines for SQL, the one object in memory.

    What separate workers or processes would each build: racing tests give
    every thread its own.
    """
    if not isinstance(storage, SqlStorage):
        yield [storage] * count
        return
    url = storage.engine.url.render_as_string(hide_password=False)
    made = [SqlStorage.from_url(url, table_prefix=storage.table_prefix) for _ in range(count)]
    try:
        yield list(made)
    finally:
        for sibling in made:
            sibling.engine.dispose()
