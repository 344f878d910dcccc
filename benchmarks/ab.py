"""One write of ours beside the raw driver's, for comparing checkouts.

``run.py`` measures one checkout. To see whether a change made a write
faster, run this script against each checkout in turn, alternating
processes, on the same machine and the same server; it uses only the public
API that every release has had (``Team``, ``Member``, ``Group``,
``LedgerEntry``, ``CreditUsage``, ``SqlStorage.from_url``), so it runs
against older code too::

    for round in 1 2 3; do
      for tree in /tmp/before /path/to/this/checkout; do
        PYTHONPATH=$tree/src python benchmarks/ab.py sqlite record_usage --calls 200
      done
    done

Each process prints one line: backend, operation, our best time per call
(``record_usage``) or per entry (``record_many``), the raw driver's, and the
ratio.

- ``record_usage``: one event per call, beside a one-row insert in its own
  transaction. The team has 20 members in one group and no credit limit
  (the call every version makes).
- ``record_many``: ``--calls`` batches of ``--batch`` entries (1,000 members
  in 20 groups, four features and credit types, spread over a month; limits
  not enforced, as in ``run.py``'s load), beside ``executemany`` of the same
  rows in one transaction per batch.

The raw table has the ledger's primary key and time index, and the same
durability (SQLite: WAL, ``synchronous=FULL``; PostgreSQL: the server's
``synchronous_commit``).
"""

from __future__ import annotations

import argparse
import gc
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from credit_usage import BillingSchedule, CreditUsage, Group, LedgerEntry, Member, Team

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
FEATURES = ("platform", "extension", "api", "workspace")
CREDIT_TYPES = ("standard", "email", "phone", "export")
USERS = tuple(f"u{i}" for i in range(20))
#: The members of the ``record_many`` team, 50 to a group.
MANY_USERS = tuple(f"m{i:04d}" for i in range(1000))
CREATE = (
    "CREATE TABLE ev (team_id text, entry_id text, user_id text, group_id text, "
    "feature text, credit_type text, amount bigint, occurred_at bigint, "
    "PRIMARY KEY (team_id, entry_id))"
)


