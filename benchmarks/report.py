"""Turn ``run.py --json`` results into Markdown: what docs/performance.md's tables are pasted from.

Usage::

    python benchmarks/report.py RUN1.json [RUN2.json ...] [--out FILE]

For each run: its facts (when, which commit, the machine, the workload), one
table per backend with every target and whether it is met, and the
``snapshot()`` series against events and against members. Given two or more
runs of the same ``--size``, it adds a side-by-side summary of their ratios,
run 1 / run 2 / ..., with met or missed. The output depends only on the files
(no clock, no machine), so the same files always give the same Markdown.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from measure import fmt, met_text

#: The JSON layout this reads (``run.py``'s ``FORMAT``).
FORMAT = 2
#: Rows whose "baseline" is our own earlier figure (the scaling rows): shown as "before → after".
SCALING = {"snapshot_flatness", "snapshot_members"}
HEADER = ["operation", "ours", "baseline", "ratio", "target", "met?"]


def load(path: Path) -> dict[str, Any]:
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise SystemExit(f"{path}: cannot read it as JSON: {e}") from e
    if not isinstance(run, dict) or run.get("format") != FORMAT:
        raise SystemExit(
            f"{path}: not the JSON of this benchmark's run.py (format {FORMAT}); "
            "files written before the snapshot() series cannot be read, run the benchmark again"
        )
    return run


def md_table(header: list[str], rows: Iterable[list[str]]) -> str:
    """A Markdown table in docs/performance.md's style (no padding)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def md_operation(operation: str) -> str:
    """``snapshot() at 1 → 2 events`` as `` `snapshot()` at 1 → 2 events``; sub-rows get a dash."""
    if operation.startswith(" "):
        return "— " + operation.strip()
    found = re.match(r"([A-Za-z_]+(?:\([^)]*\))?)(.*)$", operation)
    return f"`{found[1]}`{found[2]}" if found else operation


def ratio_text(ratio: float | None) -> str:
    return "" if ratio is None else f"{ratio:.3g}×"


def row_cells(row: dict[str, Any]) -> list[str]:
    unit = row["unit"]
    ours, baseline = fmt(row["ours"], unit), ""
    if row["key"] in SCALING and row["baseline"] is not None:
        ours = f"{fmt(row['baseline'], unit)} → {ours}"
    elif row["baseline"] is not None:
        baseline = fmt(row["baseline"], unit)
    return [
        md_operation(row["operation"]),
        ours,
        baseline,
        ratio_text(row["ratio"]),
        row["target"],
        met_text(row["met"], row.get("note", "")),
    ]


def duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def title(run: dict[str, Any]) -> str:
    facts = run["facts"]
    return (
        f"size {facts['size']}, {facts['date']} {facts['time_utc']} UTC, "
        f"commit `{facts['git_commit']}`"
    )


def facts_lines(run: dict[str, Any]) -> list[str]:
    facts, w = run["facts"], run["facts"]["workload"]
    ram = "?" if facts.get("ram_gib") is None else f"{facts['ram_gib']} GiB"
    members = " and ".join(
        [", ".join(f"{m:,}" for m in w["member_series"][:-1]), f"{w['member_series'][-1]:,}"]
        if len(w["member_series"]) > 1
        else [f"{w['member_series'][0]:,}"]
    )
    per_cell = w["member_series_events_per_cell"]
    took = ", ".join(
        f"{b['label']} {duration(b['seconds'])}" for b in run["backends"].values() if b["rows"]
    )
    return [
        f"- CPU: {facts['cpu']}, {facts['cores']} cores; RAM: {ram}",
        f"- Python {facts['python']} on {facts['os']}",
        f"- SQLite {facts['sqlite']}; PostgreSQL {facts.get('postgresql') or 'not used'}",
        f"- Workload: {w['measured_events']:,} events in the measured team's cycle "
        f"({w['members']:,} members, {w['groups']} groups), {w['other_events']:,} in "
        f"{w['other_teams']} other teams; for `snapshot()` against members, teams of "
        f"{members} members with {per_cell} event{'s' if per_cell > 1 else ''} per "
        f"member × feature × credit type",
        f"- Best of {facts['repeat']}; the run took {duration(facts['seconds'])} ({took})",
    ]


def backend_section(backend: dict[str, Any]) -> list[str]:
    lines = [f"### {backend['label']}", ""]
    if backend.get("settings"):
        lines += [f"Settings: {backend['settings']}.", ""]
    rows = backend["rows"]
    if rows:
        lines.append(md_table(HEADER, [row_cells(r) for r in rows]))
        judged = [r for r in rows if r["met"] is not None]
        met = sum(r["met"] is True for r in judged)
        lines += ["", f"Targets met: {met} of {len(judged)}."]
    else:
        lines.append("No results.")
    if backend.get("stopped"):
        lines += ["", f"**Stopped early:** {backend['stopped']}"]
    return [*lines, ""]


