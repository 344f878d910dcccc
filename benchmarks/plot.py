"""Draw the ``snapshot()`` series of a ``run.py --json`` file: against events and against members.

Usage::

    python benchmarks/plot.py RUN.json [--out DIR]

Writes ``snapshot-scaling.png`` into ``DIR`` (default: the JSON file's
folder): on the left ``snapshot()`` time against the measured team's events
(every checkpoint of the load), on the right against the members of the
member series' teams; for each backend ours (solid) and the raw ``GROUP BY``
(dashed), times on a log scale. Needs matplotlib (``pip install -e ".[bench]"``);
without it, it says so and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

FILENAME = "snapshot-scaling.png"
#: Colours per backend (matplotlib's default cycle, fixed so that runs compare).
COLOURS = {"sqlite": "tab:blue", "postgres": "tab:orange", "memory": "tab:green"}
#: Short legend names.
NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL", "memory": "InMemoryStorage"}
#: The absolute target of ``snapshot()`` at the full size.
SNAPSHOT_LIMIT_MS = 20.0


def load(path: Path) -> dict[str, Any]:
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise SystemExit(f"{path}: cannot read it as JSON: {e}") from e
    if not isinstance(run, dict) or run.get("format") != 2:
        raise SystemExit(f"{path}: not the JSON of this benchmark's run.py (format 2)")
    return run


def thousands(value: float, _position: object = None) -> str:
    """Tick labels: 100k, 1M, 2.5k."""
    if value >= 1e6:
        return f"{value / 1e6:g}M"
    if value >= 1e3:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def plain(value: float, _position: object = None) -> str:
    return f"{value:g}"


def minor_labels(span: float) -> Callable[[float, object], str]:
    """Labels for the minor ticks of a log axis spanning ``span`` (top ÷ bottom).

    Every one within about a decade, only 2 and 5 (x a power of ten) within
    two or so, none beyond: the major ticks (1, 10, 100) are labelled anyway.
    """

    def label(value: float, _position: object = None) -> str:
        if span > 300:
            return ""
        digit = f"{value:.0e}"[0]
        return plain(value) if span <= 12 or digit in "25" else ""

    return label


def plot(run: dict[str, Any], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, NullFormatter

    facts = run["facts"]
    backends = {
        key: b
        for key, b in run["backends"].items()
        if b.get("series", {}).get("snapshot_vs_events")
        or b.get("series", {}).get("snapshot_vs_members")
    }
    fig, (by_events, by_members) = plt.subplots(1, 2, figsize=(13, 5.2), dpi=110)
    for key, backend in backends.items():
        colour = COLOURS.get(key)
        label = NAMES.get(key, backend["label"])
        events = backend["series"]["snapshot_vs_events"]
        if events:
            xs = [p["events"] for p in events]
            by_events.plot(
                xs,
                [p["ours_seconds"] * 1e3 for p in events],
                "o-",
                color=colour,
                label=f"{label}: snapshot()",
            )
            by_events.plot(
                xs,
                [p["baseline_seconds"] * 1e3 for p in events],
                "s--",
                color=colour,
                alpha=0.6,
                markersize=4,
                label=f"{label}: raw GROUP BY",
            )
        members = backend["series"]["snapshot_vs_members"]
        if members:
            xs = [p["members"] for p in members]
            ours = [p["ours_seconds"] * 1e3 for p in members]
            by_members.plot(xs, ours, "o-", color=colour, label=f"{label}: snapshot()")
            by_members.plot(
                xs,
                [p["baseline_seconds"] * 1e3 for p in members],
                "s--",
                color=colour,
                alpha=0.6,
                markersize=4,
                label=f"{label}: raw GROUP BY",
            )
            # The target's limit: 10x the members may cost at most 10x the time.
            by_members.plot(
                xs, [ours[0] * x / xs[0] for x in xs], ":", color=colour, alpha=0.6, linewidth=1.2
            )
    for axis in (by_events, by_members):
        axis.set_yscale("log")
        axis.grid(True, which="major", alpha=0.4)
        axis.grid(True, which="minor", alpha=0.15)
        axis.set_ylabel("time per call (ms, log scale)")
    by_events.axhline(SNAPSHOT_LIMIT_MS, color="grey", linestyle="-.", linewidth=1)
    by_events.annotate(
        f"{SNAPSHOT_LIMIT_MS:g} ms target",
        xy=(0.01, SNAPSHOT_LIMIT_MS),
        xycoords=("axes fraction", "data"),
        xytext=(0, 3),
        textcoords="offset points",
        color="grey",
        fontsize=8,
    )
    workload = facts["workload"]
    by_events.set_title(
        f"snapshot() against events ({workload['members']:,} members, {workload['groups']} groups)"
    )
    by_events.set_xlabel("events in the measured team's current cycle")
    by_events.xaxis.set_major_formatter(FuncFormatter(thousands))
    by_events.set_xlim(left=0)
    per_cell = workload["member_series_events_per_cell"]
    by_members.set_title("snapshot() against members (a team each)")
    by_members.set_xlabel(
        f"members in the team (log scale); {per_cell} event{'s' if per_cell > 1 else ''} "
        "per member × feature × credit type"
    )
    by_members.set_xscale("log")
    member_counts = sorted(
        {p["members"] for b in backends.values() for p in b["series"]["snapshot_vs_members"]}
    )
    if member_counts:
        by_members.set_xticks(member_counts)
        by_members.xaxis.set_major_formatter(FuncFormatter(thousands))
        by_members.xaxis.set_minor_formatter(NullFormatter())
    for axis in (by_events, by_members):
        low, high = axis.get_ylim()
        axis.yaxis.set_major_formatter(FuncFormatter(plain))
        axis.yaxis.set_minor_formatter(FuncFormatter(minor_labels(high / low)))
        axis.tick_params(axis="y", which="minor", labelsize=7)
    if by_events.has_data():
        by_events.legend(fontsize=8, loc="best")
    if by_members.has_data():
        handles, _ = by_members.get_legend_handles_labels()
        proportional = Line2D([], [], linestyle=":", color="grey", label="proportional to members")
        by_members.legend(
            handles=[*handles, proportional],
            fontsize=8,
            loc="upper left",
            title="dotted: the ≤ 10× limit from the first team",
            title_fontsize=8,
        )
    fig.suptitle(
        f"credit_usage snapshot() scaling: size {facts['size']}, {facts['date']} "
        f"{facts['time_utc']} UTC, commit {facts['git_commit']}, best of {facts['repeat']}",
        fontsize=11,
    )
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / FILENAME
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=f"Plot the snapshot() series of a run.py --json file as {FILENAME}."
    )
    parser.add_argument("run", type=Path, help="a JSON file written by run.py --json")
    parser.add_argument(
        "--out", type=Path, help="directory for the PNG (default: the JSON file's directory)"
    )
    args = parser.parse_args(argv)
    run = load(args.run)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print(
            "plot.py: matplotlib is not installed, so no plot was drawn "
            "(pip install -e '.[bench]' or pip install 'matplotlib>=3.7')",
            file=sys.stderr,
        )
        return 2
    path = plot(run, args.out if args.out is not None else args.run.resolve().parent)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
