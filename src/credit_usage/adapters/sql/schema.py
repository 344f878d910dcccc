"""The tables of the SQL storage, and the column order of every row the adapter writes.

Every table has a ``team_id`` column and every key and index leads with it,
so the tables can be distributed by ``team_id`` (see ``docs/scaling.md``).

Storage choices that keep the backends exact and alike:

* Instants are ``BIGINT`` microseconds since the Unix epoch in UTC (a MariaDB
  ``DATETIME`` without fractional seconds would drop microseconds, and the
  backends disagree on time zones).
* "No group" is ``''`` in the roll-up and counter tables, whose keys cannot
  hold ``NULL``; it reads back as ``None``.
* Ids compare byte by byte everywhere: ``utf8mb4_nopad_bin`` on MariaDB/MySQL
  (so ``"Ada"``, ``"ada"`` and ``"ada "`` stay three ids, as on SQLite), and
  ``COLLATE "C"`` on PostgreSQL whatever the database's locale.
* Three 255-character ids are too long for an InnoDB key (3072 bytes), so on
  MariaDB the roll-up and counter tables are keyed by
  ``(team_id, day | cycle, cell_key)``, where ``cell_key`` is the SHA-256 of
  the cell's user, group, feature and credit type: a key InnoDB orders by
  team, so writers of different teams never lock each other's rows.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql

from credit_usage.errors import ValidationError

__all__ = [
    "DEFAULT_PREFIX",
    "ENTRY_COLUMNS",
    "FIGURE_DIMENSIONS",
    "LEDGER_ROW",
    "MYSQL_DIALECTS",
    "Tables",
    "cell_key",
    "is_mysql",
    "make_metadata",
    "metadata",
]

#: The table prefix used unless another is given.
DEFAULT_PREFIX: Final = "credit_usage_"
#: Dialect names of the MariaDB/MySQL family.
MYSQL_DIALECTS: Final = ("mysql", "mariadb")
_PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,29}")

#: A ledger row as the adapter inserts it.
LEDGER_ROW: Final = (
    "team_id",
    "seq",
    "entry_id",
    "kind",
    "user_id",
    "group_id",
    "feature",
    "credit_type",
    "amount",
    "occurred_at",
    "recorded_at",
    "reverses",
)
#: The columns a stored entry is read back from, in this order.
ENTRY_COLUMNS: Final = LEDGER_ROW[2:]
#: The dimensions of a daily roll-up or cycle counter, after its day or cycle.
FIGURE_DIMENSIONS: Final = ("user_id", "group_id", "feature", "credit_type")


def is_mysql(dialect: str | None) -> bool:
    """Whether ``dialect`` names the MariaDB/MySQL family."""
    return dialect in MYSQL_DIALECTS


def cell_key(user_id: str, group_id: str, feature: str, credit_type: str) -> bytes:
    """The 32-byte key of a roll-up cell on MariaDB: SHA-256 of its length-prefixed dimensions.

    Each part is prefixed with its UTF-8 length, so no two different cells
    encode alike, whatever characters their ids hold.
    """
    digest = hashlib.sha256()
    for part in (user_id, group_id, feature, credit_type):
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(4, "big"))
        digest.update(data)
    return digest.digest()


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
            mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_nopad_bin"),
            *MYSQL_DIALECTS,
        )
        .with_variant(postgresql.VARCHAR(length, collation="C"), "postgresql")
    )


#: On SQLite the primary key is the table (``WITHOUT ROWID``), as InnoDB's
#: clustered index is: an upsert touches one B-tree, not a table and a key
#: index, and a read by key range needs no second lookup per row.
_CLUSTERED: Final[dict[str, Any]] = {"sqlite_with_rowid": False}


def make_metadata(prefix: str = DEFAULT_PREFIX, *, dialect: str | None = None) -> sa.MetaData:
    """The tables of credit_usage, each named ``prefix`` + its name.

    A host adds this (or ``storage.metadata``) to its Alembic ``target_metadata``.

    Args:
        prefix: letters, digits and underscores, at most 30 characters,
            not starting with a digit.
        dialect: the SQLAlchemy dialect name the tables are for. MariaDB and
            MySQL (``"mariadb"``, ``"mysql"``) key the roll-up and counter
            tables by a digest column; every other dialect gets the same
            tables as SQLite and PostgreSQL (the default).

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
        sa.Column("plan", slug(), nullable=False),
        sa.Column("billing_anchor", sa.Date(), nullable=False),
        sa.Column("billing_period", sa.String(16), nullable=False),
        sa.Column("credits_per_cycle", sa.BigInteger(), nullable=False),
        sa.Column("timezone", sa.String(255), nullable=False),
        # Slugs cannot hold a comma, so a comma-joined list is unambiguous.
        sa.Column("credit_types", sa.Text(), nullable=False),
        # The declared features as JSON [[value, label], ...]; NULL (a team
        # stored before features were configurable) means the default four.
        sa.Column("features", sa.Text(), nullable=True),
        # The position of the team's last ledger entry; the writer holding the
        # team's lock numbers its entries on from here.
        sa.Column("ledger_seq", sa.BigInteger(), nullable=False, server_default="0"),
        # The sum of every entry's amount, bounded so no figure can overflow.
        sa.Column("ledger_volume", sa.BigInteger(), nullable=False, server_default="0"),
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
        sa.Column("feature", slug(), nullable=True),
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

    for name, period in (("daily_usage", "day"), ("cycle_usage", "cycle")):
        # ``day``: the local day in the team's time zone; ``cycle``: the cycle's first local day.
        table = sa.Table(
            f"{p}{name}",
            md,
            sa.Column("team_id", ident(), nullable=False),
            sa.Column(period, sa.Date(), nullable=False),
            sa.Column("user_id", ident(), nullable=False),
            sa.Column("group_id", ident(), nullable=False),  # '' for "no group"
            sa.Column("feature", slug(), nullable=False),
            sa.Column("credit_type", slug(), nullable=False),
            sa.Column("credits", sa.BigInteger(), nullable=False),
            **_CLUSTERED,
        )
        key: tuple[str, ...] = ("team_id", period, *FIGURE_DIMENSIONS)
        if is_mysql(dialect):
            table.append_column(sa.Column("cell_key", sa.BINARY(32), nullable=False))
            key = ("team_id", period, "cell_key")
        table.append_constraint(sa.PrimaryKeyConstraint(*key, name=f"{p}{name}_pk"))
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
    _outbox_tables(md, p, teams)
    return md