def series_section(run: dict[str, Any], name: str, axis: list[str]) -> list[str]:
    """One table of a snapshot() series: a row per point, ours and raw per backend."""
    backends = [b for b in run["backends"].values() if b.get("series", {}).get(name)]
    if not backends:
        return []
    points: dict[tuple[int, ...], dict[str, dict[str, float]]] = {}
    for backend in backends:
        for p in backend["series"][name]:
            points.setdefault(tuple(p[a] for a in axis), {})[backend["label"]] = p
    header = [*axis]
    for backend in backends:
        header += [f"{backend['label']} ours", f"{backend['label']} raw"]
    rows = []
    for at in sorted(points):
        row = [f"{v:,}" for v in at]
        for backend in backends:
            p = points[at].get(backend["label"])
            row += [fmt(p["ours_seconds"], "s"), fmt(p["baseline_seconds"], "s")] if p else ["", ""]
        rows.append(row)
    what = "the measured team's events" if name == "snapshot_vs_events" else "members"
    return [f"### `snapshot()` against {what}", "", md_table(header, rows), ""]


def run_section(number: int, run: dict[str, Any]) -> list[str]:
    lines = [f"## Run {number}: {title(run)}", "", *facts_lines(run), ""]
    lines += [
        f'Times are the best of {run["facts"]["repeat"]}; "ratio" is ours ÷ baseline '
        "(in rows or entries per second where the unit says so). For the two scaling rows "
        "it is our later figure ÷ our earlier one.",
        "",
    ]
    for backend in run["backends"].values():
        lines += backend_section(backend)
    lines += series_section(run, "snapshot_vs_events", ["events"])
    lines += series_section(run, "snapshot_vs_members", ["members", "groups", "events"])
    return lines


#: The order of the backends in the comparison (others after them).
BACKEND_ORDER = ("sqlite", "postgres", "memory", "pure")


def backend_rank(key: str) -> int:
    return BACKEND_ORDER.index(key) if key in BACKEND_ORDER else len(BACKEND_ORDER)


def summary_cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return "—"
    figure = ratio_text(row["ratio"]) if row["ratio"] is not None else fmt(row["ours"], row["unit"])
    if row["ratio"] is not None and "ours_max" in row.get("bounds", {}):
        figure += f", {fmt(row['ours'], row['unit'])}"
    if row["met"] is None:
        return figure  # informational: no target
    return f"{figure} {'met' if row['met'] else '**missed**'}"


def comparison(runs: list[tuple[int, dict[str, Any]]]) -> list[str]:
    """Side by side: every row of the given runs (same size), ratio and met or missed."""
    size = runs[0][1]["facts"]["size"]
    names = " / ".join(f"run {n}" for n, _ in runs)
    lines = [f"## Comparison, size {size}: {names}", ""]
    lines += [f"- run {n}: {title(run)}" for n, run in runs]
    lines.append("")
    order: list[tuple[str, str]] = []
    labels: dict[str, str] = {}
    targets: dict[tuple[str, str], str] = {}
    operations: dict[tuple[str, str], str] = {}
    found: dict[tuple[int, str, str], dict[str, Any]] = {}
    for n, run in runs:
        for key, backend in run["backends"].items():
            labels.setdefault(key, backend["label"])
            for row in backend["rows"]:
                at = (key, row["key"])
                if at not in operations:
                    order.append(at)
                    operations[at] = row["operation"]
                    targets[at] = row["target"]
                found[(n, *at)] = row
    order.sort(key=lambda at: backend_rank(at[0]))  # stable: rows keep their order
    header = ["backend", "operation", "target", *(f"run {n}" for n, _ in runs)]
    rows = [
        [
            labels[backend],
            md_operation(operations[(backend, key)]),
            targets[(backend, key)],
            *(summary_cell(found.get((n, backend, key))) for n, _ in runs),
        ]
        for backend, key in order
    ]
    totals = ["", "**targets met**", ""]
    for _, run in runs:
        judged = [r for b in run["backends"].values() for r in b["rows"] if r["met"] is not None]
        totals.append(f"{sum(r['met'] is True for r in judged)} of {len(judged)}")
    rows.append(totals)
    return [*lines, md_table(header, rows), ""]


def report(runs: list[dict[str, Any]]) -> str:
    lines = ["# credit_usage benchmark results", ""]
    numbered = list(enumerate(runs, start=1))
    for n, run in numbered:
        lines += run_section(n, run)
    sizes: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for n, run in numbered:
        sizes.setdefault(run["facts"]["size"], []).append((n, run))
    for same in sizes.values():
        if len(same) > 1:
            lines += comparison(same)
    if len(runs) > 1 and all(len(same) == 1 for same in sizes.values()):
        lines += ["No two runs have the same size: nothing to compare side by side.", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Markdown tables from benchmarks/run.py --json results (one or more runs)."
    )
    parser.add_argument("runs", nargs="+", type=Path, help="JSON files written by run.py --json")
    parser.add_argument("--out", type=Path, help="write the Markdown here instead of stdout")
    args = parser.parse_args(argv)
    text = report([load(path) for path in args.runs])
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
