"""The Alembic script directory of the SQL storage's schema migrations.

Shipped inside the package and run by :mod:`credit_usage.adapters.sql.migrate`
on the caller's connection: ``env.py`` reads the connection and the table
prefix from the Alembic config's ``attributes``, keeps the version table
beside the tables (``{prefix}alembic_version``) and hands the prefix to every
migration's ``upgrade(table_prefix=...)``.

Each migration in ``versions/`` spells out its own tables and types rather
than importing :func:`~credit_usage.adapters.sql.schema.make_metadata`, which
describes only the newest schema and changes with it. Nothing here is
imported by ``import credit_usage``.
"""
