"""Benchmark credit_usage against a raw-driver baseline on the same data (DESIGN.md section 9).

Usage::

    python benchmarks/run.py [--size tiny|small|medium|full] [--backends sqlite,postgres]
                             [--repeat N] [--postgres CONNINFO] [--postgres-db NAME]
                             [--no-analyze] [--json PATH] [--profile DIR]

For each backend the library (``SqlStorage``) and the raw baseline (one
indexed ``events`` table driven through ``sqlite3`` or ``psycopg``) are loaded
with identical rows in the same process, and every operation is timed on both
(best of ``--repeat``, ``time.perf_counter``). The figures that matter are the
ratios: the targets are set for ``--size full``. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import re
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from baseline import RawPostgres, RawSqlite
from measure import (
    Discard,
    Result,
    best_of_pair,
    machine,
    rss_peak_mb,
    table,
    traced_peak_mb,
    wall_time_threads,
)
from sqlalchemy.engine import URL
from workload import (
    CREDIT_TYPES,
    FEATURES,
    MEASURED,
    NOW,
    SIZES,
    VIEWER,
    Workload,
    clock,
    micros,
)

from credit_usage import (
    CreditLimit,
    CreditUsage,
    DateRange,
    EntryKind,
    InMemoryStorage,
    LimitScope,
    Storage,
    aggregate,
)

BENCH_DB = "credit_usage_bench"
BACKENDS = {
    "sqlite": "SQLite",
    "postgres": "PostgreSQL",
    "memory": "InMemoryStorage (vs sqlite3)",
}
#: One-event ``record_usage`` calls per timed round (fewer at ``tiny``, which only checks).
RECORD_USAGE_CALLS = {"tiny": 40}
RECORD_USAGE_CALLS_DEFAULT = 300
#: Writers of the concurrent measure, and one-credit spends each writes per timed round.
THREADS = 8
THREAD_SPENDS = {"tiny": 10}
THREAD_SPENDS_DEFAULT = 50
#: Seven local days ending on the clock's day.
WEEK = DateRange(first=date(2026, 11, 22), last=date(2026, 11, 28))
#: Flatness is judged "the same within noise" up to this ratio.
FLAT = 1.3


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Profiler:
    """Writes one cProfile file per operation of ours (an extra, untimed run) when asked."""

    def __init__(self, directory: Path | None, backend: str) -> None:
        self.directory = directory
        self.backend = backend
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    def __call__(self, operation: str, fn: Callable[[], Any]) -> None:
        if self.directory is None:
            return
        profile = cProfile.Profile()
        profile.runcall(fn)
        path = self.directory / f"{self.backend}-{operation}.prof"
        profile.dump_stats(path)
        log(f"profile of {operation} written to {path}")


# -- one backend --------------------------------------------------------------------------------
class Recorded(list[Result]):
    """The results of one table, each logged as soon as it is measured."""

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    def append(self, result: Result) -> None:
        super().append(result)
        log(f"{self.label}: {' | '.join(result.cells()[:4])}")


def bench_backend(
    label: str,
    storage: Storage,
    raw: Any,
    workload: Workload,
    repeat: int,
    profile: Profiler,
    results: list[Result],
) -> None:
    """Load both sides, then time every operation of DESIGN.md section 9 on ``label``."""
    app = CreditUsage(storage, clock=clock)
    setup(app, workload)
    measured = workload.measured
    cycle = measured.team.cycle_at(NOW)
    start, end = micros(cycle.start), micros(cycle.end)
    tz = measured.team.tz
    week = (micros(WEEK.start(tz)), micros(WEEK.end(tz)))

    ours_load = raw_load = 0.0
    loaded = total = 0
    early: tuple[float, float] | None = None
    all_events = sum(t.events for t in workload.teams)
    next_report = 0.1
    log(f"{label}: loading {all_events:,} events in batches of up to 10,000")
    analyze = getattr(raw, "analyze", None)
    for batch, load in enumerate(workload.loads()):
        t0 = time.perf_counter()
        new = app.record_many(load.entries, enforce_limits=False)
        t1 = time.perf_counter()
        raw.insert_batch(load.rows)
        t2 = time.perf_counter()
        if new != len(load.entries):
            raise SystemExit(f"record_many stored {new} of {len(load.entries)} entries")
        ours_load += t1 - t0
        raw_load += t2 - t1
        total += len(load.rows)
        if load.team_id == MEASURED:
            loaded += len(load.rows)
            if loaded == workload.checkpoint:
                early = best_of_pair(
                    repeat,
                    lambda: app.snapshot(VIEWER, MEASURED),
                    lambda: raw.usage(MEASURED, start, end),
                )
        if total >= next_report * all_events:
            log(
                f"{label}: {total:,} events loaded; record_many {ours_load:.1f} s, "
                f"raw {raw_load:.1f} s"
            )
            next_report += 0.1
            if analyze is not None:
                analyze()
        elif batch == 0 and analyze is not None:
            # What autovacuum would do once the new tables have rows.
            analyze()
    if analyze is not None:
        analyze()
    assert early is not None
    check_same_figures(app, raw, start, end, measured.events)

    # 1. snapshot(), whole cycle: reads counters, not events.
    ours, base = best_of_pair(
        repeat,
        lambda: app.snapshot(VIEWER, MEASURED),
        lambda: raw.usage(MEASURED, start, end),
    )
    profile("snapshot", lambda: app.snapshot(VIEWER, MEASURED))
    ratio = ours / base
    results.append(
        Result(
            "snapshot()",
            ours,
            base,
            "s",
            "≤ 0.05x, < 20 ms",
            ratio <= 0.05 and ours < 0.020,
            ratio,
        )
    )
    # 2. snapshot over seven days: daily roll-ups.
    ours, base = best_of_pair(
        repeat,
        lambda: app.snapshot(VIEWER, MEASURED, date_range=WEEK),
        lambda: raw.usage(MEASURED, *week),
    )
    profile("snapshot-week", lambda: app.snapshot(VIEWER, MEASURED, date_range=WEEK))
    results.append(
        Result("snapshot(7 days)", ours, base, "s", "≤ 0.3x", ours / base <= 0.3, ours / base)
    )
    # 3. record_many, timed batch by batch during the load above.
    results.append(
        Result(
            f"record_many ({total:,} events)",
            ours_load,
            raw_load,
            "s",
            "≤ 4x",
            ours_load / raw_load <= 4,
            ours_load / raw_load,
        )
    )
    # 5. export_csv of the whole cycle.
    ours, base = best_of_pair(
        repeat,
        lambda: app.export_csv(VIEWER, MEASURED, cycle, io.StringIO()),
        lambda: raw.export_report(MEASURED, start, end, io.StringIO()),
    )
    profile("export_csv", lambda: app.export_csv(VIEWER, MEASURED, cycle, io.StringIO()))
    results.append(
        Result("export_csv(cycle)", ours, base, "s", "≤ 0.1x", ours / base <= 0.1, ours / base)
    )
    # 6. export_ledger_csv: throughput, then memory in separate passes.
    rows = app.export_ledger_csv(VIEWER, MEASURED, cycle, Discard())
    base_rows = raw.export_ledger(MEASURED, start, end, Discard())
    if rows != base_rows:
        raise SystemExit(f"export_ledger_csv wrote {rows} entries, the baseline {base_rows}")
    ours_time, base_time = best_of_pair(
        repeat,
        lambda: app.export_ledger_csv(VIEWER, MEASURED, cycle, Discard()),
        lambda: raw.export_ledger(MEASURED, start, end, Discard()),
    )
    ours, base = rows / ours_time, rows / base_time
    profile("export_ledger_csv", lambda: app.export_ledger_csv(VIEWER, MEASURED, cycle, Discard()))
    results.append(
        Result(
            f"export_ledger_csv ({rows:,} rows)",
            ours,
            base,
            "rows/s",
            "≥ 0.7x rows/s",
            ours / base >= 0.7,
            ours / base,
        )
    )
    ours_traced = traced_peak_mb(lambda: app.export_ledger_csv(VIEWER, MEASURED, cycle, Discard()))
    base_traced = traced_peak_mb(lambda: raw.export_ledger(MEASURED, start, end, Discard()))
    results.append(
        Result(
            "  peak memory growth (tracemalloc)",
            ours_traced,
            base_traced,
            "MB",
            "< 20 MB",
            ours_traced < 20,
        )
    )
    ours_rss = rss_peak_mb(lambda: app.export_ledger_csv(VIEWER, MEASURED, cycle, Discard()))
    base_rss = rss_peak_mb(lambda: raw.export_ledger(MEASURED, start, end, Discard()))
    if ours_rss is not None:
        results.append(
            Result(
                "  peak RSS growth (VmHWM)",
                ours_rss,
                base_rss,
                "MB",
                "< 20 MB",
                ours_rss < 20,
            )
        )
    # 9. snapshot flatness: its cost follows members x features x types, not events.
    ours_early, base_early = early
    snapshot_full, snapshot_raw = results[0].ours, results[0].baseline or 0.0
    results.append(
        Result(
            f"snapshot() at {workload.checkpoint:,} → {measured.events:,} events",
            snapshot_full,
            ours_early,
            "s",
            f"≈ 1.0x (≤ {FLAT})",
            snapshot_full / ours_early <= FLAT,
            snapshot_full / ours_early,
        )
    )
    log(
        f"{label}: over the same growth the raw GROUP BY went from {base_early * 1e3:.3g} "
        f"to {snapshot_raw * 1e3:.3g} ms"
    )
    # 4. record_usage last: it adds events to the measured cycle. First with no
    # user or group limit in the team (the figure of the earlier runs), then
    # with a user and a group limit on every spender (DESIGN.md section 9).
    calls = RECORD_USAGE_CALLS.get(workload.size, RECORD_USAGE_CALLS_DEFAULT)
    ours, base = time_record_usage(app, raw, workload, repeat, calls, "nolim")
    profile(
        "record_usage-no-limits",
        lambda: record_usage_calls(app, workload, "profile-nolim", min(calls, 50)),
    )
    results.append(
        Result(
            "record_usage (per call, no limits)",
            ours,
            base,
            "s",
            "≤ 10x",
            ours / base <= 10,
            ours / base,
        )
    )
    set_limits(app, workload)
    ours, base = time_record_usage(app, raw, workload, repeat, calls, "lim")
    profile(
        "record_usage",
        lambda: record_usage_calls(app, workload, "profile-lim", min(calls, 50)),
    )
    results.append(
        Result(
            "record_usage (per call, user + group limits)",
            ours,
            base,
            "s",
            "≤ 5x",
            ours / base <= 5,
            ours / base,
        )
    )
    # 4b. Spends per second with THREADS writers at once, limits as above.
    spends = THREAD_SPENDS.get(workload.size, THREAD_SPENDS_DEFAULT)
    ours, base = time_concurrent_spends(app, raw, workload, repeat, spends, start, end)
    results.append(
        Result(
            f"record_usage, {THREADS} threads × {spends} (limits)",
            ours,
            base,
            "spends/s",
            "none (informational)",
            None,
            ours / base,
        )
    )


def setup(app: CreditUsage, workload: Workload) -> None:
    for team in workload.teams:
        app.create_team(team.team)
        for group in team.groups:
            app.add_group(group)
        for member in team.members:
            app.add_member(member)


def set_limits(app: CreditUsage, workload: Workload) -> None:
    """A user limit on every spender and a group limit on every group of the measured team.

    Set by the Admin (``VIEWER``). Limits are far above what the benchmark
    spends: the point is that every check runs, not that one refuses.
    """
    limits = [
        CreditLimit(scope=LimitScope.USER, subject_id=m.user_id, credits=10**12)
        for m in workload.spenders
    ] + [
        CreditLimit(scope=LimitScope.GROUP, subject_id=g.group_id, credits=10**12)
        for g in workload.measured.groups
    ]
    for limit in limits:
        app.set_credit_limit(VIEWER, MEASURED, limit)
    stored = app.list_credit_limits(VIEWER, MEASURED)
    if len(stored) != len(limits):
        raise SystemExit(f"set {len(limits)} credit limits, the team has {len(stored)}")


def record_usage_calls(
    app: CreditUsage, workload: Workload, tag: str, calls: int, *, first: int = 0, amount: int = 0
) -> None:
    """``calls`` one-event writes by the spenders in turn (amount 1–7, or ``amount``)."""
    spenders = workload.spenders
    at = NOW - timedelta(minutes=1)
    for i in range(first, first + calls):
        app.record_usage(
            MEASURED,
            spenders[i % len(spenders)].user_id,
            feature=FEATURES[i % 4],
            credit_type=CREDIT_TYPES[i % 4],
            amount=amount or 1 + i % 7,
            occurred_at=at,
            entry_id=f"ru-{tag}-{i:04d}",
        )


def raw_insert_calls(
    insert_one: Callable[[Any], None],
    workload: Workload,
    tag: str,
    calls: int,
    *,
    first: int = 0,
    amount: int = 0,
) -> None:
    """The same writes as :func:`record_usage_calls`, as one-row insert transactions."""
    spenders = workload.spenders
    at = micros(NOW - timedelta(minutes=1))
    for i in range(first, first + calls):
        m = spenders[i % len(spenders)]
        row = (MEASURED, f"ru-{tag}-{i:04d}", m.user_id, m.group_id)
        insert_one((*row, FEATURES[i % 4].value, CREDIT_TYPES[i % 4], amount or 1 + i % 7, at))


def time_record_usage(
    app: CreditUsage, raw: Any, workload: Workload, repeat: int, calls: int, tag: str
) -> tuple[float, float]:
    """Best per-call time of ``calls`` one-event writes, ours and raw, in turns."""
    ours = base = float("inf")
    for r in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        record_usage_calls(app, workload, f"{tag}{r}", calls)
        t1 = time.perf_counter()
        raw_insert_calls(raw.insert_one, workload, f"raw-{tag}{r}", calls)
        t2 = time.perf_counter()
        ours = min(ours, (t1 - t0) / calls)
        base = min(base, (t2 - t1) / calls)
    return ours, base


def time_concurrent_spends(
    app: CreditUsage, raw: Any, workload: Workload, repeat: int, spends: int, start: int, end: int
) -> tuple[float, float]:
    """Best spends per second of ``THREADS`` threads at once, ours and raw, in turns.

    Ours: every thread calls ``record_usage`` ``spends`` times (one credit,
    an entry id of its own, the spenders in turn from a different one per
    thread) on the one ``CreditUsage``, whose storage serves all threads.
    Raw: every thread inserts the same rows in one-row transactions on a
    connection of its own (``raw.writer()``, opened before the clock starts).
    Afterwards both sides must hold exactly the credits written.
    """
    used_before = app.snapshot(VIEWER, MEASURED).used
    raw_before = raw.count(MEASURED, start, end)[1]

    def ours_thread(r: int) -> Callable[[int], tuple[Callable[[], None], Callable[[], None]]]:
        def prepare(t: int) -> tuple[Callable[[], None], Callable[[], None]]:
            def work() -> None:
                record_usage_calls(app, workload, f"mt{r}-{t}", spends, first=t * spends, amount=1)

            return work, lambda: None

        return prepare

    def raw_thread(r: int) -> Callable[[int], tuple[Callable[[], None], Callable[[], None]]]:
        def prepare(t: int) -> tuple[Callable[[], None], Callable[[], None]]:
            writer = raw.writer()

            def work() -> None:
                raw_insert_calls(
                    writer.insert_one,
                    workload,
                    f"raw-mt{r}-{t}",
                    spends,
                    first=t * spends,
                    amount=1,
                )

            return work, writer.close

        return prepare

    ours = base = 0.0
    for r in range(repeat):
        ours = max(ours, THREADS * spends / wall_time_threads(THREADS, ours_thread(r)))
        base = max(base, THREADS * spends / wall_time_threads(THREADS, raw_thread(r)))
    written = repeat * THREADS * spends
    used = app.snapshot(VIEWER, MEASURED).used - used_before
    raw_used = raw.count(MEASURED, start, end)[1] - raw_before
    if (used, raw_used) != (written, written):
        raise SystemExit(
            f"{THREADS} threads wrote {written} credits: the library holds {used} more, "
            f"the baseline {raw_used} more"
        )
    return ours, base


def check_same_figures(app: CreditUsage, raw: Any, start: int, end: int, events: int) -> None:
    """Both sides hold the same events and totals before anything is timed."""
    count, credits = raw.count(MEASURED, start, end)
    snap = app.snapshot(VIEWER, MEASURED)
    used = sum(m.used for m in snap.members)
    if (count, credits) != (events, used) or snap.used != used:
        raise SystemExit(
            f"the library and the baseline disagree: baseline {count} events, {credits} "
            f"credits; snapshot {used} credits (team used {snap.used}), {events} expected events"
        )


# -- backends -----------------------------------------------------------------------------------
def sql_storage() -> Any:
    try:
        from credit_usage.adapters.sql import SqlStorage
    except ImportError as e:
        raise SystemExit(f"credit_usage.adapters.sql.SqlStorage is not available: {e}") from e
    return SqlStorage


def run_sqlite(workload: Workload, repeat: int, profile: Profiler, results: list[Result]) -> None:
    SqlStorage = sql_storage()
    with tempfile.TemporaryDirectory(prefix="credit_usage_bench_") as tmp:
        storage = SqlStorage.from_url(f"sqlite:///{tmp}/credit_usage.db")
        storage.create_schema()
        with storage.engine.connect() as conn:
            journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            synchronous = conn.exec_driver_sql("PRAGMA synchronous").scalar()
        log(
            f"sqlite: library journal_mode={journal} synchronous={synchronous}; baseline mirrors it"
        )
        raw = RawSqlite(f"{tmp}/baseline.db", journal_mode=journal, synchronous=synchronous)
        try:
            bench_backend("sqlite", storage, raw, workload, repeat, profile, results)
        finally:
            raw.close()
            storage.engine.dispose()


def run_memory(workload: Workload, repeat: int, profile: Profiler, results: list[Result]) -> None:
    """InMemoryStorage against the sqlite3 baseline: a reference point, not a target."""
    with tempfile.TemporaryDirectory(prefix="credit_usage_bench_") as tmp:
        raw = RawSqlite(f"{tmp}/baseline.db", journal_mode="wal", synchronous="normal")
        try:
            bench_backend("memory", InMemoryStorage(), raw, workload, repeat, profile, results)
        finally:
            raw.close()


@contextmanager
def postgres_database(server: str, database: str) -> Iterator[str]:
    """Create the benchmark database, yield its conninfo, drop it afterwards."""
    import psycopg

    with psycopg.connect(f"{server} dbname=postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        yield f"{server} dbname={database}"
    finally:
        with psycopg.connect(f"{server} dbname=postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def postgres_version(server: str) -> str | None:
    """The server's version, or ``None`` (after saying why) when it cannot be reached."""
    try:
        import psycopg
    except ImportError:
        print("PostgreSQL: skipped, psycopg is not installed (pip install 'psycopg[binary]')")
        return None
    try:
        with psycopg.connect(f"{server} dbname=postgres connect_timeout=3") as conn:
            version = conn.execute("SHOW server_version").fetchone()
            autovacuum = conn.execute("SHOW autovacuum").fetchone()
    except psycopg.Error as e:
        print(f"PostgreSQL: skipped, cannot connect with {server!r}: {' '.join(str(e).split())}")
        return None
    # Autovacuum's ANALYZE decides plans during a long load: say whether it runs.
    return f"{version[0] if version else '?'} (autovacuum {autovacuum[0] if autovacuum else '?'})"


