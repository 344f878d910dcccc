"""The SQL storage: SQLAlchemy 2 Core on SQLite, PostgreSQL and MariaDB/MySQL.

Every table has a ``team_id`` column, every key and index leads with it, and
every statement names one team, so the tables can be distributed by
``team_id`` (Citus, CockroachDB) with single-shard transactions; see
``docs/scaling.md``.

The package, by capability: ``schema`` (the tables), ``dialect`` with one
module per backend (``sqlite``, ``postgresql``, ``mysql``), ``bulk`` (many rows
in one statement), ``datastore`` (connections, transactions, errors),
``rows`` (values to rows and back), the recorders ``directory`` and
``ledger``, and ``storage``, the :class:`SqlStorage` that composes them.

Example:
    >>> from credit_usage import CreditUsage, SqlStorage
    >>> storage = SqlStorage.from_url("sqlite://")
    >>> storage.create_schema()
    >>> app = CreditUsage(storage=storage)
"""

from __future__ import annotations

from credit_usage.adapters.sql.schema import DEFAULT_PREFIX, make_metadata, metadata
from credit_usage.adapters.sql.storage import SqlStorage

__all__ = ["DEFAULT_PREFIX", "SqlStorage", "make_metadata", "metadata"]
