"""The SQL storage: SQLAlchemy 2 Core on SQLite, PostgreSQL and MariaDB/MySQL.

Every table has a ``team_id`` column, every primary key and index leads with
it, and every statement this module issues names one team, so the tables can
be distributed by ``team_id`` (Citus, CockroachDB) with single-shard
transactions; see ``docs/scaling.md``.

Writes lock the team before their first read: ``BEGIN IMMEDIATE`` on SQLite
(the pysqlite driver's own transaction handling is switched off so the lock is
taken when the transaction begins), ``SELECT ... FOR UPDATE`` of the team's row
on PostgreSQL and MariaDB. Under that lock :meth:`SqlStorage.append` runs the
service's plan, then inserts the ledger entries with one bulk statement and
adds to the daily roll-ups, per-cycle counters and balances with one upsert
each (see :class:`_Bulk`). Reads of usage sum roll-ups or counters in SQL;
only :meth:`SqlStorage.iter_entries`, :meth:`SqlStorage.verify`,
:meth:`SqlStorage.rebuild` and the checks inside a write read raw ledger rows.

Storage choices that keep the three backends exact and alike:

* Instants are ``BIGINT`` microseconds since the Unix epoch in UTC (a MariaDB
  ``DATETIME`` without fractional seconds would drop microseconds, and the
  backends disagree on time zones).
* "No group" is ``''`` in the roll-up and counter tables, whose primary keys
  cannot hold ``NULL``; it reads back as ``None``.
* Ids compare byte by byte everywhere: ``utf8mb4_nopad_bin`` on MariaDB/MySQL
  (so ``"Ada"``, ``"ada"`` and ``"ada "`` stay three ids, as on SQLite), and
  ``COLLATE "C"`` on PostgreSQL whatever the database's locale.
* Three 255-character ids are too long for an InnoDB key (3072 bytes), so on
  MariaDB the roll-up and counter tables are keyed by a unique ``USING HASH``
  index (MariaDB 10.4+) instead of a primary key.
* Insertion order is a per-team ``seq``, numbered from ``teams.ledger_seq`` by
  the writer holding the team's lock: no sequence shared between teams.

Example:
    >>> from credit_usage import CreditUsage, SqlStorage
    >>> storage = SqlStorage.from_url("sqlite://")
    >>> storage.create_schema()
    >>> app = CreditUsage(storage=storage)
"""

from __future__ import annotations

import functools
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlalchemy.schema import SchemaItem
from sqlalchemy.sql.compiler import DDLCompiler, SQLCompiler
from sqlalchemy.sql.ddl import BaseDDLElement

from credit_usage.domain.aggregate import UsageCell
from credit_usage.domain.cycles import BillingSchedule
from credit_usage.domain.ledger import Balance, BalanceKey, Batch, CycleKey, DayKey, drift
from credit_usage.domain.model import EntryKind, Feature, Group, LedgerEntry, Member, Role, Team
from credit_usage.errors import (
    AlreadyExistsError,
    IdempotencyConflictError,
    NotFoundError,
    StorageError,
    ValidationError,
)
from credit_usage.ports import WritePlan

__all__ = ["DEFAULT_PREFIX", "SqlStorage", "make_metadata", "metadata"]

#: The table prefix used unless another is given.
DEFAULT_PREFIX: Final = "credit_usage_"

#: Ids per ``IN (...)`` list: well below every backend's parameter limit.
IN_CHUNK: Final = 500
#: The same on PostgreSQL (65,535 parameters a statement): without statistics
#: yet it may filter the team's rows against the list, so fewer, longer lists.
PG_IN_CHUNK: Final = 10_000
#: Ledger rows fetched per round trip when streaming.
STREAM_CHUNK: Final = 2_000
#: Ledger entries derived at a time when the figures are rebuilt or verified.
REBUILD_CHUNK: Final = 50_000

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_FEATURES: Final = {feature.value: feature for feature in Feature}
_KINDS: Final = {kind.value: kind for kind in EntryKind}
_ROLES: Final = {role.value: role for role in Role}
_PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,29}")
_MYSQL: Final = ("mysql", "mariadb")
_POSTGRES: Final = ("postgresql", "cockroachdb")
#: The execution option that makes a SQLite transaction begin with ``BEGIN IMMEDIATE``.
_WRITE_OPTION: Final = "credit_usage_write"
_READY: Final = "credit_usage_sqlite_ready"

T = TypeVar("T")


# -- schema ----------------------------------------------------------------------
def _id_type() -> sa.types.TypeEngine[str]:
    return _text_key(255)


def _slug_type() -> sa.types.TypeEngine[str]:
    return _text_key(64)


def _text_key(length: int) -> sa.types.TypeEngine[str]:
    """A string compared byte by byte, as SQLite does and as Python sorts.

    On MariaDB/MySQL the default collations ignore case and trailing spaces;
    on PostgreSQL the database's locale collation both orders differently and
    makes every comparison in a composite key index a ``strcoll`` call.
    """
    return (
        sa.String(length)
        .with_variant(
            mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_nopad_bin"), *_MYSQL
        )
        .with_variant(postgresql.VARCHAR(length, collation="C"), "postgresql")
    )


#: On SQLite the primary key is the table (``WITHOUT ROWID``), as InnoDB's
#: clustered index is: an upsert touches one B-tree, not a table and a key
#: index, and a read by key range needs no second lookup per row.
_CLUSTERED: Final[dict[str, Any]] = {"sqlite_with_rowid": False}


def _on_mysql(
    ddl: BaseDDLElement,
    target: SchemaItem | str,
    bind: Connection | None,
    tables: list[sa.Table] | None = None,
    state: Any = None,
    *,
    dialect: Dialect,
    compiler: DDLCompiler | None = None,
    checkfirst: bool = False,
) -> bool:
    return dialect.name in _MYSQL


def _not_on_mysql(
    ddl: BaseDDLElement,
    target: SchemaItem | str,
    bind: Connection | None,
    tables: list[sa.Table] | None = None,
    state: Any = None,
    *,
    dialect: Dialect,
    compiler: DDLCompiler | None = None,
    checkfirst: bool = False,
) -> bool:
    return dialect.name not in _MYSQL


def _wide_key(table: sa.Table, name: str, columns: Sequence[str]) -> None:
    """Key ``table`` by ``columns``: a primary key, or a hash-unique index on MariaDB/MySQL.

    Three ids of up to 255 utf8mb4 characters exceed InnoDB's 3072-byte key
    limit, so MariaDB gets a long unique key (``USING HASH``, MariaDB 10.4+)
    plus a B-tree index on the two leading columns for the range reads.
    """
    cols = [table.c[c] for c in columns]
    table.append_constraint(
        sa.PrimaryKeyConstraint(*cols, name=f"{name}_pk").ddl_if(callable_=_not_on_mysql)
    )
    sa.Index(f"{name}_key", *cols, unique=True, mysql_using="hash").ddl_if(callable_=_on_mysql)
    sa.Index(f"{name}_range", *cols[:2]).ddl_if(callable_=_on_mysql)


