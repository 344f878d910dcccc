"""Setting credit limits: caps per user or group per billing cycle, Admin only.

A limit change is a write of the team: the viewer's role, the plan, the
subject and the credit type are read and checked inside the same locked
transaction that stores it, as a ledger write is.
"""

from __future__ import annotations

from credit_usage.domain.access import Action
from credit_usage.domain.ledger import Batch
from credit_usage.domain.limits import limit_key, require_limit_fits
from credit_usage.domain.model import CreditLimit
from credit_usage.domain.validation import require_id
from credit_usage.errors import NotFoundError
from credit_usage.ports import Decision, TeamReads
from credit_usage.service.context import Context, require_instance

__all__ = ["list_credit_limits", "remove_credit_limit", "set_credit_limit"]


def set_credit_limit(ctx: Context, viewer_id: str, team_id: str, limit: CreditLimit) -> CreditLimit:
    """Create or replace a limit; see :meth:`credit_usage.CreditUsage.set_credit_limit`."""
    _require(viewer_id, team_id, limit)

    def plan(tx: TeamReads) -> Decision[CreditLimit]:
        team = ctx.authorize(tx, viewer_id, Action.MANAGE_LIMITS)
        users = [m.user_id for m in tx.members()]
        groups = [g.group_id for g in tx.groups()]
        require_limit_fits(team, limit, users, groups)
        return Decision(Batch.empty(), limit, set_limits=(limit,))

    return ctx.write_as(viewer_id, team_id, plan)


def remove_credit_limit(
    ctx: Context, viewer_id: str, team_id: str, limit: CreditLimit
) -> CreditLimit:
    """Remove the limit of the same scope, subject and credit type; the one removed."""
    _require(viewer_id, team_id, limit)

    def plan(tx: TeamReads) -> Decision[CreditLimit]:
        ctx.authorize(tx, viewer_id, Action.MANAGE_LIMITS)
        stored = {limit_key(found): found for found in tx.limits()}.get(limit_key(limit))
        if stored is None:
            kind = f" on {limit.credit_type}" if limit.credit_type else ""
            raise NotFoundError(
                f"{limit.scope} {limit.subject_id!r} has no credit limit{kind} in team {team_id!r}",
                team_id=team_id,
                resource="limit",
                resource_id=limit.subject_id,
            )
        return Decision(Batch.empty(), stored, removed_limits=(stored,))

    return ctx.write_as(viewer_id, team_id, plan)


def list_credit_limits(ctx: Context, viewer_id: str, team_id: str) -> list[CreditLimit]:
    """The team's limits; see :meth:`credit_usage.CreditUsage.list_credit_limits`."""
    require_id("viewer_id", viewer_id)
    require_id("team_id", team_id)

    def query(tx: TeamReads) -> list[CreditLimit]:
        ctx.authorize(tx, viewer_id, Action.MANAGE_LIMITS)
        return tx.limits()

    return ctx.read_as(viewer_id, team_id, query)


def _require(viewer_id: str, team_id: str, limit: CreditLimit) -> None:
    require_id("viewer_id", viewer_id)
    require_id("team_id", team_id)
    require_instance(CreditLimit, limit)
