"""Unusual usage: the findings an Admin or Manager reads before the credits are gone.

The figures are gathered in one read transaction -- each member's usage in
the period, their usage in the three cycles before it, every limit and what
was used against it in the current cycle -- and judged by the pure rules of
:mod:`credit_usage.domain.unusual`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from credit_usage.domain.access import Action
from credit_usage.domain.aggregate import UsageCell
from credit_usage.domain.cycles import Cycle, DateRange
from credit_usage.domain.ledger import Balance
from credit_usage.domain.limits import balance_key
from credit_usage.domain.model import Team
from credit_usage.domain.unusual import Finding, LimitUsage, find_unusual
from credit_usage.domain.validation import require_id
from credit_usage.errors import ValidationError
from credit_usage.ports import TeamReads
from credit_usage.service.context import Context
from credit_usage.service.reads import usage_cells

__all__ = ["unusual_usage"]


def unusual_usage(
    ctx: Context,
    viewer_id: str,
    team_id: str,
    *,
    period: DateRange | Cycle | None,
    z_threshold: float,
    history_ratio: float,
    near_limit: float,
) -> list[Finding]:
    """The team's unusual usage; see :meth:`credit_usage.CreditUsage.unusual_usage`."""
    require_id("viewer_id", viewer_id)
    require_id("team_id", team_id)
    if period is not None and not isinstance(period, DateRange | Cycle):
        raise ValidationError(
            f"period must be a DateRange or a Cycle, got {period!r}", field="period"
        )
    now = ctx.now()

    def query(tx: TeamReads) -> list[Finding]:
        team = ctx.authorize(tx, viewer_id, Action.VIEW_TEAM_USAGE)
        current = team.cycle_at(now)
        days = ctx.period(team, period, now)
        members = tx.members()
        usage = dict.fromkeys((m.user_id for m in members if m.active), 0)
        for user_id, credits in _per_user(usage_cells(tx, team, days)).items():
            usage[user_id] = usage.get(user_id, 0) + credits
        first = team.cycle_at(days.start(team.tz))
        whole = first.first_day == days.first and first.last_day == days.last
        return find_unusual(
            usage,
            names={m.user_id: m.name for m in members},
            history=_history(tx, team, first) if whole else None,
            elapsed=_elapsed(first, now) if first == current else 1.0,
            limits=_limit_usage(tx, current),
            z_threshold=z_threshold,
            history_ratio=history_ratio,
            near_limit=near_limit,
        )

    return ctx.read_as(viewer_id, team_id, query)


def _per_user(cells: list[UsageCell]) -> dict[str, int]:
    totals: defaultdict[str, int] = defaultdict(int)
    for cell in cells:
        totals[cell.user_id] += cell.credits
    return totals


#: How many cycles before the period a member's own history covers.
HISTORY_CYCLES = 3


def _history(tx: TeamReads, team: Team, cycle: Cycle) -> dict[str, list[int]]:
    """Each member's usage in the cycles before ``cycle``, oldest first (absent: 0)."""
    before = [team.billing.cycle(cycle.index - k, team.tz) for k in range(HISTORY_CYCLES, 0, -1)]
    per_cycle = [_per_user(tx.usage_in_cycles(c.first_day, c.first_day)) for c in before]
    users = {user_id for totals in per_cycle for user_id in totals}
    return {user_id: [totals.get(user_id, 0) for totals in per_cycle] for user_id in users}


def _elapsed(cycle: Cycle, now: datetime) -> float:
    """The share of ``cycle`` elapsed at ``now``, in (0, 1]."""
    share = (now - cycle.start) / (cycle.end - cycle.start)
    return min(1.0, max(share, 1e-9))


def _limit_usage(tx: TeamReads, cycle: Cycle) -> list[LimitUsage]:
    limits = tx.limits()
    if not limits:
        return []
    keys = {limit: balance_key(limit, cycle.first_day) for limit in limits}
    balances = tx.balances(list(keys.values()))
    return [
        LimitUsage(
            scope=limit.scope,
            subject_id=limit.subject_id,
            credit_type=limit.credit_type,
            limit=limit.credits,
            used=balances.get(key, Balance()).used,
        )
        for limit, key in keys.items()
    ]
