"""Team-scoped keys: the ledger's volume per team, MariaDB roll-ups keyed by a cell digest.

* ``teams.ledger_volume``: the sum of the team's ledger amounts, which the
  writer bounds so that no figure can overflow; filled from the ledger.
* ``credit_limits``, ``report_schedules`` and ``report_deliveries`` are dropped:
  no release ever wrote them.
* On MariaDB/MySQL only, ``daily_usage`` and ``cycle_usage`` lose their
  ``USING HASH`` unique key and range index for the primary key
  ``(team_id, day | cycle, cell_key)``, where ``cell_key`` is the SHA-256 of
  the cell's user, group, feature and credit type, each preceded by its UTF-8
  length as 4 big-endian bytes (``schema.cell_key``), computed here in SQL.

Revision ID: 0002_team_scoped_keys
Revises: 0001_initial
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_team_scoped_keys"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

_MYSQL = ("mysql", "mariadb")


def upgrade(*, table_prefix: str) -> None:
    p = table_prefix
    bind = op.get_bind()

    op.add_column(
        f"{p}teams",
        sa.Column("ledger_volume", sa.BigInteger(), nullable=False, server_default="0"),
    )
    teams = sa.table(f"{p}teams", sa.column("team_id"), sa.column("ledger_volume"))
    ledger = sa.table(f"{p}ledger", sa.column("team_id"), sa.column("amount"))
    of_team = ledger.c.team_id == teams.c.team_id
    total = sa.select(sa.func.sum(ledger.c.amount)).where(of_team).scalar_subquery()
    op.execute(teams.update().where(sa.exists().where(of_team)).values(ledger_volume=total))

    # Children before the parent they reference.
    for name in ("report_deliveries", "report_schedules", "credit_limits"):
        op.drop_table(f"{p}{name}")

    if bind.dialect.name not in _MYSQL:
        return
    quote = bind.dialect.identifier_preparer.quote
    dimensions = ("user_id", "group_id", "feature", "credit_type")
    # Each part: its UTF-8 length as 4 big-endian bytes, then its UTF-8 bytes
    # (the columns are utf8mb4, so CONVERT(... USING binary) yields them as stored).
    digest_input = ", ".join(
        f"UNHEX(LPAD(HEX(OCTET_LENGTH({quote(c)})), 8, '0')), CONVERT({quote(c)} USING binary)"
        for c in dimensions
    )
    for name, period in (("daily_usage", "day"), ("cycle_usage", "cycle")):
        table = f"{p}{name}"
        op.add_column(table, sa.Column("cell_key", sa.BINARY(32), nullable=False))
        op.execute(f"UPDATE {quote(table)} SET cell_key = UNHEX(SHA2(CONCAT({digest_input}), 256))")
        # One ALTER, so InnoDB rebuilds the table once for the new clustered key.
        op.execute(
            f"ALTER TABLE {quote(table)} "
            f"DROP INDEX {quote(f'{table}_key')}, "
            f"DROP INDEX {quote(f'{table}_range')}, "
            f"ADD CONSTRAINT {quote(f'{table}_pk')} "
            f"PRIMARY KEY ({quote('team_id')}, {quote(period)}, {quote('cell_key')})"
        )


def downgrade(*, table_prefix: str) -> None:
    raise NotImplementedError("credit_usage's migrations go forward only")
