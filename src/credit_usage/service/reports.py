"""Automated usage reports: schedules, and the worker that sends what is due.

``run_due_reports()`` asks storage which teams have work (the one read
across teams), then, team by team: claims every due, undelivered period of
every active schedule in one locked write -- or records it ``skipped``, for
good, while the team's plan is not eligible or the schedule's creator is no
longer an active Admin or Manager -- sends each claimed report, and marks it
sent or failed. A crash between sending and marking leaves a claim that
expires after the lease; the period is then sent again, with the same
``Message-ID``, so mail systems drop the copy, and no period is ever skipped
silently.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from attrs import evolve, frozen

from credit_usage.domain.access import Action
from credit_usage.domain.delivery import (
    Delivery,
    DeliveryState,
    ScheduledReport,
    claim,
    describe_failure,
    finish,
    report_delivery_id,
)
from credit_usage.domain.ledger import Balance, Batch, team_key
from credit_usage.domain.model import Frequency, Role, Team
from credit_usage.domain.schedules import (
    DeliveryResult,
    DeliveryStatus,
    ReportPeriod,
    ReportSchedule,
    due_periods,
    next_due,
    report_period_at,
    require_recipients,
)
from credit_usage.domain.validation import require_id, to_enum
from credit_usage.errors import CreditUsageError, NotFoundError, ValidationError
from credit_usage.ports import Decision, TeamReads
from credit_usage.service.context import Context
from credit_usage.service.deliveries import mark
from credit_usage.service.reads import build_period_report

if TYPE_CHECKING:
    from email.message import EmailMessage

__all__ = ["cancel_report", "list_reports", "run_due_reports", "schedule_report"]

log = logging.getLogger("credit_usage.reports")


def schedule_report(
    ctx: Context,
    viewer_id: str,
    team_id: str,
    *,
    frequency: Frequency | str,
    recipients: Iterable[str],
) -> ReportSchedule:
    """Schedule a report; see :meth:`credit_usage.CreditUsage.schedule_report`."""
    require_id("viewer_id", viewer_id)
    require_id("team_id", team_id)
    frequency = to_enum(Frequency, frequency)
    addresses = require_recipients(recipients, max_recipients=ctx.max_recipients)
    now = ctx.now()
    schedule_id = f"rs-{secrets.token_hex(8)}"

    def plan(tx: TeamReads) -> Decision[ReportSchedule]:
        team = ctx.authorize(tx, viewer_id, Action.SCHEDULE_REPORTS)
        schedule = ReportSchedule(
            schedule_id=schedule_id,
            team_id=team_id,
            frequency=frequency,
            recipients=addresses,
            created_by=viewer_id,
            created_at=now,
        )
        due = report_period_at(frequency, team, now).end
        return Decision(
            Batch.empty(),
            schedule,
            set_schedules=(ScheduledReport(schedule=schedule, next_due=due),),
        )

    return ctx.write_as(viewer_id, team_id, plan)


def cancel_report(ctx: Context, viewer_id: str, team_id: str, schedule_id: str) -> ReportSchedule:
    """Cancel a schedule; see :meth:`credit_usage.CreditUsage.cancel_report`."""
    require_id("viewer_id", viewer_id)
    require_id("team_id", team_id)
    require_id("schedule_id", schedule_id)

    def plan(tx: TeamReads) -> Decision[ReportSchedule]:
        ctx.authorize(tx, viewer_id, Action.SCHEDULE_REPORTS)
        found = {s.schedule.schedule_id: s for s in tx.schedules()}.get(schedule_id)
        if found is None or not found.schedule.active:
            raise NotFoundError(
                f"team {team_id!r} has no active report schedule {schedule_id!r}",
                team_id=team_id,
                resource="schedule",
                resource_id=schedule_id,
            )
        cancelled = evolve(found.schedule, active=False)
        return Decision(
            Batch.empty(),
            cancelled,
            set_schedules=(ScheduledReport(schedule=cancelled, next_due=None),),
        )

    return ctx.write_as(viewer_id, team_id, plan)


def list_reports(ctx: Context, viewer_id: str, team_id: str) -> list[ReportSchedule]:
    """The active schedules; see :meth:`credit_usage.CreditUsage.list_reports`."""
    require_id("viewer_id", viewer_id)
    require_id("team_id", team_id)

    def query(tx: TeamReads) -> list[ReportSchedule]:
        ctx.authorize(tx, viewer_id, Action.SCHEDULE_REPORTS)
        return [s.schedule for s in tx.schedules() if s.schedule.active]

    return ctx.read_as(viewer_id, team_id, query)


@frozen(kw_only=True)
class _Claimed:
    """A report this worker claimed and is to send."""

    scheduled: ScheduledReport
    period: ReportPeriod
    delivery: Delivery


def run_due_reports(ctx: Context, *, lease: timedelta) -> list[DeliveryResult]:
    """Send every due report; see :meth:`credit_usage.CreditUsage.run_due_reports`."""
    if ctx.mailer is None:
        raise ValidationError(
            "run_due_reports() needs a mailer: CreditUsage(storage, mailer=SmtpMailer(...))",
            field="mailer",
        )
    now = ctx.now()
    results: list[DeliveryResult] = []
    for team_id in ctx.storage.due_teams(now):
        try:
            results += _run_team(ctx, team_id, now, lease)
        except CreditUsageError:
            # One team's trouble (a storage error, say) never stops the others;
            # its reports stay due for the next run.
            log.exception("could not run the due reports of team %r", team_id)
    return results


def _run_team(ctx: Context, team_id: str, now: datetime, lease: timedelta) -> list[DeliveryResult]:
    # Composing mail loads the email package: only when there is mail to send.
    from credit_usage.reports.message import report_message_id

    domain = ctx.sender.rpartition("@")[2] or "localhost"

    def plan(tx: TeamReads) -> Decision[tuple[list[_Claimed], list[DeliveryResult]]]:
        team = tx.team
        claimed: list[_Claimed] = []
        skipped: list[DeliveryResult] = []
        deliveries: list[Delivery] = []
        schedules: list[ScheduledReport] = []
        for scheduled in tx.schedules():
            schedule = scheduled.schedule
            if not schedule.active or scheduled.next_due is None or scheduled.next_due > now:
                continue
            periods = due_periods(schedule.frequency, team, created_at=schedule.created_at, now=now)
            ids = {report_delivery_id(schedule.schedule_id, p.days.first): p for p in periods}
            stored = tx.deliveries(list(ids))
            reason = _skip_reason(ctx, tx, team, schedule)
            open_end: datetime | None = None
            for delivery_id, period in ids.items():
                existing = stored.get(delivery_id)
                if existing is not None and existing.state.final:
                    continue
                message_id = report_message_id(
                    team_id=team_id,
                    schedule_id=schedule.schedule_id,
                    first=period.days.first,
                    last=period.days.last,
                    domain=domain,
                )
                taken = claim(
                    existing,
                    team_id=team_id,
                    delivery_id=delivery_id,
                    message_id=message_id,
                    now=now,
                    lease=lease,
                )
                if taken is None:  # another worker holds it
                    open_end = open_end or period.end
                    continue
                if reason is not None:
                    deliveries.append(finish(taken, DeliveryState.SKIPPED, now=now, error=reason))
                    skipped.append(_result(schedule, period, DeliveryStatus.SKIPPED, taken, reason))
                    continue
                deliveries.append(taken)
                claimed.append(_Claimed(scheduled=scheduled, period=period, delivery=taken))
                open_end = open_end or period.end
            due = open_end or next_due(
                schedule.frequency, team, created_at=schedule.created_at, now=now
            )
            schedules.append(evolve(scheduled, next_due=due))
        return Decision(
            Batch.empty(),
            (claimed, skipped),
            set_schedules=tuple(schedules),
            set_deliveries=tuple(deliveries),
        )

    claimed, results = ctx.storage.append(team_id, plan)
    for job in claimed:
        results.append(_send(ctx, team_id, job, now))
    return results


def _skip_reason(ctx: Context, tx: TeamReads, team: Team, schedule: ReportSchedule) -> str | None:
    """Why the schedule's periods are skipped now, or ``None`` to send them."""
    if team.plan not in ctx.eligible_plans:
        return f"team {team.team_id!r} is on the {team.plan!r} plan, which has no reports"
    creator = tx.member(schedule.created_by)
    if creator is None or not creator.active or creator.role not in (Role.ADMIN, Role.MANAGER):
        return (
            f"the schedule's creator {schedule.created_by!r} is no longer an active "
            "Admin or Manager of the team"
        )
    return None


