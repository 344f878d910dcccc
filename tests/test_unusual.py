"""Unusual usage: limits used up, peer outliers and members above their own history."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credit_usage import LimitScope, ValidationError
from credit_usage.domain.unusual import Finding, FindingKind, LimitUsage, find_unusual
from tests.strategies import ids
from tests.strategies import names as display_names

PEER = FindingKind.PEER_OUTLIER
HISTORY = FindingKind.ABOVE_OWN_HISTORY
NEAR = FindingKind.NEAR_LIMIT
OVER = FindingKind.OVER_LIMIT

#: Seven members around a median of 310; Mia spends far more than the others.
TEAM = {"ana": 300, "bo": 310, "cy": 320, "di": 290, "ed": 330, "flo": 305, "mia": 4210}

#: Median 10,000; the deviations from it are 100, 1,349, 1,349, 1,349, 2,000 and
#: 7,000, so the MAD is 1,349 and Zoe's robust z-score is 0.6745 x 7,000 / 1,349 = 3.5.
AT_THRESHOLD = {
    "ana": 8000,
    "bo": 8651,
    "cy": 8651,
    "di": 10000,
    "ed": 10100,
    "flo": 11349,
    "zoe": 17000,
}


def kinds(findings: list[Finding], kind: FindingKind) -> list[Finding]:
    return [f for f in findings if f.kind is kind]


def peers(findings: list[Finding]) -> dict[str | None, float]:
    """The peer outliers, by user, with their z-scores."""
    return {f.user_id: f.ratio for f in kinds(findings, PEER)}


def limit(used: int, credits: int = 100, /, **overrides: Any) -> LimitUsage:
    fields: dict[str, Any] = {"scope": "user", "subject_id": "mia", "limit": credits, "used": used}
    fields.update(overrides)
    return LimitUsage(**fields)


def shown(value: float) -> str:
    """A baseline as a message states it: whole credits, else one decimal."""
    return f"{int(value):,}" if value.is_integer() else f"{value:,.1f}"


def exact_median(values: list[int]) -> Fraction:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return Fraction(ordered[middle])
    return Fraction(ordered[middle - 1] + ordered[middle], 2)


# --- strategies -----------------------------------------------------------------

#: Mostly modest usage, now and then a heavy spender or a net refund.
usage_values = st.one_of(
    st.integers(0, 200), st.integers(0, 200), st.integers(-100, 10**6), st.just(100)
)


@st.composite
def teams(draw: st.DrawFn, min_size: int = 0) -> dict[str, int]:
    values = draw(st.lists(usage_values, min_size=min_size, max_size=20))
    return {f"u{number}": value for number, value in enumerate(values)}


@st.composite
def histories(draw: st.DrawFn, team: dict[str, int]) -> dict[str, list[int]]:
    return {
        user_id: draw(st.lists(st.integers(-50, 2000), max_size=5))
        for user_id in team
        if draw(st.booleans())
    }


def settings_() -> st.SearchStrategy[dict[str, Any]]:
    """Thresholds of find_unusual, the defaults among them."""
    return st.fixed_dictionaries(
        {
            "z_threshold": st.sampled_from([3.5, 1.0, 2.0, 0.5]),
            "min_members": st.integers(2, 6),
            "history_cycles": st.integers(1, 4),
            "history_ratio": st.sampled_from([2.0, 1.5, 1.0]),
            "elapsed": st.sampled_from([1.0, 0.5, 0.25, 0.1, 0.05]),
        }
    )


def limit_usages() -> st.SearchStrategy[LimitUsage]:
    return st.integers(0, 10**6).flatmap(
        lambda credits: st.builds(
            LimitUsage,
            scope=st.sampled_from(LimitScope),
            subject_id=st.sampled_from(["u0", "u1", "sales"]),
            credit_type=st.none() | st.sampled_from(["email", "phone"]),
            limit=st.just(credits),
            used=st.integers(-10, 2 * credits + 10) | st.integers(credits * 3 // 4, credits),
        )
    )


# --- peer outliers --------------------------------------------------------------


class TestPeerOutliers:
    """A member far above the team's median, by a robust z-score, is a peer outlier."""

    def test_a_heavy_spender_is_reported_against_the_median(self) -> None:
        """Mia's 4,210 credits against a median of 310 are reported with her z-score."""
        [finding] = find_unusual(TEAM, names={"mia": "Mia"})
        # Deviations 5, 10, 10, 20, 20 and 3,900: the MAD is 15.
        assert finding == Finding(
            user_id="mia",
            kind=PEER,
            used=4210,
            baseline=310.0,
            ratio=float(Fraction("0.6745") * 3900 / 15),
            message=(
                "Mia used 4,210 credits this period, 175.4 robust z-scores above "
                "the team's median of 310"
            ),
        )

    def test_a_z_score_exactly_at_the_threshold_is_reported(self) -> None:
        """A z-score of exactly 3.5 meets the default threshold; a credit less does not."""
        [finding] = find_unusual(AT_THRESHOLD)
        assert (finding.user_id, finding.ratio, finding.baseline) == ("zoe", 3.5, 10000.0)
        assert find_unusual({**AT_THRESHOLD, "zoe": 16999}) == []

    def test_only_members_above_the_median_are_outliers(self) -> None:
        """A member far below the median is not an unusual spender."""
        low = {**{k: v for k, v in TEAM.items() if k != "mia"}, "mia": -5000}
        assert find_unusual(low) == []

    def test_negative_usage_counts_like_any_other(self) -> None:
        """Net refunds take part in the median and the MAD."""
        team = {"a": -50, "b": -10, "c": 0, "d": 5, "e": 10, "f": 20, "g": 500}
        # Median 5; deviations 55, 15, 5, 5, 15, 495: the MAD is 15.
        [finding] = find_unusual(team)
        assert (finding.user_id, finding.baseline) == ("g", 5.0)
        assert finding.ratio == float(Fraction("0.6745") * 495 / 15)

    def test_a_half_credit_median_is_stated_to_one_decimal(self) -> None:
        """With an even number of members the median may be half a credit."""
        team = {**TEAM, "gus": 311}
        [finding] = find_unusual(team)
        assert finding.baseline == 310.5
        assert "median of 310.5" in finding.message

    def test_a_team_too_small_for_statistics_gets_no_finding(self) -> None:
        """Fewer than min_members members off the median give no peer outlier, however far."""
        team = {"a": 10, "b": 20, "c": 30, "d": 40, "e": 100_000}
        assert find_unusual(team) == []
        assert [f.user_id for f in find_unusual(team, min_members=4)] == ["e"]
        assert [f.user_id for f in find_unusual({**team, "f": 25})] == ["e"]

    def test_members_at_the_median_do_not_make_a_team_big_enough(self) -> None:
        """Only members whose usage differs from the median count towards min_members."""
        team = {"a": 10, "b": 20, "c": 40, "d": 100_000, **{f"m{n}": 30 for n in range(9)}}
        assert find_unusual(team) == []
        assert [f.user_id for f in find_unusual(team, min_members=4)] == ["d"]

    def test_a_team_that_used_the_same_gets_no_finding(self) -> None:
        """When (nearly) everyone used the median the plain MAD is 0, and nobody is reported."""
        assert find_unusual(dict.fromkeys("abcdefgh", 50)) == []
        assert find_unusual({**dict.fromkeys("abcdefgh", 50), "z": 5000}) == []

    def test_an_empty_team_has_no_findings(self) -> None:
        """No members, no findings."""
        assert find_unusual({}) == []

    def test_a_member_without_a_name_is_named_by_id(self) -> None:
        """The user id stands in for a missing display name."""
        [finding] = find_unusual(TEAM, names={"ana": "Ana"})
        assert finding.message.startswith("mia used 4,210 credits")

    @given(team=teams(), k=st.integers(2, 1000), settings=settings_())
    def test_scaling_everyones_usage_changes_no_peer_outlier_finding(
        self, team: dict[str, int], k: int, settings: dict[str, Any]
    ) -> None:
        """Multiplying everyone's usage by k reports the same outliers with the same z-scores."""
        scaled = {user_id: k * used for user_id, used in team.items()}
        assert peers(find_unusual(scaled, **settings)) == peers(find_unusual(team, **settings))

    @given(data=st.data(), team=teams(min_size=1), settings=settings_())
    def test_adding_a_member_with_the_median_usage_never_creates_a_finding(
        self, data: st.DataObject, team: dict[str, int], settings: dict[str, Any]
    ) -> None:
        """A newcomer who used exactly the median changes no finding and gets none."""
        median = exact_median(list(team.values()))
        if median.denominator != 1:  # make the median a whole credit: add one member at it
            team["half"] = math.floor(median)
            median = exact_median(list(team.values()))
        assert median.denominator == 1
        history = data.draw(histories(team))
        before = find_unusual(team, history=history, **settings)
        after = find_unusual({**team, "newcomer": int(median)}, history=history, **settings)
        assert after == before


