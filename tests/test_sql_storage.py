"""What SqlStorage promises beyond the storage contract, on SQLite, PostgreSQL and MariaDB.

The contract every storage keeps is tested by ``credit_usage.testing``; here
are the SQL adapter's own promises: every statement names one team, writes
are one transaction of a handful of bulk statements, the derived figures can
be verified and rebuilt, SQLite runs in WAL mode with writes that wait for
each other, backend errors arrive as ``StorageError`` without passwords, the
tables are prefixed for a host's migrations, and the ledger streams.
"""

from __future__ import annotations

import io
import re
import sqlite3
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pymysql
import pytest
import sqlalchemy as sa
from sqlalchemy import event

import credit_usage.adapters.sql as sql_adapter
from credit_usage import (
    BillingSchedule,
    CreditLimit,
    CreditUsage,
    DateRange,
    Group,
    IdempotencyConflictError,
    InMemoryMailer,
    LedgerEntry,
    Member,
    SqlStorage,
    StorageError,
    ValidationError,
)
from credit_usage.domain.ledger import Batch
from credit_usage.ports import Decision, TeamReads
from credit_usage.testing.storage import END_OF_TIME, START_OF_TIME, ledger, reads
from tests.conftest import NOW, Clock, make_team
from tests.databases import SqlStorageFactory, sql_storage_factory

#: Every table of the adapter, without the prefix.
TABLES = {
    "teams",
    "groups",
    "members",
    "ledger",
    "daily_usage",
    "cycle_usage",
    "balances",
    "credit_limits",
    "report_schedules",
    "report_deliveries",
    "limit_alerts",
}


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


@pytest.fixture
def postgres(request: pytest.FixtureRequest) -> Iterator[SqlStorage]:
    """An empty PostgreSQL storage (for what only PostgreSQL does)."""
    factories = sql_storage_factory("postgres", request)
    yield next(factories)()
    next(factories, None)  # the factory's clean-up


@pytest.fixture
def storage(make_sql: SqlStorageFactory) -> SqlStorage:
    return make_sql()


@pytest.fixture
def app(storage: SqlStorage, clock: Clock) -> CreditUsage:
    return CreditUsage(storage=storage, clock=clock)


def seed(app: CreditUsage, team_id: str = "acme") -> None:
    """The conftest's team: admin Ada, manager Max, members Mia (Sales) and Noa (Support)."""
    app.create_team(make_team(team_id=team_id))
    app.add_group(Group(team_id=team_id, group_id="sales", name="Sales EMEA"))
    app.add_group(Group(team_id=team_id, group_id="support", name="Support"))
    for user_id, role, group in (
        ("ada", "admin", None),
        ("max", "manager", None),
        ("mia", "member", "sales"),
        ("noa", "member", "support"),
    ):
        app.add_member(
            Member(
                team_id=team_id,
                user_id=user_id,
                name=user_id.title(),
                email=f"{user_id}@acme.test",
                role=role,
                group_id=group,
            )
        )


def usage(entry_id: str, *, amount: int = 1, at: datetime = NOW, user: str = "mia") -> LedgerEntry:
    return LedgerEntry(
        team_id="acme",
        entry_id=entry_id,
        kind="usage",
        user_id=user,
        group_id="sales" if user == "mia" else None,
        feature="api",
        credit_type="email",
        amount=amount,
        occurred_at=at,
    )


def ledger_size(storage: SqlStorage, team_id: str = "acme") -> int:
    return len(ledger(storage, team_id))


@contextmanager
def statements(engine: sa.Engine) -> Iterator[list[tuple[str, bool]]]:
    """Every statement sent to the driver meanwhile, as (SQL, executemany)."""
    seen: list[tuple[str, bool]] = []

    def record(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool
    ) -> None:
        seen.append((statement, executemany))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


_VERB = re.compile(r"\s*\(?\s*(\w+)")
_SCOPED_WHERE = re.compile(r"\bWHERE\b.*\bteam_id\b\s*(=|IN\b)", re.IGNORECASE | re.DOTALL)
_INSERTED_TEAM = re.compile(r"^\s*INSERT\s+INTO\s+\S+\s*\([^)]*\bteam_id\b", re.IGNORECASE)


