"""One ``record_usage`` call beside a raw one-row insert transaction, for comparing checkouts.

``run.py`` measures one checkout. To see whether a change made a single
write faster, run this script against each checkout in turn, alternating
processes, on the same machine and the same server; it uses only the public
API that every release has had (``Team``, ``Member``, ``Group``,
``CreditUsage``, ``SqlStorage.from_url``), so it runs against older code too::

    for round in 1 2 3; do
      for tree in /tmp/before /path/to/this/checkout; do
        PYTHONPATH=$tree/src python benchmarks/record_usage_ab.py sqlite --calls 200
      done
    done

Each process prints one line: backend, our best per-call time, the raw
driver's, and the ratio. The team has 20 members in one group and no
credit limit (the call every version makes); the raw table has the ledger's
primary key and time index, and the same durability (SQLite: WAL,
``synchronous=FULL``; PostgreSQL: the server's ``synchronous_commit``).
"""

from __future__ import annotations

import argparse
import gc
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from credit_usage import BillingSchedule, CreditUsage, Group, Member, Team

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
FEATURES = ("platform", "extension", "api", "workspace")
CREDIT_TYPES = ("standard", "email", "phone", "export")
USERS = tuple(f"u{i}" for i in range(20))
CREATE = (
    "CREATE TABLE ev (team_id text, entry_id text, user_id text, group_id text, "
    "feature text, credit_type text, amount bigint, occurred_at bigint, "
    "PRIMARY KEY (team_id, entry_id))"
)


def storages(
    backend: str, database: str, conninfo: str
) -> tuple[Any, Callable[[tuple], None], Callable[[], None]]:
    """Our storage, the raw insert of one row in its own transaction, and the clean-up."""
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

        def insert_pg(row: tuple) -> None:
            pg.execute("INSERT INTO ev VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", row)
            pg.commit()

        def drop() -> None:
            pg.close()
            with psycopg.connect(f"{conninfo} dbname=postgres", autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {database}")

        return storage, insert_pg, drop
    folder = Path(tempfile.mkdtemp(prefix="record_usage_ab_"))
    storage = SqlStorage.from_url(f"sqlite:///{folder}/ours.db")
    db = sqlite3.connect(folder / "raw.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(CREATE)
    db.execute("CREATE INDEX ev_time ON ev (team_id, occurred_at)")

    def insert_sqlite(row: tuple) -> None:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO ev VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
        db.execute("COMMIT")

    def remove() -> None:
        db.close()
        shutil.rmtree(folder)

    return storage, insert_sqlite, remove


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("backend", choices=("sqlite", "postgres"))
    parser.add_argument("--calls", type=int, default=200, help="calls per timing")
    parser.add_argument("--repeat", type=int, default=5, help="timings; the best counts")
    parser.add_argument("--postgres", default="host=127.0.0.1 port=5432 user=postgres")
    parser.add_argument("--postgres-db", default="credit_usage_ab")
    args = parser.parse_args()

    storage, insert_one, close = storages(args.backend, args.postgres_db, args.postgres)
    storage.create_schema()
    app = CreditUsage(storage, clock=lambda: NOW)
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
    app.add_group(Group(team_id="t1", group_id="g1", name="G"))
    for i, user in enumerate(USERS):
        role = "admin" if i == 0 else "member"
        email = f"{user}@example.com"
        member = Member(
            team_id="t1", user_id=user, name=user, email=email, role=role, group_id="g1"
        )
        app.add_member(member)
    at = NOW - timedelta(minutes=1)

    def ours(tag: str) -> None:
        for i in range(args.calls):
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
        for i in range(args.calls):
            row = ("t1", f"{tag}-{i}", USERS[i % 20], "g1", FEATURES[i % 4], CREDIT_TYPES[i % 4])
            insert_one((*row, 1 + i % 7, 123))

    ours("warm")
    raw("warm")
    best_ours = best_raw = float("inf")
    for r in range(args.repeat):
        gc.collect()
        t0 = time.perf_counter()
        ours(f"o{r}")
        t1 = time.perf_counter()
        raw(f"r{r}")
        t2 = time.perf_counter()
        best_ours = min(best_ours, (t1 - t0) / args.calls)
        best_raw = min(best_raw, (t2 - t1) / args.calls)
    print(
        f"{args.backend} ours {best_ours * 1e6:.0f} µs raw {best_raw * 1e6:.0f} µs "
        f"ratio {best_ours / best_raw:.2f}"
    )
    storage.engine.dispose()
    close()


if __name__ == "__main__":
    main()
