"""Alembic's environment: run the migrations on the caller's connection, in its transaction.

:mod:`credit_usage.adapters.sql.migrate` puts the connection (already inside
a transaction the caller opened) and the table prefix into the config's
``attributes``; the version table carries the prefix, so two prefixes in one
database migrate independently. Offline (``--sql``) mode is not supported.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

config = context.config
connection = config.attributes.get("connection")
prefix = config.attributes.get("table_prefix")
if context.is_offline_mode() or not isinstance(connection, Connection):
    raise RuntimeError(
        "credit_usage's migrations run through credit_usage.adapters.sql.migrate "
        "on a live connection (config.attributes['connection'])"
    )
if not isinstance(prefix, str):
    raise RuntimeError("config.attributes['table_prefix'] must name the tables' prefix")

context.configure(
    connection=connection,
    version_table=f"{prefix}alembic_version",
    target_metadata=None,
)
# The caller's transaction is open, so Alembic begins none of its own: every
# migration and the version table's update commit (or roll back) with it.
with context.begin_transaction():
    context.run_migrations(table_prefix=prefix)
