"""Where a write's time goes: each SQL statement's share, beside the whole call and the raw one.

Runs ``ab.py``'s operation once more with a timer on every statement the
storage sends (SQLAlchemy's cursor events: the driver's execution, server
and round trip included, but not the commit), and prints per call or entry::

    python benchmarks/statements.py sqlite record_many --calls 3
    python benchmarks/statements.py postgres record_usage --calls 200

The lines are the statements, slowest first (their first words), then the
whole operation, the part inside statements, and the raw driver's time for
the same work. What is neither statements nor commit is Python: ours and
SQLAlchemy's.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from ab import NOW, pair_for, parser_for, storages
from sqlalchemy import event

from credit_usage import CreditUsage


def main() -> None:
    args = parser_for(__doc__ or "", "credit_usage_statements").parse_args()
    storage, insert, close = storages(args.backend, args.postgres_db, args.postgres)
    try:
        storage.create_schema()
        pair = pair_for(CreditUsage(storage, clock=lambda: NOW), insert, args)
        spent: defaultdict[str, float] = defaultdict(float)
        started: dict[int, float] = {}

        @event.listens_for(storage.engine, "before_cursor_execute")
        def before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            started[id(cursor)] = time.perf_counter()

        @event.listens_for(storage.engine, "after_cursor_execute")
        def after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            head = " ".join(statement.split()[:6])[:100]
            spent[head] += time.perf_counter() - started.pop(id(cursor))

        for tag in ("warm", "timed"):
            spent.clear()
            pair.prepare(tag)
            t0 = time.perf_counter()
            pair.ours(tag)
            whole = time.perf_counter() - t0
        pair.prepare("raw")
        t0 = time.perf_counter()
        pair.raw("raw")
        raw = time.perf_counter() - t0
        unit, per = pair.unit, 1e6 / pair.units
        for head, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
            print(f"{seconds * per:10.1f} µs/{unit}  {head}")
        print(f"{whole * per:10.1f} µs/{unit}  the whole {args.operation}")
        print(f"{sum(spent.values()) * per:10.1f} µs/{unit}  in statements")
        print(f"{raw * per:10.1f} µs/{unit}  raw")
        storage.engine.dispose()
    finally:
        close()


if __name__ == "__main__":
    main()