# --- above own history ------------------------------------------------------------


class TestAboveOwnHistory:
    """A member on pace for far more than their previous cycles is above their own history."""

    def test_a_pace_of_exactly_twice_the_mean_is_reported(self) -> None:
        """100 credits half-way through a cycle is a pace of 200, twice the mean of 100."""
        [finding] = find_unusual(
            {"mia": 100}, names={"mia": "Mia"}, history={"mia": [90, 110, 100]}, elapsed=0.5
        )
        assert finding == Finding(
            user_id="mia",
            kind=HISTORY,
            used=100,
            baseline=100.0,
            ratio=2.0,
            message=(
                "Mia has used 100 credits with 50% of the cycle elapsed, on pace for 200 credits: "
                "2.0 times the average of 100 credits over the previous 3 cycles"
            ),
        )
        assert find_unusual({"mia": 99}, history={"mia": [90, 110, 100]}, elapsed=0.5) == []

    def test_a_whole_period_is_compared_as_it_is(self) -> None:
        """With elapsed=1 the usage itself is compared, and the message says so."""
        [finding] = find_unusual({"mia": 750}, history={"mia": [300]}, history_cycles=1)
        assert (finding.ratio, finding.baseline) == (2.5, 300.0)
        assert finding.message == (
            "mia used 750 credits this cycle, 2.5 times the 300 credits of the previous cycle"
        )

    def test_only_the_last_history_cycles_count(self) -> None:
        """Older cycles than history_cycles are left out of the mean."""
        history = {"mia": [10_000, 10_000, 100, 100, 100]}
        [finding] = find_unusual({"mia": 200}, history=history)
        assert finding.baseline == 100.0
        assert find_unusual({"mia": 200}, history=history, history_cycles=5) == []

    def test_too_little_history_gives_no_finding(self) -> None:
        """A member with fewer than history_cycles previous cycles is not compared."""
        assert find_unusual({"mia": 1000}, history={"mia": [100, 100]}) == []
        assert len(find_unusual({"mia": 1000}, history={"mia": [100, 100]}, history_cycles=2)) == 1
        assert find_unusual({"mia": 1000}) == []

    def test_a_mean_of_zero_or_less_gives_no_finding(self) -> None:
        """Nothing (or a net refund) before is no baseline to be above."""
        assert find_unusual({"mia": 1000}, history={"mia": [0, 0, 0]}) == []
        assert find_unusual({"mia": 1000}, history={"mia": [-30, 10, 20]}) == []

    def test_negative_usage_is_never_above_history(self) -> None:
        """A net refund this cycle is below any positive mean."""
        assert find_unusual({"mia": -500}, history={"mia": [1, 1, 1]}, elapsed=0.5) == []

    def test_too_early_in_the_cycle_gives_no_finding(self) -> None:
        """Before min_elapsed of the cycle no pace is extrapolated; from it on it is."""
        history = {"mia": [100, 100, 100]}
        assert find_unusual({"mia": 50}, history=history, elapsed=0.09) == []
        [finding] = find_unusual({"mia": 20}, history=history, elapsed=0.1)
        assert finding.ratio == 2.0
        assert find_unusual({"mia": 50}, history=history, elapsed=0.09, min_elapsed=0.05)

    def test_members_missing_from_usage_are_not_considered(self) -> None:
        """History of someone not in usage gives nothing."""
        assert find_unusual({"mia": 0}, history={"bo": [1, 1, 1]}) == []


