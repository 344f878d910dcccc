"""The raw baselines: one indexed ``events`` table, driven straight through the driver.

The same rows as the library's ledger go into
``events(team_id, entry_id, user_id, group_id, feature, credit_type, amount, occurred_at)``
with an index on ``(team_id, occurred_at)``; instants are integer microseconds
since the epoch. Every operation the benchmark times has its raw counterpart
here, written the obvious way a developer would without the library; for
the concurrent measure, ``writer()`` gives each thread a connection of its own.
"""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Sequence
from typing import Any, TextIO

from workload import Row, from_micros

from credit_usage.reports.csv_writer import LEDGER_HEADER

CREATE = """
CREATE TABLE {t} (
    team_id TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    group_id TEXT,
    feature TEXT NOT NULL,
    credit_type TEXT NOT NULL,
    amount BIGINT NOT NULL,
    occurred_at BIGINT NOT NULL
)
"""
INDEX = "CREATE INDEX {i} ON {t} (team_id, occurred_at)"
INSERT = "INSERT INTO {t} VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
IN_RANGE = "WHERE team_id = ? AND occurred_at >= ? AND occurred_at < ?"
USAGE = (
    "SELECT user_id, feature, credit_type, SUM(amount) FROM {t} "
    + IN_RANGE
    + (" GROUP BY user_id, feature, credit_type")
)
REPORT = (
    "SELECT user_id, group_id, feature, credit_type, SUM(amount) FROM {t} "
    + IN_RANGE
    + (" GROUP BY user_id, group_id, feature, credit_type")
)
LEDGER = (
    "SELECT entry_id, occurred_at, user_id, group_id, feature, credit_type, amount FROM {t} "
    + IN_RANGE
    + " ORDER BY occurred_at"
)
COUNT = "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM {t} " + IN_RANGE
#: How long a writer waits for another's lock: the library's SQLite busy timeout.
BUSY_TIMEOUT_S = 30.0


