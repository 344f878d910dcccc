"""The migrations, oldest first: ``0001_initial`` is the schema of release 0.1.0."""
