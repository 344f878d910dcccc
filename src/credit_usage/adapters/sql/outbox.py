"""The outbox recorder: report schedules, their deliveries, and limit alerts.

Reads and writes run inside the team's transactions of the ledger recorder
(a claim, a mark, a new alert are writes of the team, under its lock).
:meth:`OutboxRecorder.due_teams` is the one read of the library that spans
teams: the worker's question "which teams have work?", answered from the
index on ``report_schedules.next_due`` and the one on
``limit_alerts(pending, team_id)``.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from credit_usage.adapters.sql import rows
from credit_usage.adapters.sql.datastore import Datastore
from credit_usage.adapters.sql.schema import Tables
from credit_usage.domain.alerts import LimitAlert, alert_order
from credit_usage.domain.delivery import Delivery, DeliveryState, ScheduledReport
from credit_usage.domain.schedules import ReportSchedule

__all__ = ["OutboxRecorder"]

_REPORT, _ALERT = "report:", "alert:"
_SCHEDULE_COLUMNS = ("frequency", "recipients", "created_by", "created_at", "active", "next_due")
_DELIVERY_COLUMNS = ("state", "message_id", "claimed_at", "attempts", "error", "finished_at")


class OutboxRecorder:
    """Schedules, deliveries and alerts of the teams, in SQL."""

    def __init__(self, store: Datastore, tables: Tables) -> None:
        self.store = store
        schedules, deliveries, alerts = tables.schedules, tables.deliveries, tables.alerts
        self._tables = tables
        team: sa.BindParameter[str] = sa.bindparam("team_id")
        self.select_schedules = sa.select(schedules).where(schedules.c.team_id == team)
        # A schedule is updated in place: its deliveries refer to it.
        self.update_schedule = (
            schedules.update()
            .where(
                schedules.c.team_id == sa.bindparam("key_team"),
                schedules.c.schedule_id == sa.bindparam("key_schedule"),
            )
            .values({name: sa.bindparam(f"new_{name}") for name in _SCHEDULE_COLUMNS})
        )
        self.insert_schedule = schedules.insert()
        self.select_deliveries = sa.select(deliveries).where(
            deliveries.c.team_id == team,
            deliveries.c.schedule_id == sa.bindparam("schedule_id"),
            deliveries.c.period_first.in_(sa.bindparam("firsts", expanding=True)),
        )
        self.delete_delivery = deliveries.delete().where(
            deliveries.c.team_id == team,
            deliveries.c.schedule_id == sa.bindparam("schedule_id"),
            deliveries.c.period_first == sa.bindparam("period_first"),
        )
        self.insert_delivery = deliveries.insert()
        self.select_alerts = sa.select(alerts).where(alerts.c.team_id == team)
        self.alert_ids = sa.select(alerts.c.alert_id).where(
            alerts.c.team_id == team,
            alerts.c.alert_id.in_(sa.bindparam("alert_ids", expanding=True)),
        )
        self.insert_alert = alerts.insert()
        self.deliver_alert = (
            alerts.update()
            .where(
                alerts.c.team_id == sa.bindparam("key_team"),
                alerts.c.alert_id == sa.bindparam("key_alert"),
            )
            .values({name: sa.bindparam(f"new_{name}") for name in (*_DELIVERY_COLUMNS, "pending")})
        )
        now: sa.BindParameter[int] = sa.bindparam("now")
        self.due_teams_query = sa.union(
            sa.select(schedules.c.team_id).where(
                schedules.c.next_due <= now, schedules.c.active.is_(True)
            ),
            sa.select(alerts.c.team_id).where(alerts.c.pending.is_(True)),
        )

    def using(self, store: Datastore) -> OutboxRecorder:
        """This recorder on another datastore of the same dialect."""
        recorder = object.__new__(OutboxRecorder)
        recorder.__dict__.update(self.__dict__)
        recorder.store = store
        return recorder

    # -- reads inside a team's transaction -------------------------------------------
    def schedules(self, conn: Connection, team_id: str) -> list[ScheduledReport]:
        found = conn.execute(self.select_schedules, {"team_id": team_id}).all()
        scheduled = [_scheduled(row) for row in found]
        return sorted(scheduled, key=lambda s: s.schedule.schedule_id)

    def deliveries(
        self, conn: Connection, team_id: str, delivery_ids: Collection[str]
    ) -> dict[str, Delivery]:
        found: dict[str, Delivery] = {}
        firsts: dict[str, list[date]] = {}
        alert_ids: set[str] = set()
        for delivery_id in delivery_ids:
            if delivery_id.startswith(_REPORT):
                schedule_id, first = _report_key(delivery_id)
                firsts.setdefault(schedule_id, []).append(first)
            elif delivery_id.startswith(_ALERT):
                alert_ids.add(delivery_id.removeprefix(_ALERT))
        for schedule_id, days in firsts.items():
            params = {"team_id": team_id, "schedule_id": schedule_id, "firsts": days}
            for row in conn.execute(self.select_deliveries, params):
                if row.state is not None:
                    delivery = _delivery(team_id, f"{_REPORT}{schedule_id}:{row.period_first}", row)
                    found[delivery.delivery_id] = delivery
        if alert_ids:
            for alert_row in conn.execute(self.select_alerts, {"team_id": team_id}):
                if alert_row.alert_id in alert_ids and alert_row.state is not None:
                    delivery = _delivery(team_id, f"{_ALERT}{alert_row.alert_id}", alert_row)
                    found[delivery.delivery_id] = delivery
        return found

    def alerts(self, conn: Connection, team_id: str) -> list[LimitAlert]:
        found = conn.execute(self.select_alerts, {"team_id": team_id}).all()
        return sorted((_alert(team_id, row) for row in found), key=alert_order)

    # -- writes inside a team's transaction --------------------------------------------
    def write(
        self,
        conn: Connection,
        team_id: str,
        schedules: Collection[ScheduledReport],
        deliveries: Collection[Delivery],
        alerts: Collection[LimitAlert],
    ) -> None:
        """Store schedules and deliveries (each replacing its id's), add the new alerts."""
        for scheduled in schedules:
            values = _schedule_values(scheduled)
            where = {"key_team": team_id, "key_schedule": scheduled.schedule.schedule_id}
            changes = {f"new_{name}": values[name] for name in _SCHEDULE_COLUMNS}
            if conn.execute(self.update_schedule, {**where, **changes}).rowcount == 0:
                conn.execute(self.insert_schedule, values)
        if alerts:
            ids = [a.alert_id for a in alerts]
            found = conn.execute(self.alert_ids, {"team_id": team_id, "alert_ids": ids})
            stored = set(found.scalars())
            fresh = {a.alert_id: a for a in alerts if a.alert_id not in stored}
            for alert in fresh.values():
                conn.execute(self.insert_alert, _alert_values(alert))
        for delivery in deliveries:
            if delivery.delivery_id.startswith(_ALERT):
                values = {f"new_{k}": v for k, v in _delivery_values(delivery).items()}
                params: dict[str, object] = {
                    "key_team": team_id,
                    "key_alert": delivery.delivery_id.removeprefix(_ALERT),
                    "new_pending": not delivery.state.final,
                    **values,
                }
                conn.execute(self.deliver_alert, params)
            else:
                schedule_id, first = _report_key(delivery.delivery_id)
                key = {"team_id": team_id, "schedule_id": schedule_id, "period_first": first}
                conn.execute(self.delete_delivery, key)
                conn.execute(self.insert_delivery, {**key, **_delivery_values(delivery)})

    # -- across teams ----------------------------------------------------------------
    def due_teams(self, now: datetime) -> list[str]:
        def work(conn: Connection) -> list[str]:
            found = conn.execute(self.due_teams_query, {"now": rows.micros(now)}).scalars()
            return sorted(set(found))

        return self.store.transaction("find the teams with reports due", work, write=False)


def _report_key(delivery_id: str) -> tuple[str, date]:
    # report:<schedule_id>:<YYYY-MM-DD>; the schedule id may hold colons.
    schedule_id, _, first = delivery_id.removeprefix(_REPORT).rpartition(":")
    return schedule_id, date.fromisoformat(first)


def _instant(micros: int | None) -> datetime | None:
    return None if micros is None else rows.from_micros(micros)


def _scheduled(row: sa.Row[Any]) -> ScheduledReport:
    return ScheduledReport(
        schedule=ReportSchedule(
            schedule_id=row.schedule_id,
            team_id=row.team_id,
            frequency=row.frequency,
            recipients=tuple(json.loads(row.recipients)),
            created_by=row.created_by,
            created_at=rows.from_micros(row.created_at),
            active=bool(row.active),
        ),
        next_due=_instant(row.next_due),
    )


def _schedule_values(scheduled: ScheduledReport) -> dict[str, object]:
    schedule = scheduled.schedule
    return {
        "team_id": schedule.team_id,
        "schedule_id": schedule.schedule_id,
        "frequency": schedule.frequency.value,
        "recipients": json.dumps(list(schedule.recipients)),
        "created_by": schedule.created_by,
        "created_at": rows.micros(schedule.created_at),
        "active": schedule.active,
        "next_due": None if scheduled.next_due is None else rows.micros(scheduled.next_due),
    }


def _delivery(team_id: str, delivery_id: str, row: sa.Row[Any]) -> Delivery:
    return Delivery(
        team_id=team_id,
        delivery_id=delivery_id,
        state=DeliveryState(row.state),
        message_id=row.message_id,
        claimed_at=_instant(row.claimed_at),
        attempts=int(row.attempts),
        error=row.error,
        finished_at=_instant(row.finished_at),
    )


def _delivery_values(delivery: Delivery) -> dict[str, object]:
    return {
        "state": delivery.state.value,
        "message_id": delivery.message_id,
        "claimed_at": None if delivery.claimed_at is None else rows.micros(delivery.claimed_at),
        "attempts": delivery.attempts,
        "error": delivery.error,
        "finished_at": None if delivery.finished_at is None else rows.micros(delivery.finished_at),
    }


def _alert(team_id: str, row: sa.Row[Any]) -> LimitAlert:
    return LimitAlert(
        team_id=team_id,
        alert_id=row.alert_id,
        cycle=row.cycle,
        scope=row.scope,
        subject_id=row.subject_id,
        credit_type=row.credit_type or None,
        threshold=int(row.threshold),
        limit=int(row.limit_credits),
        used=int(row.used),
        created_at=rows.from_micros(row.created_at),
    )


def _alert_values(alert: LimitAlert) -> dict[str, object]:
    return {
        "team_id": alert.team_id,
        "alert_id": alert.alert_id,
        "cycle": alert.cycle,
        "scope": alert.scope,
        "subject_id": alert.subject_id,
        "credit_type": alert.credit_type or "",
        "threshold": alert.threshold,
        "limit_credits": alert.limit,
        "used": alert.used,
        "created_at": rows.micros(alert.created_at),
        "pending": True,
        "attempts": 0,
    }
