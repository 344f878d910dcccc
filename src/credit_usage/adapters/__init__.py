"""Adapters for the ports: in-memory and SQL storage, mailers."""
