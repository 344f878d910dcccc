"""The schema of release 0.1.0, as its ``create_schema()`` made it.

Databases made by 0.1.0 have these tables but no version table;
:mod:`credit_usage.adapters.sql.migrate` stamps them with this revision
before upgrading. On MariaDB/MySQL the roll-up and counter tables had no
primary key: a ``USING HASH`` unique key (three 255-character ids exceed
InnoDB's 3072-byte key limit) and a range index on their two leading columns.
On SQLite they, and the balances, are ``WITHOUT ROWID`` tables.

Revision ID: 0001_initial
Revises:
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

_MYSQL = ("mysql", "mariadb")
_CLUSTERED: dict[str, Any] = {"sqlite_with_rowid": False}


def _text_key(length: int) -> sa.types.TypeEngine[str]:
    """A string compared byte by byte (0.1.0's ``_text_key``)."""
    return (
        sa.String(length)
        .with_variant(
            mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_nopad_bin"), *_MYSQL
        )
        .with_variant(postgresql.VARCHAR(length, collation="C"), "postgresql")
    )


def _ident() -> sa.types.TypeEngine[str]:
    return _text_key(255)


def _slug() -> sa.types.TypeEngine[str]:
    return _text_key(64)


def upgrade(*, table_prefix: str) -> None:
    p = table_prefix
    on_mysql = op.get_bind().dialect.name in _MYSQL

    op.create_table(
        f"{p}teams",
        sa.Column("team_id", _ident(), nullable=False),
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
    op.create_table(
        f"{p}groups",
        sa.Column("team_id", _ident(), nullable=False),
        sa.Column("group_id", _ident(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "group_id", name=f"{p}groups_pk"),
        sa.ForeignKeyConstraint(["team_id"], [f"{p}teams.team_id"], name=f"{p}groups_team_fk"),
    )
    op.create_table(
        f"{p}members",
        sa.Column("team_id", _ident(), nullable=False),
        sa.Column("user_id", _ident(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("group_id", _ident(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "user_id", name=f"{p}members_pk"),
        sa.ForeignKeyConstraint(["team_id"], [f"{p}teams.team_id"], name=f"{p}members_team_fk"),
    )
    ledger = op.create_table(
        f"{p}ledger",
        sa.Column("team_id", _ident(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", _ident(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("user_id", _ident(), nullable=True),
        sa.Column("group_id", _ident(), nullable=True),
        sa.Column("feature", sa.String(16), nullable=True),
        sa.Column("credit_type", _slug(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=True),
        sa.Column("reverses", _ident(), nullable=True),
        sa.PrimaryKeyConstraint("team_id", "entry_id", name=f"{p}ledger_pk"),
    )
    op.create_index(f"{p}ledger_occurred", f"{p}ledger", ["team_id", "occurred_at", "seq"])
    op.create_index(
        f"{p}ledger_reverses",
        f"{p}ledger",
        ["team_id", "reverses"],
        sqlite_where=ledger.c.reverses.is_not(None),
        postgresql_where=ledger.c.reverses.is_not(None),
    )

    dimensions = ("user_id", "group_id", "feature", "credit_type")
    for name, period in (("daily_usage", "day"), ("cycle_usage", "cycle")):
        table = f"{p}{name}"
        key = ("team_id", period, *dimensions)
        # On MariaDB/MySQL the key is too wide for a primary key.
        primary_key = () if on_mysql else (sa.PrimaryKeyConstraint(*key, name=f"{table}_pk"),)
        op.create_table(
            table,
            sa.Column("team_id", _ident(), nullable=False),
            sa.Column(period, sa.Date(), nullable=False),
            sa.Column("user_id", _ident(), nullable=False),
            sa.Column("group_id", _ident(), nullable=False),
            sa.Column("feature", sa.String(16), nullable=False),
            sa.Column("credit_type", _slug(), nullable=False),
            sa.Column("credits", sa.BigInteger(), nullable=False),
            *primary_key,
            **_CLUSTERED,
        )
        if on_mysql:
            op.create_index(f"{table}_key", table, list(key), unique=True, mysql_using="hash")
            op.create_index(f"{table}_range", table, list(key[:2]))

    op.create_table(
        f"{p}balances",
        sa.Column("team_id", _ident(), nullable=False),
        sa.Column("cycle", sa.Date(), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("subject_id", _ident(), nullable=False),
        sa.Column("credit_type", _slug(), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.Column("granted", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "team_id", "cycle", "scope", "subject_id", "credit_type", name=f"{p}balances_pk"
        ),
        **_CLUSTERED,
    )
    op.create_table(
        f"{p}credit_limits",
        sa.Column("team_id", _ident(), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("subject_id", _ident(), nullable=False),
        sa.Column("credit_type", _slug(), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "team_id", "scope", "subject_id", "credit_type", name=f"{p}credit_limits_pk"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], [f"{p}teams.team_id"], name=f"{p}credit_limits_team_fk"
        ),
    )
    op.create_table(
        f"{p}report_schedules",
        sa.Column("team_id", _ident(), nullable=False),
        sa.Column("schedule_id", _ident(), nullable=False),
        sa.Column("frequency", sa.String(16), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("created_by", _ident(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "schedule_id", name=f"{p}report_schedules_pk"),
        sa.ForeignKeyConstraint(
            ["team_id"], [f"{p}teams.team_id"], name=f"{p}report_schedules_team_fk"
        ),
    )
    op.create_table(
        f"{p}report_deliveries",
        sa.Column("team_id", _ident(), nullable=False),
        sa.Column("schedule_id", _ident(), nullable=False),
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
        sa.ForeignKeyConstraint(
            ["team_id", "schedule_id"],
            [f"{p}report_schedules.team_id", f"{p}report_schedules.schedule_id"],
            name=f"{p}report_deliveries_schedule_fk",
        ),
    )


def downgrade(*, table_prefix: str) -> None:
    raise NotImplementedError("credit_usage's migrations go forward only")