def unscoped(seen: list[tuple[str, bool]], prefix: str) -> list[str]:
    """The data statements on our tables that name no team.

    DDL, BEGIN/COMMIT and PRAGMAs are exempt. So are statements that touch
    none of our tables: the probes the driver and dialect send on their own
    (``SELECT VERSION()``, ``select current_schema()``, ``SHOW VARIABLES``...).
    The one deliberate cross-team statement, ``due_teams()``, is checked apart.
    """
    bad = []
    for sql, _ in seen:
        match = _VERB.match(sql)
        verb = match.group(1).upper() if match else ""
        if verb not in ("SELECT", "INSERT", "UPDATE", "DELETE") or prefix not in sql:
            continue
        scoped = _INSERTED_TEAM.match(sql) if verb == "INSERT" else _SCOPED_WHERE.search(sql)
        if not scoped:
            bad.append(sql)
    return bad


class TestEveryStatementNamesOneTeam:
    """Every SELECT, INSERT, UPDATE and DELETE the adapter sends carries a team_id."""

    def test_a_full_scenario_through_the_service(self, storage: SqlStorage, clock: Clock) -> None:
        """Setup, writes, reads, exports, a time-zone change and maintenance name their team."""
        app = CreditUsage(storage=storage, mailer=InMemoryMailer(), clock=clock)
        with statements(storage.engine) as seen:
            seed(app)
            seed(app, team_id="other")
            app.update_member(
                Member(
                    team_id="acme", user_id="noa", name="Noa", email="noa@acme.test",
                    role="member", group_id="sales",
                )
            )  # fmt: skip
            app.record_usage(
                "acme", "mia", feature="api", credit_type="email", amount=5,
                occurred_at=NOW - timedelta(hours=1), entry_id="u1",
            )  # fmt: skip
            app.record_many([usage(f"m{i}", at=NOW - timedelta(days=i)) for i in range(10)])
            app.grant_credits("acme", amount=100, occurred_at=NOW, entry_id="g1")
            app.reverse_usage("acme", "u1", reversal_id="r1", amount=2)
            snapshot = app.snapshot("ada", "acme")
            app.snapshot("ada", "acme", date_range=DateRange(first=NOW.date(), last=NOW.date()))
            app.member_usage("mia", "acme", "mia")
            app.usage_report("ada", "acme", snapshot.cycle)
            app.usage_report("max", "acme", DateRange(first=date(2026, 11, 20), last=NOW.date()))
            app.export_csv("ada", "acme", snapshot.cycle, io.StringIO())
            app.export_ledger_csv("ada", "acme", snapshot.cycle, io.StringIO())
            app.set_credit_limit(
                "ada", "acme", CreditLimit(scope="user", subject_id="mia", credits=40)
            )
            app.record_usage(
                "acme", "mia", feature="api", credit_type="email", amount=18,
                occurred_at=NOW, entry_id="u2",
            )  # fmt: skip
            assert len(app.list_alerts("ada", "acme")) == 1
            schedule = app.schedule_report("ada", "acme", frequency="weekly", recipients=["l@a.io"])
            app.list_reports("max", "acme")
            clock.advance(days=10)
            app.run_due_reports()
            app.deliver_alerts()
            app.cancel_report("ada", "acme", schedule.schedule_id)
            app.update_team(make_team(timezone="Pacific/Auckland"))
            assert reads(storage).entry("u1") is not None
            assert storage.verify("acme") == []
            storage.rebuild("acme")

        assert len(seen) > 50
        across = [sql for sql in unscoped(seen, storage.table_prefix) if " UNION " in sql]
        assert across, "the worker's read of the teams with work was not made"
        for sql in across:  # the one deliberate read across teams: due_teams()
            assert f"{storage.table_prefix}report_schedules.next_due" in sql
            assert f"{storage.table_prefix}limit_alerts.pending" in sql
        assert unscoped(seen, storage.table_prefix) == across

    def test_the_check_catches_an_unscoped_statement(self) -> None:
        """The checker itself flags a statement on our tables that names no team."""
        seen = [
            ("SELECT t1_ledger.entry_id FROM t1_ledger WHERE t1_ledger.seq > 5", False),
            ("INSERT INTO t1_groups (group_id, name) VALUES (?, ?)", False),
            ("SELECT VERSION()", False),
            ("DELETE FROM t1_ledger WHERE t1_ledger.team_id = ?", False),
        ]
        assert unscoped(seen, "t1_") == [seen[0][0], seen[1][0]]


