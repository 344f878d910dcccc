"""Schema migrations: 0.1.0 databases upgrade without loss, and every path ends at ``metadata``.

Each test runs on SQLite, PostgreSQL and MariaDB with its own table prefixes
(``m1_``, ``m2_``, ...), whose tables it drops afterwards. The database that
release 0.1.0 made is built from a frozen copy of 0.1.0's ``make_metadata``
(below), exactly as its ``create_schema()`` built it: ``metadata.create_all``
and no version table. Schemas are compared by reflection -- tables, columns
(type, collation, nullability, default), primary keys, indexes, foreign keys,
table options -- and against the metadata with Alembic's ``compare_metadata``
plus the checks it does not make (primary keys, collations, partial indexes,
``WITHOUT ROWID``).
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.schema import CreateIndex

import credit_usage.adapters.sql.migrations as migrations_package
from credit_usage import CreditUsage, SqlStorage, StorageError, ValidationError
from credit_usage.adapters.sql.migrate import (
    HEAD,
    REVISIONS,
    create_schema,
    current_revision,
    drop_schema,
    upgrade_schema,
    version_table,
)
from credit_usage.adapters.sql.schema import cell_key, make_metadata
from tests.databases import SQL_KINDS, server_url

_PREFIXES = itertools.count(1)
_SCRIPTS = Path(migrations_package.__file__).parent


# -- the databases ------------------------------------------------------------------------
@dataclass
class Database:
    """One test's database: an engine set up as SqlStorage sets up its own, and its prefixes."""

    kind: str
    engine: sa.Engine
    prefixes: list[str] = field(default_factory=list)

    def prefix(self) -> str:
        """A table prefix no other test uses; its tables are dropped after the test."""
        prefix = f"m{next(_PREFIXES)}_"
        self.prefixes.append(prefix)
        return prefix

    def metadata(self, prefix: str) -> sa.MetaData:
        """Today's tables for ``prefix`` on this database's dialect."""
        return make_metadata(prefix, dialect=self.engine.dialect.name)


