"""Reading usage: the live snapshot, one member's usage, reports and exports.

Each read runs in one storage transaction (:meth:`~credit_usage.ports.Ledger.read`):
the viewer's role, the team, its members and the figures all come from one
state, so a snapshot's ``used`` always equals the sum of its member rows
when it covers the whole cycle.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, TextIO

from credit_usage.domain.access import Action
from credit_usage.domain.aggregate import UsageCell
from credit_usage.domain.cycles import Cycle, DateRange
from credit_usage.domain.forecast import pace
from credit_usage.domain.ledger import Balance, team_key
from credit_usage.domain.limits import limit_states, user_limit_keys
from credit_usage.domain.model import CreditLimit, Team
from credit_usage.domain.results import (
    LimitState,
    MemberUsage,
    Report,
    Snapshot,
    build_member_usage,
    build_report,
    snapshot_members,
)
from credit_usage.domain.validation import require_id
from credit_usage.errors import NotFoundError, RangeOutsideCycleError, ValidationError
from credit_usage.ports import TeamReads
from credit_usage.reports.csv_writer import write_ledger_rows, write_report_csv
from credit_usage.service.context import Context, require_instance

__all__ = [
    "export_csv",
    "export_ledger_csv",
    "member_usage",
    "snapshot",
    "usage_report",
]

Period = DateRange | Cycle
_TICK = timedelta(microseconds=1)


def snapshot(
    ctx: Context, viewer_id: str, team_id: str, *, date_range: DateRange | None
) -> Snapshot:
    """The live Analytics view; see :meth:`credit_usage.CreditUsage.snapshot`."""
    _require_ids(viewer_id, team_id)
    if date_range is not None:
        require_instance(DateRange, date_range)
    now = ctx.now()

    def query(tx: TeamReads) -> Snapshot:
        team = ctx.authorize(tx, viewer_id, Action.VIEW_TEAM_USAGE)
        cycle = team.cycle_at(now)
        if date_range is None:
            sums = tx.member_sums_in_cycles(cycle.first_day, cycle.first_day)
        else:
            if date_range.first < cycle.first_day or date_range.last > cycle.last_day:
                raise RangeOutsideCycleError(
                    f"date range {date_range} is not inside the current billing cycle "
                    f"{cycle.date_range}; use usage_report() or export_csv() for other periods",
                    field="date_range",
                    first=date_range.first,
                    last=date_range.last,
                    cycle_first_day=cycle.first_day,
                    cycle_last_day=cycle.last_day,
                )
            sums = tx.member_sums_on_days(date_range.first, date_range.last)
        limits = tx.limits()
        pool = team_key(cycle.first_day)
        balances = tx.balances([pool, *user_limit_keys(limits, cycle.first_day)])
        balance = balances.get(pool, Balance())
        total = team.credits_per_cycle + balance.granted
        states = limit_states(limits, cycle.first_day, balances)
        forecasts = {
            user_id: pace(state.used, state.limit, cycle, now, team.tz)
            for user_id, state in states.items()
            if state.limit is not None
        }
        projected = pace(balance.used, total, cycle, now, team.tz)
        return Snapshot(
            team_id=team_id,
            cycle=cycle,
            date_range=date_range,
            total_credits=total,
            used=balance.used,
            remaining=total - balance.used,
            members=snapshot_members(team, tx.members(), sums, states, forecasts),
            projected_used=projected.projected_used,
            runs_out_on=projected.runs_out_on,
        )

    return ctx.read_as(viewer_id, team_id, query)


def member_usage(
    ctx: Context, viewer_id: str, team_id: str, user_id: str, *, period: Period | None
) -> MemberUsage:
    """One member's usage; see :meth:`credit_usage.CreditUsage.member_usage`."""
    _require_ids(viewer_id, team_id)
    require_id("user_id", user_id)
    now = ctx.now()

    def query(tx: TeamReads) -> MemberUsage:
        team = ctx.authorize(tx, viewer_id, Action.VIEW_OWN_USAGE, subject=user_id)
        member = tx.member(user_id)
        if member is None:
            raise NotFoundError(
                f"user {user_id!r} is not a member of team {team_id!r}",
                team_id=team_id,
                resource="user",
                resource_id=user_id,
            )
        cells = usage_cells(tx, team, ctx.period(team, period, now))
        return build_member_usage(team, member, cells, _states(tx, team, now).get(user_id))

    return ctx.read_as(viewer_id, team_id, query)