def run_postgres(
    workload: Workload,
    repeat: int,
    profile: Profiler,
    results: list[Result],
    *,
    server: str,
    database: str,
    analyze: bool,
) -> None:
    SqlStorage = sql_storage()
    with postgres_database(server, database) as conninfo:
        params = dict(item.split("=", 1) for item in server.split())
        url = URL.create(
            "postgresql+psycopg",
            username=params.get("user"),
            password=params.get("password"),
            host=params.get("host"),
            port=int(params["port"]) if "port" in params else None,
            database=database,
        )
        storage = SqlStorage.from_url(url)
        storage.create_schema()
        with storage.engine.connect() as conn:
            synchronous_commit = str(conn.exec_driver_sql("SHOW synchronous_commit").scalar())
        raw = RawPostgres(conninfo, analyze=analyze, synchronous_commit=synchronous_commit)
        log(
            f"postgres: library synchronous_commit={synchronous_commit}; the baseline "
            f"mirrors it ({raw.synchronous_commit()})"
        )
        try:
            bench_backend("postgres", storage, raw, workload, repeat, profile, results)
        finally:
            raw.close()
            storage.engine.dispose()


# -- pure aggregate -----------------------------------------------------------------------------
def bench_aggregate(workload: Workload, repeat: int, profile: Profiler) -> list[Result]:
    log(f"aggregate: building {workload.measured.events:,} in-memory LedgerEntry values")
    entries = list(workload.measured_entries())
    by = ("user_id", "feature", "credit_type")
    usage, reversal = EntryKind.USAGE, EntryKind.REVERSAL

    def plain() -> dict[tuple[Any, ...], int]:
        totals: dict[tuple[Any, ...], int] = {}
        for e in entries:
            if e.kind is usage:
                key = (e.user_id, e.feature, e.credit_type)
                totals[key] = totals.get(key, 0) + e.amount
            elif e.kind is reversal:
                key = (e.user_id, e.feature, e.credit_type)
                totals[key] = totals.get(key, 0) - e.amount
        return totals

    if aggregate(entries, by=by) != plain():
        raise SystemExit("aggregate() and the plain loop disagree")
    ours, base = best_of_pair(repeat, lambda: aggregate(entries, by=by), plain)
    profile("aggregate", lambda: aggregate(entries, by=by))
    return [
        Result(
            f"aggregate() of {len(entries):,} entries",
            ours,
            base,
            "s",
            "≤ 1.5x",
            ours / base <= 1.5,
            ours / base,
        )
    ]