@pytest.fixture(params=SQL_KINDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    kind = request.param
    url = (
        f"sqlite:///{tmp_path / 'migrations.db'}" if kind == "sqlite" else server_url(kind, request)
    )
    # SQLite with foreign keys on, MariaDB in strict mode: as SqlStorage runs them.
    engine = SqlStorage.from_url(url).engine
    database = Database(kind, engine)
    yield database
    with engine.begin() as conn:
        tables = sa.MetaData()
        tables.reflect(conn, only=lambda name, _: name.startswith(tuple(database.prefixes)))
        tables.drop_all(conn)
    engine.dispose()


def _alembic_to(conn: sa.Connection, prefix: str, revision: str) -> None:
    """Run the package's migrations up to ``revision`` (a database some release made)."""
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes.update(connection=conn, table_prefix=prefix)
    command.upgrade(config, revision)


def _drop_version_table(conn: sa.Connection, prefix: str) -> None:
    conn.exec_driver_sql(f"DROP TABLE {version_table(prefix)}")


# -- the schema of release 0.1.0, frozen (git show c0823dc:src/credit_usage/adapters/sql.py) --
_MYSQL_DIALECTS = ("mysql", "mariadb")


def _on_mysql(*args: Any, dialect: sa.Dialect, **kwargs: Any) -> bool:
    return dialect.name in _MYSQL_DIALECTS


def _not_on_mysql(*args: Any, dialect: sa.Dialect, **kwargs: Any) -> bool:
    return dialect.name not in _MYSQL_DIALECTS


def _text_key_0_1_0(length: int) -> sa.types.TypeEngine[str]:
    return (
        sa.String(length)
        .with_variant(
            mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_nopad_bin"),
            *_MYSQL_DIALECTS,
        )
        .with_variant(postgresql.VARCHAR(length, collation="C"), "postgresql")
    )


def _wide_key_0_1_0(table: sa.Table, name: str, columns: Sequence[str]) -> None:
    cols = [table.c[c] for c in columns]
    table.append_constraint(
        sa.PrimaryKeyConstraint(*cols, name=f"{name}_pk").ddl_if(callable_=_not_on_mysql)
    )
    sa.Index(f"{name}_key", *cols, unique=True, mysql_using="hash").ddl_if(callable_=_on_mysql)
    sa.Index(f"{name}_range", *cols[:2]).ddl_if(callable_=_on_mysql)


def _release_0_1_0(p: str) -> sa.MetaData:
    """The tables of release 0.1.0 for prefix ``p``, as its ``make_metadata`` built them."""
    md = sa.MetaData()

    def ident() -> sa.types.TypeEngine[str]:
        return _text_key_0_1_0(255)

    def slug() -> sa.types.TypeEngine[str]:
        return _text_key_0_1_0(64)

    clustered: dict[str, Any] = {"sqlite_with_rowid": False}
    teams = sa.Table(
        f"{p}teams",
        md,
        sa.Column("team_id", ident(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("plan", sa.String(16), nullable=False),
        sa.Column("billing_anchor", sa.Date(), nullable=False),
        sa.Column("billing_period", sa.String(16), nullable=False),
        sa.Column("credits_per_cycle", sa.BigInteger(), nullable=False),
        sa.Column("timezone", sa.String(255), nullable=False),
        sa.Column("credit_types", sa.Text(), nullable=False),
        sa.Column("ledger_seq", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("team_id", name=f"{p}teams_pk"),
    )
    team_fk = sa.ForeignKeyConstraint
    sa.Table(
        f"{p}groups",
        md,
        sa.Column("team_id", ident(), nullable=False),
        sa.Column("group_id", ident(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "group_id", name=f"{p}groups_pk"),
        team_fk(["team_id"], [teams.c.team_id], name=f"{p}groups_team_fk"),
    )
    sa.Table(
        f"{p}members",
        md,
        sa.Column("team_id", ident(), nullable=False),
        sa.Column("user_id", ident(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("group_id", ident(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "user_id", name=f"{p}members_pk"),
        team_fk(["team_id"], [teams.c.team_id], name=f"{p}members_team_fk"),
    )
    ledger = sa.Table(
        f"{p}ledger",
        md,
        sa.Column("team_id", ident(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", ident(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("user_id", ident(), nullable=True),
        sa.Column("group_id", ident(), nullable=True),
        sa.Column("feature", sa.String(16), nullable=True),
        sa.Column("credit_type", slug(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=True),
        sa.Column("reverses", ident(), nullable=True),
        sa.PrimaryKeyConstraint("team_id", "entry_id", name=f"{p}ledger_pk"),
    )
    sa.Index(f"{p}ledger_occurred", ledger.c.team_id, ledger.c.occurred_at, ledger.c.seq)
    sa.Index(
        f"{p}ledger_reverses",
        ledger.c.team_id,
        ledger.c.reverses,
        sqlite_where=ledger.c.reverses.is_not(None),
        postgresql_where=ledger.c.reverses.is_not(None),
    )
    dimensions = ("user_id", "group_id", "feature", "credit_type")
    for name, period in (("daily_usage", "day"), ("cycle_usage", "cycle")):
        table = sa.Table(
            f"{p}{name}",
            md,
            sa.Column("team_id", ident(), nullable=False),
            sa.Column(period, sa.Date(), nullable=False),
            sa.Column("user_id", ident(), nullable=False),
            sa.Column("group_id", ident(), nullable=False),
            sa.Column("feature", sa.String(16), nullable=False),
            sa.Column("credit_type", slug(), nullable=False),
            sa.Column("credits", sa.BigInteger(), nullable=False),
            **clustered,
        )
        _wide_key_0_1_0(table, f"{p}{name}", ("team_id", period, *dimensions))
    sa.Table(
        f"{p}balances",
        md,
        sa.Column("team_id", ident(), nullable=False),
        sa.Column("cycle", sa.Date(), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("subject_id", ident(), nullable=False),
        sa.Column("credit_type", slug(), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.Column("granted", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "team_id", "cycle", "scope", "subject_id", "credit_type", name=f"{p}balances_pk"
        ),
        **clustered,
    )
    sa.Table(
        f"{p}credit_limits",
        md,
        sa.Column("team_id", ident(), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("subject_id", ident(), nullable=False),
        sa.Column("credit_type", slug(), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "team_id", "scope", "subject_id", "credit_type", name=f"{p}credit_limits_pk"
        ),
        team_fk(["team_id"], [teams.c.team_id], name=f"{p}credit_limits_team_fk"),
    )
    schedules = sa.Table(
        f"{p}report_schedules",
        md,
        sa.Column("team_id", ident(), nullable=False),
        sa.Column("schedule_id", ident(), nullable=False),
        sa.Column("frequency", sa.String(16), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("created_by", ident(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "schedule_id", name=f"{p}report_schedules_pk"),
        team_fk(["team_id"], [teams.c.team_id], name=f"{p}report_schedules_team_fk"),
    )
    sa.Table(
        f"{p}report_deliveries",
        md,
        sa.Column("team_id", ident(), nullable=False),
        sa.Column("schedule_id", ident(), nullable=False),
        sa.Column("period_first", sa.Date(), nullable=False),
        sa.Column("period_last", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("claimed_at", sa.BigInteger(), nullable=True),
        sa.Column("sent_at", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint(
            "team_id", "schedule_id", "period_first", name=f"{p}report_deliveries_pk"
        ),
        team_fk(
            ["team_id", "schedule_id"],
            [schedules.c.team_id, schedules.c.schedule_id],
            name=f"{p}report_deliveries_schedule_fk",
        ),
    )
    return md


# -- a 0.1.0 database with data -------------------------------------------------------------
def _us(day: date, hour: int = 0) -> int:
    """Microseconds since the epoch of ``hour`` o'clock UTC on ``day``."""
    return ((day - date(1970, 1, 1)).days * 24 + hour) * 3_600_000_000


MARCH, APRIL = date(2026, 3, 1), date(2026, 4, 1)
LONG_ID: Final = "ü" * 255  # 510 bytes of UTF-8: a length that needs two bytes
EMOJI_ID: Final = "名前😀"  # 4-byte UTF-8 characters

D2, D3 = date(2026, 3, 2), date(2026, 3, 3)


def _rows(columns: str, *values: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [dict(zip(columns.split(), row, strict=True)) for row in values]


#: 0.1.0 rows by table (without prefix; ``team_id`` is ``acme`` where not
#: given). Team ``acme`` bills monthly from 2026-01-01 in UTC; its roll-ups,
#: counters and balances are what its ledger derives, so ``verify`` finds nothing.
DATA_0_1_0: Final[dict[str, list[dict[str, Any]]]] = {
    "teams": _rows(
        "team_id name plan billing_anchor billing_period credits_per_cycle timezone "
        "credit_types ledger_seq",
        ("acme", "Acme", "pro", date(2026, 1, 1), "monthly", 1000, "UTC", "standard,premium", 7),
        (
            "zürich",
            "Zürich AG",
            "free",
            date(2026, 2, 15),
            "annual",
            50,
            "Europe/Zurich",
            "standard",
            0,
        ),
    ),
    "groups": _rows(
        "team_id group_id name",
        ("acme", "eng", "Engineering"),
        ("acme", "désign", "Design"),
    ),
    "members": _rows(
        "team_id user_id name email role group_id active",
        ("acme", "zoë", "Zoë", "zoe@acme.example", "admin", "eng", True),
        ("acme", "bob", "Bob", "bob@acme.example", "member", None, True),
        ("acme", EMOJI_ID, "Name", "n@acme.example", "manager", "désign", False),
        ("acme", LONG_ID, "Ü", "u@acme.example", "member", "désign", True),
    ),
    "ledger": _rows(
        "seq entry_id kind user_id group_id feature credit_type amount occurred_at "
        "recorded_at reverses",
        (1, "g1", "grant", None, None, None, None, 500, _us(MARCH), _us(MARCH, 1), None),
        (
            2,
            "u1",
            "usage",
            "zoë",
            "eng",
            "platform",
            "standard",
            30,
            _us(D2, 10),
            _us(D2, 11),
            None,
        ),
        (3, "u2", "usage", "bob", None, "api", "standard", 20, _us(D2, 11), None, None),
        (4, "u3", "usage", EMOJI_ID, "désign", "workspace", "premium", 7, _us(D3, 9), None, None),
        (
            5,
            "u4",
            "usage",
            LONG_ID,
            "désign",
            "extension",
            "standard",
            4,
            _us(APRIL, 8),
            None,
            None,
        ),
        (6, "r1", "reversal", "zoë", "eng", "platform", "standard", 10, _us(D2, 10), None, "u1"),
        (7, "u5", "usage", "zoë", "eng", "platform", "standard", 5, _us(D2, 23), None, None),
    ),
    "daily_usage": _rows(
        "day user_id group_id feature credit_type credits",
        (D2, "zoë", "eng", "platform", "standard", 30 - 10 + 5),
        (D2, "bob", "", "api", "standard", 20),
        (D3, EMOJI_ID, "désign", "workspace", "premium", 7),
        (APRIL, LONG_ID, "désign", "extension", "standard", 4),
    ),
    "cycle_usage": _rows(
        "cycle user_id group_id feature credit_type credits",
        (MARCH, "zoë", "eng", "platform", "standard", 25),
        (MARCH, "bob", "", "api", "standard", 20),
        (MARCH, EMOJI_ID, "désign", "workspace", "premium", 7),
        (APRIL, LONG_ID, "désign", "extension", "standard", 4),
    ),
    "balances": _rows(
        "cycle scope subject_id credit_type used granted",
        (MARCH, "team", "", "", 25 + 20 + 7, 500),
        (MARCH, "user", "zoë", "", 25, 0),
        (MARCH, "user", "zoë", "standard", 25, 0),
        (MARCH, "user", "bob", "", 20, 0),
        (MARCH, "user", "bob", "standard", 20, 0),
        (MARCH, "user", EMOJI_ID, "", 7, 0),
        (MARCH, "user", EMOJI_ID, "premium", 7, 0),
        (MARCH, "group", "eng", "", 25, 0),
        (MARCH, "group", "eng", "standard", 25, 0),
        (MARCH, "group", "désign", "", 7, 0),
        (MARCH, "group", "désign", "premium", 7, 0),
        (APRIL, "team", "", "", 4, 0),
        (APRIL, "user", LONG_ID, "", 4, 0),
        (APRIL, "user", LONG_ID, "standard", 4, 0),
        (APRIL, "group", "désign", "", 4, 0),
        (APRIL, "group", "désign", "standard", 4, 0),
    ),
}

#: Each team's sum of ledger amounts, whatever their kind.
VOLUMES: Final = {"acme": 500 + 30 + 20 + 7 + 4 + 10 + 5, "zürich": 0}
#: The 0.1.0 tables that the newest schema keeps.
KEPT_TABLES: Final = tuple(DATA_0_1_0)


def _make_release_0_1_0(conn: sa.Connection, prefix: str) -> None:
    """A database as release 0.1.0 left it: its tables, its data, no version table."""
    md = _release_0_1_0(prefix)
    md.create_all(conn)
    for name, rows in DATA_0_1_0.items():
        team = {} if name in ("teams", "groups", "members") else {"team_id": "acme"}
        conn.execute(md.tables[f"{prefix}{name}"].insert(), [{**team, **row} for row in rows])


def _stored_rows(conn: sa.Connection, prefix: str) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of every kept table, in 0.1.0's columns, exactly as the driver returns them."""
    quote = conn.dialect.identifier_preparer.quote
    found = {}
    for name in KEPT_TABLES:
        columns = [c.name for c in _release_0_1_0(prefix).tables[f"{prefix}{name}"].columns]
        listed = ", ".join(quote(c) for c in columns)
        found[name] = sorted(
            tuple(row)
            for row in conn.exec_driver_sql(f"SELECT {listed} FROM {quote(prefix + name)}")
        )
    return found


# -- reflection ---------------------------------------------------------------------------
def _unprefixed(name: str | None, prefix: str) -> str | None:
    return name[len(prefix) :] if name and name.startswith(prefix) else name


def _options(options: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((key, str(value)) for key, value in options.items()))


def _schema(conn: sa.Connection, prefix: str) -> dict[str, Any]:
    """Every table of ``prefix`` as reflected, names without the prefix, column order aside."""
    inspector = sa.inspect(conn)
    found: dict[str, Any] = {}
    for name in inspector.get_table_names():
        if not name.startswith(prefix):
            continue
        pk = inspector.get_pk_constraint(name)
        found[name[len(prefix) :]] = {
            "columns": {
                c["name"]: (
                    str(c["type"].compile(dialect=conn.dialect)),
                    getattr(c["type"], "collation", None),
                    c["nullable"],
                    c["default"],
                )
                for c in inspector.get_columns(name)
            },
            "primary key": (_unprefixed(pk["name"], prefix), tuple(pk["constrained_columns"])),
            "indexes": sorted(
                (
                    _unprefixed(ix["name"], prefix),
                    tuple(ix["column_names"]),
                    bool(ix["unique"]),
                    _options(ix.get("dialect_options", {})),
                )
                for ix in inspector.get_indexes(name)
            ),
            "unique constraints": sorted(
                (_unprefixed(uq["name"], prefix), tuple(uq["column_names"]))
                for uq in inspector.get_unique_constraints(name)
            ),
            "foreign keys": sorted(
                (
                    _unprefixed(fk["name"], prefix),
                    tuple(fk["constrained_columns"]),
                    _unprefixed(fk["referred_table"], prefix),
                    tuple(fk["referred_columns"]),
                )
                for fk in inspector.get_foreign_keys(name)
            ),
            "options": _options(inspector.get_table_options(name)),
        }
    return found


def _where(text: object) -> str:
    """A partial index's predicate, spelled alike whether reflected or compiled."""
    return re.sub(r'[\s()"`]', "", str(text)).lower()


def _differences(conn: sa.Connection, metadata: sa.MetaData, prefix: str) -> list[str]:
    """How the tables of ``prefix`` differ from ``metadata``; empty when they match exactly.

    Alembic's ``compare_metadata`` compares tables, columns (types,
    nullability, server defaults) and indexes; it compares neither primary
    keys, nor collations, nor partial indexes' predicates, nor SQLite's
    ``WITHOUT ROWID``, so those are compared here.
    """
    dialect = conn.dialect
    versions = version_table(prefix)

    def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
        return type_ != "table" or (
            name is not None and name.startswith(prefix) and name != versions
        )

    context = MigrationContext.configure(
        conn,
        opts={"compare_type": True, "compare_server_default": True, "include_name": include_name},
    )
    problems = [repr(diff) for diff in compare_metadata(context, metadata)]

    inspector = sa.inspect(conn)
    reflected = {t for t in inspector.get_table_names() if include_name(t, "table", None)}
    for table in metadata.sorted_tables:
        if table.name not in reflected:
            continue  # compare_metadata reports it
        name = table.name
        pk = inspector.get_pk_constraint(name)
        want_pk = [c.name for c in table.primary_key.columns]
        if pk["constrained_columns"] != want_pk:
            problems.append(f"{name}: primary key {pk['constrained_columns']}, want {want_pk}")
        if pk["name"] is not None and pk["name"] != table.primary_key.name:
            problems.append(
                f"{name}: primary key named {pk['name']}, want {table.primary_key.name}"
            )
        columns = {c["name"]: c for c in inspector.get_columns(name)}
        for column in table.columns:
            have = columns.get(column.name)
            if have is None:
                continue  # compare_metadata reports it
            want_type = column.type.dialect_impl(dialect)
            want = (getattr(want_type, "length", None), getattr(want_type, "collation", None))
            got = (getattr(have["type"], "length", None), getattr(have["type"], "collation", None))
            if isinstance(want_type, sa.String) and got != want:
                problems.append(f"{name}.{column.name}: (length, collation) {got}, want {want}")
        indexes: dict[str | None, Any] = {ix["name"]: ix for ix in inspector.get_indexes(name)}
        for index in table.indexes:
            # The predicate as CREATE INDEX spells it on this dialect, if any.
            created = str(CreateIndex(index).compile(dialect=dialect))
            want_where = created.partition(" WHERE ")[2]
            options = indexes.get(index.name, {}).get("dialect_options", {})
            got_where = str(options.get(f"{dialect.name}_where", ""))
            if _where(got_where) != _where(want_where):
                problems.append(
                    f"{index.name}: partial index WHERE {got_where!r}, want {want_where!r}"
                )
        if dialect.name == "sqlite":
            want_rowid = table.dialect_options["sqlite"]["with_rowid"]
            got_rowid = inspector.get_table_options(name).get("sqlite_with_rowid", True)
            if got_rowid != want_rowid:
                problems.append(f"{name}: with_rowid {got_rowid}, want {want_rowid}")
    return problems


@contextmanager
def _writes(conn: sa.Connection) -> Iterator[list[str]]:
    """Record every statement on ``conn`` that is not a read."""
    seen: list[str] = []
    reads = ("SELECT", "SHOW", "PRAGMA TABLE_INFO", "PRAGMA MAIN.", "PRAGMA TEMP.", "DESCRIBE")

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(reads):
            seen.append(statement)

    event.listen(conn, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(conn, "before_cursor_execute", record)


def _state(conn: sa.Connection, prefix: str) -> tuple[dict[str, Any], str | None]:
    return _schema(conn, prefix), current_revision(conn, prefix)


# -- the tests ------------------------------------------------------------------------------
class TestTheShippedScripts:
    """The package ships one line of migrations from 0.1.0's schema to HEAD, loaded only on use."""

    def test_the_script_directory_holds_exactly_the_known_revisions_in_order(self) -> None:
        config = Config()
        config.set_main_option("script_location", str(_SCRIPTS))
        script = ScriptDirectory.from_config(config)
        assert script.get_heads() == [HEAD]
        walked = [rev.revision for rev in script.walk_revisions("base", "heads")]
        assert tuple(reversed(walked)) == REVISIONS

    def test_importing_the_package_and_the_migrator_does_not_import_alembic(self) -> None:
        code = (
            "import sys, credit_usage, credit_usage.adapters.sql.migrate\n"
            "assert 'alembic' not in sys.modules, 'alembic imported at import time'\n"
        )
        subprocess.run([sys.executable, "-c", code], check=True)

    def test_metadata_for_another_dialect_is_refused(self) -> None:
        engine = sa.create_engine("sqlite://")
        try:
            with engine.begin() as conn, pytest.raises(ValidationError, match="sqlite"):
                create_schema(conn, make_metadata("x_", dialect="mariadb"), "x_")
        finally:
            engine.dispose()


class TestUpgradeOfARelease010Database:
    """A database release 0.1.0 made, with data, reaches the newest schema with nothing lost."""

    def test_every_row_keeps_its_values(self, db: Database) -> None:
        prefix = db.prefix()
        with db.engine.begin() as conn:
            _make_release_0_1_0(conn, prefix)
        with db.engine.connect() as conn:
            before = _stored_rows(conn, prefix)
        assert sum(map(len, before.values())) == sum(map(len, DATA_0_1_0.values()))
        with db.engine.begin() as conn:
            upgrade_schema(conn, db.metadata(prefix), prefix)
        with db.engine.connect() as conn:
            assert _stored_rows(conn, prefix) == before
            assert current_revision(conn, prefix) == HEAD

    def test_new_columns_hold_the_ledger_volume_and_no_features(self, db: Database) -> None:
        prefix = db.prefix()
        with db.engine.begin() as conn:
            _make_release_0_1_0(conn, prefix)
        with db.engine.begin() as conn:
            upgrade_schema(conn, db.metadata(prefix), prefix)
        teams = db.metadata(prefix).tables[f"{prefix}teams"]
        with db.engine.connect() as conn:
            found = conn.execute(
                sa.select(teams.c.team_id, teams.c.ledger_volume, teams.c.features)
            )
            assert {row.team_id: (row.ledger_volume, row.features) for row in found} == {
                team_id: (volume, None) for team_id, volume in VOLUMES.items()
            }

    @pytest.mark.parametrize("db", ["mariadb"], indirect=True)
    def test_cell_keys_on_mariadb_equal_the_python_digest(self, db: Database) -> None:
        """Only MariaDB/MySQL key roll-ups and counters by ``cell_key``, filled in SQL."""
        prefix = db.prefix()
        with db.engine.begin() as conn:
            _make_release_0_1_0(conn, prefix)
        with db.engine.begin() as conn:
            upgrade_schema(conn, db.metadata(prefix), prefix)
        md = db.metadata(prefix)
        with db.engine.connect() as conn:
            for name in ("daily_usage", "cycle_usage"):
                table = md.tables[f"{prefix}{name}"]
                rows = conn.execute(
                    sa.select(
                        table.c.user_id,
                        table.c.group_id,
                        table.c.feature,
                        table.c.credit_type,
                        table.c.cell_key,
                    )
                ).all()
                assert len(rows) == len(DATA_0_1_0[name])
                for *dimensions, stored in rows:
                    assert bytes(stored) == cell_key(*dimensions), dimensions

    def test_the_storage_reads_and_verifies_the_upgraded_teams(self, db: Database) -> None:
        prefix = db.prefix()
        with db.engine.begin() as conn:
            _make_release_0_1_0(conn, prefix)
        with db.engine.begin() as conn:
            upgrade_schema(conn, db.metadata(prefix), prefix)
        storage = SqlStorage(db.engine, table_prefix=prefix)
        team = storage.read("acme", lambda tx: tx.team)
        assert (team.team_id, team.name, team.credits_per_cycle) == ("acme", "Acme", 1000)
        assert team.credit_types == ("standard", "premium")
        assert storage.verify("acme") == []
        assert storage.verify("zürich") == []

    def test_a_write_after_the_upgrade_adds_to_the_stored_cells(self, db: Database) -> None:
        """On MariaDB the upsert finds the cell by the ``cell_key`` the migration computed."""
        prefix = db.prefix()
        with db.engine.begin() as conn:
            _make_release_0_1_0(conn, prefix)
        with db.engine.begin() as conn:
            upgrade_schema(conn, db.metadata(prefix), prefix)
        storage = SqlStorage(db.engine, table_prefix=prefix)
        app = CreditUsage(storage=storage, clock=lambda: datetime(2026, 4, 5, tzinfo=UTC))
        for number, (user_id, feature, at) in enumerate(
            [
                ("zoë", "platform", datetime(2026, 3, 2, 12, tzinfo=UTC)),
                (LONG_ID, "extension", datetime(2026, 4, 1, 9, tzinfo=UTC)),
            ]
        ):
            app.record_usage(
                "acme",
                user_id,
                feature=feature,
                credit_type="standard",
                amount=3,
                occurred_at=at,
                entry_id=f"after-upgrade-{number}",
            )
        daily = db.metadata(prefix).tables[f"{prefix}daily_usage"]
        with db.engine.connect() as conn:
            credits = dict(conn.execute(sa.select(daily.c.user_id, daily.c.credits)).all())
        assert len(credits) == len(DATA_0_1_0["daily_usage"])
        assert (credits["zoë"], credits[LONG_ID]) == (25 + 3, 4 + 3)
        assert storage.verify("acme") == []

    def test_migration_0001_makes_the_schema_of_release_010(self, db: Database) -> None:
        released, migrated = db.prefix(), db.prefix()
        with db.engine.begin() as conn:
            _release_0_1_0(released).create_all(conn)
            _alembic_to(conn, migrated, REVISIONS[0])
            _drop_version_table(conn, migrated)
        with db.engine.connect() as conn:
            assert _schema(conn, migrated) == _schema(conn, released)

    @pytest.mark.parametrize("revision", REVISIONS[1:])
    def test_tables_without_a_version_table_are_stamped_by_their_columns(
        self, db: Database, revision: str
    ) -> None:
        """Tables of a revision after 0.1.0 but no version table upgrade from that revision."""
        unversioned, created = db.prefix(), db.prefix()
        with db.engine.begin() as conn:
            _alembic_to(conn, unversioned, revision)
            _drop_version_table(conn, unversioned)
            create_schema(conn, db.metadata(created), created)
        with db.engine.begin() as conn:
            upgrade_schema(conn, db.metadata(unversioned), unversioned)
        with db.engine.connect() as conn:
            assert _state(conn, unversioned) == _state(conn, created)


class TestSchemaFunctionsOnACurrentSchema:
    """On a current schema, create_schema and upgrade_schema issue no write and change nothing."""

    @pytest.mark.parametrize(
        ("first", "then"),
        [
            (upgrade_schema, upgrade_schema),
            (create_schema, upgrade_schema),
            (create_schema, create_schema),
            (upgrade_schema, create_schema),
        ],
        ids=["upgrade-upgrade", "create-upgrade", "create-create", "upgrade-create"],
    )
    def test_running_again_is_a_no_op(
        self,
        db: Database,
        first: Callable[[sa.Connection, sa.MetaData, str], None],
        then: Callable[[sa.Connection, sa.MetaData, str], None],
    ) -> None:
        prefix = db.prefix()
        with db.engine.begin() as conn:
            first(conn, db.metadata(prefix), prefix)
        with db.engine.begin() as conn:
            before = _state(conn, prefix)
            with _writes(conn) as writes:
                then(conn, db.metadata(prefix), prefix)
            assert writes == []
            assert _state(conn, prefix) == before
        assert before[1] == HEAD

    def test_create_schema_makes_a_table_missing_at_head(self, db: Database) -> None:
        prefix = db.prefix()
        with db.engine.begin() as conn:
            create_schema(conn, db.metadata(prefix), prefix)
            want = _state(conn, prefix)
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE {prefix}balances")
        with db.engine.begin() as conn:
            create_schema(conn, db.metadata(prefix), prefix)
        with db.engine.connect() as conn:
            assert _state(conn, prefix) == want

    def test_an_unversioned_newest_schema_is_stamped_without_other_changes(
        self, db: Database
    ) -> None:
        """Tables that today's ``create_all`` made without a version table are only stamped."""
        prefix = db.prefix()
        with db.engine.begin() as conn:
            db.metadata(prefix).create_all(conn)
            before = _schema(conn, prefix)
        with db.engine.begin() as conn:
            upgrade_schema(conn, db.metadata(prefix), prefix)
        with db.engine.connect() as conn:
            after = _schema(conn, prefix)
            assert current_revision(conn, prefix) == HEAD
        assert after.pop("alembic_version")
        assert after == before


class TestDroppingTheSchema:
    """drop_schema removes the tables and the version table; create_schema then starts afresh."""

    def test_create_after_drop_makes_the_newest_schema_again(self, db: Database) -> None:
        prefix = db.prefix()
        with db.engine.begin() as conn:
            create_schema(conn, db.metadata(prefix), prefix)
        with db.engine.begin() as conn:
            drop_schema(conn, db.metadata(prefix), prefix)
        with db.engine.connect() as conn:
            assert _schema(conn, prefix) == {}
        with db.engine.begin() as conn:
            create_schema(conn, db.metadata(prefix), prefix)
        with db.engine.connect() as conn:
            assert current_revision(conn, prefix) == HEAD
            assert _differences(conn, db.metadata(prefix), prefix) == []

    def test_a_release_010_database_is_dropped_whole(self, db: Database) -> None:
        prefix = db.prefix()
        with db.engine.begin() as conn:
            _make_release_0_1_0(conn, prefix)
        with db.engine.begin() as conn:
            drop_schema(conn, db.metadata(prefix), prefix)
        with db.engine.connect() as conn:
            assert _schema(conn, prefix) == {}


class TestEveryPathEndsAtMetadata:
    """create_schema, every migration from 0001 and 0.1.0 upgraded all make exactly ``metadata``."""

    @staticmethod
    def _made(db: Database, path: str) -> str:
        prefix = db.prefix()
        with db.engine.begin() as conn:
            if path == "release 0.1.0 upgraded":
                _release_0_1_0(prefix).create_all(conn)
            if path == "created":
                create_schema(conn, db.metadata(prefix), prefix)
            else:
                upgrade_schema(conn, db.metadata(prefix), prefix)
        return prefix

    def test_the_paths_reflect_identically(self, db: Database) -> None:
        created = self._made(db, "created")
        migrated = self._made(db, "migrated from 0001")
        upgraded = self._made(db, "release 0.1.0 upgraded")
        with db.engine.connect() as conn:
            want = _schema(conn, created)
            assert _schema(conn, migrated) == want
            assert _schema(conn, upgraded) == want

    @pytest.mark.parametrize("path", ["created", "migrated from 0001", "release 0.1.0 upgraded"])
    def test_each_path_has_no_difference_from_metadata(self, db: Database, path: str) -> None:
        prefix = self._made(db, path)
        with db.engine.connect() as conn:
            assert _differences(conn, db.metadata(prefix), prefix) == []

    def test_the_comparison_sees_the_differences_of_release_010(self, db: Database) -> None:
        """A control: 0.1.0's schema differs from metadata, and the comparison says how."""
        prefix = db.prefix()
        with db.engine.begin() as conn:
            _release_0_1_0(prefix).create_all(conn)
        with db.engine.connect() as conn:
            found = "\n".join(_differences(conn, db.metadata(prefix), prefix))
        for expected in ("ledger_volume", "features", "report_schedules", f"{prefix}teams.plan"):
            assert expected in found
        if db.kind == "mariadb":
            assert "cell_key" in found
            assert f"{prefix}daily_usage: primary key []" in found


class TestTablePrefixes:
    """Each table prefix has its own version table and migrates on its own."""

    def test_two_prefixes_in_one_database_migrate_independently(self, db: Database) -> None:
        old, new = db.prefix(), db.prefix()
        with db.engine.begin() as conn:
            create_schema(conn, db.metadata(new), new)
            _make_release_0_1_0(conn, old)
        with db.engine.connect() as conn:
            assert current_revision(conn, old) is None
            assert current_revision(conn, new) == HEAD
            new_before = _schema(conn, new)
        with db.engine.begin() as conn:
            upgrade_schema(conn, db.metadata(old), old)
        with db.engine.connect() as conn:
            assert current_revision(conn, old) == HEAD
            assert _schema(conn, new) == new_before
            tables = set(sa.inspect(conn).get_table_names())
            for prefix in (old, new):
                assert version_table(prefix) in tables
                rows = conn.exec_driver_sql(f"SELECT version_num FROM {version_table(prefix)}")
                assert rows.scalars().all() == [HEAD]


class TestASchemaNewerThanTheLibrary:
    """A version table naming a revision the package does not know is refused; nothing changes."""

    @pytest.mark.parametrize("function", [create_schema, upgrade_schema])
    def test_it_is_refused_naming_the_revision(
        self, db: Database, function: Callable[[sa.Connection, sa.MetaData, str], None]
    ) -> None:
        prefix = db.prefix()
        with db.engine.begin() as conn:
            create_schema(conn, db.metadata(prefix), prefix)
            conn.exec_driver_sql(
                f"UPDATE {version_table(prefix)} SET version_num = '0099_from_the_future'"
            )
        with db.engine.begin() as conn:
            before = _state(conn, prefix)
            with _writes(conn) as writes, pytest.raises(StorageError) as raised:
                function(conn, db.metadata(prefix), prefix)
            assert writes == []
            assert _state(conn, prefix) == before
        assert "'0099_from_the_future'" in str(raised.value)
        assert before[1] == "0099_from_the_future"


class TestTheCallersTransaction:
    """The upgrade runs in the caller's transaction; where DDL is transactional it rolls back."""

    @pytest.mark.parametrize("db", ["sqlite", "postgres"], indirect=True)
    def test_a_rollback_leaves_the_release_010_database_as_it_was(self, db: Database) -> None:
        prefix = db.prefix()
        with db.engine.begin() as conn:
            _make_release_0_1_0(conn, prefix)
        with db.engine.connect() as conn:
            before = _state(conn, prefix), _stored_rows(conn, prefix)
        with db.engine.connect() as conn, conn.begin() as transaction:
            upgrade_schema(conn, db.metadata(prefix), prefix)
            assert current_revision(conn, prefix) == HEAD
            transaction.rollback()
        with db.engine.connect() as conn:
            assert (_state(conn, prefix), _stored_rows(conn, prefix)) == before

    @pytest.mark.parametrize("db", ["sqlite"], indirect=True)
    def test_on_sqlite_it_commits_inside_a_begin_immediate_as_sqlstorage_opens(
        self, db: Database
    ) -> None:
        prefix = db.prefix()
        with db.engine.begin() as conn:
            _make_release_0_1_0(conn, prefix)
        with db.engine.begin() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            upgrade_schema(conn, db.metadata(prefix), prefix)
        with db.engine.connect() as conn:
            assert current_revision(conn, prefix) == HEAD
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        assert SqlStorage(db.engine, table_prefix=prefix).verify("acme") == []


class TestThroughTheStorage:
    """SqlStorage.create_schema() and upgrade_schema() run the shipped migrations."""

    def test_upgrade_schema_brings_a_release_010_database_up_and_then_does_nothing(
        self, db: Database
    ) -> None:
        """A host calls storage.upgrade_schema() at start-up: it upgrades once, then is a no-op."""
        prefix = db.prefix()
        with db.engine.begin() as conn:
            _make_release_0_1_0(conn, prefix)
        storage = SqlStorage(db.engine, table_prefix=prefix)
        storage.upgrade_schema()
        with db.engine.connect() as conn:
            assert current_revision(conn, prefix) == HEAD
            before = _state(conn, prefix)
        storage.upgrade_schema()
        storage.create_schema()
        with db.engine.connect() as conn:
            assert _state(conn, prefix) == before
        assert storage.verify("acme") == []

    def test_create_schema_on_a_release_010_database_upgrades_it(self, db: Database) -> None:
        """0.1.0 told hosts to call create_schema() at start-up; doing so now upgrades."""
        prefix = db.prefix()
        with db.engine.begin() as conn:
            _make_release_0_1_0(conn, prefix)
        storage = SqlStorage(db.engine, table_prefix=prefix)
        storage.create_schema()
        with db.engine.connect() as conn:
            assert current_revision(conn, prefix) == HEAD
            assert _differences(conn, storage.metadata, prefix) == []

    def test_a_bound_storage_refuses_to_migrate(self, db: Database) -> None:
        """DDL inside a host's transaction could commit it: migrate on the engine instead."""
        prefix = db.prefix()
        storage = SqlStorage(db.engine, table_prefix=prefix)
        with db.engine.begin() as conn:
            bound = storage.bind(conn)
            for step in (bound.create_schema, bound.upgrade_schema, bound.drop_schema):
                with pytest.raises(ValidationError, match="host's transaction"):
                    step()
        with db.engine.connect() as conn:
            assert current_revision(conn, prefix) is None
