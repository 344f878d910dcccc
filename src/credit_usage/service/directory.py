"""Setting a team up: the team, its groups and its members.

These are host-level calls: they name no viewer. The host authenticates
its users and decides who may change a team's settings (see
``docs/security.md``); the library checks that the values are valid and
refer to each other.
"""

from __future__ import annotations

from credit_usage.domain.model import Group, Member, Team
from credit_usage.domain.validation import require_id
from credit_usage.errors import NotFoundError
from credit_usage.ports import TeamReads
from credit_usage.service.context import Context, require_instance

__all__ = [
    "add_group",
    "add_member",
    "create_team",
    "get_team",
    "list_groups",
    "list_members",
    "update_member",
    "update_team",
]


def create_team(ctx: Context, team: Team) -> Team:
    """Store a new team."""
    require_instance(Team, team)
    ctx.storage.add_team(team)
    return team


def update_team(ctx: Context, team: Team) -> Team:
    """Replace a team's settings; its figures follow a new time zone or billing schedule."""
    require_instance(Team, team)
    ctx.storage.update_team(team)
    return team


def get_team(ctx: Context, team_id: str) -> Team:
    """The team. Raises ``NotFoundError``."""
    return ctx.storage.read(require_id("team_id", team_id), _team)


def add_group(ctx: Context, group: Group) -> Group:
    """Store a new group in an existing team."""
    require_instance(Group, group)
    ctx.storage.add_group(group)
    return group


def add_member(ctx: Context, member: Member) -> Member:
    """Store a new member; their group, if any, must exist in the team."""
    require_instance(Member, member)
    _check_group(ctx, member)
    ctx.storage.add_member(member)
    return member


def update_member(ctx: Context, member: Member) -> Member:
    """Change a member's role, group, name, email or ``active`` flag."""
    require_instance(Member, member)
    _check_group(ctx, member)
    ctx.storage.update_member(member)
    return member


def list_members(ctx: Context, team_id: str) -> list[Member]:
    """The team's members, deactivated ones included, ordered by user id."""
    return ctx.storage.read(require_id("team_id", team_id), _members)


def list_groups(ctx: Context, team_id: str) -> list[Group]:
    """The team's groups, ordered by group id."""
    return ctx.storage.read(require_id("team_id", team_id), _groups)


def _team(tx: TeamReads) -> Team:
    return tx.team


def _members(tx: TeamReads) -> list[Member]:
    return tx.members()


def _groups(tx: TeamReads) -> list[Group]:
    return tx.groups()


def _check_group(ctx: Context, member: Member) -> None:
    # Groups are never deleted, so a group found here still exists when the
    # member is written: no lock is needed between the two.
    if member.group_id is None:
        return  # The storage refuses an unknown team itself.
    groups = {g.group_id for g in ctx.storage.read(member.team_id, _groups)}
    if member.group_id not in groups:
        raise NotFoundError(
            f"group {member.group_id!r} does not exist in team {member.team_id!r}",
            team_id=member.team_id,
            resource="group",
            resource_id=member.group_id,
        )
