"""The SQL storage under faults: passwords in messages, deadlocks, stuck streams, strict sessions.

Found by an independent audit and fixed; each class is one finding.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pymysql
import pytest
import sqlalchemy as sa
from sqlalchemy import event

from credit_usage import (
    CreditUsage,
    Group,
    LedgerEntry,
    Member,
    SqlStorage,
    StorageError,
)
from credit_usage.adapters.sql.datastore import MAX_ATTEMPTS, Datastore
from credit_usage.adapters.sql.dialect import SqlDialect
from credit_usage.adapters.sql.mysql import MySqlDialect
from credit_usage.adapters.sql.postgresql import PostgresDialect
from tests.conftest import NOW, Clock, make_team
from tests.databases import SqlStorageFactory, server_url, sql_storage_factory

SECRET = "S3cr3tPW"


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def make_sql(request: pytest.FixtureRequest) -> Iterator[SqlStorageFactory]:
    """A factory of empty SQL storages of one kind."""
    yield from sql_storage_factory(request.param, request)


def seed(app: CreditUsage, team_id: str = "acme") -> None:
    app.create_team(make_team(team_id=team_id, credits_per_cycle=10**9))
    app.add_group(Group(team_id=team_id, group_id="sales", name="Sales"))
    for user_id, role in (("ada", "admin"), ("mia", "member")):
        app.add_member(
            Member(
                team_id=team_id,
                user_id=user_id,
                name=user_id.title(),
                email=f"{user_id}@acme.test",
                role=role,
                group_id="sales",
            )
        )


def spend(app: CreditUsage, entry_id: str, team_id: str = "acme", amount: int = 1) -> LedgerEntry:
    return app.record_usage(
        team_id, "mia", feature="api", credit_type="email", amount=amount,
        occurred_at=NOW, entry_id=entry_id,
    )  # fmt: skip


class TestPasswordsStayHidden:
    """No spelling of a password reaches a message or a repr."""

    @pytest.mark.parametrize(
        "url",
        [
            f"postgresql+psycopg://u:{SECRET}@127.0.0.1:1/x",
            f"postgresql+psycopg://u@127.0.0.1:1/x?password={SECRET}",
            f"postgresql+psycopg://u@127.0.0.1:1/x?sslpassword={SECRET}&password={SECRET}",
            f"mysql+pymysql://u@127.0.0.1:1/x?password={SECRET}",
            f"mysql+pymysql://u@127.0.0.1:1/x?charset=utf8mb4&password={SECRET}",
            f"mysql+pymysql://u:{SECRET}@127.0.0.1:1/x",
        ],
    )
    def test_neither_the_repr_nor_the_error_shows_the_password(self, url: str) -> None:
        """repr(storage) and the StorageError of a failed connection hide every spelling."""
        storage = SqlStorage.from_url(url)
        try:
            with pytest.raises(StorageError) as raised:
                storage.read("acme", lambda tx: tx.team)
        finally:
            storage.engine.dispose()
        assert SECRET not in repr(storage)
        assert SECRET not in str(raised.value)
        assert "127.0.0.1:1/x" in str(raised.value)
        assert "***" in repr(storage)

    def test_a_raw_at_sign_in_a_password_is_hidden_in_every_message(self) -> None:
        """The password "S3cr@tPW", typed raw, shows in no message, nor do its pieces."""
        url = "postgresql+psycopg://u:S3cr@tPW@127.0.0.1:1/x"
        storage = SqlStorage.from_url(url)
        try:
            with pytest.raises(StorageError) as raised:
                storage.read("acme", lambda tx: tx.team)
        finally:
            storage.engine.dispose()
        for text in (repr(storage), str(raised.value)):
            assert "S3cr" not in text
            assert "tPW" not in text

    def test_a_url_that_cannot_be_parsed_hides_its_password(self) -> None:
        """The "not a database URL" message masks a password with a raw "@"."""
        with pytest.raises(Exception) as raised:  # noqa: PT011 - the type is tested below
            SqlStorage.from_url("postgresql+psycopg://u:p@ss:w@rd@host:notaport/db")
        assert "p@ss" not in str(raised.value)
        assert "w@rd" not in str(raised.value)


class TestOneConnectionPerCall:
    """A write and a read each take one connection from the pool, not one per step."""

    def test_record_usage_and_snapshot_check_out_one_connection_each(
        self, make_sql: SqlStorageFactory
    ) -> None:
        """The team, the member, the checks and the write share one connection; so does a read."""
        storage = make_sql()
        app = CreditUsage(storage, clock=Clock(NOW))
        seed(app)
        checkouts: list[object] = []

        def count(*args: Any) -> None:
            checkouts.append(args[0])

        event.listen(storage.engine, "checkout", count)
        try:
            spend(app, "e1")
            assert len(checkouts) == 1
            app.snapshot("ada", "acme")
            assert len(checkouts) == 2
        finally:
            event.remove(storage.engine, "checkout", count)


class TestTeamsDoNotLockEachOtherOnMariaDb:
    """Writers of different teams never wait for each other, a team's rebuild included."""

    @pytest.mark.mariadb
    def test_eight_teams_and_a_rebuilder_meet_no_deadlock(
        self, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
    ) -> None:
        """8 teams written at once while team 0 is rebuilt: no error, no transaction run again."""
        factory = sql_storage_factory("mariadb", request)
        storage = next(factory)()
        app = CreditUsage(storage, clock=Clock(NOW))
        teams = [f"team-{i}" for i in range(8)]
        for team_id in teams:
            seed(app, team_id)
        errors: list[BaseException] = []
        stop = threading.Event()

        def write(team_id: str) -> None:
            for i in range(150):
                spend(app, f"e{i}", team_id)

        def rebuild() -> None:
            while not stop.is_set():
                storage.rebuild(teams[0])

        caplog.set_level(logging.WARNING, logger="credit_usage.sql")
        threads = [threading.Thread(target=_guard(errors, write, t)) for t in teams]
        rebuilder = threading.Thread(target=_guard(errors, lambda _: rebuild(), ""))
        for thread in [*threads, rebuilder]:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        stop.set()
        rebuilder.join(timeout=60)

        assert errors == []
        assert [r.getMessage() for r in caplog.records] == []
        for team_id in teams:
            assert storage.verify(team_id) == []
            assert app.snapshot("ada", team_id).used == 150
        next(factory, None)