class TestTransactionCharacteristics:
    """Reads see one snapshot, read only; writes read committed; connections go back clean."""

    @pytest.mark.postgres
    def test_each_call_runs_at_its_isolation_level_on_postgres(
        self, postgres: SqlStorage, clock: Clock
    ) -> None:
        """psycopg states them in its BEGIN; the connection's own settings come back after."""
        storage = postgres
        app = CreditUsage(storage=storage, clock=clock)
        seed(app)
        seen: list[tuple[str, str]] = []
        teams = f"FROM {storage.table_prefix}teams"

        def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if teams in statement:
                with conn.connection.driver_connection.cursor() as raw:
                    raw.execute("SHOW transaction_isolation")
                    level = raw.fetchone()[0]
                    raw.execute("SHOW transaction_read_only")
                    seen.append((level, raw.fetchone()[0]))

        event.listen(storage.engine, "after_cursor_execute", after)
        try:
            app.snapshot("ada", "acme")
            app.record_usage(
                "acme", "mia", feature="api", credit_type="email", amount=1,
                occurred_at=NOW, entry_id="iso-1",
            )  # fmt: skip
        finally:
            event.remove(storage.engine, "after_cursor_execute", after)
        assert seen[0] == ("repeatable read", "on")
        assert seen[-1] == ("read committed", "off")
        with storage.engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert (raw.isolation_level, raw.read_only) == (None, None)
            assert conn.exec_driver_sql("SHOW transaction_read_only").scalar() == "off"


class TestBulkWrites:
    """record_many is one transaction of a few bulk statements, all or nothing."""

    def test_a_thousand_entries_take_a_handful_of_statements(self, app: CreditUsage) -> None:
        """1,000 entries go in with one bulk INSERT into the ledger and < 20 statements in all.

        The INSERT is an executemany, except on PostgreSQL where it is a single
        ``INSERT ... SELECT FROM unnest(...)`` of one array per column.
        """
        seed(app)
        storage = app.storage
        assert isinstance(storage, SqlStorage)
        entries = [usage(f"e{i}", at=NOW - timedelta(minutes=i)) for i in range(1000)]

        with statements(storage.engine) as seen:
            assert app.record_many(entries) == 1000

        inserts = [
            (sql, many)
            for sql, many in seen
            if re.search(rf"INSERT INTO \S*{storage.table_prefix}ledger\b", sql)
        ]
        assert len(inserts) == 1
        sql, many = inserts[0]
        if storage.engine.dialect.name == "postgresql":
            # One statement: the ledger, the three derived tables, the team's position.
            assert "unnest(" in sql
            assert sql.startswith("WITH ")
            for table in ("ledger", "daily_usage", "cycle_usage", "balances"):
                assert re.search(rf"INSERT INTO \S*{storage.table_prefix}{table}\b", sql), table
            assert re.search(rf"UPDATE \S*{storage.table_prefix}teams\b", sql)
        else:
            assert many
        assert len(seen) < 20, [sql[:60] for sql, _ in seen]
        assert ledger_size(storage) == 1000
        assert storage.verify("acme") == []

    def test_a_conflict_at_the_end_of_a_batch_writes_nothing(self, app: CreditUsage) -> None:
        """A batch whose last entry reuses a stored id with another payload stores none of it."""
        seed(app)
        storage = app.storage
        assert isinstance(storage, SqlStorage)
        app.record_many([usage("taken", amount=3)])
        before = app.snapshot("ada", "acme")
        batch = [usage(f"e{i}") for i in range(999)] + [usage("taken", amount=4)]

        with pytest.raises(IdempotencyConflictError, match="taken"):
            app.record_many(batch)

        assert ledger_size(storage) == 1
        assert app.snapshot("ada", "acme") == before
        assert storage.verify("acme") == []

    def test_a_stored_id_slipping_past_the_plan_is_a_conflict_from_the_database(
        self, app: CreditUsage
    ) -> None:
        """The unique key on (team_id, entry_id) refuses a batch the plan did not check."""
        seed(app)
        storage = app.storage
        assert isinstance(storage, SqlStorage)
        app.record_many([usage("taken")])
        team = app.get_team("acme")

        def careless(tx: TeamReads) -> Decision[None]:
            return Decision(Batch.of(team, [usage("fresh"), usage("taken", amount=9)]), None)

        with pytest.raises(IdempotencyConflictError, match="'taken'") as raised:
            storage.append("acme", careless)

        assert not isinstance(raised.value.__cause__, sa.exc.SQLAlchemyError)
        assert raised.value.__cause__ is not None
        assert reads(storage).entry("fresh") is None
        assert storage.verify("acme") == []


