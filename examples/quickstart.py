"""Quickstart: a team, some usage, the Analytics snapshot and a CSV export.

Run it with ``python examples/quickstart.py [DATABASE_URL]``. Without a URL it
uses a fresh SQLite file in a temporary folder, the embedded default.
"""

from __future__ import annotations

import io
import random
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from credit_usage import (
    BillingSchedule,
    CreditUsage,
    Group,
    Member,
    Snapshot,
    SqlStorage,
    Team,
)


def build_demo(app: CreditUsage, now: datetime) -> None:
    """A Pro team of six in two groups, with a week of usage."""
    app.create_team(
        Team(
            team_id="acme",
            name="Acme Corp",
            plan="pro",
            billing=BillingSchedule(anchor=date(2026, 1, 31)),
            credits_per_cycle=5_000,
            timezone="Europe/Berlin",
            credit_types=("email", "phone", "export"),
        )
    )
    app.add_group(Group(team_id="acme", group_id="sales", name="Sales EMEA"))
    app.add_group(Group(team_id="acme", group_id="ops", name="Operations"))
    people = [
        ("ana", "Ana Admin", "admin", None),
        ("max", "Max Manager", "manager", "sales"),
        ("lee", "Lee", "member", "sales"),
        ("kim", "Kim", "member", "sales"),
        ("sam", "Sam", "member", "ops"),
        ("zoe", "Zoe", "member", "ops"),
    ]
    for user_id, name, role, group in people:
        app.add_member(
            Member(team_id="acme", user_id=user_id, name=name, email=f"{user_id}@acme.example",
                   role=role, group_id=group)
        )  # fmt: skip
    rng = random.Random(7)
    for i in range(120):
        user_id = rng.choice(["max", "lee", "lee", "kim", "sam"])
        app.record_usage(
            "acme",
            user_id,
            feature=rng.choice(["platform", "extension", "api", "workspace"]),
            credit_type=rng.choice(["email", "email", "phone", "export"]),
            amount=rng.randint(1, 25),
            occurred_at=now - timedelta(hours=rng.randint(0, 24 * 7)),
            entry_id=f"evt-{i}",
        )


def print_snapshot(snapshot: Snapshot) -> None:
    """The Analytics page as a text table."""
    cycle = snapshot.cycle
    print(f"Billing cycle {cycle.first_day} .. {cycle.last_day}")
    print(
        f"Total {snapshot.total_credits:,}   Used {snapshot.used:,}   "
        f"Remaining {snapshot.remaining:,}\n"
    )
    print(f"{'Member':<14}{'Role':<9}{'Used':>6}{'Platform':>10}{'Extension':>11}{'API':>6}"
          f"{'Workspace':>11}")  # fmt: skip
    for m in snapshot.members:
        f = [m.by_feature[k] for k in m.by_feature]
        print(f"{m.name:<14}{m.role.value:<9}{m.used:>6}{f[0]:>10}{f[1]:>11}{f[2]:>6}{f[3]:>11}")


def main(argv: list[str]) -> None:
    if argv:
        url = argv[0]
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='credit_usage_')) / 'usage.db'}"
    storage = SqlStorage.from_url(url)
    storage.create_schema()
    print(f"Storage: {storage}\n")
    now = datetime.now(UTC)
    app = CreditUsage(storage=storage, clock=lambda: now)
    build_demo(app, now)
    snapshot = app.snapshot("ana", "acme")
    print_snapshot(snapshot)
    out = io.StringIO(newline="")
    app.export_csv("ana", "acme", snapshot.cycle, out)
    print("\nCSV export (first lines):")
    print("\n".join(out.getvalue().splitlines()[:4]))


if __name__ == "__main__":
    main(sys.argv[1:])