# -- command line -------------------------------------------------------------------------------
def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark credit_usage against raw sqlite3/psycopg on the same data."
    )
    parser.add_argument(
        "--size",
        choices=list(SIZES),
        default="small",
        help="events in the measured team's cycle (and in the 9 other teams together): "
        "small 50,000, medium 200,000, full 1,000,000 (the reference workload); tiny "
        "2,000 with fewer members and groups, only to check that the benchmark runs",
    )
    parser.add_argument(
        "--backends",
        default="sqlite,postgres",
        help="comma-separated: sqlite, postgres, memory (InMemoryStorage against the "
        "sqlite3 baseline, for reference); default sqlite,postgres",
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing; the best counts")
    parser.add_argument(
        "--postgres",
        default="host=127.0.0.1 port=5432 user=postgres",
        help="libpq conninfo of the server (without dbname); the benchmark creates and "
        "drops the database --postgres-db",
    )
    parser.add_argument(
        "--postgres-db",
        default=BENCH_DB,
        help=f"the database the run creates (dropped first if it exists) and drops; "
        f"default {BENCH_DB}",
    )
    parser.add_argument(
        "--no-analyze",
        action="store_true",
        help="PostgreSQL: do not ANALYZE during and after the load (by default the run does, "
        "outside the timings, as autovacuum would; see docs/performance.md)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--profile", type=Path, help="write a cProfile file per operation of ours to this directory"
    )
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - {"sqlite", "postgres", "memory"}
    if unknown:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", args.postgres_db):
        parser.error("--postgres-db must be a lower-case identifier (letters, digits, _)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    # A SIGTERM unwinds like Ctrl-C, so the benchmark database and temp files are removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    pg_version = postgres_version(args.postgres) if "postgres" in args.backends else None
    workload = Workload(args.size)
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    header = [
        f"credit_usage benchmark, {started}",
        *machine(pg_version),
        f"size {args.size}: {workload.measured.events:,} events in the measured team's cycle "
        f"({len(workload.measured.members):,} members, {len(workload.measured.groups)} groups), "
        f"{sum(t.events for t in workload.teams[1:]):,} in 9 other teams; best of {args.repeat}",
    ]
    print("\n".join(header), flush=True)
    tables: dict[str, list[Result]] = {}
    stopped: list[str] = []
    for backend in args.backends:
        if backend == "postgres" and pg_version is None:
            continue
        name = BACKENDS[backend]
        results = tables[name] = Recorded(name)
        profile = Profiler(args.profile, backend)
        try:
            if backend == "sqlite":
                run_sqlite(workload, args.repeat, profile, results)
            elif backend == "memory":
                run_memory(workload, args.repeat, profile, results)
            else:
                run_postgres(
                    workload,
                    args.repeat,
                    profile,
                    results,
                    server=args.postgres,
                    database=args.postgres_db,
                    analyze=not args.no_analyze,
                )
        except Exception as e:
            # Keep what was measured; the other backends still run.
            traceback.print_exc()
            stopped.append(f"{name} stopped early: {type(e).__name__}: {e}")
        print(f"\n{name}\n\n{table(results)}", flush=True)
    tables["pure aggregate()"] = bench_aggregate(
        workload, args.repeat, Profiler(args.profile, "pure")
    )
    print(f"\npure aggregate()\n\n{table(tables['pure aggregate()'])}", flush=True)
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "header": header,
                    "size": args.size,
                    "repeat": args.repeat,
                    "tables": {k: [asdict(r) for r in v] for k, v in tables.items()},
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    for line in stopped:
        print(f"\n{line}")
    missed = [
        f"{name}: {r.operation.strip()}"
        for name, rs in tables.items()
        for r in rs
        if r.met is False
    ]
    if missed:
        print("\nmissed targets:\n" + "\n".join(f"- {m}" for m in missed))
    if args.size != "full":
        print("(targets are set for --size full; smaller sizes favour fixed costs)")
    return 1 if stopped else 0


if __name__ == "__main__":
    sys.exit(main())