def _write_ledger(rows: Any, out: TextIO) -> int:
    """The audit-trail columns of ``export_ledger_csv``; the table has no kind or recorded_at."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(LEDGER_HEADER)
    count = 0
    for entry_id, at, user_id, group_id, feature, credit_type, amount in rows:
        writer.writerow(
            (
                entry_id,
                "usage",
                from_micros(at).isoformat(),
                "",
                user_id,
                group_id or "",
                feature,
                credit_type,
                amount,
                "",
            )
        )
        count += 1
    return count


def _write_report(rows: Sequence[Any], out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("user_id", "group_id", "feature", "credit_type", "credits"))
    writer.writerows(rows)
    return len(rows)


class RawSqlite:
    """The baseline on a ``sqlite3`` database file, one transaction per call."""

    name = "sqlite3"

    def __init__(self, path: str, *, journal_mode: str, synchronous: str) -> None:
        self._path, self._journal_mode, self._synchronous = path, journal_mode, synchronous
        # isolation_level=None: the driver opens no transaction on its own, so
        # each call below runs exactly the BEGIN ... COMMIT it spells out.
        self._db = sqlite3.connect(path, isolation_level=None)
        # The library's durability settings, so both sides pay the same fsyncs.
        self._db.execute(f"PRAGMA journal_mode = {journal_mode}")
        self._db.execute(f"PRAGMA synchronous = {synchronous}")
        self._db.execute(CREATE.format(t="events"))
        self._db.execute(INDEX.format(i="events_team_time", t="events"))

    def insert_batch(self, rows: Sequence[Row]) -> None:
        self._db.execute("BEGIN")
        self._db.executemany(INSERT.format(t="events"), rows)
        self._db.execute("COMMIT")

    def insert_one(self, row: Row) -> None:
        self._db.execute("BEGIN")
        self._db.execute(INSERT.format(t="events"), row)
        self._db.execute("COMMIT")

    def usage(self, team_id: str, start: int, end: int) -> list[Any]:
        return self._db.execute(USAGE.format(t="events"), (team_id, start, end)).fetchall()

    def export_report(self, team_id: str, start: int, end: int, out: TextIO) -> int:
        rows = self._db.execute(REPORT.format(t="events"), (team_id, start, end)).fetchall()
        return _write_report(rows, out)

    def export_ledger(self, team_id: str, start: int, end: int, out: TextIO) -> int:
        return _write_ledger(
            self._db.execute(LEDGER.format(t="events"), (team_id, start, end)), out
        )

    def count(self, team_id: str, start: int, end: int) -> tuple[int, int]:
        row = self._db.execute(COUNT.format(t="events"), (team_id, start, end)).fetchone()
        return int(row[0]), int(row[1])

    def writer(self) -> SqliteWriter:
        """A connection of its own for one writing thread (open it in that thread)."""
        return SqliteWriter(
            self._path, journal_mode=self._journal_mode, synchronous=self._synchronous
        )

    def close(self) -> None:
        self._db.close()


class SqliteWriter:
    """One thread's own ``sqlite3`` connection, writing one-row transactions.

    ``BEGIN IMMEDIATE`` takes the write lock first, as the library's writes
    do: a deferred ``BEGIN`` whose ``INSERT`` finds the snapshot stale fails
    at once with ``SQLITE_BUSY`` instead of waiting. Other writers are waited
    for up to the library's busy timeout (30 s).
    """

    def __init__(self, path: str, *, journal_mode: str, synchronous: str) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        self._db.execute(f"PRAGMA journal_mode = {journal_mode}")
        self._db.execute(f"PRAGMA synchronous = {synchronous}")

    def insert_one(self, row: Row) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute(INSERT.format(t="events"), row)
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()


class RawPostgres:
    """The baseline through psycopg in its own schema of the benchmark database."""

    name = "psycopg"
    table = "baseline.events"

    def __init__(
        self, conninfo: str, *, analyze: bool = True, synchronous_commit: str | None = None
    ) -> None:
        import psycopg

        self._analyze = analyze
        # The library's commit durability, on this connection and the writers'.
        self._conninfo = conninfo
        if synchronous_commit is not None:
            self._conninfo += f" options='-c synchronous_commit={synchronous_commit}'"
        self._db = psycopg.connect(self._conninfo)
        with self._db.transaction():
            self._db.execute("CREATE SCHEMA baseline")
            self._db.execute(CREATE.format(t=self.table))
            self._db.execute(INDEX.format(i="events_team_time", t=self.table))
        self._db.commit()

    def _sql(self, template: str) -> str:
        return template.format(t=self.table).replace("?", "%s")

    def insert_batch(self, rows: Sequence[Row]) -> None:
        with self._db.cursor() as cur:
            cur.executemany(self._sql(INSERT), rows)
        self._db.commit()

    def insert_one(self, row: Row) -> None:
        # psycopg sends BEGIN before the INSERT and COMMIT on commit().
        self._db.execute(self._sql(INSERT), row)
        self._db.commit()

    def usage(self, team_id: str, start: int, end: int) -> list[Any]:
        rows = self._db.execute(self._sql(USAGE), (team_id, start, end)).fetchall()
        self._db.commit()
        return rows

    def export_report(self, team_id: str, start: int, end: int, out: TextIO) -> int:
        rows = self._db.execute(self._sql(REPORT), (team_id, start, end)).fetchall()
        self._db.commit()
        return _write_report(rows, out)

    def export_ledger(self, team_id: str, start: int, end: int, out: TextIO) -> int:
        # A server-side cursor: the raw way to stream a large result in constant memory.
        with self._db.cursor(name="ledger") as cur:
            cur.itersize = 10_000
            cur.execute(self._sql(LEDGER), (team_id, start, end))
            count = _write_ledger(cur, out)
        self._db.commit()
        return count

    def count(self, team_id: str, start: int, end: int) -> tuple[int, int]:
        row = self._db.execute(self._sql(COUNT), (team_id, start, end)).fetchone()
        self._db.commit()
        assert row is not None
        return int(row[0]), int(row[1])

    def writer(self) -> PostgresWriter:
        """A connection of its own for one writing thread."""
        return PostgresWriter(self._conninfo, self._sql(INSERT))

    def synchronous_commit(self) -> str:
        row = self._db.execute("SHOW synchronous_commit").fetchone()
        self._db.commit()
        return str(row[0]) if row else "?"

    def analyze(self) -> None:
        """``VACUUM ANALYZE`` the whole database (both sides), unless switched off."""
        if not self._analyze:
            return
        self._db.autocommit = True
        self._db.execute("VACUUM ANALYZE")
        self._db.autocommit = False

    def close(self) -> None:
        self._db.close()


class PostgresWriter:
    """One thread's own psycopg connection, writing one-row transactions."""

    def __init__(self, conninfo: str, insert: str) -> None:
        import psycopg

        self._db = psycopg.connect(conninfo)
        self._insert = insert

    def insert_one(self, row: Row) -> None:
        self._db.execute(self._insert, row)
        self._db.commit()

    def close(self) -> None:
        self._db.close()