def usage_report(ctx: Context, viewer_id: str, team_id: str, period: Period) -> Report:
    """Usage of any period; see :meth:`credit_usage.CreditUsage.usage_report`."""
    _require_ids(viewer_id, team_id)
    _require_period(period)
    now = ctx.now()

    def query(tx: TeamReads) -> Report:
        team = ctx.authorize(tx, viewer_id, Action.EXPORT)
        return build_period_report(tx, team, ctx.period(team, period, now), now)

    return ctx.read_as(viewer_id, team_id, query)


def export_csv(
    ctx: Context,
    viewer_id: str,
    team_id: str,
    period: Period,
    out: TextIO,
    *,
    layout: Literal["wide", "long"],
    excel: bool,
) -> int:
    """Write a usage report as CSV; see :meth:`credit_usage.CreditUsage.export_csv`."""
    if layout not in ("wide", "long"):
        raise ValidationError(f"layout must be 'wide' or 'long', got {layout!r}")
    report = usage_report(ctx, viewer_id, team_id, period)
    # Written after the transaction: a slow stream keeps no transaction open.
    rows = report.rows if layout == "wide" else report.long_rows()
    return write_report_csv(
        rows,
        out,
        features=report.features,
        layout=layout,
        excel=excel,
        limit_columns=bool(report.limits),
    )


def export_ledger_csv(
    ctx: Context, viewer_id: str, team_id: str, period: Period, out: TextIO
) -> int:
    """Stream a period's ledger as CSV; see :meth:`credit_usage.CreditUsage.export_ledger_csv`."""
    _require_ids(viewer_id, team_id)
    _require_period(period)
    now = ctx.now()

    def query(tx: TeamReads) -> int:
        team = ctx.authorize(tx, viewer_id, Action.EXPORT)
        days = ctx.period(team, period, now)
        # Streamed inside the transaction: one consistent ledger, constant memory.
        rows = tx.iter_ledger_rows(days.start(team.tz), days.end(team.tz))
        return write_ledger_rows(rows, out)

    return ctx.read_as(viewer_id, team_id, query)


def _require_ids(viewer_id: str, team_id: str) -> None:
    require_id("viewer_id", viewer_id)
    require_id("team_id", team_id)


def _require_period(period: object) -> None:
    if not isinstance(period, DateRange | Cycle):
        raise ValidationError(f"period must be a DateRange or a Cycle, got {period!r}")


def usage_cells(tx: TeamReads, team: Team, days: DateRange) -> list[UsageCell]:
    """Net usage cells of ``days``: from cycle counters when the days are whole cycles.

    Only the first and the last cycle are worked out, so a period of a
    hundred thousand cycles costs no more than one of two.
    """
    first = team.cycle_at(days.start(team.tz))
    last = team.cycle_at(days.end(team.tz) - _TICK)
    if first.first_day == days.first and last.last_day == days.last:
        return tx.usage_in_cycles(first.first_day, last.first_day)
    return tx.usage_on_days(days.first, days.last)


def build_period_report(tx: TeamReads, team: Team, days: DateRange, now: datetime) -> Report:
    """The usage report of ``days``, with the limits as they stand in the cycle of ``now``."""
    groups = {g.group_id: g for g in tx.groups()}
    cells = usage_cells(tx, team, days)
    limits = tx.limits()
    states = _states(tx, team, now, limits)
    return build_report(team, days, tx.members(), groups, cells, limits=limits, states=states)


def _states(
    tx: TeamReads, team: Team, now: datetime, limits: list[CreditLimit] | None = None
) -> dict[str, LimitState]:
    """The user limits in the cycle of ``now`` and what was used against them."""
    limits = tx.limits() if limits is None else limits
    if not limits:
        return {}
    cycle = team.cycle_at(now).first_day
    return limit_states(limits, cycle, tx.balances(user_limit_keys(limits, cycle)))
