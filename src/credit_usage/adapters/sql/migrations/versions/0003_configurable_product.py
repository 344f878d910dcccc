"""Configurable product: a team's declared features, and features and plans as slugs.

* ``teams.features``: the team's declared features as JSON, ``NULL`` for
  teams stored before (they keep the default four).
* ``teams.plan`` and the ``feature`` of the ledger, roll-ups and counters
  widen from ``VARCHAR(16)`` to the slug type: ``VARCHAR(64)`` compared byte
  by byte (``utf8mb4_nopad_bin`` on MariaDB/MySQL, ``COLLATE "C"`` on
  PostgreSQL).

SQLite cannot alter a column's type, so its tables are made again. The
ledger, roll-ups and counters go through Alembic's batch mode (copy, drop,
rename; ``WITHOUT ROWID`` and the partial index are kept). The teams table
is referenced by the groups' and members' foreign keys, and with foreign keys
on, dropping it after the copy was filled would leave their rows orphaned
at commit; so its rows are set aside, the table is made again under its own
name and the rows put back, which re-parents every child row.

Revision ID: 0003_configurable_product
Revises: 0002_team_scoped_keys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision = "0003_configurable_product"
down_revision = "0002_team_scoped_keys"
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


def _slug() -> sa.types.TypeEngine[str]:
    return _text_key(64)


#: Each table's widened column and whether it may be NULL.
_FEATURES = (("ledger", True), ("daily_usage", False), ("cycle_usage", False))


def upgrade(*, table_prefix: str) -> None:
    p = table_prefix
    if op.get_bind().dialect.name == "sqlite":
        _upgrade_sqlite(p)
        return
    op.add_column(f"{p}teams", sa.Column("features", sa.Text(), nullable=True))
    op.alter_column(
        f"{p}teams", "plan", type_=_slug(), existing_type=sa.String(16), existing_nullable=False
    )
    for name, nullable in _FEATURES:
        op.alter_column(
            f"{p}{name}",
            "feature",
            type_=_slug(),
            existing_type=sa.String(16),
            existing_nullable=nullable,
        )


def _upgrade_sqlite(p: str) -> None:
    for name, nullable in _FEATURES:
        # The reflected table keeps WITHOUT ROWID, the keys and the indexes.
        with op.batch_alter_table(f"{p}{name}", recreate="always") as batch:
            batch.alter_column(
                "feature", type_=_slug(), existing_type=sa.String(16), existing_nullable=nullable
            )

    teams, kept = f"{p}teams", f"_alembic_tmp_{p}teams"
    columns = (
        "team_id",
        "name",
        "plan",
        "billing_anchor",
        "billing_period",
        "credits_per_cycle",
        "timezone",
        "credit_types",
        "ledger_seq",
        "ledger_volume",
    )
    bind = op.get_bind()
    quote = bind.dialect.identifier_preparer.quote
    listed = ", ".join(quote(c) for c in columns)
    # The groups' and members' rows are orphaned from the DROP until the rows
    # are back: their foreign keys are checked when the rows are back instead
    # (SQLite resets the setting at COMMIT and ROLLBACK; restored below).
    deferred = bind.exec_driver_sql("PRAGMA defer_foreign_keys").scalar()
    op.execute("PRAGMA defer_foreign_keys = ON")
    op.execute(f"CREATE TABLE {quote(kept)} AS SELECT {listed} FROM {quote(teams)}")
    op.drop_table(teams)
    op.create_table(
        teams,
        sa.Column("team_id", sa.String(255), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("plan", sa.String(64), nullable=False),
        sa.Column("billing_anchor", sa.Date(), nullable=False),
        sa.Column("billing_period", sa.String(16), nullable=False),
        sa.Column("credits_per_cycle", sa.BigInteger(), nullable=False),
        sa.Column("timezone", sa.String(255), nullable=False),
        sa.Column("credit_types", sa.Text(), nullable=False),
        sa.Column("features", sa.Text(), nullable=True),
        sa.Column("ledger_seq", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("ledger_volume", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("team_id", name=f"{p}teams_pk"),
    )
    op.execute(f"INSERT INTO {quote(teams)} ({listed}) SELECT {listed} FROM {quote(kept)}")
    op.drop_table(kept)
    # Every child row has its parent again: no violation is pending.
    op.execute(f"PRAGMA defer_foreign_keys = {'ON' if deferred else 'OFF'}")


def downgrade(*, table_prefix: str) -> None:
    raise NotImplementedError("credit_usage's migrations go forward only")
