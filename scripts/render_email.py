"""Render the HTML part of a sample report email and of a limit alert to PNG screenshots.

Uses Chromium headless (Debian: ``apt-get install -y chromium``); the test
suite does not need this script. Usage::

    python scripts/render_email.py                  # writes docs/images/*.png
    python scripts/render_email.py --html-dir /tmp/x  # also keeps the HTML files

The sample is a realistic team: eight members in three groups, the default
features, a name with non-ASCII letters and one with quotes.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path

from credit_usage.domain.cycles import DateRange
from credit_usage.domain.model import DEFAULT_FEATURES, Role
from credit_usage.domain.results import Report, ReportRow
from credit_usage.reports.message import alert_message, report_message, report_message_id

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
SENDER = "reports@credits.example.com"
RECIPIENTS = ["admin@northwind.example.com"]

#: (user id, name, group id, group name, role, platform, extension, api, workspace)
MEMBERS = [
    ("u1", "Priya Raman", "eng", "Engineering", Role.ADMIN, 1840, 620, 2310, 140),
    ("u2", "Zoë Øberg-Lindqvist", "design", "Design", Role.MANAGER, 960, 85, 0, 1210),
    ("u3", 'Seán "Sully" O\'Brien', "cs", "Customer Success", Role.MEMBER, 410, 0, 0, 730),
    ("u4", "Marcus Chen", "eng", "Engineering", Role.MEMBER, 1220, 940, 880, 60),
    ("u5", "Aisha Bello", "eng", "Engineering", Role.MEMBER, 705, 310, 1425, 0),
    ("u6", "Tomás Herrera", "design", "Design", Role.MEMBER, 380, 0, 0, 655),
    ("u7", "Hannah Schmidt", "cs", "Customer Success", Role.MANAGER, 290, 0, 0, 515),
    ("u8", "Kenji Watanabe", "cs", "Customer Success", Role.MEMBER, 0, 0, 0, 0),
]


def sample_report() -> Report:
    """The report of one monthly period of team Northwind Analytics."""
    rows = []
    for user_id, name, group_id, group, role, *credits in MEMBERS:
        by_feature = {
            feature.value: value for feature, value in zip(DEFAULT_FEATURES, credits, strict=True)
        }
        rows.append(
            ReportRow(
                user_id=user_id,
                name=name,
                email=f"{user_id}@northwind.example.com",
                group_id=group_id,
                group_name=group,
                role=role,
                credit_type="standard",
                by_feature=by_feature,
                total=sum(credits),
            )
        )
    return Report(
        team_id="northwind",
        period=DateRange(first=date(2026, 3, 15), last=date(2026, 4, 14)),
        rows=sorted(rows, key=lambda r: (r.group_name, r.name)),
    )


def sample_report_message() -> EmailMessage:
    report = sample_report()
    total = 25_000
    return report_message(
        team_name="Northwind Analytics",
        team_id=report.team_id,
        report=report,
        total_credits=total,
        remaining=total - report.total,
        sender=SENDER,
        recipients=RECIPIENTS,
        message_id=report_message_id(
            team_id=report.team_id,
            schedule_id="monthly",
            first=report.period.first,
            last=report.period.last,
            domain="credits.example.com",
        ),
        date=datetime(2026, 4, 15, 7, 0, tzinfo=UTC),
    )


def sample_alert_message() -> EmailMessage:
    return alert_message(
        team_name="Northwind Analytics",
        subject_name="Zoë Øberg-Lindqvist",
        scope="user",
        credit_type=None,
        threshold_percent=75,
        used=1_540,
        limit=2_000,
        cycle=DateRange(first=date(2026, 4, 1), last=date(2026, 4, 30)),
        sender=SENDER,
        recipients=RECIPIENTS,
        message_id="<credit-limit.sample@credits.example.com>",
        date=datetime(2026, 4, 21, 9, 30, tzinfo=UTC),
    )


def html_of(message: EmailMessage) -> str:
    """The text/html part of ``message``."""
    part = message.get_body(preferencelist=("html",))
    if not isinstance(part, EmailMessage):
        raise SystemExit("the message has no HTML part")
    content = part.get_content()
    assert isinstance(content, str)
    return content


def screenshot(chromium: str, html_file: Path, png: Path, profile: Path) -> None:
    """Render ``html_file`` with Chromium headless to ``png``, 800 x 1200 CSS pixels."""
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--window-size=800,1200",
        f"--screenshot={png}",
        html_file.resolve().as_uri(),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    if not png.is_file() or png.stat().st_size == 0:
        raise SystemExit(f"Chromium wrote no screenshot to {png}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=IMAGES, help="where the PNGs go")
    parser.add_argument("--html-dir", type=Path, help="also keep the HTML files here")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    samples = {"report-email": sample_report_message(), "alert-email": sample_alert_message()}
    with tempfile.TemporaryDirectory(prefix="render-email-") as tmp:
        html_dir = args.html_dir or Path(tmp)
        html_dir.mkdir(parents=True, exist_ok=True)
        for name, message in samples.items():
            html_file = html_dir / f"{name}.html"
            html_file.write_text(html_of(message), encoding="utf-8")
            png = args.out_dir / f"{name}.png"
            screenshot(args.chromium, html_file, png, Path(tmp) / f"profile-{name}")
            print(f"{png}  ({message['Subject']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
