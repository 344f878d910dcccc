"""Limit alerts: a write that takes a member, a group or the team's pool past 75 % or 100 %.

An alert is recorded in the same transaction as the write that crosses the
threshold (an outbox row), once per subject, threshold, cycle and budget --
so racing writers record exactly one, and a limit raised back above a
threshold can be crossed, and alerted, again. The team's pool counts as a
budget of ``credits_per_cycle`` plus the cycle's grants.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import date, datetime

from attrs import frozen

from credit_usage.domain.ledger import ALL_TYPES, TEAM_SCOPE, Balance, BalanceKey, Batch
from credit_usage.domain.limits import limit_key
from credit_usage.domain.model import CreditLimit, Team

__all__ = ["THRESHOLDS", "LimitAlert", "alert_id", "alert_order", "crossings"]

#: The shares of a budget, in percent, whose crossing is alerted.
THRESHOLDS = (75, 100)


@frozen(kw_only=True)
class LimitAlert:
    """A write took ``subject_id`` (of ``scope`` team, user or group) past ``threshold`` %.

    ``limit`` is the budget crossed (the limit's credits, or the pool's total),
    ``used`` what was used in the cycle right after the write; ``cycle`` the
    cycle's first local day. ``credit_type`` is ``None`` for all types.
    """

    team_id: str
    alert_id: str
    cycle: date
    scope: str
    subject_id: str
    credit_type: str | None
    threshold: int
    limit: int
    used: int
    created_at: datetime


def alert_order(alert: LimitAlert) -> tuple[datetime, str, str, str, int, int, int]:
    """The order alerts are listed in: oldest first, then by subject, then as crossed.

    Within one instant and subject, usage only grows from one crossing to
    the next, so ``(used, threshold)`` is the order in which they happened.
    """
    return (
        alert.created_at,
        alert.scope,
        alert.subject_id,
        alert.credit_type or "",
        alert.used,
        alert.limit,
        alert.threshold,
    )


def alert_id(key: BalanceKey, threshold: int, limit: int) -> str:
    """The stable id of the crossing of ``threshold`` % of ``limit`` on ``key``'s balance."""
    digest = hashlib.sha256()
    for part in (key.cycle.isoformat(), key.scope, key.subject_id, key.credit_type):
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(4, "big") + data)
    digest.update(f"{threshold}:{limit}".encode())
    return digest.hexdigest()[:32]


def crossings(
    team: Team,
    batch: Batch,
    balances: Mapping[BalanceKey, Balance],
    limits: Iterable[CreditLimit],
    now: datetime,
) -> list[LimitAlert]:
    """The alerts ``batch`` raises: every threshold it takes a budget across.

    ``balances`` are the stored balances before the batch. A threshold is
    crossed when usage was below it before the batch and is at or above it
    after (exact integer arithmetic: ``used * 100`` against
    ``threshold * limit``). Budgets of 0 raise no alert.
    """
    by_key = {limit_key(limit): limit.credits for limit in limits}
    alerts = []
    for key, delta in sorted(batch.balances.items()):
        if delta.used <= 0:
            continue
        stored = balances.get(key, Balance())
        if key.scope == TEAM_SCOPE:
            budget: int | None = team.credits_per_cycle + stored.granted + delta.granted
        else:
            budget = by_key.get((key.scope, key.subject_id, key.credit_type))
        if not budget:
            continue
        before, after = stored.used, stored.used + delta.used
        for threshold in THRESHOLDS:
            if before * 100 < threshold * budget <= after * 100:
                alerts.append(
                    LimitAlert(
                        team_id=team.team_id,
                        alert_id=alert_id(key, threshold, budget),
                        cycle=key.cycle,
                        scope=key.scope,
                        subject_id=key.subject_id,
                        credit_type=None if key.credit_type == ALL_TYPES else key.credit_type,
                        threshold=threshold,
                        limit=budget,
                        used=after,
                        created_at=now,
                    )
                )
    return alerts