def _outbox_tables(md: sa.MetaData, p: str, teams: sa.Table) -> None:
    """Report schedules, their deliveries, and limit alerts (with theirs)."""
    ident, slug = _id_type, _slug_type

    def delivery_columns() -> list[sa.Column[Any]]:
        """Where one email stands (domain/delivery.py); microseconds, UTC."""
        return [
            sa.Column("state", sa.String(16), nullable=True),  # NULL: never claimed
            sa.Column("message_id", sa.Text(), nullable=True),
            sa.Column("claimed_at", sa.BigInteger(), nullable=True),
            sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
            sa.Column("error", sa.Text(), nullable=True),
            sa.Column("finished_at", sa.BigInteger(), nullable=True),
        ]

    schedules = sa.Table(
        f"{p}report_schedules",
        md,
        sa.Column("team_id", ident(), nullable=False),
        sa.Column("schedule_id", ident(), nullable=False),
        sa.Column("frequency", sa.String(16), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),  # JSON list of addresses
        sa.Column("created_by", ident(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),  # microseconds, UTC
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("next_due", sa.BigInteger(), nullable=True),  # microseconds, UTC
        sa.PrimaryKeyConstraint("team_id", "schedule_id", name=f"{p}report_schedules_pk"),
        sa.ForeignKeyConstraint(
            ["team_id"], [teams.c.team_id], name=f"{p}report_schedules_team_fk"
        ),
    )
    # The one index that does not lead with team_id: the worker's read of the
    # teams with a report due spans teams (docs/scaling.md).
    sa.Index(f"{p}report_schedules_due", schedules.c.next_due)
    sa.Table(
        f"{p}report_deliveries",
        md,
        sa.Column("team_id", ident(), nullable=False),
        sa.Column("schedule_id", ident(), nullable=False),
        sa.Column("period_first", sa.Date(), nullable=False),
        *delivery_columns(),
        sa.PrimaryKeyConstraint(
            "team_id", "schedule_id", "period_first", name=f"{p}report_deliveries_pk"
        ),
        sa.ForeignKeyConstraint(
            ["team_id", "schedule_id"],
            [schedules.c.team_id, schedules.c.schedule_id],
            name=f"{p}report_deliveries_schedule_fk",
        ),
    )
    alerts = sa.Table(
        f"{p}limit_alerts",
        md,
        sa.Column("team_id", ident(), nullable=False),
        sa.Column("alert_id", sa.String(64), nullable=False),
        sa.Column("cycle", sa.Date(), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),  # team, user or group
        sa.Column("subject_id", ident(), nullable=False),  # '' for the team pool
        sa.Column("credit_type", slug(), nullable=False),  # '' for all types together
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("limit_credits", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),  # microseconds, UTC
        # True until the alert is finally delivered: what the worker looks for.
        sa.Column("pending", sa.Boolean(), nullable=False),
        *delivery_columns(),
        sa.PrimaryKeyConstraint("team_id", "alert_id", name=f"{p}limit_alerts_pk"),
        sa.ForeignKeyConstraint(["team_id"], [teams.c.team_id], name=f"{p}limit_alerts_team_fk"),
    )
    # Cross-team too: the teams with an alert still to deliver.
    sa.Index(f"{p}limit_alerts_pending", alerts.c.pending, alerts.c.team_id)


#: The tables with the default prefix (for SQLite and PostgreSQL), for a host's
#: Alembic ``target_metadata``; MariaDB hosts use ``make_metadata(dialect="mariadb")``.
metadata: Final = make_metadata(DEFAULT_PREFIX)


class Tables:
    """The tables of one prefix and dialect, by their short names."""

    def __init__(self, md: sa.MetaData, prefix: str) -> None:
        t = md.tables
        self.teams = t[f"{prefix}teams"]
        self.groups = t[f"{prefix}groups"]
        self.members = t[f"{prefix}members"]
        self.ledger = t[f"{prefix}ledger"]
        self.daily = t[f"{prefix}daily_usage"]
        self.cycles = t[f"{prefix}cycle_usage"]
        self.balances = t[f"{prefix}balances"]
        self.limits = t[f"{prefix}credit_limits"]
        self.schedules = t[f"{prefix}report_schedules"]
        self.deliveries = t[f"{prefix}report_deliveries"]
        self.alerts = t[f"{prefix}limit_alerts"]
        #: Whether the roll-up and counter rows carry a ``cell_key`` (MariaDB).
        self.keyed_cells = "cell_key" in self.daily.c

    @property
    def derived(self) -> tuple[sa.Table, ...]:
        """The tables derived from the ledger."""
        return (self.daily, self.cycles, self.balances)