def corrupt(storage: SqlStorage, table: str, column: str) -> None:
    """Add 5 to ``column`` of every row of the team's ``table``, behind the adapter's back."""
    name = f"{storage.table_prefix}{table}"
    with storage.engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE {name} SET {column} = {column} + 5 WHERE team_id = 'acme'")


class TestVerifyAndRebuild:
    """verify() finds figures that differ from the ledger; rebuild() derives them again."""

    @pytest.mark.parametrize(
        ("table", "column", "what"),
        [
            ("daily_usage", "credits", "daily roll-up"),
            ("cycle_usage", "credits", "cycle counter"),
            ("balances", "used", "balance"),
        ],
    )
    def test_a_corrupted_figure_is_found_and_repaired(
        self, app: CreditUsage, table: str, column: str, what: str
    ) -> None:
        """A raw UPDATE of a figure shows up as drift, and rebuild() puts it right."""
        seed(app)
        storage = app.storage
        assert isinstance(storage, SqlStorage)
        app.record_many([usage(f"e{i}", amount=2, at=NOW - timedelta(days=i)) for i in range(3)])
        expected = app.snapshot("ada", "acme")
        assert storage.verify("acme") == []

        corrupt(storage, table, column)
        drift = storage.verify("acme")

        assert drift
        assert all(line.startswith(what) for line in drift)
        storage.rebuild("acme")
        assert storage.verify("acme") == []
        assert app.snapshot("ada", "acme") == expected

    def test_other_teams_are_left_alone(self, app: CreditUsage) -> None:
        """Rebuilding one team changes nothing of another."""
        seed(app)
        seed(app, team_id="other")
        storage = app.storage
        assert isinstance(storage, SqlStorage)
        app.record_usage(
            "other", "mia", feature="api", credit_type="email", amount=7,
            occurred_at=NOW, entry_id="o1",
        )  # fmt: skip
        before = app.snapshot("ada", "other")
        corrupt(storage, "daily_usage", "credits")

        storage.rebuild("acme")

        assert app.snapshot("ada", "other") == before
        assert storage.verify("other") == []