def make_metadata(prefix: str = DEFAULT_PREFIX) -> sa.MetaData:
    """The tables of credit_usage, each named ``prefix`` + its name.

    A host adds this (or :data:`metadata`) to its Alembic ``target_metadata``.

    Args:
        prefix: letters, digits and underscores, at most 30 characters,
            not starting with a digit.

    Raises:
        ValidationError: the prefix is not a valid identifier prefix.
    """
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise ValidationError(
            "table_prefix must be letters, digits and underscores (at most 30, "
            f"not starting with a digit), got {prefix!r}"
        )
    p = prefix
    md = sa.MetaData()
    ident, slug = _id_type, _slug_type

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
        # Slugs cannot hold a comma, so a comma-joined list is unambiguous.
        sa.Column("credit_types", sa.Text(), nullable=False),
        # The position of the team's last ledger entry; the writer holding the
        # team's lock numbers its entries on from here.
        sa.Column("ledger_seq", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("team_id", name=f"{p}teams_pk"),
    )
    team_fk = sa.ForeignKeyConstraint  # short alias; every child points at its team

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
    # The ledger, rollups, counters and balances carry no foreign key: they are
    # written only by append(), which has locked the team's row and so proved it
    # exists, and a per-row parent lookup would slow bulk imports.
    ledger = sa.Table(
        f"{p}ledger",
        md,
        sa.Column("team_id", ident(), nullable=False),
        # Insertion order within the team (teams.ledger_seq), assigned under the
        # team's write lock: no global sequence, nothing shared between teams.
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", ident(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("user_id", ident(), nullable=True),
        sa.Column("group_id", ident(), nullable=True),
        sa.Column("feature", sa.String(16), nullable=True),
        sa.Column("credit_type", slug(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.BigInteger(), nullable=False),  # microseconds, UTC
        sa.Column("recorded_at", sa.BigInteger(), nullable=True),  # microseconds, UTC
        sa.Column("reverses", ident(), nullable=True),
        # The idempotency key is the primary key; a key on (team_id, seq) as
        # well would cost every insert a fourth index for no read's benefit.
        # A rowid table on SQLite (unlike the figures below): without
        # statistics SQLite's planner would scan a clustered ledger by team
        # rather than use the occurred_at index.
        sa.PrimaryKeyConstraint("team_id", "entry_id", name=f"{p}ledger_pk"),
    )
    sa.Index(f"{p}ledger_occurred", ledger.c.team_id, ledger.c.occurred_at, ledger.c.seq)
    # Only reversals name an original; a partial index skips the other rows
    # where the backend can (MariaDB indexes the NULLs).
    sa.Index(
        f"{p}ledger_reverses",
        ledger.c.team_id,
        ledger.c.reverses,
        sqlite_where=ledger.c.reverses.is_not(None),
        postgresql_where=ledger.c.reverses.is_not(None),
    )

    dimensions = ("user_id", "group_id", "feature", "credit_type")
    daily = sa.Table(
        f"{p}daily_usage",
        md,
        sa.Column("team_id", ident(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),  # local day in the team's time zone
        sa.Column("user_id", ident(), nullable=False),
        sa.Column("group_id", ident(), nullable=False),  # '' for "no group"
        sa.Column("feature", sa.String(16), nullable=False),
        sa.Column("credit_type", slug(), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        **_CLUSTERED,
    )
    _wide_key(daily, f"{p}daily_usage", ("team_id", "day", *dimensions))
    cycles = sa.Table(
        f"{p}cycle_usage",
        md,
        sa.Column("team_id", ident(), nullable=False),
        sa.Column("cycle", sa.Date(), nullable=False),  # the cycle's first local day
        sa.Column("user_id", ident(), nullable=False),
        sa.Column("group_id", ident(), nullable=False),  # '' for "no group"
        sa.Column("feature", sa.String(16), nullable=False),
        sa.Column("credit_type", slug(), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        **_CLUSTERED,
    )
    _wide_key(cycles, f"{p}cycle_usage", ("team_id", "cycle", *dimensions))
    sa.Table(
        f"{p}balances",
        md,
        sa.Column("team_id", ident(), nullable=False),
        sa.Column("cycle", sa.Date(), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),  # team, user or group
        sa.Column("subject_id", ident(), nullable=False),  # '' for the team pool
        sa.Column("credit_type", slug(), nullable=False),  # '' for all types together
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.Column("granted", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "team_id", "cycle", "scope", "subject_id", "credit_type", name=f"{p}balances_pk"
        ),
        **_CLUSTERED,
    )
    sa.Table(
        f"{p}credit_limits",
        md,
        sa.Column("team_id", ident(), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),  # user or group
        sa.Column("subject_id", ident(), nullable=False),
        sa.Column("credit_type", slug(), nullable=False),  # '' for all types together
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
        sa.Column("created_at", sa.BigInteger(), nullable=False),  # microseconds, UTC
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
        sa.Column("status", sa.String(16), nullable=False),  # pending, sent, failed, skipped
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("claimed_at", sa.BigInteger(), nullable=True),  # microseconds, UTC
        sa.Column("sent_at", sa.BigInteger(), nullable=True),  # microseconds, UTC
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


#: The tables with the default prefix, for a host's Alembic ``target_metadata``.
metadata: Final = make_metadata(DEFAULT_PREFIX)


# -- conversions -----------------------------------------------------------------
def _micros(instant: datetime) -> int:
    """An aware datetime as exact microseconds since the Unix epoch."""
    return (instant - _EPOCH) // _MICROSECOND


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _team(row: sa.Row[Any]) -> Team:
    return Team(
        team_id=row.team_id,
        name=row.name,
        plan=row.plan,
        billing=BillingSchedule(anchor=row.billing_anchor, period=row.billing_period),
        credits_per_cycle=int(row.credits_per_cycle),
        timezone=row.timezone,
        credit_types=tuple(row.credit_types.split(",")),
    )


def _team_values(team: Team) -> dict[str, object]:
    return {
        "team_id": team.team_id,
        "name": team.name,
        "plan": team.plan.value,
        "billing_anchor": team.billing.anchor,
        "billing_period": team.billing.period.value,
        "credits_per_cycle": team.credits_per_cycle,
        "timezone": team.timezone,
        "credit_types": ",".join(team.credit_types),
    }


def _member(team_id: str, row: sa.Row[Any]) -> Member:
    """A member row, validated when it was stored, rebuilt without validating it again."""
    return Member.trusted(
        team_id,
        row.user_id,
        row.name,
        row.email,
        _ROLES[row.role],
        row.group_id,
        # MariaDB returns BOOLEAN as 0/1.
        bool(row.active),
    )


def _member_values(member: Member) -> dict[str, object]:
    return {
        "team_id": member.team_id,
        "user_id": member.user_id,
        "name": member.name,
        "email": member.email,
        "role": member.role.value,
        "group_id": member.group_id,
        "active": member.active,
    }


def _entry_row(team_id: str, seq: int, entry: LedgerEntry) -> tuple[object, ...]:
    """A ledger row, in the order of the ledger table's columns."""
    recorded = entry.recorded_at
    feature = entry.feature
    return (
        team_id,
        seq,
        entry.entry_id,
        entry.kind.value,
        entry.user_id,
        entry.group_id,
        None if feature is None else feature.value,
        entry.credit_type,
        entry.amount,
        (entry.occurred_at - _EPOCH) // _MICROSECOND,
        None if recorded is None else (recorded - _EPOCH) // _MICROSECOND,
        entry.reverses,
    )


def _cells(rows: Iterable[Sequence[Any]]) -> list[UsageCell]:
    # Positional: a snapshot of a large team builds tens of thousands of cells.
    # SUM() of a BIGINT is a DECIMAL on PostgreSQL and MariaDB, hence int().
    return [
        UsageCell(user_id, group_id or None, _FEATURES[feature], credit_type, int(credits))
        for user_id, group_id, feature, credit_type, credits in rows
    ]


def _driver_error(exc: SQLAlchemyError) -> BaseException:
    """The driver's own exception behind a SQLAlchemy one, as the ports ask for."""
    if isinstance(exc, DBAPIError) and isinstance(exc.orig, BaseException):
        return exc.orig
    return exc


def _mask_password(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


# -- SQLite transactions ------------------------------------------------------------
def _configure_sqlite(dbapi_connection: Any) -> None:
    # Take transaction control away from the pysqlite driver, which would
    # otherwise BEGIN lazily (before the first INSERT) and make a read-then-write
    # transaction fail with "database is locked" instead of waiting.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # The busy timeout first: switching to WAL may have to wait for a lock.
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA foreign_keys = ON")
        # Readers and a writer proceed together; ":memory:" answers "memory".
        cursor.execute("PRAGMA journal_mode = WAL")
    finally:
        cursor.close()


def _on_sqlite_connect(dbapi_connection: Any, connection_record: Any) -> None:
    _configure_sqlite(dbapi_connection)
    connection_record.info[_READY] = True


def _on_sqlite_begin(conn: Connection) -> None:
    fairy = conn.connection
    if not fairy.info.get(_READY):
        # A connection the pool opened before this storage was attached.
        _configure_sqlite(fairy.dbapi_connection)
        fairy.info[_READY] = True
    if conn.get_execution_options().get(_WRITE_OPTION, False):
        # IMMEDIATE takes the write lock now, so the team is locked from the
        # transaction's first read to its commit (waiting up to busy_timeout).
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    # Reads are single statements, each consistent on its own (in WAL mode a
    # statement reads one snapshot even while it streams): no BEGIN is needed.


def _attach_sqlite(engine: Engine) -> None:
    if not event.contains(engine, "connect", _on_sqlite_connect):
        event.listen(engine, "connect", _on_sqlite_connect)
    if not event.contains(engine, "begin", _on_sqlite_begin):
        event.listen(engine, "begin", _on_sqlite_begin)


def _is_memory_sqlite(url: sa.URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or url.query.get("mode") == "memory"


# -- the statements -------------------------------------------------------------------
class _Statements:
    """Every statement the storage issues, built once per storage and cached compiled."""

    def __init__(self, md: sa.MetaData, prefix: str) -> None:
        t = md.tables
        self.teams = teams = t[f"{prefix}teams"]
        self.groups = groups = t[f"{prefix}groups"]
        self.members = members = t[f"{prefix}members"]
        self.ledger = ledger = t[f"{prefix}ledger"]
        self.daily = daily = t[f"{prefix}daily_usage"]
        self.cycles = cycles = t[f"{prefix}cycle_usage"]
        self.balances = balances = t[f"{prefix}balances"]
        team_param: sa.BindParameter[str] = sa.bindparam("team_id")

        # teams, groups, members
        self.insert_team = teams.insert()
        self.select_team = sa.select(teams).where(teams.c.team_id == team_param)
        # A locking read returns the row as the previous lock holder committed
        # it (PostgreSQL re-reads a row it waited for), so ledger_seq is current.
        self.lock_team = (
            sa.select(teams.c.ledger_seq).where(teams.c.team_id == team_param).with_for_update()
        )
        self.set_ledger_seq = (
            teams.update()
            .where(teams.c.team_id == sa.bindparam("key_team"))
            .values(ledger_seq=sa.bindparam("new_seq"))
        )
        self.lock_team_row = sa.select(teams).where(teams.c.team_id == team_param).with_for_update()
        self.update_team = (
            teams.update()
            .where(teams.c.team_id == sa.bindparam("key_team"))
            .values(
                {
                    c.name: sa.bindparam(f"new_{c.name}")
                    for c in teams.columns
                    if c.name not in ("team_id", "ledger_seq")
                }
            )
        )
        self.insert_group = groups.insert()
        self.select_groups = sa.select(groups.c.group_id, groups.c.name).where(
            groups.c.team_id == team_param
        )
        self.insert_member = members.insert()
        member_cols = [c for c in members.columns if c.name != "team_id"]
        self.select_member = sa.select(*member_cols).where(
            members.c.team_id == team_param, members.c.user_id == sa.bindparam("user_id")
        )
        self.select_members = sa.select(*member_cols).where(members.c.team_id == team_param)
        self.update_member = (
            members.update()
            .where(
                members.c.team_id == sa.bindparam("key_team"),
                members.c.user_id == sa.bindparam("key_user"),
            )
            .values({c.name: sa.bindparam(f"new_{c.name}") for c in member_cols})
        )

        # the ledger
        entry_cols = [
            ledger.c.entry_id,
            ledger.c.kind,
            ledger.c.user_id,
            ledger.c.group_id,
            ledger.c.feature,
            ledger.c.credit_type,
            ledger.c.amount,
            ledger.c.occurred_at,
            ledger.c.recorded_at,
            ledger.c.reverses,
        ]
        self.insert_entries = _Bulk(ledger)
        self.select_entry = sa.select(*entry_cols).where(
            ledger.c.team_id == team_param, ledger.c.entry_id == sa.bindparam("entry_id")
        )
        self.find_entries = sa.select(*entry_cols).where(
            ledger.c.team_id == team_param,
            ledger.c.entry_id.in_(sa.bindparam("entry_ids", expanding=True)),
        )
        self.reversed_totals = (
            sa.select(ledger.c.reverses, sa.func.sum(ledger.c.amount))
            .where(
                ledger.c.team_id == team_param,
                ledger.c.reverses.in_(sa.bindparam("entry_ids", expanding=True)),
            )
            .group_by(ledger.c.reverses)
        )
        self.entries_between = (
            sa.select(*entry_cols)
            .where(
                ledger.c.team_id == team_param,
                ledger.c.occurred_at >= sa.bindparam("start"),
                ledger.c.occurred_at < sa.bindparam("end"),
            )
            .order_by(ledger.c.occurred_at, ledger.c.seq)
        )
        # Keyset pages through the occurred_at index: a buffered query per page,
        # so other statements may run on the connection between pages
        # (MariaDB's streaming cursor forbids that). The OR is spelled out
        # rather than as a row-value comparison, which not every backend
        # turns into an index range.
        after_at: sa.BindParameter[int] = sa.bindparam("after_at")
        after_seq: sa.BindParameter[int] = sa.bindparam("after_seq")
        self.entries_page = (
            sa.select(*entry_cols, ledger.c.seq)
            .where(
                ledger.c.team_id == team_param,
                ledger.c.occurred_at >= after_at,
                sa.or_(ledger.c.occurred_at > after_at, ledger.c.seq > after_seq),
            )
            .order_by(ledger.c.occurred_at, ledger.c.seq)
            .limit(sa.bindparam("page"))
        )

        # derived figures
        dims = (daily.c.user_id, daily.c.group_id, daily.c.feature, daily.c.credit_type)
        self.usage_on_days = (
            sa.select(*dims, sa.func.sum(daily.c.credits))
            .where(
                daily.c.team_id == team_param,
                daily.c.day >= sa.bindparam("first"),
                daily.c.day <= sa.bindparam("last"),
            )
            .group_by(*dims)
            .having(sa.func.sum(daily.c.credits) != 0)
        )
        cdims = (cycles.c.user_id, cycles.c.group_id, cycles.c.feature, cycles.c.credit_type)
        self.usage_in_cycles = (
            sa.select(*cdims, sa.func.sum(cycles.c.credits))
            .where(
                cycles.c.team_id == team_param,
                cycles.c.cycle.in_(sa.bindparam("cycles", expanding=True)),
            )
            .group_by(*cdims)
            .having(sa.func.sum(cycles.c.credits) != 0)
        )
        # One cycle (a snapshot) holds one counter per cell already: no GROUP BY.
        self.usage_in_cycle = sa.select(*cdims, cycles.c.credits).where(
            cycles.c.team_id == team_param,
            cycles.c.cycle == sa.bindparam("cycle"),
            cycles.c.credits != 0,
        )
        # Balance keys are 4-tuples; rather than a row-value IN (not indexable
        # everywhere) this asks for every cycle x scope x subject combination
        # through the primary key and drops the extra rows in Python.
        self.find_balances = sa.select(
            balances.c.cycle,
            balances.c.scope,
            balances.c.subject_id,
            balances.c.credit_type,
            balances.c.used,
            balances.c.granted,
        ).where(
            balances.c.team_id == team_param,
            balances.c.cycle.in_(sa.bindparam("cycles", expanding=True)),
            balances.c.scope.in_(sa.bindparam("scopes", expanding=True)),
            balances.c.subject_id.in_(sa.bindparam("subjects", expanding=True)),
        )
        self.all_daily = sa.select(daily.c.day, *dims, daily.c.credits).where(
            daily.c.team_id == team_param
        )
        self.all_cycles = sa.select(cycles.c.cycle, *cdims, cycles.c.credits).where(
            cycles.c.team_id == team_param
        )
        self.all_balances = sa.select(
            balances.c.cycle,
            balances.c.scope,
            balances.c.subject_id,
            balances.c.credit_type,
            balances.c.used,
            balances.c.granted,
        ).where(balances.c.team_id == team_param)
        self.clear_derived = [
            table.delete().where(table.c.team_id == team_param)
            for table in (daily, cycles, balances)
        ]
        key_dims = ("user_id", "group_id", "feature", "credit_type")
        self.add_daily = _Bulk(daily, key=("team_id", "day", *key_dims), add=("credits",))
        self.add_cycles = _Bulk(cycles, key=("team_id", "cycle", *key_dims), add=("credits",))
        self.add_balances = _Bulk(
            balances,
            key=("team_id", "cycle", "scope", "subject_id", "credit_type"),
            add=("used", "granted"),
        )


class _Bulk:
    """A multi-row INSERT (or upsert) of every column of a table, sent as one statement.

    SQLAlchemy's executemany builds the bind parameters of each row in Python,
    several microseconds a row, and a batch of 10,000 ledger entries writes
    some 30,000 rows. So the statement is compiled once per dialect, after
    the dialect has met its server, and the rows -- tuples in the table's
    column order -- reach the driver through :meth:`Connection.exec_driver_sql`
    with only the bind processors the dialect needs (SQLite's dates, say):

    * SQLite and MariaDB: the driver's ``executemany`` (PyMySQL folds it
      into multi-row ``VALUES``);
    * PostgreSQL: one ``INSERT ... SELECT FROM unnest(<one array per column>)``,
      which the server runs as a single statement instead of once per row.

    With ``key``, a row whose key is stored already adds its ``add`` columns
    to the stored ones (``ON CONFLICT DO UPDATE`` / ``ON DUPLICATE KEY UPDATE``).
    The cursor events fire as for any statement.
    """

    def __init__(
        self, table: sa.Table, *, key: Sequence[str] = (), add: Sequence[str] = ()
    ) -> None:
        self.table = table
        self.key = tuple(key)
        self.add = tuple(add)
        self.names = [c.name for c in table.columns]
        self._compiled: tuple[Dialect, str, list[int] | None, list[tuple[int, Any]]] | None = None

    def statement(self, dialect: str) -> sa.Executable:
        """The Core statement for ``dialect``, with one bind parameter per column."""
        table = self.table
        if dialect == "postgresql":
            arrays = [
                sa.cast(sa.bindparam(c.name), postgresql.ARRAY(c.type)) for c in table.columns
            ]
            rows = sa.func.unnest(*arrays).table_valued(*self.names).render_derived()
            pg = postgresql.insert(table).from_select(
                self.names, sa.select(*[rows.c[name] for name in self.names])
            )
            return self._on_conflict(pg, pg.excluded) if self.key else pg
        if dialect == "sqlite":
            lite = sqlite.insert(table)
            return self._on_conflict(lite, lite.excluded) if self.key else lite
        if dialect in _POSTGRES:
            other = postgresql.insert(table)
            return self._on_conflict(other, other.excluded) if self.key else other
        if dialect in _MYSQL:
            my = mysql.insert(table)
            if not self.key:
                return my
            return my.on_duplicate_key_update({c: table.c[c] + my.inserted[c] for c in self.add})
        raise StorageError(
            "SqlStorage supports SQLite, PostgreSQL (and Citus, CockroachDB) and "
            f"MariaDB/MySQL, got the {dialect!r} dialect"
        )

    def _on_conflict(self, insert: Any, excluded: Any) -> sa.Executable:
        add: sa.Executable = insert.on_conflict_do_update(
            index_elements=list(self.key),
            set_={c: self.table.c[c] + excluded[c] for c in self.add},
        )
        return add

    def _compile(self, dialect: Dialect) -> tuple[str, list[int] | None, list[tuple[int, Any]]]:
        compiled = self._compiled
        if compiled is not None and compiled[0] is dialect:
            return compiled[1], compiled[2], compiled[3]
        statement = self.statement(dialect.name)
        assert isinstance(statement, sa.sql.ClauseElement)
        sql = statement.compile(dialect=dialect, column_keys=self.names)
        assert isinstance(sql, SQLCompiler)
        order: list[int] | None = None
        if sql.positional:
            position = {name: i for i, name in enumerate(self.names)}
            order = [position[name] for name in sql.positiontup or ()]
            if order == list(range(len(self.names))):
                order = None
        processors = [
            (i, processor)
            for i, column in enumerate(self.table.columns)
            if (processor := column.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        ]
        self._compiled = (dialect, str(sql), order, processors)
        return str(sql), order, processors

    def run(self, conn: Connection, rows: list[tuple[object, ...]]) -> None:
        """Write ``rows`` (tuples in the table's column order) in one statement."""
        if not rows:
            return
        dialect = conn.dialect
        sql, order, processors = self._compile(dialect)
        postgres = dialect.name == "postgresql"
        if processors or postgres:
            # Column by column: a batch holds few distinct days and cycles, so
            # each is converted once, and PostgreSQL wants one array per column.
            columns: list[Sequence[object]] = list(zip(*rows, strict=True))
            for i, processor in processors:
                memo: dict[object, object] = {}
                columns[i] = [
                    memo[v] if v in memo else memo.setdefault(v, processor(v)) for v in columns[i]
                ]
            if postgres:
                conn.exec_driver_sql(
                    sql, {n: list(c) for n, c in zip(self.names, columns, strict=True)}
                )
                return
            if order is not None:
                columns = [columns[i] for i in order]
                order = None
            rows = list(zip(*columns, strict=True))
        params: list[Any] = rows
        if not dialect.positional:
            params = [dict(zip(self.names, row, strict=True)) for row in rows]
        elif order is not None:
            params = [tuple(row[i] for i in order) for row in rows]
        conn.exec_driver_sql(sql, params)


@functools.lru_cache(maxsize=64)
def _shared_metadata(prefix: str) -> sa.MetaData:
    """The tables for ``prefix``, shared by every storage using it (building them takes ms)."""
    return metadata if prefix == DEFAULT_PREFIX else make_metadata(prefix)


# -- the storage ----------------------------------------------------------------------
class _EntryConflict(Exception):
    """A unique violation on (team_id, entry_id), carried out of the rolled-back write."""

    def __init__(self, entries: Sequence[LedgerEntry]) -> None:
        super().__init__("entry id already stored")
        self.entries = entries


class _Transaction:
    """The reads a write's plan may make, inside the write's locked transaction."""

    def __init__(self, storage: SqlStorage, conn: Connection, team_id: str) -> None:
        self._storage = storage
        self._conn = conn
        self._team_id = team_id

    def find_entries(self, entry_ids: Collection[str]) -> dict[str, LedgerEntry]:
        return self._storage._find_entries(self._conn, self._team_id, entry_ids)

    def reversed_totals(self, entry_ids: Collection[str]) -> dict[str, int]:
        ids = list(dict.fromkeys(entry_ids))
        totals = dict.fromkeys(ids, 0)
        stmt = self._storage._sql.reversed_totals
        self._storage._plan_each_time(self._conn, len(ids))
        for chunk in _chunks(ids, self._storage._in_chunk):
            params = {"team_id": self._team_id, "entry_ids": list(chunk)}
            for reverses, total in self._conn.execute(stmt, params):
                totals[reverses] = int(total)
        return totals

    def balances(self, keys: Collection[BalanceKey]) -> dict[BalanceKey, Balance]:
        return self._storage._find_balances(self._conn, self._team_id, keys)


class SqlStorage:
    """Teams, members and the ledger in SQL tables; implements :class:`~credit_usage.ports.Storage`.

    Thread-safe: every call takes its own connection from the engine's pool
    and runs in one transaction.

    Args:
        engine: a SQLAlchemy engine for SQLite, PostgreSQL (psycopg 3) or
            MariaDB/MySQL (PyMySQL). PostgreSQL must run at its default
            ``READ COMMITTED`` isolation: a write reads what the previous
            holder of the team's lock committed.
        table_prefix: prepended to every table name, so the tables can live
            beside a host's own.

    Attributes:
        engine: the engine given.
        table_prefix: the prefix given.
        metadata: the tables, for a host's migrations.

    Example:
        >>> storage = SqlStorage.from_url("sqlite://", table_prefix="usage_")
        >>> storage.create_schema()
        >>> sorted(storage.metadata.tables)[0]
        'usage_balances'
    """

    def __init__(self, engine: Engine, *, table_prefix: str = DEFAULT_PREFIX) -> None:
        if not isinstance(engine, Engine):
            raise ValidationError(f"engine must be a SQLAlchemy Engine, got {engine!r}")
        self.metadata = _shared_metadata(table_prefix)
        self.engine = engine
        self.table_prefix = table_prefix
        self._dialect = engine.dialect.name
        if self._dialect not in ("sqlite", *_POSTGRES, *_MYSQL):
            raise StorageError(
                "SqlStorage supports SQLite, PostgreSQL (and Citus, CockroachDB) and "
                f"MariaDB/MySQL, got the {self._dialect!r} dialect"
            )
        self._url = engine.url.render_as_string(hide_password=True)
        self._password = engine.url.password or ""
        self._sql = _Statements(self.metadata, table_prefix)
        self._sqlite = self._dialect == "sqlite"
        self._in_chunk = PG_IN_CHUNK if self._dialect == "postgresql" else IN_CHUNK
        if self._sqlite:
            _attach_sqlite(engine)
        # One shared in-memory SQLite connection cannot run two transactions at
        # once; calls take turns. Every other pool hands each call its own connection.
        self._turns: AbstractContextManager[object] = (
            threading.RLock() if isinstance(engine.pool, StaticPool) else nullcontext()
        )

    @classmethod
    def from_url(
        cls, url: str | sa.URL, *, table_prefix: str = DEFAULT_PREFIX, **engine_kwargs: Any
    ) -> SqlStorage:
        """A storage on a new engine for ``url``.

        ``sqlite:///path/usage.db`` (a file: WAL journal, 30 s busy timeout),
        ``sqlite://`` (in memory, one connection shared by all threads),
        ``postgresql+psycopg://user:password@host/db``,
        ``mysql+pymysql://user:password@host/db``.

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
                f"not a database URL: {_mask_password(str(url))!r} (expected e.g. "
                "'sqlite:///usage.db' or 'postgresql+psycopg://user@host/db')"
            ) from exc
        shown = parsed.render_as_string(hide_password=True)
        kwargs = dict(engine_kwargs)
        if parsed.get_backend_name() == "sqlite" and _is_memory_sqlite(parsed):
            kwargs.setdefault("poolclass", StaticPool)
            kwargs.setdefault("connect_args", {"check_same_thread": False})
        try:
            engine = sa.create_engine(parsed, **kwargs)
        except sa.exc.NoSuchModuleError as exc:
            raise ValidationError(f"unknown database dialect in {shown!r}: {exc}") from exc
        except ImportError as exc:
            extra = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}.get(
                parsed.get_backend_name(), ""
            )
            hint = f"; install it with: pip install 'credit_usage[{extra}]'" if extra else ""
            raise StorageError(
                f"the database driver for {shown!r} is not installed ({exc}){hint}"
            ) from exc
        except (SQLAlchemyError, TypeError) as exc:
            raise ValidationError(f"cannot build an engine for {shown!r}: {exc}") from exc
        return cls(engine, table_prefix=table_prefix)

    def __repr__(self) -> str:
        return f"SqlStorage({self._url!r}, table_prefix={self.table_prefix!r})"

    # -- connections and errors ---------------------------------------------------
    def _connect(self) -> Connection:
        try:
            return self.engine.connect()
        except SQLAlchemyError as exc:
            raise StorageError(
                f"cannot connect to the database at {self._url}: {self._reason(exc)}"
            ) from _driver_error(exc)

    def _reason(self, exc: SQLAlchemyError) -> str:
        cause = _driver_error(exc)
        text = " ".join(str(cause).split()) or type(cause).__name__
        if self._password:
            text = text.replace(self._password, "***")
        return text

    @contextmanager
    def _failures(self, doing: str) -> Iterator[None]:
        """Raise backend errors while ``doing`` as :class:`StorageError`."""
        try:
            yield
        except SQLAlchemyError as exc:
            raise StorageError(
                f"could not {doing} in the database at {self._url}: {self._reason(exc)}"
            ) from _driver_error(exc)

    @contextmanager
    def _reading(self, doing: str) -> Iterator[Connection]:
        with self._failures(doing), self._turns, self._connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _writing(self, doing: str) -> Iterator[Connection]:
        with self._failures(doing), self._turns, self._connect() as conn:
            conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                yield conn

    def _lock_team(self, conn: Connection, team_id: str) -> int:
        """Keep other writers of the team out until commit; the team's last ledger position.

        On SQLite ``BEGIN IMMEDIATE`` has taken the lock already (``FOR UPDATE``
        renders as nothing there); this proves the team exists.

        Raises:
            NotFoundError: the team does not exist.
        """
        row = conn.execute(self._sql.lock_team, {"team_id": team_id}).first()
        if row is None:
            raise NotFoundError(f"team {team_id!r} does not exist")
        return int(row[0])

    def _require_team(self, conn: Connection, team_id: str) -> None:
        if conn.execute(self._sql.select_team, {"team_id": team_id}).first() is None:
            raise NotFoundError(f"team {team_id!r} does not exist")

    # -- schema -----------------------------------------------------------------------
    def create_schema(self) -> None:
        """Create the tables and indexes that do not exist yet (idempotent)."""
        with self._writing("create the tables") as conn:
            self.metadata.create_all(conn)

    def drop_schema(self) -> None:
        """Drop the tables, and every team's data with them."""
        with self._writing("drop the tables") as conn:
            self.metadata.drop_all(conn)

    # -- teams, groups, members ---------------------------------------------------
    def add_team(self, team: Team) -> None:
        """Store a new team. Raises ``AlreadyExistsError`` if its id is taken."""
        with self._writing(f"add team {team.team_id!r}") as conn:
            try:
                conn.execute(self._sql.insert_team, _team_values(team))
            except IntegrityError as exc:
                raise AlreadyExistsError(
                    f"team {team.team_id!r} already exists"
                ) from _driver_error(exc)

    def update_team(self, team: Team) -> None:
        """Replace a team; a new time zone or billing schedule re-derives its figures.

        Daily roll-ups are keyed by local day and counters and balances by
        cycle, so both depend on the time zone and the billing schedule. When
        either changes, the team's roll-ups, counters and balances are deleted
        and derived again from the ledger in the same transaction, under the
        team's write lock, rather than refusing the change: the ledger is the
        source of truth and re-deriving is what :meth:`rebuild` does anyway.
        It costs one pass over the team's ledger.

        Raises:
            NotFoundError: the team does not exist.
        """
        with self._writing(f"update team {team.team_id!r}") as conn:
            row = conn.execute(self._sql.lock_team_row, {"team_id": team.team_id}).first()
            if row is None:
                raise NotFoundError(f"team {team.team_id!r} does not exist")
            old = _team(row)
            values = {f"new_{k}": v for k, v in _team_values(team).items() if k != "team_id"}
            conn.execute(self._sql.update_team, {"key_team": team.team_id, **values})
            if (old.timezone, old.billing) != (team.timezone, team.billing):
                self._derive_again(conn, team)

    def get_team(self, team_id: str) -> Team | None:
        """The team, or ``None``."""
        with self._reading(f"read team {team_id!r}") as conn:
            row = conn.execute(self._sql.select_team, {"team_id": team_id}).first()
        return None if row is None else _team(row)

    def add_group(self, group: Group) -> None:
        """Store a new group. Raises ``AlreadyExistsError`` if its id is taken in the team."""
        values = {"team_id": group.team_id, "group_id": group.group_id, "name": group.name}
        with self._writing(f"add group {group.group_id!r}") as conn:
            self._require_team(conn, group.team_id)
            try:
                conn.execute(self._sql.insert_group, values)
            except IntegrityError as exc:
                raise AlreadyExistsError(
                    f"group {group.group_id!r} already exists in team {group.team_id!r}"
                ) from _driver_error(exc)

    def list_groups(self, team_id: str) -> list[Group]:
        """The team's groups, ordered by ``group_id``."""
        with self._reading(f"list the groups of team {team_id!r}") as conn:
            rows = conn.execute(self._sql.select_groups, {"team_id": team_id}).all()
        # Sorted here, not by ORDER BY: database collations disagree with Python's order.
        groups = [Group(team_id=team_id, group_id=g, name=n) for g, n in rows]
        return sorted(groups, key=lambda g: g.group_id)

    def add_member(self, member: Member) -> None:
        """Store a new member. Raises ``AlreadyExistsError`` if the user is in the team."""
        with self._writing(f"add member {member.user_id!r}") as conn:
            self._require_team(conn, member.team_id)
            try:
                conn.execute(self._sql.insert_member, _member_values(member))
            except IntegrityError as exc:
                raise AlreadyExistsError(
                    f"user {member.user_id!r} is already a member of team {member.team_id!r}"
                ) from _driver_error(exc)

    def update_member(self, member: Member) -> None:
        """Replace a member. Raises ``NotFoundError`` if the user is not in the team."""
        values = {f"new_{k}": v for k, v in _member_values(member).items() if k != "team_id"}
        with self._writing(f"update member {member.user_id!r}") as conn:
            self._require_team(conn, member.team_id)
            params = {"key_team": member.team_id, "key_user": member.user_id, **values}
            if conn.execute(self._sql.update_member, params).rowcount == 0:
                raise NotFoundError(
                    f"user {member.user_id!r} is not a member of team {member.team_id!r}"
                )

    def get_member(self, team_id: str, user_id: str) -> Member | None:
        """The member of ``team_id`` with ``user_id``, or ``None``."""
        with self._reading(f"read member {user_id!r}") as conn:
            params = {"team_id": team_id, "user_id": user_id}
            row = conn.execute(self._sql.select_member, params).first()
        return None if row is None else _member(team_id, row)

    def list_members(self, team_id: str) -> list[Member]:
        """The team's members, deactivated ones included, ordered by ``user_id``."""
        with self._reading(f"list the members of team {team_id!r}") as conn:
            rows = conn.execute(self._sql.select_members, {"team_id": team_id}).all()
        members = [_member(team_id, row) for row in rows]
        return sorted(members, key=lambda m: m.user_id)

    # -- the ledger -------------------------------------------------------------------
    def append(self, team_id: str, plan: WritePlan) -> None:
        """Run ``plan`` with the team locked and write the batch it returns, in one transaction.

        Raises:
            NotFoundError: the team does not exist.
            IdempotencyConflictError: an entry id of the batch is already stored.
            StorageError: the database failed; nothing was written.
        """
        try:
            with self._writing(f"append to the ledger of team {team_id!r}") as conn:
                last_seq = self._lock_team(conn, team_id)
                batch = plan(_Transaction(self, conn, team_id))
                try:
                    self._insert_entries(conn, team_id, last_seq, batch.entries)
                except IntegrityError as exc:
                    raise _EntryConflict(batch.entries) from _driver_error(exc)
                self._add_figures(conn, team_id, batch)
        except _EntryConflict as conflict:
            # Described only now: PostgreSQL refuses reads in a failed transaction.
            message = self._describe_conflict(team_id, conflict.entries)
            raise IdempotencyConflictError(message) from conflict.__cause__

    def _insert_entries(
        self, conn: Connection, team_id: str, last_seq: int, entries: Sequence[LedgerEntry]
    ) -> None:
        """Insert ``entries`` after the team's ledger position ``last_seq``, in one statement."""
        if not entries:
            return
        rows = [_entry_row(team_id, last_seq + 1 + i, e) for i, e in enumerate(entries)]
        self._sql.insert_entries.run(conn, rows)
        params = {"key_team": team_id, "new_seq": last_seq + len(rows)}
        conn.execute(self._sql.set_ledger_seq, params)

    def _add_figures(self, conn: Connection, team_id: str, batch: Batch) -> None:
        """Add the batch's roll-up, counter and balance deltas, one upsert per table."""
        sql = self._sql
        if batch.daily:
            sql.add_daily.run(
                conn,
                [
                    (team_id, k.day, k.user_id, k.group_id or "", k.feature.value, k.credit_type, n)
                    for k, n in batch.daily.items()
                ],
            )
        if batch.cycles:
            sql.add_cycles.run(
                conn,
                [
                    (
                        team_id,
                        k.cycle,
                        k.user_id,
                        k.group_id or "",
                        k.feature.value,
                        k.credit_type,
                        n,
                    )
                    for k, n in batch.cycles.items()
                ],
            )
        if batch.balances:
            sql.add_balances.run(
                conn,
                [
                    (team_id, k.cycle, k.scope, k.subject_id, k.credit_type, b.used, b.granted)
                    for k, b in batch.balances.items()
                ],
            )

    def _describe_conflict(self, team_id: str, entries: Sequence[LedgerEntry]) -> str:
        """Which entry ids clashed, worked out after the failed write rolled back."""
        repeated = sorted(i for i, n in Counter(e.entry_id for e in entries).items() if n > 1)
        if repeated:
            return f"entry ids {repeated!r} are repeated in one write to team {team_id!r}"
        try:
            with self._reading(f"look up the entries of team {team_id!r}") as conn:
                stored = sorted(self._find_entries(conn, team_id, [e.entry_id for e in entries]))
        except StorageError:
            stored = []
        if len(stored) == 1:
            return f"entry id {stored[0]!r} is already in team {team_id!r}"
        if stored:
            return f"entry ids {stored[:10]!r} are already in team {team_id!r}"
        return f"an entry id of this write is already in team {team_id!r}"

    def _plan_each_time(self, conn: Connection, listed: int) -> None:
        """On PostgreSQL, plan this transaction's statements for their actual values.

        psycopg prepares a statement it has run five times, and PostgreSQL may
        then reuse a generic plan. For a long ``IN (...)`` list of parameters a
        generic plan cannot hash the list (PostgreSQL hashes constant lists of
        9 or more), and on a table without statistics yet (a first import)
        it filters every row of the team against the list, one by one: a
        10,000-entry ``record_many`` took seconds. Custom plans cost a little
        planning and fix that.
        """
        if self._dialect == "postgresql" and listed >= 9:
            conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")

    def _find_entries(
        self, conn: Connection, team_id: str, entry_ids: Collection[str]
    ) -> dict[str, LedgerEntry]:
        ids = list(dict.fromkeys(entry_ids))
        found: dict[str, LedgerEntry] = {}
        stmt = self._sql.find_entries
        self._plan_each_time(conn, len(ids))
        entry = _LedgerRows(team_id)
        for chunk in _chunks(ids, self._in_chunk):
            for row in conn.execute(stmt, {"team_id": team_id, "entry_ids": list(chunk)}):
                found[row[0]] = entry(row)
        return found

    def _find_balances(
        self, conn: Connection, team_id: str, keys: Collection[BalanceKey]
    ) -> dict[BalanceKey, Balance]:
        wanted = set(keys)
        found: dict[BalanceKey, Balance] = {}
        if wanted:
            cycles = sorted({k.cycle for k in wanted})
            scopes = sorted({k.scope for k in wanted})
            subjects = sorted({k.subject_id for k in wanted})
            self._plan_each_time(conn, max(len(cycles), len(subjects)))
            for cycle_chunk in _chunks(cycles, 100):
                for subject_chunk in _chunks(subjects, self._in_chunk):
                    params = {
                        "team_id": team_id,
                        "cycles": list(cycle_chunk),
                        "scopes": scopes,
                        "subjects": list(subject_chunk),
                    }
                    for cycle, scope, subject, credit_type, used, granted in conn.execute(
                        self._sql.find_balances, params
                    ):
                        key = BalanceKey(cycle, scope, subject, credit_type)
                        if key in wanted:
                            found[key] = Balance(int(used), int(granted))
        return {k: found.get(k, Balance()) for k in keys}

    def get_entry(self, team_id: str, entry_id: str) -> LedgerEntry | None:
        """One stored entry, or ``None``."""
        with self._reading(f"read entry {entry_id!r}") as conn:
            params = {"team_id": team_id, "entry_id": entry_id}
            row = conn.execute(self._sql.select_entry, params).first()
        return None if row is None else _LedgerRows(team_id)(row)

    def iter_entries(self, team_id: str, start: datetime, end: datetime) -> Iterator[LedgerEntry]:
        """Stream entries with ``start <= occurred_at < end`` by ``occurred_at``, then insertion.

        A generator: it opens its own connection on the first ``next()``, reads
        through a server-side cursor (PostgreSQL, MariaDB) a few thousand rows
        at a time, and returns the connection when exhausted or closed.
        """
        params = {"team_id": team_id, "start": _micros(start), "end": _micros(end)}
        doing = f"read the ledger of team {team_id!r}"
        entry = _LedgerRows(team_id)
        with self._failures(doing), self._turns, self._connect() as conn:
            conn.execution_options(stream_results=True, yield_per=STREAM_CHUNK)
            with conn.begin(), conn.execute(self._sql.entries_between, params) as result:
                # Closing the result before the transaction ends closes the
                # server-side cursor cleanly when the generator is abandoned.
                for rows in result.partitions():
                    for row in rows:
                        yield entry(row)

    def usage_in_cycles(self, team_id: str, cycles: Collection[date]) -> list[UsageCell]:
        """Net usage per (user, group, feature, credit type) summed over whole cycles."""
        wanted = sorted(set(cycles))
        if not wanted:
            return []
        with self._reading(f"read the cycle counters of team {team_id!r}") as conn:
            if len(wanted) == 1:
                params: dict[str, object] = {"team_id": team_id, "cycle": wanted[0]}
                rows = conn.execute(self._sql.usage_in_cycle, params).all()
            else:
                params = {"team_id": team_id, "cycles": wanted}
                rows = conn.execute(self._sql.usage_in_cycles, params).all()
        return _cells(rows)

    def usage_on_days(self, team_id: str, first: date, last: date) -> list[UsageCell]:
        """Net usage per (user, group, feature, credit type) summed over local days."""
        with self._reading(f"read the daily roll-ups of team {team_id!r}") as conn:
            params = {"team_id": team_id, "first": first, "last": last}
            rows = conn.execute(self._sql.usage_on_days, params).all()
        return _cells(rows)

    def get_balances(self, team_id: str, keys: Collection[BalanceKey]) -> dict[BalanceKey, Balance]:
        """The stored balances for ``keys``; a key never written reads as ``Balance()``."""
        if not keys:
            return {}
        with self._reading(f"read the balances of team {team_id!r}") as conn:
            return self._find_balances(conn, team_id, keys)

    # -- maintenance ----------------------------------------------------------------
    def verify(self, team_id: str) -> list[str]:
        """Differences between the stored roll-ups, counters and balances and the ledger.

        Runs with the team's write lock held, so that concurrent writes cannot
        show up as drift.

        Returns:
            One line per differing figure, sorted; empty when they agree.

        Raises:
            NotFoundError: the team does not exist.
        """
        with self._writing(f"verify team {team_id!r}") as conn:
            row = conn.execute(self._sql.lock_team_row, {"team_id": team_id}).first()
            if row is None:
                raise NotFoundError(f"team {team_id!r} does not exist")
            team = _team(row)
            daily: defaultdict[DayKey, int] = defaultdict(int)
            counters: defaultdict[CycleKey, int] = defaultdict(int)
            balances: defaultdict[BalanceKey, Balance] = defaultdict(Balance)
            for chunk in self._ledger_pages(conn, team_id):
                batch = Batch.of(team, chunk)
                for day_key, credits in batch.daily.items():
                    daily[day_key] += credits
                for cycle_key, credits in batch.cycles.items():
                    counters[cycle_key] += credits
                for balance_key, delta in batch.balances.items():
                    balances[balance_key] = balances[balance_key].plus(
                        used=delta.used, granted=delta.granted
                    )
            stored = self._stored_figures(conn, team_id)
        return sorted(
            drift("daily roll-up", stored.daily, daily, 0)
            + drift("cycle counter", stored.cycles, counters, 0)
            + drift("balance", stored.balances, balances, Balance())
        )

    def rebuild(self, team_id: str) -> None:
        """Derive the team's roll-ups, counters and balances from the ledger again.

        Raises:
            NotFoundError: the team does not exist.
        """
        with self._writing(f"rebuild team {team_id!r}") as conn:
            row = conn.execute(self._sql.lock_team_row, {"team_id": team_id}).first()
            if row is None:
                raise NotFoundError(f"team {team_id!r} does not exist")
            self._derive_again(conn, _team(row))

    def _derive_again(self, conn: Connection, team: Team) -> None:
        for delete in self._sql.clear_derived:
            conn.execute(delete, {"team_id": team.team_id})
        for chunk in self._ledger_pages(conn, team.team_id):
            self._add_figures(conn, team.team_id, Batch.of(team, chunk))

    def _ledger_pages(self, conn: Connection, team_id: str) -> Iterator[list[LedgerEntry]]:
        """The team's whole ledger by occurred_at, ``REBUILD_CHUNK`` entries at a time."""
        params: dict[str, object] = {
            "team_id": team_id,
            "after_at": _micros(datetime.min.replace(tzinfo=UTC)),
            "after_seq": -1,
            "page": REBUILD_CHUNK,
        }
        entry = _LedgerRows(team_id)
        while True:
            rows = conn.execute(self._sql.entries_page, params).all()
            if not rows:
                return
            yield [entry(row[:10]) for row in rows]
            if len(rows) < REBUILD_CHUNK:
                return
            last = rows[-1]
            params["after_at"], params["after_seq"] = last[7], last[10]

    def _stored_figures(self, conn: Connection, team_id: str) -> Batch:
        params = {"team_id": team_id}
        daily = {
            DayKey(day, user, group or None, _FEATURES[feature], credit_type): int(credits)
            for day, user, group, feature, credit_type, credits in conn.execute(
                self._sql.all_daily, params
            )
        }
        cycles = {
            CycleKey(cycle, user, group or None, _FEATURES[feature], credit_type): int(credits)
            for cycle, user, group, feature, credit_type, credits in conn.execute(
                self._sql.all_cycles, params
            )
        }
        balances = {
            BalanceKey(cycle, scope, subject, credit_type): Balance(int(used), int(granted))
            for cycle, scope, subject, credit_type, used, granted in conn.execute(
                self._sql.all_balances, params
            )
        }
        return Batch((), daily, cycles, balances)


class _LedgerRows:
    """Turns ledger rows (the columns of ``_Statements.find_entries``) into entries of one team.

    The rows were validated when they were written, so entries are rebuilt
    with :meth:`LedgerEntry.trusted`, skipping ``__init__``'s converters, which
    dominated the cost of streaming a million entries. Entries of one batch
    share their ``recorded_at``, so the last one converted is kept.
    """

    __slots__ = ("_recorded", "_recorded_at", "_team_id")

    def __init__(self, team_id: str) -> None:
        self._team_id = team_id
        self._recorded: int | None = None
        self._recorded_at: datetime | None = None

    def __call__(self, row: Sequence[Any]) -> LedgerEntry:
        entry_id, kind, user_id, group_id, feature, credit_type, amount, occurred, recorded, rev = (
            row
        )
        if recorded != self._recorded:
            self._recorded = recorded
            self._recorded_at = (
                None if recorded is None else _EPOCH + timedelta(microseconds=recorded)
            )
        return LedgerEntry.trusted(
            self._team_id,
            entry_id,
            _KINDS[kind],
            user_id,
            group_id,
            None if feature is None else _FEATURES[feature],
            credit_type,
            amount,
            _EPOCH + timedelta(microseconds=occurred),
            self._recorded_at,
            rev,
        )