def storages(
    backend: str, database: str, conninfo: str
) -> tuple[Any, Callable[[list[tuple]], None], Callable[[], None]]:
    """Our storage, the raw insert of rows in one transaction, and the clean-up."""
    from credit_usage.adapters.sql import SqlStorage

    if backend == "postgres":
        import psycopg

        with psycopg.connect(f"{conninfo} dbname=postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {database}")
            admin.execute(f"CREATE DATABASE {database}")
        host = dict(part.split("=", 1) for part in conninfo.split())
        storage = SqlStorage.from_url(
            f"postgresql+psycopg://{host.get('user', 'postgres')}@"
            f"{host.get('host', '127.0.0.1')}:{host.get('port', '5432')}/{database}"
        )
        pg = psycopg.connect(f"{conninfo} dbname={database}")
        pg.execute(CREATE)
        pg.execute("CREATE INDEX ev_time ON ev (team_id, occurred_at)")
        pg.commit()

        def insert_pg(rows: list[tuple]) -> None:
            insert = "INSERT INTO ev VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            if len(rows) == 1:
                pg.execute(insert, rows[0])
            else:
                with pg.cursor() as cur:
                    cur.executemany(insert, rows)
            pg.commit()

        def drop() -> None:
            pg.close()
            with psycopg.connect(f"{conninfo} dbname=postgres", autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {database}")

        return storage, insert_pg, drop
    folder = Path(tempfile.mkdtemp(prefix="credit_usage_ab_"))
    storage = SqlStorage.from_url(f"sqlite:///{folder}/ours.db")
    db = sqlite3.connect(folder / "raw.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(CREATE)
    db.execute("CREATE INDEX ev_time ON ev (team_id, occurred_at)")

    def insert_sqlite(rows: list[tuple]) -> None:
        db.execute("BEGIN IMMEDIATE")
        if len(rows) == 1:
            db.execute("INSERT INTO ev VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows[0])
        else:
            db.executemany("INSERT INTO ev VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        db.execute("COMMIT")

    def remove() -> None:
        db.close()
        shutil.rmtree(folder)

    return storage, insert_sqlite, remove


def add_team(app: CreditUsage, users: tuple[str, ...], per_group: int) -> None:
    """Team ``t1``: the first user an Admin, ``per_group`` members to a group."""
    app.create_team(
        Team(
            team_id="t1",
            name="T",
            plan="pro",
            billing=BillingSchedule(anchor=date(2025, 1, 1)),
            credits_per_cycle=10**12,
            timezone="UTC",
            credit_types=CREDIT_TYPES,
        )
    )
    for g in range(-(-len(users) // per_group)):
        app.add_group(Group(team_id="t1", group_id=f"g{g + 1}", name=f"G{g + 1}"))
    for i, user in enumerate(users):
        role = "admin" if i == 0 else "member"
        email = f"{user}@example.com"
        group = f"g{i // per_group + 1}"
        app.add_member(
            Member(team_id="t1", user_id=user, name=user, email=email, role=role, group_id=group)
        )


@dataclass
class Pair:
    """Our write and the raw one, each run under a tag that keeps its entry ids fresh."""

    ours: Callable[[str], None]
    raw: Callable[[str], None]
    #: What one timing covers: calls of ``record_usage``, entries of ``record_many``.
    units: int
    unit: str
    #: Builds a tag's input before the clock starts.
    prepare: Callable[[str], None] = lambda tag: None


def record_usage_pair(app: CreditUsage, insert: Callable[[list[tuple]], None], calls: int) -> Pair:
    """``calls`` single writes, ours and raw."""
    add_team(app, USERS, per_group=len(USERS))
    at = NOW - timedelta(minutes=1)

    def ours(tag: str) -> None:
        for i in range(calls):
            app.record_usage(
                "t1",
                USERS[i % 20],
                feature=FEATURES[i % 4],
                credit_type=CREDIT_TYPES[i % 4],
                amount=1 + i % 7,
                occurred_at=at,
                entry_id=f"{tag}-{i}",
            )

    def raw(tag: str) -> None:
        for i in range(calls):
            row = ("t1", f"{tag}-{i}", USERS[i % 20], "g1", FEATURES[i % 4], CREDIT_TYPES[i % 4])
            insert([(*row, 1 + i % 7, 123)])

    return Pair(ours, raw, calls, "call")


def record_many_pair(
    app: CreditUsage, insert: Callable[[list[tuple]], None], calls: int, batch: int
) -> Pair:
    """``calls`` batches of ``batch`` entries, ours and raw."""
    add_team(app, MANY_USERS, per_group=50)
    start = NOW - timedelta(days=30)
    step = timedelta(days=29) / batch

    def entries(tag: str, b: int) -> list[LedgerEntry]:
        return [
            LedgerEntry(
                team_id="t1",
                entry_id=f"{tag}-{b}-{i}",
                kind="usage",
                user_id=MANY_USERS[(i * 7919) % 1000],
                group_id=f"g{(i * 7919) % 1000 // 50 + 1}",
                feature=FEATURES[i % 4],
                credit_type=CREDIT_TYPES[(i // 4) % 4],
                amount=1 + i % 7,
                occurred_at=start + step * ((i * 104729) % batch),
            )
            for i in range(batch)
        ]

    prepared: dict[str, list[list[LedgerEntry]]] = {}

    def prepare(tag: str) -> None:
        # Built before the clock starts: the caller's objects are not our cost.
        prepared[tag] = [entries(tag, b) for b in range(calls)]

    def ours(tag: str) -> None:
        for chunk in prepared.pop(tag):
            app.record_many(chunk, enforce_limits=False)

    def raw(tag: str) -> None:
        for chunk in prepared.pop(tag):
            insert(
                [
                    (
                        "t1",
                        e.entry_id,
                        e.user_id,
                        e.group_id,
                        str(e.feature),
                        e.credit_type,
                        e.amount,
                        int(e.occurred_at.timestamp() * 1_000_000),
                    )
                    for e in chunk
                ]
            )

    return Pair(ours, raw, calls * batch, "entry", prepare)


def parser_for(doc: str, database: str) -> argparse.ArgumentParser:
    """The command line of this script and of ``statements.py``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("backend", choices=("sqlite", "postgres"))
    parser.add_argument(
        "operation", nargs="?", default="record_usage", choices=("record_usage", "record_many")
    )
    parser.add_argument(
        "--calls", type=int, default=None, help="calls per timing (200; record_many: 5)"
    )
    parser.add_argument("--batch", type=int, default=10_000, help="record_many's batch size")
    parser.add_argument("--postgres", default="host=127.0.0.1 port=5432 user=postgres")
    parser.add_argument("--postgres-db", default=database)
    return parser


def pair_for(app: CreditUsage, insert: Callable[[list[tuple]], None], args: Any) -> Pair:
    """The operation the command line names, on a fresh schema."""
    if args.operation == "record_usage":
        return record_usage_pair(app, insert, args.calls or 200)
    return record_many_pair(app, insert, args.calls or 5, args.batch)


def main() -> None:
    parser = parser_for(__doc__, "credit_usage_ab")
    parser.add_argument("--repeat", type=int, default=5, help="timings; the best counts")
    args = parser.parse_args()

    storage, insert, close = storages(args.backend, args.postgres_db, args.postgres)
    try:
        storage.create_schema()
        pair = pair_for(CreditUsage(storage, clock=lambda: NOW), insert, args)
        for run in (pair.ours, pair.raw):
            pair.prepare("warm")
            run("warm")
        best_ours = best_raw = float("inf")
        for r in range(args.repeat):
            pair.prepare(f"o{r}")
            pair.prepare(f"r{r}")
            gc.collect()
            t0 = time.perf_counter()
            pair.ours(f"o{r}")
            t1 = time.perf_counter()
            pair.raw(f"r{r}")
            t2 = time.perf_counter()
            best_ours = min(best_ours, (t1 - t0) / pair.units)
            best_raw = min(best_raw, (t2 - t1) / pair.units)
        unit = pair.unit
        print(
            f"{args.backend} {args.operation} ours {best_ours * 1e6:.1f} µs/{unit} "
            f"raw {best_raw * 1e6:.1f} µs/{unit} ratio {best_ours / best_raw:.2f}"
        )
        storage.engine.dispose()
    finally:
        close()


if __name__ == "__main__":
    main()
