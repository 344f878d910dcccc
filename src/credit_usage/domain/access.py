"""Who may do what: roles x plans -> allowed actions.

Admin and Manager may view team usage and export reports; a Member may view
only their own usage. Team views and exports exist on the eligible plans
(by default Pro, Premium and Scale; ``CreditUsage(eligible_plans=...)``); on
any other plan every read raises
:class:`~credit_usage.errors.PlanNotEligibleError`. The viewer is always a
:class:`Member` read from storage, never a role the caller asserts.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from credit_usage.domain.model import Member, Plan, Role, Team
from credit_usage.domain.validation import require_slug, to_enum
from credit_usage.errors import PermissionDeniedError, PlanNotEligibleError, ValidationError

__all__ = ["DEFAULT_ELIGIBLE_PLANS", "Action", "allowed_actions", "authorize", "eligible_plans"]


class Action(StrEnum):
    """Something a viewer asks to do."""

    VIEW_OWN_USAGE = "view_own_usage"
    VIEW_TEAM_USAGE = "view_team_usage"
    EXPORT = "export"
    SCHEDULE_REPORTS = "schedule_reports"
    MANAGE_LIMITS = "manage_limits"


_BY_ROLE: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.MANAGER: frozenset(Action) - {Action.MANAGE_LIMITS},
    Role.MEMBER: frozenset({Action.VIEW_OWN_USAGE}),
}

#: The plans with team views, exports, limits and reports unless the host says otherwise.
DEFAULT_ELIGIBLE_PLANS: frozenset[str] = frozenset(
    {Plan.PRO.value, Plan.PREMIUM.value, Plan.SCALE.value}
)


def eligible_plans(plans: Iterable[str]) -> frozenset[str]:
    """``plans`` as a set of plan slugs.

    Raises:
        ValidationError: ``plans`` is a single string or holds a value that is no slug.
    """
    if isinstance(plans, str) or not isinstance(plans, Iterable):
        raise ValidationError(f"eligible_plans must be a collection of plan slugs, got {plans!r}")
    return frozenset(
        require_slug("eligible plan", p.value if isinstance(p, Plan) else p) for p in plans
    )


def allowed_actions(
    role: Role | str, plan: str, eligible: Iterable[str] = DEFAULT_ELIGIBLE_PLANS
) -> frozenset[Action]:
    """Every action ``role`` may take on ``plan`` (nothing on a plan not ``eligible``).

    Raises:
        ValidationError: ``role`` is not a role, or ``plan`` not a slug.
    """
    role = to_enum(Role, role)
    plan = require_slug("plan", plan.value if isinstance(plan, Plan) else plan)
    return _BY_ROLE[role] if plan in eligible_plans(eligible) else frozenset()


def authorize(
    viewer: Member | None,
    viewer_id: str,
    team: Team,
    action: Action | str,
    *,
    subject_user_id: str | None = None,
    eligible: frozenset[str] = DEFAULT_ELIGIBLE_PLANS,
) -> Member:
    """Return ``viewer`` when they may take ``action`` in ``team``; raise otherwise.

    Args:
        viewer: the viewer as read from storage for ``team``, or ``None``
            when no such member exists there.
        viewer_id: the id the caller named, for the message.
        team: the team, as read from storage.
        action: what the viewer asks to do.
        subject_user_id: for :attr:`Action.VIEW_OWN_USAGE`, whose usage;
            a Member may only name themselves.
        eligible: the plans that have team views.

    Raises:
        PermissionDeniedError: unknown, deactivated or other-team viewer, or
            a role without the action.
        PlanNotEligibleError: the team's plan is not eligible.
    """
    action = to_enum(Action, action)
    denied = {"team_id": team.team_id, "viewer_id": viewer_id, "action": action.value}
    if viewer is None or viewer.team_id != team.team_id:
        raise PermissionDeniedError(
            f"user {viewer_id!r} is not a member of team {team.team_id!r}", **denied
        )
    if not viewer.active:
        raise PermissionDeniedError(f"user {viewer_id!r} is deactivated", **denied)
    if team.plan not in eligible:
        raise PlanNotEligibleError(
            f"team {team.team_id!r} is on the {team.plan!r} plan; usage views and exports "
            f"need one of the plans {', '.join(sorted(eligible))}",
            team_id=team.team_id,
            plan=team.plan,
            eligible_plans=sorted(eligible),
        )
    actions = _BY_ROLE[viewer.role]
    if action is Action.VIEW_OWN_USAGE and subject_user_id not in (None, viewer.user_id):
        action = Action.VIEW_TEAM_USAGE
    if action not in actions:
        raise PermissionDeniedError(
            f"user {viewer_id!r} with role {viewer.role} may not {action.value.replace('_', ' ')} "
            f"in team {team.team_id!r}",
            **denied,
        )
    return viewer