# --- limits ---------------------------------------------------------------------


class TestLimits:
    """A limit used up is over_limit; one used from near_limit of it is near_limit."""

    def test_exactly_three_quarters_of_a_limit_is_near_it(self) -> None:
        """75 of 100 credits is near the limit; 74 is not."""
        [finding] = find_unusual({}, names={"mia": "Mia"}, limits=[limit(75)])
        assert finding == Finding(
            user_id="mia",
            kind=NEAR,
            used=75,
            baseline=100.0,
            ratio=0.75,
            message="Mia has used 75 of a 100-credit limit (75%)",
        )
        assert find_unusual({}, limits=[limit(74)]) == []

    def test_a_decimal_threshold_is_met_exactly(self) -> None:
        """near_limit=0.8 means 4/5: 80 of 100 credits is near, whatever the float's binary."""
        assert [f.kind for f in find_unusual({}, limits=[limit(80)], near_limit=0.8)] == [NEAR]
        assert find_unusual({}, limits=[limit(79)], near_limit=0.8) == []

    def test_a_limit_used_up_exactly_is_over_it(self) -> None:
        """100 of 100 credits leaves nothing: over_limit, not near."""
        [finding] = find_unusual({}, limits=[limit(100)])
        assert (finding.kind, finding.ratio) == (OVER, 1.0)
        assert finding.message == "mia has used 100 of a 100-credit limit (100%)"

    def test_a_limit_lowered_below_what_was_used_is_over_it(self) -> None:
        """1,200 used against a limit since lowered to 1,000 is over by 200."""
        [finding] = find_unusual({}, names={"mia": "Mia"}, limits=[limit(1200, 1000)])
        assert (finding.kind, finding.used, finding.baseline, finding.ratio) == (
            OVER,
            1200,
            1000.0,
            1.2,
        )
        assert finding.message == (
            "Mia has used 1,200 of a 1,000-credit limit (120%), 200 credits over it"
        )

    def test_a_limit_of_zero_is_over_only_once_something_is_used(self) -> None:
        """A 0-credit limit allows nothing: any usage is over it (ratio infinite), none is fine."""
        assert find_unusual({}, limits=[limit(0, 0), limit(-3, 0)]) == []
        [finding] = find_unusual({}, limits=[limit(1, 0)])
        assert (finding.kind, finding.ratio) == (OVER, math.inf)
        assert (
            finding.message == "mia has used 1 credit against a 0-credit limit, which allows none"
        )

    def test_negative_usage_is_never_near_or_over(self) -> None:
        """Net refunds against a limit give no finding."""
        assert find_unusual({}, limits=[limit(-50, 10)]) == []

    def test_a_per_type_group_limit_names_the_group_and_the_type(self) -> None:
        """A group-scope finding has no user but the group id, and states the credit type."""
        cap = LimitUsage(scope="group", subject_id="sales", credit_type="email", limit=100, used=80)
        [finding] = find_unusual({}, limits=[cap])
        assert (finding.user_id, finding.group_id, finding.credit_type) == (None, "sales", "email")
        assert finding.message == "Group sales has used 80 of a 100-credit limit on email (80%)"

    def test_a_per_type_user_limit_states_the_type(self) -> None:
        """A user's per-type limit keeps the credit type."""
        [finding] = find_unusual({}, limits=[limit(90, credit_type="phone")])
        assert (finding.user_id, finding.group_id, finding.credit_type) == ("mia", None, "phone")
        assert finding.message.endswith("of a 100-credit limit on phone (90%)")

    @given(cap=limit_usages(), near=st.sampled_from([0.75, 0.5, 0.8, 0.9, 1.0]))
    def test_limit_findings_follow_used_over_limit(self, cap: LimitUsage, near: float) -> None:
        """Near iff near_limit <= used/limit < 1, over iff used/limit >= 1 (and something used)."""
        found = {f.kind for f in find_unusual({}, limits=[cap], near_limit=near)}
        if cap.limit == 0:
            expected = {OVER} if cap.used > 0 else set()
        else:
            share = Fraction(cap.used, cap.limit)
            over = share >= 1
            expected = {OVER} if over else {NEAR} if share >= Fraction(str(near)) else set()
        assert found == expected


