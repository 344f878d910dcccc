"""Timing, memory and machine description for the benchmark, and its result table."""

from __future__ import annotations

import gc
import io
import os
import platform
import re
import sqlite3
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def best_of(repeat: int, fn: Callable[[], Any]) -> float:
    """The fastest of ``repeat`` runs of ``fn``, in seconds (``time.perf_counter``)."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def best_of_pair(
    repeat: int, ours: Callable[[], Any], baseline: Callable[[], Any]
) -> tuple[float, float]:
    """The fastest of ``repeat`` runs of each, run in turns so that both meet the same noise."""
    best_ours = best_base = float("inf")
    for _ in range(repeat):
        best_ours = min(best_ours, best_of(1, ours))
        best_base = min(best_base, best_of(1, baseline))
    return best_ours, best_base


def wall_time_threads(
    threads: int, prepare: Callable[[int], tuple[Callable[[], None], Callable[[], None]]]
) -> float:
    """Wall-clock seconds for ``threads`` threads to do their work at once.

    Thread ``i`` first calls ``prepare(i)``, which returns its ``work`` and its
    ``cleanup`` (open a connection, close it): neither is timed. The clock
    starts when every thread has prepared (a barrier releases them together)
    and stops when the last one has finished its work. The first error of
    any thread is raised here, after all of them have stopped.
    """
    start = threading.Barrier(threads + 1)
    done = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        cleanup: Callable[[], None] | None = None
        try:
            work, cleanup = prepare(i)
            start.wait()
            work()
            done.wait()
        except threading.BrokenBarrierError:
            pass  # another thread failed: its error is the one to report
        except BaseException as e:
            errors.append(e)
            start.abort()
            done.abort()
        finally:
            if cleanup is not None:
                cleanup()

    workers = [threading.Thread(target=run, args=(i,), name=f"bench-{i}") for i in range(threads)]
    gc.collect()
    for worker in workers:
        worker.start()
    elapsed = float("nan")
    try:
        start.wait()
        t0 = time.perf_counter()
        done.wait()
        elapsed = time.perf_counter() - t0
    except threading.BrokenBarrierError:
        pass
    finally:
        for worker in workers:
            worker.join()
    if errors:
        raise errors[0]
    return elapsed


class Discard(io.TextIOBase):
    """A text sink that drops what it is given, so exports time the library, not the disk."""

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        return len(s)


def _vm_hwm_kib() -> int | None:
    try:
        with open("/proc/self/status") as status:
            found = re.search(r"VmHWM:\s+(\d+)", status.read())
    except OSError:
        return None
    return int(found.group(1)) if found else None


def _vm_rss_kib() -> int | None:
    try:
        with open("/proc/self/status") as status:
            found = re.search(r"VmRSS:\s+(\d+)", status.read())
    except OSError:
        return None
    return int(found.group(1)) if found else None


def traced_peak_mb(fn: Callable[[], Any]) -> float:
    """Peak growth of Python allocations (tracemalloc) while ``fn`` runs, in MB.

    Run apart from the timed passes: tracing slows every allocation.
    """
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return (peak - before) / 1e6


def rss_peak_mb(fn: Callable[[], Any]) -> float | None:
    """Growth of the process's peak resident set (VmHWM) while ``fn`` runs, in MB.

    Resets the high-water mark first (Linux ``/proc/self/clear_refs``); it sees
    C allocations too (the SQLite page cache, libpq buffers) but also memory the
    allocator had freed earlier, so it can read low. ``None`` where unsupported.
    """
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return None
    before = _vm_rss_kib()
    fn()
    after = _vm_hwm_kib()
    if before is None or after is None:
        return None
    return (after - before) / 1e3


def machine(postgres_version: str | None) -> list[str]:
    """Lines describing the machine: CPU, cores, RAM, Python, SQLite, PostgreSQL."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            found = re.search(r"model name\s*:\s*(.+)", info.read())
        if found:
            cpu = found.group(1).strip()
    except OSError:
        pass
    ram = "?"
    try:
        with open("/proc/meminfo") as info:
            found = re.search(r"MemTotal:\s+(\d+)", info.read())
        if found:
            ram = f"{int(found.group(1)) / 1024**2:.1f} GiB"
    except OSError:
        pass
    return [
        f"CPU: {cpu}, {os.cpu_count()} cores; RAM: {ram}",
        f"Python {platform.python_version()} ({platform.python_implementation()}) "
        f"on {platform.system()} {platform.release()}",
        f"SQLite {sqlite3.sqlite_version}; PostgreSQL {postgres_version or 'not used'}",
    ]


@dataclass
class Result:
    """One line of the table. ``unit`` is how ``ours`` and ``baseline`` read."""

    operation: str
    ours: float
    baseline: float | None
    unit: str
    target: str
    met: bool | None
    ratio: float | None = None

    def cells(self) -> list[str]:
        return [
            self.operation,
            _fmt(self.ours, self.unit),
            "" if self.baseline is None else _fmt(self.baseline, self.unit),
            "" if self.ratio is None else f"{self.ratio:.3g}x",
            self.target,
            {True: "yes", False: "**no**", None: "n/a"}[self.met],
        ]


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        if value >= 1:
            return f"{value:.2f} s"
        if value >= 1e-3:
            return f"{value * 1e3:.3g} ms"
        return f"{value * 1e6:.3g} µs"
    if unit.endswith("/s"):
        return f"{value:,.0f} {unit}"
    if unit == "MB":
        return f"{value:.1f} MB"
    return f"{value:.3g} {unit}"


HEADER = ["operation", "ours", "baseline", "ratio", "target", "met?"]


def table(results: list[Result]) -> str:
    """The results as a Markdown table (readable in a terminal too)."""
    rows = [HEADER, *(r.cells() for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
