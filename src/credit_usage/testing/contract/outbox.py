"""The contract of the outbox: report schedules, deliveries, limit alerts, and due_teams()."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import attrs

from credit_usage.domain.alerts import LimitAlert
from credit_usage.domain.delivery import (
    Delivery,
    DeliveryState,
    ScheduledReport,
    alert_delivery_id,
    claim,
    finish,
    report_delivery_id,
)
from credit_usage.domain.ledger import Batch
from credit_usage.domain.schedules import ReportSchedule
from credit_usage.ports import Decision, Storage
from credit_usage.testing.builders import make_team, reads, seed_team
from credit_usage.testing.contract._base import _NeedsStorage

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
DUE = datetime(2026, 3, 9, tzinfo=UTC)


def scheduled(
    schedule_id: str = "weekly",
    *,
    team_id: str = "acme",
    next_due: datetime | None = DUE,
    active: bool = True,
) -> ScheduledReport:
    """A weekly schedule of Ada's, due at ``next_due``."""
    return ScheduledReport(
        schedule=ReportSchedule(
            schedule_id=schedule_id,
            team_id=team_id,
            frequency="weekly",
            recipients=("ada@acme.test", "Mia@Acme.test"),
            created_by="ada",
            created_at=NOW,
            active=active,
        ),
        next_due=next_due,
    )


def alert(alert_id: str = "a1", *, team_id: str = "acme", threshold: int = 75) -> LimitAlert:
    """Mia crossing ``threshold`` % of a 100-credit email limit."""
    return LimitAlert(
        team_id=team_id,
        alert_id=alert_id,
        cycle=date(2026, 2, 15),
        scope="user",
        subject_id="mia",
        credit_type="email",
        threshold=threshold,
        limit=100,
        used=80,
        created_at=NOW,
    )


def _write(storage: Storage, team_id: str = "acme", **changes: object) -> None:
    decision: Decision[None] = Decision(Batch.empty(), None, **changes)  # type: ignore[arg-type]
    storage.append(team_id, lambda tx: decision)


class OutboxContract(_NeedsStorage):
    """schedules(), deliveries(), alerts() and due_teams(), written by a write's decision."""

    def test_schedules_read_back_and_replace_by_id(self, storage: Storage) -> None:
        """A schedule reads back equal, ordered by id; the same id again replaces it."""
        seed_team(storage)
        first, second = scheduled("weekly"), scheduled("monthly", next_due=None)
        _write(storage, set_schedules=(first, second))
        assert reads(storage).schedules() == [second, first]
        cancelled = scheduled("weekly", active=False, next_due=None)
        _write(storage, set_schedules=(cancelled,))
        assert reads(storage).schedules() == [second, cancelled]

    def test_deliveries_read_back_by_id_and_replace(self, storage: Storage) -> None:
        """A claim, then its mark, of a report period and of an alert."""
        seed_team(storage)
        report_id = report_delivery_id("we:ekly", date(2026, 3, 2))
        alert_key = alert_delivery_id("a1")
        _write(storage, set_schedules=(scheduled("we:ekly"),), new_alerts=(alert(),))
        claimed = [
            claim(None, team_id="acme", delivery_id=i, message_id=f"<{i}@x>", now=NOW)
            for i in (report_id, alert_key)
        ]
        assert all(isinstance(c, Delivery) for c in claimed)
        _write(storage, set_deliveries=tuple(c for c in claimed if c is not None))
        stored = reads(storage).deliveries([report_id, alert_key, "report:none:2026-01-01"])
        assert stored == {c.delivery_id: c for c in claimed if c is not None}
        sent = finish(stored[report_id], DeliveryState.SENT, now=NOW + timedelta(seconds=3))
        failed = finish(stored[alert_key], DeliveryState.FAILED, now=NOW, error="550 nope")
        _write(storage, set_deliveries=(sent, failed))
        assert reads(storage).deliveries([report_id, alert_key]) == {
            report_id: sent,
            alert_key: failed,
        }

    def test_a_schedule_with_deliveries_can_be_changed_and_cancelled(
        self, storage: Storage
    ) -> None:
        """Changing a schedule keeps the deliveries of its periods, in the same write too."""
        seed_team(storage)
        report_id = report_delivery_id("weekly", date(2026, 3, 2))
        claimed = claim(None, team_id="acme", delivery_id=report_id, message_id="<m@x>", now=NOW)
        assert claimed is not None
        _write(storage, set_schedules=(scheduled(),), set_deliveries=(claimed,))
        moved = scheduled(next_due=DUE + timedelta(days=7))
        sent = finish(claimed, DeliveryState.SENT, now=NOW)
        _write(storage, set_schedules=(moved,), set_deliveries=(sent,))
        _write(storage, set_schedules=(moved,))  # unchanged: stored as it is
        assert reads(storage).schedules() == [moved]
        cancelled = scheduled(active=False, next_due=None)
        _write(storage, set_schedules=(cancelled,))
        assert reads(storage).schedules() == [cancelled]
        assert reads(storage).deliveries([report_id]) == {report_id: sent}

    def test_an_alert_is_added_once(self, storage: Storage) -> None:
        """Alerts read back oldest first; an id already stored is not added again."""
        seed_team(storage)
        later = attrs.evolve(alert("a2", threshold=100), created_at=NOW + timedelta(minutes=1))
        _write(storage, new_alerts=(later, alert("a1")))
        _write(storage, new_alerts=(alert("a1"),))
        assert reads(storage).alerts() == [alert("a1"), later]

    def test_due_teams_are_those_with_a_report_due_or_an_alert_to_send(
        self, storage: Storage
    ) -> None:
        """Across teams: a due active schedule, or an alert not yet sent or skipped."""
        for team_id in ("acme", "globex", "initech", "quiet"):
            seed_team(storage, make_team(team_id))
        _write(storage, "acme", set_schedules=(scheduled(team_id="acme"),))
        _write(storage, "globex", set_schedules=(scheduled(team_id="globex", active=False),))
        _write(storage, "initech", new_alerts=(alert(team_id="initech"),))
        next_week = DUE + timedelta(days=7)
        _write(storage, "quiet", set_schedules=(scheduled(team_id="quiet", next_due=next_week),))
        assert sorted(storage.due_teams(DUE - timedelta(microseconds=1))) == ["initech"]
        assert sorted(storage.due_teams(DUE)) == ["acme", "initech"]
        delivery = claim(
            None, team_id="initech", delivery_id=alert_delivery_id("a1"), message_id="<m>", now=NOW
        )
        assert delivery is not None
        _write(storage, "initech", set_deliveries=(delivery,))
        assert sorted(storage.due_teams(DUE)) == ["acme", "initech"]
        sent = finish(delivery, DeliveryState.SENT, now=NOW)
        _write(storage, "initech", set_deliveries=(sent,))
        assert sorted(storage.due_teams(DUE)) == ["acme"]

    def test_the_outbox_is_kept_per_team(self, storage: Storage) -> None:
        """Schedules, deliveries and alerts of one team are invisible to another."""
        seed_team(storage)
        seed_team(storage, make_team("globex"))
        _write(storage, set_schedules=(scheduled(),), new_alerts=(alert(),))
        globex = reads(storage, "globex")
        assert (globex.schedules(), globex.alerts()) == ([], [])
        assert globex.deliveries([alert_delivery_id("a1")]) == {}