def _send(ctx: Context, team_id: str, job: _Claimed, now: datetime) -> DeliveryResult:
    schedule, period = job.scheduled.schedule, job.period
    try:
        message = ctx.storage.read(
            team_id, lambda tx: _compose(ctx, tx, schedule, period, job.delivery, now)
        )
        assert ctx.mailer is not None  # checked by run_due_reports
        ctx.mailer.send(message)
    except Exception as exc:  # A failure of one report never stops the others.
        error = describe_failure(exc)
        log.warning("report %s of %s failed: %s", schedule.schedule_id, period.days, error)
        mark(ctx, team_id, job.delivery, DeliveryState.FAILED, now, error)
        return _result(schedule, period, DeliveryStatus.FAILED, job.delivery, error)
    mark(ctx, team_id, job.delivery, DeliveryState.SENT, now, None)
    return _result(schedule, period, DeliveryStatus.SENT, job.delivery, None)


def _compose(
    ctx: Context,
    tx: TeamReads,
    schedule: ReportSchedule,
    period: ReportPeriod,
    delivery: Delivery,
    now: datetime,
) -> EmailMessage:
    from credit_usage.reports.message import report_message

    team = tx.team
    report = build_period_report(tx, team, period.days, now)
    cycle = team.cycle_at(period.end - timedelta(microseconds=1))
    pool = tx.balances([team_key(cycle.first_day)]).get(team_key(cycle.first_day), Balance())
    total = team.credits_per_cycle + pool.granted
    return report_message(
        team_name=team.name,
        team_id=team.team_id,
        report=report,
        total_credits=total,
        remaining=total - pool.used,
        sender=ctx.sender,
        recipients=schedule.recipients,
        message_id=delivery.message_id or "",
        date=period.end,
    )


def _result(
    schedule: ReportSchedule,
    period: ReportPeriod,
    status: DeliveryStatus,
    delivery: Delivery,
    error: str | None,
) -> DeliveryResult:
    return DeliveryResult(
        schedule_id=schedule.schedule_id,
        team_id=schedule.team_id,
        period=period.days,
        status=status,
        message_id=None if status is DeliveryStatus.SKIPPED else delivery.message_id,
        error=error,
    )
