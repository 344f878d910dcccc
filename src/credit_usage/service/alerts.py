"""Limit alerts: listed for a host, and emailed to the team's active Admins.

An alert is recorded by the write that crosses a threshold (see
:mod:`credit_usage.domain.alerts`); ``deliver_alerts()`` -- which
``run_due_reports()`` also runs -- emails each one once, claimed before
sending and marked after, as reports are.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from credit_usage.domain.access import Action
from credit_usage.domain.alerts import LimitAlert
from credit_usage.domain.cycles import local_midnight
from credit_usage.domain.delivery import (
    Delivery,
    DeliveryState,
    alert_delivery_id,
    claim,
    describe_failure,
    finish,
)
from credit_usage.domain.ledger import Batch
from credit_usage.domain.model import Role, Team
from credit_usage.domain.schedules import MAX_RECIPIENTS, require_recipients
from credit_usage.domain.validation import require_id
from credit_usage.errors import CreditUsageError, ValidationError
from credit_usage.ports import Decision, TeamReads
from credit_usage.service.context import Context
from credit_usage.service.deliveries import mark

if TYPE_CHECKING:
    from email.message import EmailMessage

__all__ = ["deliver_alerts", "list_alerts"]

log = logging.getLogger("credit_usage.alerts")


def list_alerts(ctx: Context, viewer_id: str, team_id: str) -> list[LimitAlert]:
    """The team's alerts; see :meth:`credit_usage.CreditUsage.list_alerts`."""
    require_id("viewer_id", viewer_id)
    require_id("team_id", team_id)

    def query(tx: TeamReads) -> list[LimitAlert]:
        ctx.authorize(tx, viewer_id, Action.VIEW_TEAM_USAGE)
        return tx.alerts()

    return ctx.read_as(viewer_id, team_id, query)


def deliver_alerts(ctx: Context, *, lease: timedelta) -> int:
    """Email every undelivered alert; how many were sent."""
    if ctx.mailer is None:
        return 0
    now = ctx.now()
    sent = 0
    for team_id in ctx.storage.due_teams(now):
        try:
            sent += _deliver_team(ctx, team_id, now, lease)
        except CreditUsageError:
            log.exception("could not deliver the alerts of team %r", team_id)
    return sent


def _deliver_team(ctx: Context, team_id: str, now: datetime, lease: timedelta) -> int:
    # Composing mail loads the email package: only when there is mail to send.
    from credit_usage.reports.message import report_message_id

    domain = ctx.sender.rpartition("@")[2] or "localhost"

    def plan(tx: TeamReads) -> Decision[list[tuple[Delivery, EmailMessage]]]:
        alerts = tx.alerts()
        stored = tx.deliveries([alert_delivery_id(a.alert_id) for a in alerts])
        admins = _sendable([m.email for m in tx.members() if m.active and m.role is Role.ADMIN])
        deliveries: list[Delivery] = []
        to_send: list[tuple[Delivery, EmailMessage]] = []
        for alert in alerts:
            delivery_id = alert_delivery_id(alert.alert_id)
            message_id = report_message_id(
                team_id=team_id,
                schedule_id=delivery_id,
                first=alert.cycle,
                last=alert.cycle,
                domain=domain,
            )
            taken = claim(
                stored.get(delivery_id),
                team_id=team_id,
                delivery_id=delivery_id,
                message_id=message_id,
                now=now,
                lease=lease,
            )
            if taken is None:
                continue
            if not admins:
                reason = "the team has no active Admin to tell"
                deliveries.append(finish(taken, DeliveryState.SKIPPED, now=now, error=reason))
                continue
            deliveries.append(taken)
            to_send.append((taken, _message(ctx, tx, tx.team, alert, admins, taken)))
        return Decision(Batch.empty(), to_send, set_deliveries=tuple(deliveries))

    sent = 0
    for delivery, message in ctx.storage.append(team_id, plan):
        try:
            assert ctx.mailer is not None  # checked by deliver_alerts
            ctx.mailer.send(message)
        except Exception as exc:  # One failure never stops the other alerts.
            mark(ctx, team_id, delivery, DeliveryState.FAILED, now, describe_failure(exc))
            continue
        mark(ctx, team_id, delivery, DeliveryState.SENT, now, None)
        sent += 1
    return sent


def _sendable(emails: list[str]) -> list[str]:
    """The addresses a message can be sent to: a member's email may be one
    a report could not carry (not ASCII, say), and is then left out."""
    sendable: list[str] = []
    for address in emails:
        try:
            sendable += require_recipients([address], max_recipients=1)
        except ValidationError:
            log.warning("an Admin's email %r cannot receive alerts; left out", address)
    if not sendable:
        return []
    # Each once, whatever its case; at most as many as one message may carry.
    return list(require_recipients(sendable[:MAX_RECIPIENTS], max_recipients=MAX_RECIPIENTS))


def _message(
    ctx: Context,
    tx: TeamReads,
    team: Team,
    alert: LimitAlert,
    admins: list[str],
    delivery: Delivery,
) -> EmailMessage:
    from credit_usage.reports.message import alert_message

    if alert.scope == "team":
        subject = "The team's pool"
    elif alert.scope == "group":
        group = {g.group_id: g for g in tx.groups()}.get(alert.subject_id)
        subject = group.name if group is not None else alert.subject_id
    else:
        member = tx.member(alert.subject_id)
        subject = member.name if member is not None else alert.subject_id
    # The cycle of the crossing, which a backdated write may place before today's.
    cycle = team.cycle_at(local_midnight(alert.cycle, team.tz))
    return alert_message(
        team_name=team.name,
        subject_name=subject,
        scope=alert.scope,
        credit_type=alert.credit_type,
        threshold_percent=alert.threshold,
        used=alert.used,
        limit=alert.limit,
        cycle=cycle.date_range,
        sender=ctx.sender,
        recipients=admins,
        message_id=delivery.message_id or "",
        date=alert.created_at,
    )