# --- every finding ----------------------------------------------------------------


class TestFindings:
    """Findings come most urgent first, deterministically, each with a one-line message."""

    def test_findings_are_ordered_by_kind_then_ratio(self) -> None:
        """Over, near, peer outlier, above history; within a kind by ratio, then by id."""
        findings = find_unusual(
            TEAM,
            history={"ana": [100, 100, 100], "bo": [50, 50, 50], "cy": [100, 100, 100]},
            elapsed=1.0,
            limits=[
                limit(80, subject_id="bo"),
                limit(90, subject_id="ana"),
                limit(90, scope="group", subject_id="eng"),
                limit(150, subject_id="cy"),
                limit(120, subject_id="di"),
            ],
        )
        assert [(f.kind, f.user_id or f.group_id) for f in findings] == [
            (OVER, "cy"),
            (OVER, "di"),
            (NEAR, "ana"),
            (NEAR, "eng"),
            (NEAR, "bo"),
            (PEER, "mia"),
            (HISTORY, "bo"),
            (HISTORY, "cy"),
            (HISTORY, "ana"),
        ]

    @given(team=teams(), data=st.data(), caps=st.lists(limit_usages(), max_size=4))
    def test_the_result_is_deterministic(
        self, team: dict[str, int], data: st.DataObject, caps: list[LimitUsage]
    ) -> None:
        """The same input in any order gives the same findings in the same order."""
        history = data.draw(histories(team))
        found = find_unusual(team, history=history, limits=caps, min_members=2)
        assert find_unusual(team, history=history, limits=caps, min_members=2) == found
        reordered = dict(reversed(team.items()))
        assert find_unusual(reordered, history=history, limits=caps[::-1], min_members=2) == found

    @given(
        team=teams(),
        data=st.data(),
        caps=st.lists(limit_usages(), max_size=4),
        settings=settings_(),
    )
    def test_a_findings_message_states_its_numbers(
        self,
        team: dict[str, int],
        data: st.DataObject,
        caps: list[LimitUsage],
        settings: dict[str, Any],
    ) -> None:
        """Every message states the credits used and the median, mean or limit behind it."""
        history = data.draw(histories(team))
        for finding in find_unusual(team, history=history, limits=caps, **settings):
            assert f"{finding.used:,}" in finding.message
            if finding.kind in (NEAR, OVER):
                assert f" {int(finding.baseline):,}-credit limit" in finding.message
                if finding.credit_type is not None:
                    assert f" on {finding.credit_type}" in finding.message
            else:
                assert shown(finding.baseline) in finding.message

    @given(name=display_names(), group=ids())
    def test_a_message_is_one_line_whatever_the_names(self, name: str, group: str) -> None:
        """Line breaks in a name or group id are shown as spaces."""
        caps = [limit(90, subject_id="mia"), limit(90, scope="group", subject_id=group)]
        findings = find_unusual(TEAM, names={"mia": name}, limits=caps)
        assert len(findings) == 3
        for finding in findings:
            assert len(finding.message.splitlines()) == 1


