"""Who may do what: the role x plan table, and authorize() on real viewers."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from credit_usage import Action, Member, Plan, Role, Team, ValidationError, allowed_actions
from credit_usage.domain.access import authorize
from credit_usage.errors import PermissionDeniedError, PlanNotEligibleError
from tests.conftest import make_team

PAID = [Plan.PRO, Plan.PREMIUM, Plan.SCALE]
TEAM_ACTIONS = [
    Action.VIEW_TEAM_USAGE,
    Action.EXPORT,
    Action.SCHEDULE_REPORTS,
    Action.MANAGE_LIMITS,
]


def person(role: Role | str, **overrides: Any) -> Member:
    user_id = overrides.pop("user_id", str(role))
    fields: dict[str, Any] = {
        "team_id": "acme",
        "user_id": user_id,
        "name": user_id.title(),
        "email": f"{user_id}@acme.test",
        "role": role,
    }
    fields.update(overrides)
    return Member(**fields)


@pytest.fixture
def team() -> Team:
    return make_team(plan="pro")


class TestAllowedActions:
    """The table of actions each role has on each plan."""

    @pytest.mark.parametrize("plan", PAID)
    def test_an_admin_may_do_everything(self, plan: Plan) -> None:
        """Admin: view own and team usage, export, schedule reports, manage limits."""
        assert allowed_actions(Role.ADMIN, plan) == frozenset(Action)

    @pytest.mark.parametrize("plan", PAID)
    def test_a_manager_may_do_everything_but_manage_limits(self, plan: Plan) -> None:
        """Manager: everything an Admin does except setting credit limits."""
        assert allowed_actions(Role.MANAGER, plan) == frozenset(Action) - {Action.MANAGE_LIMITS}

    @pytest.mark.parametrize("plan", PAID)
    def test_a_member_may_only_view_their_own_usage(self, plan: Plan) -> None:
        """Member: their own usage, nothing team-level."""
        assert allowed_actions(Role.MEMBER, plan) == frozenset({Action.VIEW_OWN_USAGE})

    @pytest.mark.parametrize("role", list(Role))
    def test_nobody_may_do_anything_on_free(self, role: Role) -> None:
        """Free has no usage views, exports, reports or limits, whatever the role."""
        assert allowed_actions(role, Plan.FREE) == frozenset()

    def test_string_values_are_accepted(self) -> None:
        """Roles and plans may be passed by their string values."""
        assert allowed_actions("manager", "scale") == allowed_actions(Role.MANAGER, Plan.SCALE)  # type: ignore[arg-type]

    def test_an_unknown_role_is_refused(self) -> None:
        """A role outside the enum is a ValidationError naming it."""
        with pytest.raises(ValidationError, match="'owner'"):
            allowed_actions("owner", Plan.PRO)  # type: ignore[arg-type]

    def test_a_plan_the_host_names_has_nothing_unless_eligible(self) -> None:
        """Plans are the host's slugs: "gold" has no team views until it is made eligible."""
        assert allowed_actions(Role.ADMIN, "gold") == frozenset()
        assert allowed_actions(Role.ADMIN, "gold", {"gold", "pro"}) == frozenset(Action)
        assert allowed_actions(Role.ADMIN, Plan.PRO, {"gold"}) == frozenset()

    @pytest.mark.parametrize("plan", ["Gold", "", "pro plan", 3])
    def test_a_plan_that_is_no_slug_is_refused(self, plan: object) -> None:
        """A plan must be a slug (lower-case letters, digits, - and _)."""
        with pytest.raises(ValidationError, match="plan"):
            allowed_actions(Role.ADMIN, plan)  # type: ignore[arg-type]

    @pytest.mark.parametrize("eligible", ["pro", [3], ["Pro!"]])
    def test_eligible_plans_must_be_slugs(self, eligible: object) -> None:
        """eligible_plans is a collection of slugs, not one string."""
        with pytest.raises(ValidationError, match="eligible"):
            allowed_actions(Role.ADMIN, "pro", eligible)  # type: ignore[arg-type]


