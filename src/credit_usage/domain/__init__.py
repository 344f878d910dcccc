"""The pure domain: values, rules and calculations; no I/O, no SQLAlchemy."""
