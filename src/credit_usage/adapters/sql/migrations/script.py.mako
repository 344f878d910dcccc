"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None


def upgrade(*, table_prefix: str) -> None:
    """Spell out the tables and types here; never import today's ``make_metadata``."""
    ${upgrades if upgrades else "raise NotImplementedError"}


def downgrade(*, table_prefix: str) -> None:
    raise NotImplementedError("credit_usage migrations go forward only")