class TestWhoIsAViewer:
    """Only an active member of the team is a viewer at all."""

    @pytest.mark.parametrize("action", list(Action))
    def test_an_unknown_viewer_is_denied(self, team: Team, action: Action) -> None:
        """No such member in the team: PermissionDeniedError naming the id and team."""
        with pytest.raises(PermissionDeniedError, match=r"'ghost'.*'acme'"):
            authorize(None, "ghost", team, action)

    @pytest.mark.parametrize("role", list(Role))
    def test_a_deactivated_viewer_is_denied(self, team: Team, role: Role) -> None:
        """A deactivated member may not read anything, not even their own usage."""
        viewer = person(role, active=False)
        with pytest.raises(PermissionDeniedError, match="deactivated"):
            authorize(viewer, viewer.user_id, team, Action.VIEW_OWN_USAGE)

    @pytest.mark.parametrize("role", list(Role))
    def test_a_viewer_of_another_team_is_denied(self, team: Team, role: Role) -> None:
        """An Admin of another team is a stranger here."""
        viewer = person(role, team_id="globex")
        with pytest.raises(PermissionDeniedError, match=r"not a member of team 'acme'"):
            authorize(viewer, viewer.user_id, team, Action.VIEW_OWN_USAGE)


class TestRoles:
    """What each role may read and change in its own team."""

    @pytest.mark.parametrize("action", list(Action))
    def test_an_admin_may_take_every_action(self, team: Team, action: Action) -> None:
        """An active Admin is authorized for every action and gets the viewer back."""
        admin = person(Role.ADMIN)
        assert authorize(admin, "admin", team, action, subject_user_id="mia") is admin

    @pytest.mark.parametrize("action", [a for a in Action if a is not Action.MANAGE_LIMITS])
    def test_a_manager_may_read_and_schedule(self, team: Team, action: Action) -> None:
        """A Manager may view anyone's usage, export and schedule reports."""
        manager = person(Role.MANAGER)
        assert authorize(manager, "manager", team, action, subject_user_id="mia") is manager

    def test_a_manager_may_not_manage_limits(self, team: Team) -> None:
        """Only an Admin sets credit limits."""
        with pytest.raises(PermissionDeniedError, match="manage limits"):
            authorize(person(Role.MANAGER), "manager", team, Action.MANAGE_LIMITS)

    def test_a_member_may_view_their_own_usage(self, team: Team) -> None:
        """A Member reading their own usage is authorized."""
        mia = person(Role.MEMBER, user_id="mia")
        assert authorize(mia, "mia", team, Action.VIEW_OWN_USAGE, subject_user_id="mia") is mia
        assert authorize(mia, "mia", team, Action.VIEW_OWN_USAGE) is mia

    def test_a_member_may_not_view_another_member(self, team: Team) -> None:
        """A Member asking for someone else's usage is denied, not shown their own."""
        mia = person(Role.MEMBER, user_id="mia")
        with pytest.raises(PermissionDeniedError, match=r"'mia'.*role member"):
            authorize(mia, "mia", team, Action.VIEW_OWN_USAGE, subject_user_id="noa")

    @pytest.mark.parametrize("action", TEAM_ACTIONS)
    def test_a_member_may_not_take_team_actions(self, team: Team, action: Action) -> None:
        """A Member may not read the team, export, schedule reports or set limits."""
        with pytest.raises(PermissionDeniedError, match="role member"):
            authorize(person(Role.MEMBER, user_id="mia"), "mia", team, action)

    def test_an_action_given_by_its_string_value_is_checked_the_same(self, team: Team) -> None:
        """Passing the action's string value must not let a Member read another member."""
        mia = person(Role.MEMBER, user_id="mia")
        with pytest.raises(PermissionDeniedError):
            authorize(mia, "mia", team, "view_own_usage", subject_user_id="noa")  # type: ignore[arg-type]

    def test_the_role_comes_from_the_member_record(self, team: Team) -> None:
        """Promoting the stored member is what grants more; the id alone grants nothing."""
        mia = person(Role.MEMBER, user_id="mia")
        with pytest.raises(PermissionDeniedError):
            authorize(mia, "mia", team, Action.EXPORT)
        promoted = attrs.evolve(mia, role=Role.MANAGER)
        assert authorize(promoted, "mia", team, Action.EXPORT) is promoted


class TestPlans:
    """On Free every read is refused for plan reasons, whatever the role."""

    @pytest.mark.parametrize("action", list(Action))
    @pytest.mark.parametrize("role", list(Role))
    def test_free_is_not_eligible(self, role: Role, action: Action) -> None:
        """An active member of a Free team gets PlanNotEligibleError naming the plan."""
        free = make_team(plan="free")
        viewer = person(role, user_id="mia")
        with pytest.raises(PlanNotEligibleError, match=r"'acme'.*free"):
            authorize(viewer, "mia", free, action, subject_user_id="mia")

    @pytest.mark.parametrize("plan", PAID)
    def test_paid_plans_are_eligible(self, plan: Plan) -> None:
        """Pro, Premium and Scale include team views."""
        admin = person(Role.ADMIN)
        assert authorize(admin, "admin", make_team(plan=plan), Action.VIEW_TEAM_USAGE) is admin
