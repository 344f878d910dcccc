"""Timing, memory and machine description for the benchmark, and its result table."""

from __future__ import annotations

import gc
import io
import os
import platform
import re
import sqlite3
import subprocess
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
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


def machine_facts() -> dict[str, Any]:
    """The machine: CPU model, cores, RAM, Python, operating system, SQLite library."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            found = re.search(r"model name\s*:\s*(.+)", info.read())
        if found:
            cpu = found.group(1).strip()
    except OSError:
        pass
    ram: float | None = None
    try:
        with open("/proc/meminfo") as info:
            found = re.search(r"MemTotal:\s+(\d+)", info.read())
        if found:
            ram = round(int(found.group(1)) / 1024**2, 1)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": ram,
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "os": f"{platform.system()} {platform.release()}",
        "sqlite": sqlite3.sqlite_version,
    }


def git_commit(directory: Path) -> str:
    """``git rev-parse --short HEAD`` of ``directory``, ``+dirty`` when the tree has changes."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=directory, capture_output=True, text=True, check=True, timeout=30
        )
        return done.stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        status = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}+dirty" if status else commit


def machine_lines(facts: dict[str, Any]) -> list[str]:
    """The machine facts as the header lines of the printed results and of the report."""
    ram = "?" if facts.get("ram_gib") is None else f"{facts['ram_gib']} GiB"
    return [
        f"CPU: {facts['cpu']}, {facts['cores']} cores; RAM: {ram}",
        f"Python {facts['python']} on {facts['os']}",
        f"SQLite {facts['sqlite']}; PostgreSQL {facts.get('postgresql') or 'not used'}",
    ]


@dataclass(frozen=True)
class Target:
    """What a row must reach: bounds on the ratio and on our own figure (in the row's unit).

    No bound at all is an informational row (``met`` is ``None``).
    """

    ratio_max: float | None = None
    ratio_min: float | None = None
    #: Bounds on ``ours``, in the unit of the row (seconds, MB, entries/s).
    ours_max: float | None = None
    ours_min: float | None = None
    #: ``"flat"`` writes the ratio bound as ``flat (≤ 1.2×)``.
    label: str = ""

    def parts(self, unit: str) -> list[tuple[str, Callable[[float, float | None], bool]]]:
        """Each bound: its text and its check of ``(ours, ratio)``."""
        per = f" {unit}" if unit.endswith("/s") else ""
        parts: list[tuple[str, Callable[[float, float | None], bool]]] = []
        if self.ratio_max is not None:
            bound = self.ratio_max
            text = f"≤ {bound:g}×"
            if self.label:
                text = f"{self.label} ({text})"
            parts.append((text, lambda ours, ratio: ratio is not None and ratio <= bound))
        if self.ratio_min is not None:
            low = self.ratio_min
            parts.append(
                (f"≥ {low:g}×{per}", lambda ours, ratio: ratio is not None and ratio >= low)
            )
        if self.ours_max is not None:
            top = self.ours_max
            parts.append((f"< {bound_text(top, unit)}", lambda ours, ratio: ours < top))
        if self.ours_min is not None:
            least = self.ours_min
            parts.append((f"≥ {bound_text(least, unit)}", lambda ours, ratio: ours >= least))
        return parts

    def text(self, unit: str) -> str:
        parts = self.parts(unit)
        return ", ".join(text for text, _ in parts) if parts else "none (informational)"

    def judge(self, ours: float, ratio: float | None, unit: str) -> tuple[bool | None, str]:
        """Whether the target is met, and which bound missed when some did and some did not."""
        parts = self.parts(unit)
        if not parts:
            return None, ""
        checks = [(text, check(ours, ratio)) for text, check in parts]
        met = all(ok for _, ok in checks)
        note = ""
        if len(checks) > 1 and not met:
            note = "; ".join(f"{text}: {'yes' if ok else 'no'}" for text, ok in checks)
        return met, note


def bound_text(value: float, unit: str) -> str:
    """A bound of a target: ``20 ms``, ``20 MB``, ``250,000 entries/s``."""
    if unit == "s":
        return fmt(value, unit)
    if unit.endswith("/s"):
        return f"{value:,.0f} {unit}"
    return f"{value:g} {unit}"


@dataclass
class Result:
    """One line of the table. ``unit`` is how ``ours`` and ``baseline`` read.

    ``key`` names the operation across runs and sizes (``operation`` may
    carry sizes); ``note`` says which bound of a compound target missed.
    """

    key: str
    operation: str
    ours: float
    baseline: float | None
    unit: str
    target: str
    met: bool | None
    ratio: float | None = None
    note: str = ""
    #: The target's bounds (:class:`Target`'s fields), for tools that read the JSON.
    bounds: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def judged(
        cls,
        key: str,
        operation: str,
        ours: float,
        baseline: float | None,
        unit: str,
        target: Target,
        ratio: float | None = None,
    ) -> Result:
        met, note = target.judge(ours, ratio, unit)
        bounds = {k: v for k, v in asdict(target).items() if v not in (None, "")}
        return cls(
            key, operation, ours, baseline, unit, target.text(unit), met, ratio, note, bounds
        )

    def cells(self) -> list[str]:
        return [
            self.operation,
            fmt(self.ours, self.unit),
            "" if self.baseline is None else fmt(self.baseline, self.unit),
            "" if self.ratio is None else f"{self.ratio:.3g}×",
            self.target,
            met_text(self.met, self.note),
        ]


def met_text(met: bool | None, note: str = "") -> str:
    text = {True: "yes", False: "**no**", None: "n/a"}[met]
    return f"{text} ({note})" if note else text


def fmt(value: float, unit: str) -> str:
    """A figure in its unit, to three significant digits (seconds as s, ms or µs)."""
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
    return markdown_table(HEADER, [r.cells() for r in results])


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table with its columns padded to the same width."""
    all_rows = [header, *rows]
    widths = [max(len(row[i]) for row in all_rows) for i in range(len(header))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in all_rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