def _guard(errors: list[BaseException], work: Any, arg: str) -> Any:
    def run() -> None:
        try:
            work(arg)
        except BaseException as exc:  # Handed to the test's thread.
            errors.append(exc)

    return run


class TestDeadlocksAreRunAgain:
    """A transaction the database aborted to break a deadlock runs again, a few times at most."""

    @pytest.mark.parametrize(
        ("dialect", "deadlock"),
        [
            (PostgresDialect(), psycopg.errors.DeadlockDetected("deadlock detected")),
            (PostgresDialect(), psycopg.errors.SerializationFailure("could not serialize")),
            (MySqlDialect(), pymysql.err.OperationalError(1213, "Deadlock found")),
        ],
        ids=["postgres-deadlock", "postgres-serialization", "mariadb-deadlock"],
    )
    def test_a_deadlock_is_run_again_and_then_reported(
        self, dialect: SqlDialect, deadlock: BaseException, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The driver's error makes a write run again, and is a StorageError after 8 attempts."""
        engine = sa.create_engine("sqlite://")
        # The backend's rules on a SQLite connection: begin() is the dialect's, so skip it.
        store = Datastore(engine, _NoBegin(dialect))
        runs: list[int] = []

        def work(conn: sa.Connection) -> int:
            runs.append(1)
            if len(runs) < 3:
                raise sa.exc.OperationalError("UPDATE ...", {}, deadlock)
            return len(runs)

        caplog.set_level(logging.WARNING, logger="credit_usage.sql")
        assert store.transaction("write", work, write=True) == 3
        assert len(caplog.records) == 2

        runs.clear()

        def always(conn: sa.Connection) -> int:
            runs.append(1)
            raise sa.exc.OperationalError("UPDATE ...", {}, deadlock)

        with pytest.raises(StorageError, match="could not write") as raised:
            store.transaction("write", always, write=True)
        assert len(runs) == MAX_ATTEMPTS
        assert raised.value.__cause__ is deadlock

        runs.clear()
        with pytest.raises(StorageError):
            store.transaction("read", always, write=False)
        assert len(runs) == 1, "a read may have streamed rows out: it is never run again"

    def test_other_errors_are_not_run_again(self) -> None:
        """A constraint violation or a lost connection is reported at once."""
        store = Datastore(sa.create_engine("sqlite://"), _NoBegin(PostgresDialect()))
        runs: list[int] = []

        def work(conn: sa.Connection) -> None:
            runs.append(1)
            raise sa.exc.IntegrityError("INSERT ...", {}, psycopg.errors.UniqueViolation("dup"))

        with pytest.raises(StorageError):
            store.transaction("write", work, write=True)
        assert len(runs) == 1


class _NoBegin(SqlDialect):
    """A backend's retry rules without its way of beginning a transaction."""

    def __init__(self, dialect: SqlDialect) -> None:
        self._dialect = dialect

    def retryable(self, error: BaseException) -> bool:
        return self._dialect.retryable(error)


class TestAFailedStreamReleasesTheDatabase:
    """An export that fails while its exception is kept alive holds no lock."""

    def test_in_memory_sqlite_is_not_left_locked(self) -> None:
        """sqlite:// after a failed export, traceback kept: another thread's write lands at once."""
        storage = SqlStorage.from_url("sqlite://")
        storage.create_schema()
        app = CreditUsage(storage, clock=Clock(NOW))
        seed(app)
        for i in range(5):
            spend(app, f"e{i}")

        class Failing(io.StringIO):
            def write(self, text: str) -> int:
                if text.startswith("e2"):
                    raise OSError("the client went away")
                return super().write(text)

        kept: list[BaseException] = []
        try:
            app.export_ledger_csv("ada", "acme", app.snapshot("ada", "acme").cycle, Failing())
        except OSError as exc:
            kept.append(exc)  # As an error tracker keeps the traceback alive.
        landed = threading.Event()
        thread = threading.Thread(target=lambda: (spend(app, "after"), landed.set()), daemon=True)
        thread.start()
        assert landed.wait(timeout=10), "a write waited 10 s behind a failed export"
        assert kept
        assert kept[0].__traceback__ is not None
        storage.engine.dispose()


class TestStrictSessionsOnMariaDb:
    """The library's own MariaDB sessions never cut a value silently."""

    @pytest.mark.mariadb
    def test_a_storage_from_url_runs_in_strict_mode(self, request: pytest.FixtureRequest) -> None:
        """Even when the server's default sql_mode is not strict."""
        url = server_url("mariadb", request)
        admin = sa.create_engine(url)
        with admin.connect() as conn:
            default = conn.exec_driver_sql("SELECT @@GLOBAL.sql_mode").scalar()
            conn.exec_driver_sql("SET GLOBAL sql_mode = ''")
        try:
            storage = SqlStorage.from_url(url)
            with storage.engine.connect() as conn:
                mode = conn.exec_driver_sql("SELECT @@SESSION.sql_mode").scalar()
            storage.engine.dispose()
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql("SET GLOBAL sql_mode = %s", (default,))
            admin.dispose()
        assert "STRICT_ALL_TABLES" in str(mode).split(",")