# --- validation -----------------------------------------------------------------


class TestValidation:
    """Parameters out of range are refused, naming the parameter."""

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("z_threshold", 0),
            ("z_threshold", -1.0),
            ("z_threshold", math.nan),
            ("z_threshold", math.inf),
            ("z_threshold", True),
            ("z_threshold", "3.5"),
            ("history_ratio", 0.0),
            ("near_limit", 0.0),
            ("near_limit", 1.01),
            ("elapsed", 0.0),
            ("elapsed", 1.5),
            ("elapsed", -0.5),
            ("min_elapsed", 0.0),
            ("min_elapsed", 2.0),
            ("history_cycles", 0),
            ("history_cycles", 1.5),
            ("min_members", 1),
            ("min_members", True),
            ("names", {"mia": 3}),
            ("history", {"mia": "123"}),
            ("history", {"mia": [1, 2.5]}),
            ("limits", [{"scope": "user"}]),
            ("limits", "user"),
        ],
    )
    def test_a_parameter_out_of_range_is_refused(self, name: str, value: Any) -> None:
        """find_unusual raises ValidationError with the parameter as its field."""
        with pytest.raises(ValidationError, match=name) as raised:
            find_unusual(TEAM, **{name: value})
        assert raised.value.field == name

    @pytest.mark.parametrize("usage", [{"mia": 1.5}, {"mia": True}, {"mia": "3"}, {1: 3}, [1, 2]])
    def test_usage_must_map_user_ids_to_integers(self, usage: Any) -> None:
        """Usage of a float, a boolean or a string, or a key that is no id, is refused."""
        with pytest.raises(ValidationError) as raised:
            find_unusual(usage)
        assert raised.value.field == "usage"

    @pytest.mark.parametrize(
        ("field", "overrides"),
        [
            ("limit", {"limit": -1}),
            ("limit", {"limit": 1.5}),
            ("used", {"used": 2.0}),
            ("used", {"used": None}),
            ("subject_id", {"subject_id": ""}),
            ("credit type", {"credit_type": "Email"}),
        ],
    )
    def test_a_limit_usage_is_validated(self, field: str, overrides: dict[str, Any]) -> None:
        """LimitUsage refuses a negative limit, a non-integer used, an empty subject or bad type."""
        with pytest.raises(ValidationError) as raised:
            limit(50, **overrides)
        assert raised.value.field == field

    def test_a_limit_scope_must_be_user_or_group(self) -> None:
        """Only user and group limits exist."""
        with pytest.raises(ValidationError, match="LimitScope"):
            limit(50, scope="team")
        assert limit(50, scope="group").scope is LimitScope.GROUP
