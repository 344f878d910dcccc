"""Benchmark credit_usage against a raw-driver baseline on the same data.

Usage::

    python benchmarks/run.py [--size tiny|small|medium|full] [--backends sqlite,postgres]
                             [--repeat N] [--postgres CONNINFO] [--postgres-db NAME]
                             [--no-analyze] [--json PATH] [--profile DIR]

For each backend the library (``SqlStorage``) and the raw baseline (one
indexed ``events`` table driven through ``sqlite3`` or ``psycopg``) are loaded
with identical rows in the same process, and every operation is timed on both
(best of ``--repeat``, ``time.perf_counter``). The figures that matter are the
ratios: the targets (:data:`TARGETS`) are set for ``--size full``. ``--json``
keeps everything, the ``snapshot()`` series against events and against
members included; ``report.py`` turns such files into Markdown and
``plot.py`` draws the series. See benchmarks/README.md and docs/performance.md.
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
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from baseline import RawPostgres, RawSqlite
from measure import (
    Discard,
    Result,
    Target,
    best_of_pair,
    git_commit,
    machine_facts,
    machine_lines,
    rss_peak_mb,
    table,
    traced_peak_mb,
    wall_time_threads,
)
from sqlalchemy.engine import URL
from workload import (
    BATCH,
    CREDIT_TYPES,
    FEATURES,
    MEASURED,
    NOW,
    SIZES,
    VIEWER,
    TeamSetup,
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
    LedgerEntry,
    LimitScope,
    Storage,
    aggregate,
)

ROOT = Path(__file__).resolve().parents[1]
BENCH_DB = "credit_usage_bench"
BACKENDS = {
    "sqlite": "SQLite",
    "postgres": "PostgreSQL",
    "memory": "InMemoryStorage (vs sqlite3)",
}
#: The section that runs without a database, always.
PURE = "pure"
PURE_LABEL = "pure Python (no database)"
#: JSON layout version (1: the ``tables`` of lists of rows, before the series).
FORMAT = 2
#: One-event ``record_usage`` calls per timed round (fewer at ``tiny``, which only checks).
RECORD_USAGE_CALLS = {"tiny": 40}
RECORD_USAGE_CALLS_DEFAULT = 300
#: Writers of the concurrent measure, and one-credit spends each writes per timed round.
THREADS = 8
THREAD_SPENDS = {"tiny": 10}
THREAD_SPENDS_DEFAULT = 50
#: Seven local days ending on the clock's day.
WEEK = DateRange(first=date(2026, 11, 22), last=date(2026, 11, 28))
#: SQLite's ``PRAGMA synchronous`` values by name.
SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
#: Runs per timing of the checkpoints between the first and the last (the
#: first, which the flatness row uses, gets ``--repeat``): they only draw the curve.
SERIES_REPEAT = 3


def both(target: Target) -> dict[str, Target]:
    return {"sqlite": target, "postgres": target}


#: The targets, per operation and backend, as ratios to the raw baseline of the
#: same run (docs/performance.md). ``memory`` is judged by
#: SQLite's (its baseline is sqlite3); the ``pure`` section has its own.
TARGETS: dict[str, dict[str, Target]] = {
    "snapshot": {
        "sqlite": Target(ratio_max=0.03, ours_max=0.020),
        "postgres": Target(ratio_max=0.05, ours_max=0.020),
    },
    "snapshot_week": both(Target(ratio_max=0.3)),
    "record_many": both(Target(ratio_max=3)),
    "record_usage_no_limits": both(Target()),
    "record_usage_limits": both(Target(ratio_max=5)),
    "record_usage_threads": both(Target()),
    "export_csv": {"sqlite": Target(ratio_max=0.05), "postgres": Target(ratio_max=0.1)},
    "export_ledger_csv": both(Target(ratio_min=0.8)),
    "export_ledger_tracemalloc": both(Target(ours_max=20)),
    "export_ledger_rss": both(Target(ours_max=20)),
    "snapshot_flatness": both(Target(ratio_max=1.2, label="flat")),
    "snapshot_members": both(Target(ratio_max=10)),
    "aggregate": {PURE: Target(ratio_max=1.5)},
    "record_many_in_memory": {PURE: Target(ours_min=250_000)},
}
#: Whose targets a backend is judged by, when not its own.
TARGETS_OF = {"memory": "sqlite"}


def target(key: str, backend: str) -> Target:
    return TARGETS[key][TARGETS_OF.get(backend, backend)]


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
@dataclass
class BackendRun:
    """One table of results (a backend, or the pure section) and its ``snapshot()`` series.

    Each result is logged as soon as it is measured.
    """

    key: str
    label: str
    rows: list[Result] = field(default_factory=list)
    #: The storage's durability settings, mirrored by the baseline.
    settings: str = ""
    #: ``snapshot()`` of the measured team at every checkpoint of the load.
    snapshot_vs_events: list[dict[str, float]] = field(default_factory=list)
    #: ``snapshot()`` of each team of the member series.
    snapshot_vs_members: list[dict[str, float]] = field(default_factory=list)
    stopped: str | None = None
    seconds: float = 0.0

    def add(
        self,
        key: str,
        operation: str,
        ours: float,
        baseline: float | None,
        unit: str,
        *,
        ratio: float | None = None,
    ) -> Result:
        """Judge a result by this backend's target for ``key``, keep and log it."""
        result = Result.judged(
            key, operation, ours, baseline, unit, target(key, self.key), ratio=ratio
        )
        self.rows.append(result)
        log(f"{self.label}: {' | '.join(result.cells()[:4])}")
        return result

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "settings": self.settings,
            "seconds": round(self.seconds, 1),
            "stopped": self.stopped,
            "rows": [asdict(r) for r in self.rows],
            "series": {
                "snapshot_vs_events": self.snapshot_vs_events,
                "snapshot_vs_members": self.snapshot_vs_members,
            },
        }


