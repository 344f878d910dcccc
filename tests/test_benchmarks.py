"""The benchmark (``benchmarks/run.py``) runs to the end at ``--size tiny``.

Correctness only: every operation gives a row with sensible figures, the
``--json`` output holds them, and the run exits with status 0. No timing is
asserted (speed is the benchmark's business, at ``--size full``), and at this
size most targets are missed, which does not change the exit status: it is 1
only when a backend stopped early.

The benchmark runs in a subprocess, as a user runs it: its modules
(``workload``, ``baseline``, ``measure``) are imported from ``benchmarks/``,
not as packages. On PostgreSQL it creates and drops a database of its own,
named for this test so that it never touches the one a benchmark run uses.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "benchmarks" / "run.py"
#: Each subprocess takes a few seconds; this only stops a hung one.
TIMEOUT_S = 180

#: The operations every backend's table has (patterns: some names carry
#: sizes); each must match exactly one row.
OPERATIONS = (
    r"snapshot\(\)",
    r"snapshot\(7 days\)",
    r"record_many \([\d,]+ events\)",
    r"export_csv\(cycle\)",
    r"export_ledger_csv \([\d,]+ rows\)",
    r"  peak memory growth \(tracemalloc\)",
    r"snapshot\(\) at [\d,]+ → [\d,]+ events",
    r"record_usage \(per call, no limits\)",
    r"record_usage \(per call, user \+ group limits\)",
    r"record_usage, 8 threads × \d+ \(limits\)",
)
TABLES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def _run(tmp_path: Path, *options: str) -> tuple[dict[str, Any], str]:
    """Run the benchmark at the tiny size; its JSON results and its printed output."""
    out = tmp_path / "results.json"
    # -W error: a warning in the benchmark or the library fails the run, as in the suite.
    command = [sys.executable, "-W", "error", str(RUN), "--size", "tiny", "--repeat", "2"]
    done = subprocess.run(
        [*command, "--json", str(out), *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    report = f"exit status {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    assert done.returncode == 0, report
    assert "stopped early" not in done.stdout, report
    assert "Traceback" not in done.stderr, report
    return json.loads(out.read_text(encoding="utf-8")), done.stdout


def _check_figures(row: dict[str, Any]) -> None:
    name, unit = row["operation"], row["unit"]
    ours, baseline, ratio = row["ours"], row["baseline"], row["ratio"]
    if unit == "MB":
        # Memory growth may well be nothing at all; the Python heap's cannot be negative.
        assert math.isfinite(ours), name
        assert baseline is None or math.isfinite(baseline), name
        if "tracemalloc" in name:
            assert ours >= 0, name
        return
    assert unit in {"s", "rows/s", "spends/s"}, name
    assert baseline is not None, row
    assert ratio is not None, row
    for figure in (ours, baseline, ratio):
        assert math.isfinite(figure), row
        assert figure > 0, row
    assert ratio == pytest.approx(ours / baseline), row


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_benchmark_runs_at_the_tiny_size(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    options = ["--backends", kind]
    server = database = None
    if kind == "postgres":
        # The suite's rule for servers: skip when unreachable, fail under
        # CREDIT_USAGE_REQUIRE_DATABASES=1.
        from tests.databases import server_url

        url = sa.make_url(server_url("postgres", request))
        server = f"host={url.host} port={url.port or 5432} user={url.username}"
        if url.password:
            server += f" password={url.password}"
        database = f"credit_usage_bench_test_{os.getpid()}_{secrets.token_hex(4)}"
        options += ["--postgres", server, "--postgres-db", database]
    try:
        results, printed = _run(tmp_path, *options)
    finally:
        if server is not None and database is not None:
            _drop(server, database)

    assert results["size"] == "tiny"
    assert set(results["tables"]) == {TABLES[kind], "pure aggregate()"}
    rows = results["tables"][TABLES[kind]]
    names = [row["operation"] for row in rows]
    for operation in OPERATIONS:
        assert sum(bool(re.fullmatch(operation, name)) for name in names) == 1, (operation, names)
    for row in [*rows, *results["tables"]["pure aggregate()"]]:
        _check_figures(row)

    by_name = {row["operation"]: row for row in rows}
    limits = by_name["record_usage (per call, user + group limits)"]
    assert (limits["unit"], limits["target"]) == ("s", "≤ 5x")
    assert limits["met"] is (limits["ratio"] <= 5)
    (threads,) = (row for name, row in by_name.items() if name.startswith("record_usage, 8"))
    assert threads["unit"] == "spends/s"
    assert threads["met"] is None  # informational: no target
    # The printed table has the new rows too.
    assert "record_usage (per call, user + group limits)" in printed
    assert "record_usage, 8 threads × " in printed
    assert "spends/s" in printed


def _drop(server: str, database: str) -> None:
    """Drop the benchmark's database if the run left it (killed on the timeout, say)."""
    import psycopg

    with psycopg.connect(f"{server} dbname=postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
