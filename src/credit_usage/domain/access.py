"""Who may do what: roles x plans -> allowed actions.

Admin and Manager may view team usage, export reports and schedule reports;
only Admin sets credit limits; a Member may view only their own usage. Team
views, exports, automated reports and limits exist on Pro, Premium and Scale;
on Free every read raises :class:`~credit_usage.errors.PlanNotEligibleError`.
The viewer is always a :class:`Member` read from storage, never a role the
caller asserts.
"""

from __future__ import annotations

from enum import StrEnum

from credit_usage.domain.model import Member, Plan, Role, Team
from credit_usage.domain.validation import to_enum
from credit_usage.errors import PermissionDeniedError, PlanNotEligibleError

__all__ = ["Action", "allowed_actions", "authorize"]


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

_PAID = frozenset({Plan.PRO, Plan.PREMIUM, Plan.SCALE})


def allowed_actions(role: Role | str, plan: Plan | str) -> frozenset[Action]:
    """Every action ``role`` may take on ``plan`` (nothing on Free).

    Raises:
        ValidationError: ``role`` or ``plan`` is not one of the enum's values.
    """
    role, plan = to_enum(Role, role), to_enum(Plan, plan)
    return _BY_ROLE[role] if plan in _PAID else frozenset()


def authorize(
    viewer: Member | None,
    viewer_id: str,
    team: Team,
    action: Action | str,
    *,
    subject_user_id: str | None = None,
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

    Raises:
        PermissionDeniedError: unknown, deactivated or other-team viewer, or
            a role without the action.
        PlanNotEligibleError: the team is on Free.
    """
    action = to_enum(Action, action)
    if viewer is None or viewer.team_id != team.team_id:
        raise PermissionDeniedError(f"user {viewer_id!r} is not a member of team {team.team_id!r}")
    if not viewer.active:
        raise PermissionDeniedError(f"user {viewer_id!r} is deactivated")
    if team.plan not in _PAID:
        raise PlanNotEligibleError(
            f"team {team.team_id!r} is on the {team.plan} plan; usage views, exports, "
            f"reports and limits need Pro, Premium or Scale"
        )
    actions = _BY_ROLE[viewer.role]
    if action is Action.VIEW_OWN_USAGE and subject_user_id not in (None, viewer.user_id):
        action = Action.VIEW_TEAM_USAGE
    if action not in actions:
        raise PermissionDeniedError(
            f"user {viewer_id!r} with role {viewer.role} may not {action.value.replace('_', ' ')} "
            f"in team {team.team_id!r}"
        )
    return viewer