def bench_backend(
    run: BackendRun,
    storage: Storage,
    raw: Any,
    workload: Workload,
    repeat: int,
    profile: Profiler,
) -> None:
    """Load both sides, then time every operation of the reference workload on one backend."""
    label = run.label
    app = CreditUsage(storage, clock=clock)
    setup(app, workload.teams)
    measured = workload.measured
    cycle = measured.team.cycle_at(NOW)
    start, end = micros(cycle.start), micros(cycle.end)
    tz = measured.team.tz
    week = (micros(WEEK.start(tz)), micros(WEEK.end(tz)))

    ours_load = raw_load = 0.0
    loaded = total = 0
    checkpoints = set(workload.checkpoints[:-1])
    all_events = sum(t.events for t in workload.teams)
    next_report = 0.1
    log(f"{label}: loading {all_events:,} events in batches of up to {BATCH:,}")
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
            if loaded in checkpoints:
                # The first checkpoint is the flatness row's reference: full repeats.
                rounds = repeat if loaded == workload.checkpoint else min(repeat, SERIES_REPEAT)
                ours, base = best_of_pair(
                    rounds,
                    lambda: app.snapshot(VIEWER, MEASURED),
                    lambda: raw.usage(MEASURED, start, end),
                )
                run.snapshot_vs_events.append(point(events=loaded, ours=ours, base=base))
                log(
                    f"{label}: snapshot() at {loaded:,} events {ours * 1e3:.3g} ms, "
                    f"raw {base * 1e3:.3g} ms"
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
    check_same_figures(app, raw, MEASURED, start, end, measured.events)

    # 1. snapshot(), whole cycle: reads counters, not events.
    ours, base = best_of_pair(
        repeat,
        lambda: app.snapshot(VIEWER, MEASURED),
        lambda: raw.usage(MEASURED, start, end),
    )
    profile("snapshot", lambda: app.snapshot(VIEWER, MEASURED))
    run.add("snapshot", "snapshot()", ours, base, "s", ratio=ours / base)
    run.snapshot_vs_events.append(point(events=measured.events, ours=ours, base=base))
    snapshot_full, snapshot_raw = ours, base
    # 2. snapshot over seven days: daily roll-ups.
    ours, base = best_of_pair(
        repeat,
        lambda: app.snapshot(VIEWER, MEASURED, date_range=WEEK),
        lambda: raw.usage(MEASURED, *week),
    )
    profile("snapshot-week", lambda: app.snapshot(VIEWER, MEASURED, date_range=WEEK))
    run.add("snapshot_week", "snapshot(7 days)", ours, base, "s", ratio=ours / base)
    # 3. record_many, timed batch by batch during the load above.
    run.add(
        "record_many",
        f"record_many ({total:,} events)",
        ours_load,
        raw_load,
        "s",
        ratio=ours_load / raw_load,
    )
    # 5. export_csv of the whole current cycle (the workload has no past cycle with data).
    ours, base = best_of_pair(
        repeat,
        lambda: app.export_csv(VIEWER, MEASURED, cycle, io.StringIO()),
        lambda: raw.export_report(MEASURED, start, end, io.StringIO()),
    )
    profile("export_csv", lambda: app.export_csv(VIEWER, MEASURED, cycle, io.StringIO()))
    run.add("export_csv", "export_csv (current cycle)", ours, base, "s", ratio=ours / base)
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
    run.add(
        "export_ledger_csv",
        f"export_ledger_csv ({rows:,} rows)",
        ours,
        base,
        "rows/s",
        ratio=ours / base,
    )
    ours_traced = traced_peak_mb(lambda: app.export_ledger_csv(VIEWER, MEASURED, cycle, Discard()))
    base_traced = traced_peak_mb(lambda: raw.export_ledger(MEASURED, start, end, Discard()))
    run.add(
        "export_ledger_tracemalloc",
        "  peak memory growth (tracemalloc)",
        ours_traced,
        base_traced,
        "MB",
    )
    ours_rss = rss_peak_mb(lambda: app.export_ledger_csv(VIEWER, MEASURED, cycle, Discard()))
    base_rss = rss_peak_mb(lambda: raw.export_ledger(MEASURED, start, end, Discard()))
    if ours_rss is not None:
        run.add("export_ledger_rss", "  peak RSS growth (VmHWM)", ours_rss, base_rss, "MB")
    # 9. snapshot flatness: its cost follows members x features x types, not events.
    ours_early = run.snapshot_vs_events[0]["ours_seconds"]
    base_early = run.snapshot_vs_events[0]["baseline_seconds"]
    run.add(
        "snapshot_flatness",
        f"snapshot() at {workload.checkpoint:,} → {measured.events:,} events",
        snapshot_full,
        ours_early,
        "s",
        ratio=snapshot_full / ours_early,
    )
    log(
        f"{label}: over the same growth the raw GROUP BY went from {base_early * 1e3:.3g} "
        f"to {snapshot_raw * 1e3:.3g} ms"
    )
    # 4. record_usage: it adds events to the measured cycle. First with no
    # user or group limit in the team (the figure of the earlier runs), then
    # with a user and a group limit on every spender.
    calls = RECORD_USAGE_CALLS.get(workload.size, RECORD_USAGE_CALLS_DEFAULT)
    ours, base = time_record_usage(app, raw, workload, repeat, calls, "nolim")
    profile(
        "record_usage-no-limits",
        lambda: record_usage_calls(app, workload, "profile-nolim", min(calls, 50)),
    )
    run.add(
        "record_usage_no_limits",
        "record_usage (per call, no limits)",
        ours,
        base,
        "s",
        ratio=ours / base,
    )
    set_limits(app, workload)
    ours, base = time_record_usage(app, raw, workload, repeat, calls, "lim")
    profile(
        "record_usage",
        lambda: record_usage_calls(app, workload, "profile-lim", min(calls, 50)),
    )
    run.add(
        "record_usage_limits",
        "record_usage (per call, user + group limits)",
        ours,
        base,
        "s",
        ratio=ours / base,
    )
    # 4b. Spends per second with THREADS writers at once, limits as above.
    spends = THREAD_SPENDS.get(workload.size, THREAD_SPENDS_DEFAULT)
    ours, base = time_concurrent_spends(app, raw, workload, repeat, spends, start, end)
    run.add(
        "record_usage_threads",
        f"record_usage, {THREADS} threads × {spends} (limits)",
        ours,
        base,
        "spends/s",
        ratio=ours / base,
    )
    # 10. snapshot() against members: teams of their own, loaded last so that
    # nothing above runs on a larger database.
    bench_members(run, app, raw, workload, repeat, profile)


def point(**figures: float) -> dict[str, float]:
    """One point of a series: ``events`` or ``members`` (and the like), ours and raw seconds."""
    ours, base = figures.pop("ours"), figures.pop("base")
    return {**figures, "ours_seconds": ours, "baseline_seconds": base}


def bench_members(
    run: BackendRun, app: CreditUsage, raw: Any, workload: Workload, repeat: int, profile: Profiler
) -> None:
    """Load the teams of the member series, time their snapshots, compare the last with the first.

    Every member x feature x credit type cell of each team has the same
    number of events, so every counter a snapshot reads exists.
    """
    teams = workload.member_teams
    analyze = getattr(raw, "analyze", None)
    t_setup = time.perf_counter()
    setup(app, teams)
    log(
        f"{run.label}: member series: {sum(len(t.members) for t in teams):,} members added "
        f"in {time.perf_counter() - t_setup:.1f} s"
    )
    ours_load = raw_load = 0.0
    first_batch = True
    for team in teams:
        for load in workload.member_loads(team):
            t0 = time.perf_counter()
            new = app.record_many(load.entries, enforce_limits=False)
            t1 = time.perf_counter()
            raw.insert_batch(load.rows)
            ours_load += t1 - t0
            raw_load += time.perf_counter() - t1
            if new != len(load.entries):
                raise SystemExit(f"record_many stored {new} of {len(load.entries)} entries")
            if first_batch and analyze is not None:
                analyze()
            first_batch = False
        if analyze is not None:
            analyze()
        log(
            f"{run.label}: member series: {team.team.team_id} loaded ({team.events:,} events); "
            f"record_many {ours_load:.1f} s, raw {raw_load:.1f} s so far"
        )
    for team in teams:
        team_id = team.team.team_id
        cycle = team.team.cycle_at(NOW)
        start, end = micros(cycle.start), micros(cycle.end)
        check_same_figures(app, raw, team_id, start, end, team.events)
        cells = len(raw.usage(team_id, start, end))
        expected = len(team.members) * len(FEATURES) * len(CREDIT_TYPES)
        if cells != expected:
            raise SystemExit(f"{team_id} has usage in {cells} cells, not {expected}")
        ours, base = best_of_pair(
            repeat,
            lambda team_id=team_id: app.snapshot(VIEWER, team_id),
            lambda team_id=team_id, start=start, end=end: raw.usage(team_id, start, end),
        )
        run.snapshot_vs_members.append(
            point(
                members=len(team.members),
                groups=len(team.groups),
                events=team.events,
                ours=ours,
                base=base,
            )
        )
        log(
            f"{run.label}: snapshot() with {len(team.members):,} members {ours * 1e3:.3g} ms, "
            f"raw {base * 1e3:.3g} ms"
        )
    largest = teams[-1].team.team_id
    profile("snapshot-members", lambda: app.snapshot(VIEWER, largest))
    first, last = run.snapshot_vs_members[0], run.snapshot_vs_members[-1]
    run.add(
        "snapshot_members",
        f"snapshot() with {last['members']:,} / {first['members']:,} members",
        last["ours_seconds"],
        first["ours_seconds"],
        "s",
        ratio=last["ours_seconds"] / first["ours_seconds"],
    )


def setup(app: CreditUsage, teams: list[TeamSetup]) -> None:
    for team in teams:
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


def check_same_figures(
    app: CreditUsage, raw: Any, team_id: str, start: int, end: int, events: int
) -> None:
    """Both sides hold the same events and totals of a team before anything is timed."""
    count, credits = raw.count(team_id, start, end)
    snap = app.snapshot(VIEWER, team_id)
    used = sum(m.used for m in snap.members)
    if (count, credits) != (events, used) or snap.used != used:
        raise SystemExit(
            f"{team_id}: the library and the baseline disagree: baseline {count} events, "
            f"{credits} credits; snapshot {used} credits (team used {snap.used}), "
            f"{events} expected events"
        )


# -- backends -----------------------------------------------------------------------------------
def sql_storage() -> Any:
    try:
        from credit_usage.adapters.sql import SqlStorage
    except ImportError as e:
        raise SystemExit(f"credit_usage.adapters.sql.SqlStorage is not available: {e}") from e
    return SqlStorage


def run_sqlite(run: BackendRun, workload: Workload, repeat: int, profile: Profiler) -> None:
    SqlStorage = sql_storage()
    with tempfile.TemporaryDirectory(prefix="credit_usage_bench_") as tmp:
        storage = SqlStorage.from_url(f"sqlite:///{tmp}/credit_usage.db")
        storage.create_schema()
        with storage.engine.connect() as conn:
            journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            synchronous = conn.exec_driver_sql("PRAGMA synchronous").scalar()
        run.settings = (
            f"journal_mode={journal}, synchronous={SYNCHRONOUS.get(synchronous, synchronous)} "
            "(the library's; the baseline uses the same)"
        )
        log(f"sqlite: library {run.settings}")
        raw = RawSqlite(f"{tmp}/baseline.db", journal_mode=journal, synchronous=synchronous)
        try:
            bench_backend(run, storage, raw, workload, repeat, profile)
        finally:
            raw.close()
            storage.engine.dispose()


def run_memory(run: BackendRun, workload: Workload, repeat: int, profile: Profiler) -> None:
    """InMemoryStorage against the sqlite3 baseline: a reference point, not a target."""
    with tempfile.TemporaryDirectory(prefix="credit_usage_bench_") as tmp:
        raw = RawSqlite(f"{tmp}/baseline.db", journal_mode="wal", synchronous="normal")
        try:
            run.settings = "the sqlite3 baseline with journal_mode=wal, synchronous=NORMAL"
            bench_backend(run, InMemoryStorage(), raw, workload, repeat, profile)
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
    run: BackendRun,
    workload: Workload,
    repeat: int,
    profile: Profiler,
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
        run.settings = (
            f"synchronous_commit={synchronous_commit} (the library's; the baseline uses the "
            "same); "
            + ("VACUUM ANALYZE during the load" if analyze else "no VACUUM ANALYZE (--no-analyze)")
        )
        log(
            f"postgres: library synchronous_commit={synchronous_commit}; the baseline "
            f"mirrors it ({raw.synchronous_commit()})"
        )
        try:
            bench_backend(run, storage, raw, workload, repeat, profile)
        finally:
            raw.close()
            storage.engine.dispose()


# -- without a database -------------------------------------------------------------------------
def bench_pure(run: BackendRun, workload: Workload, repeat: int, profile: Profiler) -> None:
    """``aggregate()`` and in-memory ``record_many`` over the measured team's entries."""
    log(f"{run.label}: building {workload.measured.events:,} in-memory LedgerEntry values")
    entries = list(workload.measured_entries())
    bench_aggregate(run, entries, repeat, profile)
    bench_memory_record_many(run, workload, entries, repeat, profile)


def bench_aggregate(
    run: BackendRun, entries: list[LedgerEntry], repeat: int, profile: Profiler
) -> None:
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
    run.add(
        "aggregate", f"aggregate() of {len(entries):,} entries", ours, base, "s", ratio=ours / base
    )


def bench_memory_record_many(
    run: BackendRun, workload: Workload, entries: list[LedgerEntry], repeat: int, profile: Profiler
) -> None:
    """Entries per second of ``record_many`` into a fresh ``InMemoryStorage``, batch by batch.

    The batches are :data:`BATCH` entries, ``enforce_limits=False`` as in the
    load of the SQL backends; the clock runs only around the calls. Each round
    starts from an empty storage holding the measured team; the best counts.
    """
    batches = [entries[i : i + BATCH] for i in range(0, len(entries), BATCH)]

    def fresh() -> CreditUsage:
        app = CreditUsage(InMemoryStorage(), clock=clock)
        setup(app, [workload.measured])
        return app

    def load(app: CreditUsage) -> float:
        elapsed = 0.0
        for batch in batches:
            t0 = time.perf_counter()
            new = app.record_many(batch, enforce_limits=False)
            elapsed += time.perf_counter() - t0
            if new != len(batch):
                raise SystemExit(f"record_many stored {new} of {len(batch)} entries in memory")
        return elapsed

    best = float("inf")
    for _ in range(repeat):
        app = fresh()
        gc.collect()
        best = min(best, load(app))
        del app  # the next round's storage replaces this one, not joins it
    profile("record_many-in-memory", lambda: load(fresh()))
    run.add(
        "record_many_in_memory",
        f"record_many (InMemoryStorage, {len(entries):,} entries)",
        len(entries) / best,
        None,
        "entries/s",
    )


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
    parser.add_argument(
        "--json",
        type=Path,
        help="also write the results (header facts, every row, the snapshot() series) to "
        "this JSON file, for report.py and plot.py",
    )
    parser.add_argument(
        "--profile", type=Path, help="write a cProfile file per operation of ours to this directory"
    )
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", args.postgres_db):
        parser.error("--postgres-db must be a lower-case identifier (letters, digits, _)")
    return args


def workload_facts(workload: Workload) -> dict[str, Any]:
    measured, scale = workload.measured, workload.member_scale
    return {
        "measured_events": measured.events,
        "members": len(measured.members),
        "groups": len(measured.groups),
        "other_teams": len(workload.teams) - 1,
        "other_events": sum(t.events for t in workload.teams[1:]),
        "checkpoints": workload.checkpoints,
        "member_series": list(scale.members),
        "member_series_events_per_cell": scale.per_cell,
    }


def header_lines(facts: dict[str, Any]) -> list[str]:
    """The printed header (and ``report.py``'s): when, which code, the machine, the workload."""
    w = facts["workload"]
    members = ", ".join(f"{m:,}" for m in w["member_series"])
    return [
        f"credit_usage benchmark, {facts['date']} {facts['time_utc']} UTC, "
        f"commit {facts['git_commit']}",
        *machine_lines(facts),
        f"size {facts['size']}: {w['measured_events']:,} events in the measured team's cycle "
        f"({w['members']:,} members, {w['groups']} groups), {w['other_events']:,} in "
        f"{w['other_teams']} other teams; snapshot() against members: teams of {members} "
        f"members, {w['member_series_events_per_cell']} event(s) per member × feature × "
        f"credit type; best of {facts['repeat']}",
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    # A SIGTERM unwinds like Ctrl-C, so the benchmark database and temp files are removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    began = time.perf_counter()
    started = datetime.now(UTC)
    pg_version = postgres_version(args.postgres) if "postgres" in args.backends else None
    workload = Workload(args.size)
    facts: dict[str, Any] = {
        "date": started.strftime("%Y-%m-%d"),
        "time_utc": started.strftime("%H:%M"),
        "started_utc": started.isoformat(timespec="seconds"),
        "git_commit": git_commit(ROOT),
        **machine_facts(),
        "postgresql": pg_version,
        "size": args.size,
        "repeat": args.repeat,
        "backends": args.backends,
        "workload": workload_facts(workload),
    }
    print("\n".join(header_lines(facts)), flush=True)
    runs: list[BackendRun] = []
    for backend in args.backends:
        if backend == "postgres" and pg_version is None:
            continue
        run = BackendRun(backend, BACKENDS[backend])
        runs.append(run)
        profile = Profiler(args.profile, backend)
        t0 = time.perf_counter()
        try:
            if backend == "sqlite":
                run_sqlite(run, workload, args.repeat, profile)
            elif backend == "memory":
                run_memory(run, workload, args.repeat, profile)
            else:
                run_postgres(
                    run,
                    workload,
                    args.repeat,
                    profile,
                    server=args.postgres,
                    database=args.postgres_db,
                    analyze=not args.no_analyze,
                )
        except Exception as e:
            # Keep what was measured; the other backends still run.
            traceback.print_exc()
            run.stopped = f"{type(e).__name__}: {e}"
        run.seconds = time.perf_counter() - t0
        log(f"{run.label}: done in {run.seconds:.0f} s")
        print(f"\n{run.label}\n\n{table(run.rows)}", flush=True)
    pure = BackendRun(PURE, PURE_LABEL)
    runs.append(pure)
    t0 = time.perf_counter()
    try:
        bench_pure(pure, workload, args.repeat, Profiler(args.profile, PURE))
    except Exception as e:
        traceback.print_exc()
        pure.stopped = f"{type(e).__name__}: {e}"
    pure.seconds = time.perf_counter() - t0
    print(f"\n{pure.label}\n\n{table(pure.rows)}", flush=True)
    facts["seconds"] = round(time.perf_counter() - began, 1)
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "format": FORMAT,
                    "facts": facts,
                    "header": header_lines(facts),
                    "size": args.size,
                    "repeat": args.repeat,
                    "backends": {run.key: run.to_json() for run in runs},
                },
                indent=2,
                ensure_ascii=False,
            )
            + "\n",
            encoding="utf-8",
        )
        log(f"results written to {args.json}")
    stopped = [f"{run.label} stopped early: {run.stopped}" for run in runs if run.stopped]
    for line in stopped:
        print(f"\n{line}")
    missed = [
        f"{run.label}: {r.operation.strip()}" for run in runs for r in run.rows if r.met is False
    ]
    if missed:
        print("\nmissed targets:\n" + "\n".join(f"- {m}" for m in missed))
    if args.size != "full":
        print("(targets are set for --size full; smaller sizes favour fixed costs)")
    return 1 if stopped else 0


if __name__ == "__main__":
    sys.exit(main())