class TestTimeZoneChange:
    """A new team time zone moves usage to other local days: the roll-ups are rebuilt."""

    def test_usage_moves_to_the_new_local_day(self, app: CreditUsage) -> None:
        """23:30 UTC on the 20th is the 21st in Auckland, and the roll-ups say so."""
        seed(app)
        storage = app.storage
        assert isinstance(storage, SqlStorage)
        late = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
        app.record_many([usage("late", amount=4, at=late)])
        the_20th, the_21st = date(2026, 11, 20), date(2026, 11, 21)
        assert [c.credits for c in reads(storage).usage_on_days(the_20th, the_20th)] == [4]

        app.update_team(make_team(timezone="Pacific/Auckland"))

        assert reads(storage).usage_on_days(the_20th, the_20th) == []
        assert [c.credits for c in reads(storage).usage_on_days(the_21st, the_21st)] == [4]
        assert storage.verify("acme") == []

    def test_a_new_billing_anchor_moves_usage_to_the_new_cycle(self, app: CreditUsage) -> None:
        """Moving the anchor re-keys the cycle counters and balances from the ledger."""
        seed(app)
        storage = app.storage
        assert isinstance(storage, SqlStorage)
        app.record_many([usage("u", amount=6, at=datetime(2026, 11, 10, tzinfo=UTC))])
        new = make_team(billing=BillingSchedule(anchor=date(2025, 1, 5)))

        app.update_team(new)

        new_cycle, old_cycle = date(2026, 11, 5), date(2026, 10, 15)
        assert [c.credits for c in reads(storage).usage_in_cycles(new_cycle, new_cycle)] == [6]
        assert reads(storage).usage_in_cycles(old_cycle, old_cycle) == []
        assert storage.verify("acme") == []


