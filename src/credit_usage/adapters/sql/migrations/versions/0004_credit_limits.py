"""Credit limits: a cap per user or group, per credit type or for all types, per cycle.

* ``credit_limits(team_id, scope, subject_id, credit_type, credits)``, keyed
  by the first four (``credit_type`` is ``''`` for all types together), with
  a foreign key to its team.

Revision ID: 0004_credit_limits
Revises: 0003_configurable_product
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision = "0004_credit_limits"
down_revision = "0003_configurable_product"
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


def upgrade(*, table_prefix: str) -> None:
    p = table_prefix
    op.create_table(
        f"{p}credit_limits",
        sa.Column("team_id", _text_key(255), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("subject_id", _text_key(255), nullable=False),
        sa.Column("credit_type", _text_key(64), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "team_id", "scope", "subject_id", "credit_type", name=f"{p}credit_limits_pk"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], [f"{p}teams.team_id"], name=f"{p}credit_limits_team_fk"
        ),
    )
