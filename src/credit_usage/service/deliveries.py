"""Marking a claimed email sent or failed: shared by reports and alerts."""

from __future__ import annotations

from datetime import datetime

from credit_usage.domain.delivery import Delivery, DeliveryState, finish
from credit_usage.domain.ledger import Batch
from credit_usage.ports import Decision, TeamReads
from credit_usage.service.context import Context

__all__ = ["mark"]


def mark(
    ctx: Context,
    team_id: str,
    delivery: Delivery,
    state: DeliveryState,
    now: datetime,
    error: str | None,
) -> None:
    """Record ``delivery`` as ``state`` (sent or failed), in its team's locked write.

    If the claim is no longer this sender's -- another worker took it over
    after the lease, or it is final already -- nothing is written.
    """

    def plan(tx: TeamReads) -> Decision[None]:
        current = tx.deliveries([delivery.delivery_id]).get(delivery.delivery_id)
        if current is None or current.state.final or current.claimed_at != delivery.claimed_at:
            return Decision(Batch.empty(), None)
        return Decision(
            Batch.empty(), None, set_deliveries=(finish(current, state, now=now, error=error),)
        )

    ctx.storage.append(team_id, plan)