class TestSqliteFile:
    """A SQLite file runs in WAL mode, and writers wait for each other instead of failing."""

    @pytest.fixture
    def lite(self, tmp_path: Any) -> Iterator[SqlStorage]:
        storage = SqlStorage.from_url(f"sqlite:///{tmp_path / 'usage.db'}")
        storage.create_schema()
        yield storage
        storage.engine.dispose()

    def test_the_journal_is_wal_with_a_busy_timeout_and_foreign_keys(
        self, lite: SqlStorage
    ) -> None:
        """Every connection runs with journal_mode=wal, busy_timeout=30 s and foreign keys on."""
        with lite.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1

    def test_writes_begin_immediate_and_reads_begin_a_snapshot(self, lite: SqlStorage) -> None:
        """A write transaction starts with BEGIN IMMEDIATE; a read with a plain BEGIN."""
        with statements(lite.engine) as seen:
            lite.add_team(make_team())
        written = [sql for sql, _ in seen]
        with statements(lite.engine) as seen:
            reads(lite).members()
        read = [sql for sql, _ in seen]
        assert (written[0], written.count("BEGIN IMMEDIATE")) == ("BEGIN IMMEDIATE", 1)
        assert (read[0], "BEGIN IMMEDIATE" in read) == ("BEGIN", False)

    def test_a_writer_waits_for_another_writer(self, lite: SqlStorage, tmp_path: Any) -> None:
        """While another connection holds the write lock, a write waits and then lands."""
        lite.add_team(make_team())
        other = sqlite3.connect(
            tmp_path / "usage.db", isolation_level=None, check_same_thread=False
        )
        other.execute("BEGIN IMMEDIATE")
        released = threading.Event()

        def release() -> None:
            time.sleep(0.5)
            other.execute("COMMIT")
            released.set()

        thread = threading.Thread(target=release)
        thread.start()
        try:
            lite.add_group(Group(team_id="acme", group_id="sales", name="Sales"))
        finally:
            thread.join()
            other.close()
        assert released.is_set()
        assert [g.group_id for g in reads(lite).groups()] == ["sales"]

    def test_reads_go_on_while_a_writer_holds_the_lock(
        self, lite: SqlStorage, tmp_path: Any
    ) -> None:
        """WAL lets a reader in while a write transaction is open."""
        lite.add_team(make_team())
        other = sqlite3.connect(tmp_path / "usage.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            team = reads(lite).team
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert team == make_team()

    def test_an_in_memory_database_is_shared_by_every_thread(self) -> None:
        """sqlite:// keeps one database for the storage, whichever thread calls."""
        storage = SqlStorage.from_url("sqlite://")
        storage.create_schema()
        app = CreditUsage(storage=storage, clock=Clock(NOW))
        thread = threading.Thread(target=seed, args=(app,))
        thread.start()
        thread.join()
        assert [m.user_id for m in app.list_members("acme")] == ["ada", "max", "mia", "noa"]
        storage.engine.dispose()


class TestBackendErrors:
    """Backend failures arrive as StorageError, naming the database without its password."""

    @pytest.mark.parametrize(
        ("url", "driver_error"),
        [
            ("postgresql+psycopg://u:secret@127.0.0.1:1/x", psycopg.OperationalError),
            ("mysql+pymysql://u:secret@127.0.0.1:1/x", pymysql.err.OperationalError),
        ],
    )
    def test_an_unreachable_server_is_one_clear_storage_error(
        self, url: str, driver_error: type[Exception]
    ) -> None:
        """The message names the URL with the password hidden; the cause is the driver's error."""
        storage = SqlStorage.from_url(url)
        try:
            with pytest.raises(StorageError, match=r"127\.0\.0\.1:1/x") as raised:
                reads(storage).team  # noqa: B018 - reading is the test
        finally:
            storage.engine.dispose()
        assert "secret" not in str(raised.value)
        assert "***" in str(raised.value)
        assert isinstance(raised.value.__cause__, driver_error)

    @pytest.mark.parametrize(
        "url", ["not a database url", "nosuchdialect://host/db", "sqlite+nosuchdriver:///x.db"]
    )
    def test_a_bad_url_is_a_validation_error(self, url: str) -> None:
        """from_url refuses what is not a usable database URL, saying which."""
        with pytest.raises(ValidationError, match=r"URL|dialect"):
            SqlStorage.from_url(url)

    def test_a_bad_url_keeps_its_password_out_of_the_message(self) -> None:
        """Even an unusable URL has its password masked."""
        with pytest.raises(ValidationError) as raised:
            SqlStorage.from_url("nosuchdialect://u:secret@host/db")
        assert "secret" not in str(raised.value)

    def test_a_missing_table_is_a_storage_error(self, tmp_path: Any) -> None:
        """Using a storage whose schema was never created fails as StorageError, chained."""
        storage = SqlStorage.from_url(f"sqlite:///{tmp_path / 'empty.db'}")
        try:
            with pytest.raises(StorageError, match="read team 'acme'") as raised:
                reads(storage).team  # noqa: B018 - reading is the test
        finally:
            storage.engine.dispose()
        assert isinstance(raised.value.__cause__, sqlite3.OperationalError)


class TestTablesAndPrefixes:
    """The tables are exported for migrations, prefixed, and every key leads with team_id."""

    def test_the_module_metadata_holds_every_table_with_the_default_prefix(self) -> None:
        """credit_usage.adapters.sql.metadata names each table credit_usage_<name>."""
        assert isinstance(sql_adapter.metadata, sa.MetaData)
        assert set(sql_adapter.metadata.tables) == {f"credit_usage_{t}" for t in TABLES}

    def test_every_table_key_and_index_leads_with_team_id(self) -> None:
        """Keys and indexes start with team_id (for distribution), but the worker's two indexes.

        ``report_schedules(next_due)`` and ``limit_alerts(pending, team_id)``
        serve the one read across teams, ``due_teams()`` (docs/scaling.md).
        """
        across_teams = {"credit_usage_report_schedules_due", "credit_usage_limit_alerts_pending"}
        for table in sql_adapter.metadata.tables.values():
            assert table.primary_key.columns.keys()[0] == "team_id", table.name
            for index in table.indexes:
                if index.name in across_teams:
                    continue
                first = next(iter(index.expressions))
                assert getattr(first, "name", None) == "team_id", index.name
            for constraint in table.constraints:
                if isinstance(constraint, sa.UniqueConstraint):
                    assert constraint.columns.keys()[0] == "team_id", constraint.name
        indexes = {i.name for t in sql_adapter.metadata.tables.values() for i in t.indexes}
        assert across_teams <= indexes

    def test_make_metadata_uses_the_prefix_given(self) -> None:
        """make_metadata("usage_") names each table usage_<name>."""
        tables = set(sql_adapter.make_metadata("usage_").tables)
        assert tables == {f"usage_{t}" for t in TABLES}

    @pytest.mark.parametrize("prefix", ["", "1x_", "bad-prefix_", "x" * 31, "drop table;"])
    def test_an_unusable_prefix_is_refused(self, prefix: str) -> None:
        """A prefix must be a short SQL identifier start."""
        with pytest.raises(ValidationError, match="table_prefix"):
            sql_adapter.make_metadata(prefix)

    def test_a_storage_exposes_its_engine_prefix_and_tables(self, storage: SqlStorage) -> None:
        """engine, table_prefix and metadata are public and agree with each other."""
        assert isinstance(storage.engine, sa.Engine)
        assert set(storage.metadata.tables) == {f"{storage.table_prefix}{t}" for t in TABLES}
        assert set(storage.metadata.tables) <= set(sa.inspect(storage.engine).get_table_names())

    def test_two_prefixes_share_a_database_without_seeing_each_other(
        self, storage: SqlStorage, clock: Clock
    ) -> None:
        """Two storages on one database with different prefixes keep separate data."""
        other = SqlStorage(storage.engine, table_prefix="second_")
        other.create_schema()
        try:
            one, two = CreditUsage(storage, clock=clock), CreditUsage(other, clock=clock)
            seed(one)
            seed(two)
            one.record_many([usage("same-id", amount=3)])
            two.record_many([usage("same-id", amount=8)])

            first, second = reads(storage).entry("same-id"), reads(other).entry("same-id")
            assert (first and first.amount, second and second.amount) == (3, 8)
            assert one.snapshot("ada", "acme").used == 3
            assert two.snapshot("ada", "acme").used == 8
            storage.rebuild("acme")
            assert two.snapshot("ada", "acme").used == 8
        finally:
            other.drop_schema()
        assert one.snapshot("ada", "acme").used == 3

    def test_create_schema_is_idempotent(self, storage: SqlStorage) -> None:
        """Creating the schema again changes nothing and keeps the data."""
        storage.add_team(make_team())
        storage.create_schema()
        assert reads(storage).team == make_team()


class TestStreaming:
    """The ledger export streams: one connection while it runs, memory flat in the ledger's size."""

    def test_an_export_holds_one_connection_only_while_it_runs(self, app: CreditUsage) -> None:
        """export_ledger_csv checks out one connection and returns it, also when it fails."""
        seed(app)
        storage = app.storage
        assert isinstance(storage, SqlStorage)
        app.record_many([usage(f"e{i}", at=NOW - timedelta(minutes=i)) for i in range(10)])
        pool: Any = storage.engine.pool
        period = app.snapshot("ada", "acme").cycle
        seen: list[int] = []

        class Watching(io.StringIO):
            def write(self, text: str) -> int:
                seen.append(pool.checkedout())
                return super().write(text)

        assert app.export_ledger_csv("ada", "acme", period, Watching()) == 10
        assert set(seen) == {1}
        assert pool.checkedout() == 0

        class Failing(io.StringIO):
            def write(self, text: str) -> int:
                if text.startswith("e5"):
                    raise OSError("disk full")
                return super().write(text)

        with pytest.raises(OSError, match="disk full"):
            app.export_ledger_csv("ada", "acme", period, Failing())
        assert pool.checkedout() == 0

    def test_memory_stays_flat_while_streaming_a_large_ledger(self, app: CreditUsage) -> None:
        """Streaming 30,000 entries peaks well below what holding them in a list takes."""
        seed(app)
        storage = app.storage
        assert isinstance(storage, SqlStorage)
        total = 30_000
        start = NOW - timedelta(days=10)
        for batch in range(3):
            app.record_many(
                [
                    usage(f"b{batch}-{i:05d}", at=start + timedelta(seconds=batch * 10_000 + i))
                    for i in range(10_000)
                ],
                enforce_limits=False,
            )

        def count(tx: TeamReads) -> int:
            return sum(1 for _ in tx.iter_entries(START_OF_TIME, END_OF_TIME))

        held = _peak_bytes(lambda: ledger(storage))
        streamed = _peak_bytes(lambda: storage.read("acme", count), expect=total)

        assert streamed < held / 3, (streamed, held)


def _peak_bytes(consume: Callable[[], object], *, expect: int | None = None) -> int:
    tracemalloc.start()
    try:
        result = consume()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    if expect is not None:
        assert result == expect
    return peak
