"""The README's and docs' Python examples run, and so does the quickstart script."""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_python_blocks_run(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every ```python block of a document runs, in order, in one namespace."""
    namespace: dict[str, object] = {"__name__": f"docs_{path.stem}"}
    for block in BLOCK.findall(path.read_text(encoding="utf-8")):
        exec(compile(block, str(path), "exec"), namespace)


def test_quickstart_prints_a_snapshot_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """examples/quickstart.py prints the cycle, the totals and a member table, on SQLite."""
    monkeypatch.setattr(sys, "argv", ["quickstart.py"])
    runpy.run_path(str(ROOT / "examples" / "quickstart.py"), run_name="__main__")
    printed = capsys.readouterr().out
    assert "Storage: SqlStorage('sqlite:///" in printed
    assert "Billing cycle" in printed
    assert re.search(r"Total [\d,]+ +Used [\d,]+ +Remaining [\d,]+", printed)
    assert "Ana Admin" in printed
    assert "user_id,name,email,group,role,credit_type" in printed


@pytest.mark.parametrize(
    ("zone", "now"),
    [
        # One hour into the cycle that starts on the 31st in Tokyo: still the 30th in UTC.
        ("Asia/Tokyo", "2026-03-30T16:00:00+00:00"),
        ("America/New_York", "2026-03-31T04:30:00+00:00"),
        ("Pacific/Kiritimati", "2026-05-30T10:30:00+00:00"),
        ("UTC", "2026-07-31T00:00:00+00:00"),
    ],
)
def test_getting_started_works_in_any_time_zone_at_any_hour(
    zone: str, now: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The getting-started code, with the team elsewhere and the clock just past midnight."""
    from datetime import datetime

    text = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    replaced = {
        "app = CreditUsage(storage=InMemoryStorage())": (
            "app = CreditUsage(storage=InMemoryStorage(), clock=lambda: FIXED)"
        ),
        "now = datetime.now(UTC)": "now = FIXED",
        'timezone="America/New_York"': f"timezone={zone!r}",
    }
    for old, new in replaced.items():
        assert old in text, old
        text = text.replace(old, new)
    namespace: dict[str, object] = {"FIXED": datetime.fromisoformat(now)}
    for block in BLOCK.findall(text):
        exec(compile(block, "getting-started.md", "exec"), namespace)
