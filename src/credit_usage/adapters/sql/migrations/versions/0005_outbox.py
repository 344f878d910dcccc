"""Automated reports and limit alerts: schedules, deliveries, alerts.

* ``report_schedules``: a team's scheduled reports, with ``next_due`` (the
  end of the first period not yet delivered), indexed across teams for the
  worker's "which teams have a report due?".
* ``report_deliveries``: one row per schedule and period claimed, sent,
  failed or skipped.
* ``limit_alerts``: the outbox of limit alerts, each with its delivery, and
  an index on ``(pending, team_id)`` for the worker.

Revision ID: 0005_outbox
Revises: 0004_credit_limits
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision = "0005_outbox"
down_revision = "0004_credit_limits"
branch_labels = None
depends_on = None

_MYSQL = ("mysql", "mariadb")


def _text_key(length: int) -> sa.types.TypeEngine[str]:
    """A string compared byte by byte, as SQLite does and as Python sorts."""
    return (
        sa.String(length)
        .with_variant(
            mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_nopad_bin"), *_MYSQL
        )
        .with_variant(postgresql.VARCHAR(length, collation="C"), "postgresql")
    )


def _delivery_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("state", sa.String(16), nullable=True),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("claimed_at", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
    ]


def upgrade(*, table_prefix: str) -> None:
    p = table_prefix
    op.create_table(
        f"{p}report_schedules",
        sa.Column("team_id", _text_key(255), nullable=False),
        sa.Column("schedule_id", _text_key(255), nullable=False),
        sa.Column("frequency", sa.String(16), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("created_by", _text_key(255), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("next_due", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("team_id", "schedule_id", name=f"{p}report_schedules_pk"),
        sa.ForeignKeyConstraint(
            ["team_id"], [f"{p}teams.team_id"], name=f"{p}report_schedules_team_fk"
        ),
    )
    op.create_index(f"{p}report_schedules_due", f"{p}report_schedules", ["next_due"])
    op.create_table(
        f"{p}report_deliveries",
        sa.Column("team_id", _text_key(255), nullable=False),
        sa.Column("schedule_id", _text_key(255), nullable=False),
        sa.Column("period_first", sa.Date(), nullable=False),
        *_delivery_columns(),
        sa.PrimaryKeyConstraint(
            "team_id", "schedule_id", "period_first", name=f"{p}report_deliveries_pk"
        ),
        sa.ForeignKeyConstraint(
            ["team_id", "schedule_id"],
            [f"{p}report_schedules.team_id", f"{p}report_schedules.schedule_id"],
            name=f"{p}report_deliveries_schedule_fk",
        ),
    )
    op.create_table(
        f"{p}limit_alerts",
        sa.Column("team_id", _text_key(255), nullable=False),
        sa.Column("alert_id", sa.String(64), nullable=False),
        sa.Column("cycle", sa.Date(), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("subject_id", _text_key(255), nullable=False),
        sa.Column("credit_type", _text_key(64), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("limit_credits", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        *_delivery_columns(),
        sa.PrimaryKeyConstraint("team_id", "alert_id", name=f"{p}limit_alerts_pk"),
        sa.ForeignKeyConstraint(
            ["team_id"], [f"{p}teams.team_id"], name=f"{p}limit_alerts_team_fk"
        ),
    )
    op.create_index(f"{p}limit_alerts_pending", f"{p}limit_alerts", ["pending", "team_id"])
