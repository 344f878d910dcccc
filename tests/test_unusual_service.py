"""unusual_usage(): the findings of a team, gathered from storage in one read."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from credit_usage import (
    CreditLimit,
    CreditUsage,
    FindingKind,
    PermissionDeniedError,
    PlanNotEligibleError,
    ValidationError,
    to_dict,
)
from credit_usage.testing.builders import make_member
from tests.conftest import NOW, make_team

#: Eight members whose usage differs from each other: enough for peer statistics.
PEERS = {f"p{i}": 100 + 10 * i for i in range(8)}


def spend(app: CreditUsage, user: str, amount: int, entry_id: str, days_ago: int = 0) -> None:
    app.record_usage(
        "acme", user, feature="api", credit_type="email", amount=amount,
        occurred_at=NOW - timedelta(days=days_ago), entry_id=entry_id,
    )  # fmt: skip


@pytest.fixture
def busy(app: CreditUsage, team: object) -> CreditUsage:
    """The conftest team with eight more members, each with usage this cycle."""
    app.update_team(make_team(credits_per_cycle=10**9))
    for user_id, credits in PEERS.items():
        app.add_member(make_member(user_id))
        spend(app, user_id, credits, f"{user_id}-now")
    return app


class TestFindings:
    """Each kind of finding, from the team's own data."""

    def test_a_member_far_above_the_team_is_a_peer_outlier(self, busy: CreditUsage) -> None:
        """Mia spends 5,000 where her peers spend 100-170."""
        spend(busy, "mia", 5_000, "mia-now")
        findings = busy.unusual_usage("ada", "acme")
        outliers = [f for f in findings if f.kind is FindingKind.PEER_OUTLIER]
        assert [f.user_id for f in outliers] == ["mia"]
        assert outliers[0].used == 5_000
        assert "5,000" in outliers[0].message
        assert "Mia" in outliers[0].message

    def test_a_member_above_their_own_history_is_found(self, busy: CreditUsage) -> None:
        """Noa used 100 a cycle for three cycles, and 400 already this cycle."""
        for k in (1, 2, 3):
            spend(busy, "noa", 100, f"noa-{k}", days_ago=30 * k)
        spend(busy, "noa", 400, "noa-now")
        findings = busy.unusual_usage("ada", "acme")
        history = [f for f in findings if f.kind is FindingKind.ABOVE_OWN_HISTORY]
        assert [f.user_id for f in history] == ["noa"]
        assert history[0].baseline == 100

    def test_limits_near_or_over_are_found_first(self, busy: CreditUsage) -> None:
        """80 of a 100 limit is near; a group limit used up is over; over comes first."""
        busy.set_credit_limit(
            "ada", "acme", CreditLimit(scope="user", subject_id="mia", credits=100)
        )
        busy.set_credit_limit(
            "ada", "acme", CreditLimit(scope="group", subject_id="support", credits=50)
        )
        spend(busy, "mia", 80, "mia-now")
        spend(busy, "noa", 50, "noa-now")
        findings = busy.unusual_usage("ada", "acme")
        assert [(f.kind, f.user_id, f.group_id) for f in findings[:2]] == [
            (FindingKind.OVER_LIMIT, None, "support"),
            (FindingKind.NEAR_LIMIT, "mia", None),
        ]
        assert findings[1].used == 80
        assert findings[1].baseline == 100

    def test_a_quiet_team_has_no_findings(self, busy: CreditUsage) -> None:
        """Usage spread evenly, no history, no limits: nothing unusual."""
        assert busy.unusual_usage("ada", "acme") == []

    def test_a_small_team_gets_no_statistical_finding(self, app: CreditUsage, team: object) -> None:
        """Four members cannot make a peer statistic: no false outlier."""
        spend(app, "mia", 5_000, "mia-now")
        spend(app, "noa", 10, "noa-now")
        assert app.unusual_usage("ada", "acme") == []

    def test_thresholds_are_parameters(self, busy: CreditUsage) -> None:
        """A lower z threshold finds the biggest of the peers; a bad one is refused."""
        assert busy.unusual_usage("ada", "acme", z_threshold=0.5) != []
        with pytest.raises(ValidationError, match="z_threshold"):
            busy.unusual_usage("ada", "acme", z_threshold=0)

    def test_findings_are_json_ready(self, busy: CreditUsage) -> None:
        """to_dict gives plain data: a ratio over a zero limit is written "Infinity"."""
        spend(busy, "mia", 5, "mia-now")
        busy.set_credit_limit("ada", "acme", CreditLimit(scope="user", subject_id="mia", credits=0))
        body = [to_dict(f) for f in busy.unusual_usage("ada", "acme")]
        assert body[0]["kind"] == "over_limit"
        assert body[0]["ratio"] == "Infinity"
        assert json.loads(json.dumps(body, allow_nan=False)) == body


class TestWhoMayAsk:
    """Admins and Managers; not Members, not on an ineligible plan."""

    def test_a_manager_may_and_a_member_may_not(self, busy: CreditUsage) -> None:
        """The team-level rule of every read."""
        busy.unusual_usage("max", "acme")
        with pytest.raises(PermissionDeniedError):
            busy.unusual_usage("mia", "acme")

    def test_a_free_team_has_no_findings_view(self, busy: CreditUsage) -> None:
        """PlanNotEligibleError on an ineligible plan."""
        busy.update_team(make_team(plan="free"))
        with pytest.raises(PlanNotEligibleError):
            busy.unusual_usage("ada", "acme")
