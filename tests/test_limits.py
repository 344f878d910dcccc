"""Credit limits: set by an Admin, enforced with every write, shown in every view."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest

from credit_usage import (
    CreditLimit,
    CreditLimitExceededError,
    CreditUsage,
    DateRange,
    InsufficientCreditsError,
    LedgerEntry,
    NotFoundError,
    PermissionDeniedError,
    PlanNotEligibleError,
    ValidationError,
    to_dict,
)
from credit_usage.domain.validation import MAX_CREDITS
from credit_usage.testing.builders import ledger
from tests.conftest import NOW, Clock, make_team

MIA_100 = CreditLimit(scope="user", subject_id="mia", credits=100)
MIA_EMAIL_30 = CreditLimit(scope="user", subject_id="mia", credits=30, credit_type="email")
SALES_150 = CreditLimit(scope="group", subject_id="sales", credits=150)
#: The current cycle of the conftest team (anchor the 15th).
CYCLE = DateRange(first=date(2026, 11, 15), last=date(2026, 12, 14))


def spend(
    app: CreditUsage, entry_id: str, amount: int, *, user: str = "mia", credit_type: str = "email"
) -> LedgerEntry:
    return app.record_usage(
        "acme", user, feature="api", credit_type=credit_type, amount=amount,
        occurred_at=NOW, entry_id=entry_id,
    )  # fmt: skip


def member(app: CreditUsage, user_id: str = "mia") -> object:
    return next(m for m in app.snapshot("ada", "acme").members if m.user_id == user_id)


@pytest.mark.usefixtures("team")
class TestSettingLimits:
    """Admins set, replace, remove and list limits; nobody else may."""

    def test_an_admin_sets_replaces_lists_and_removes(self, app: CreditUsage) -> None:
        """The same scope, subject and type replaces; remove matches those three."""
        app.set_credit_limit("ada", "acme", MIA_100)
        app.set_credit_limit("ada", "acme", SALES_150)
        app.set_credit_limit("ada", "acme", MIA_EMAIL_30)
        lowered = CreditLimit(scope="user", subject_id="mia", credits=60)
        app.set_credit_limit("ada", "acme", lowered)
        assert app.list_credit_limits("ada", "acme") == [SALES_150, lowered, MIA_EMAIL_30]
        removed = app.remove_credit_limit("ada", "acme", MIA_100)
        assert removed == lowered
        assert app.list_credit_limits("ada", "acme") == [SALES_150, MIA_EMAIL_30]

    @pytest.mark.parametrize("viewer", ["max", "mia"])
    def test_a_manager_or_member_may_not(self, app: CreditUsage, viewer: str) -> None:
        """Only Admins manage limits: PermissionDeniedError, nothing stored."""
        for call in (app.set_credit_limit, app.remove_credit_limit):
            with pytest.raises(PermissionDeniedError, match="manage limits"):
                call(viewer, "acme", MIA_100)
        with pytest.raises(PermissionDeniedError):
            app.list_credit_limits(viewer, "acme")
        assert app.list_credit_limits("ada", "acme") == []

    def test_a_team_on_an_ineligible_plan_has_no_limits(self, app: CreditUsage) -> None:
        """Free: PlanNotEligibleError, nothing stored."""
        app.update_team(make_team(plan="free"))
        with pytest.raises(PlanNotEligibleError):
            app.set_credit_limit("ada", "acme", MIA_100)
        app.update_team(make_team())
        assert app.list_credit_limits("ada", "acme") == []

    @pytest.mark.parametrize(
        ("limit", "error"),
        [
            (CreditLimit(scope="user", subject_id="ghost", credits=1), NotFoundError),
            (CreditLimit(scope="group", subject_id="nowhere", credits=1), NotFoundError),
            (
                CreditLimit(scope="user", subject_id="mia", credits=1, credit_type="sms"),
                ValidationError,
            ),
            ("mia=100", ValidationError),
        ],
    )
    def test_a_limit_must_fit_the_team(
        self, app: CreditUsage, limit: object, error: type[Exception]
    ) -> None:
        """Its user or group exists in the team, its credit type is declared."""
        with pytest.raises(error):
            app.set_credit_limit("ada", "acme", limit)  # type: ignore[arg-type]
        assert app.list_credit_limits("ada", "acme") == []

    def test_a_limit_of_another_teams_user_is_not_found(self, app: CreditUsage) -> None:
        """A user of globex is unknown in acme."""
        from credit_usage.testing.builders import make_member

        app.create_team(make_team(team_id="globex"))
        app.add_member(make_member("lee", team_id="globex"))
        with pytest.raises(NotFoundError, match="lee"):
            app.set_credit_limit(
                "ada", "acme", CreditLimit(scope="user", subject_id="lee", credits=1)
            )

    @pytest.mark.parametrize("credits", [-1, 1.5, True, MAX_CREDITS + 1, "100"])
    def test_credits_are_an_integer_from_0(self, credits: object) -> None:
        """Negative, float, bool, huge or text credits are refused on construction."""
        with pytest.raises(ValidationError, match="credits"):
            CreditLimit(scope="user", subject_id="mia", credits=credits)  # type: ignore[arg-type]

    def test_removing_a_limit_that_does_not_exist_is_not_found(self, app: CreditUsage) -> None:
        """Nothing matches: NotFoundError."""
        app.set_credit_limit("ada", "acme", MIA_EMAIL_30)
        with pytest.raises(NotFoundError, match="no credit limit"):
            app.remove_credit_limit("ada", "acme", MIA_100)
        assert app.list_credit_limits("ada", "acme") == [MIA_EMAIL_30]


@pytest.mark.usefixtures("team")
class TestEnforcement:
    """Every write is checked against the limits in the same atomic step."""

    def test_a_user_limit_refuses_the_spend_that_would_pass_it(self, app: CreditUsage) -> None:
        """90 of 100 used: 10 more fit, 11 do not; nothing written, the id stays free."""
        app.set_credit_limit("ada", "acme", MIA_100)
        spend(app, "e1", 90)
        with pytest.raises(CreditLimitExceededError) as raised:
            spend(app, "e2", 11)
        error = raised.value
        assert (error.scope, error.subject_id, error.credit_type) == ("user", "mia", None)
        assert (error.limit, error.used, error.requested) == (100, 90, 11)
        assert error.cycle == CYCLE.first
        for figure in ("user 'mia'", "100", "90", "11"):
            assert figure in str(error)
        assert to_dict(error)["code"] == "credit_limit_exceeded"
        assert error.http_status == 402
        spend(app, "e2", 10)
        assert app.snapshot("ada", "acme").used == 100

    def test_a_per_type_limit_caps_that_type_only(self, app: CreditUsage) -> None:
        """30 email credits: email is refused at 31, phone is not."""
        app.set_credit_limit("ada", "acme", MIA_EMAIL_30)
        spend(app, "e1", 30)
        with pytest.raises(CreditLimitExceededError) as raised:
            spend(app, "e2", 1)
        assert raised.value.credit_type == "email"
        spend(app, "p1", 50, credit_type="phone")

    def test_a_group_limit_is_shared_by_its_members(self, app: CreditUsage) -> None:
        """Sales may use 150 between its members; the member's own group at the time counts."""
        from credit_usage.testing.builders import make_member

        app.add_member(make_member("zoe", group_id="sales"))
        app.set_credit_limit("ada", "acme", SALES_150)
        spend(app, "m1", 100)
        spend(app, "z1", 50, user="zoe")
        with pytest.raises(CreditLimitExceededError) as raised:
            spend(app, "z2", 1, user="zoe")
        assert (raised.value.scope, raised.value.subject_id) == ("group", "sales")
        spend(app, "n1", 500, user="noa")  # support: not capped

    def test_limits_apply_per_cycle_and_reset(self, app: CreditUsage) -> None:
        """Last cycle's usage does not count against this cycle's limit."""
        app.set_credit_limit("ada", "acme", MIA_100)
        app.record_usage(
            "acme", "mia", feature="api", credit_type="email", amount=100,
            occurred_at=NOW - timedelta(days=30), entry_id="last-cycle",
        )  # fmt: skip
        spend(app, "e1", 100)
        with pytest.raises(CreditLimitExceededError):
            spend(app, "e2", 1)

    def test_record_many_is_checked_unless_told_not_to(self, app: CreditUsage) -> None:
        """A batch over a limit is refused whole; enforce_limits=False imports it."""
        app.set_credit_limit("ada", "acme", MIA_100)
        batch = [_usage(f"m{i}", 30) for i in range(4)]
        with pytest.raises(CreditLimitExceededError):
            app.record_many(batch)
        assert ledger(app.storage) == []
        assert app.record_many(batch, enforce_limits=False) == 4

    def test_the_limit_is_checked_before_the_pool(self, app: CreditUsage) -> None:
        """Over both: the member's limit is the reason given."""
        app.update_team(make_team(credits_per_cycle=50))
        app.set_credit_limit("ada", "acme", MIA_100)
        with pytest.raises(CreditLimitExceededError):
            spend(app, "e1", 101)
        with pytest.raises(InsufficientCreditsError):
            spend(app, "e1", 60)


@pytest.mark.usefixtures("team")
class TestLoweringAndReversing:
    """A limit may be lowered below what was used; a reversal frees room."""

    def test_a_limit_lowered_below_usage_refuses_more_and_shows_zero_left(
        self, app: CreditUsage
    ) -> None:
        """80 used, limit lowered to 50: refused, limit_remaining 0, marked over the limit."""
        spend(app, "e1", 80)
        app.set_credit_limit("ada", "acme", CreditLimit(scope="user", subject_id="mia", credits=50))
        with pytest.raises(CreditLimitExceededError):
            spend(app, "e2", 1)
        mia = member(app)
        assert (mia.limit, mia.limit_remaining, mia.over_limit) == (50, 0, True)  # type: ignore[attr-defined]

    def test_a_reversal_frees_room_under_every_limit_it_counted_against(
        self, app: CreditUsage
    ) -> None:
        """Reversing 20 email credits frees 20 under the user, type and group limits alike."""
        for limit in (MIA_100, MIA_EMAIL_30, SALES_150):
            app.set_credit_limit("ada", "acme", limit)
        spend(app, "e1", 30)
        with pytest.raises(CreditLimitExceededError):
            spend(app, "e2", 1)
        app.reverse_usage("acme", "e1", reversal_id="r1", amount=20)
        spend(app, "e2", 20)
        with pytest.raises(CreditLimitExceededError):
            spend(app, "e3", 1)

    def test_a_reversal_is_never_refused_by_a_limit(self, app: CreditUsage) -> None:
        """Even with a limit lowered below the usage, a refund goes through."""
        spend(app, "e1", 80)
        app.set_credit_limit("ada", "acme", CreditLimit(scope="user", subject_id="mia", credits=0))
        app.reverse_usage("acme", "e1", reversal_id="r1")
        assert app.snapshot("ada", "acme").used == 0


@pytest.mark.usefixtures("team")
class TestLimitsInTheViews:
    """Snapshots, member usage, group views and the wide CSV show the limits."""

    def test_the_snapshot_shows_limits_and_what_is_left(self, app: CreditUsage) -> None:
        """limit and limit_remaining for all types, per type beside them."""
        app.set_credit_limit("ada", "acme", MIA_100)
        app.set_credit_limit("ada", "acme", MIA_EMAIL_30)
        spend(app, "e1", 25)
        spend(app, "p1", 40, credit_type="phone")
        mia = member(app)
        assert (mia.limit, mia.limit_remaining, mia.over_limit) == (100, 35, False)  # type: ignore[attr-defined]
        assert mia.limits_by_credit_type == {"email": 30}  # type: ignore[attr-defined]
        assert mia.limit_remaining_by_credit_type == {"email": 5}  # type: ignore[attr-defined]
        noa = member(app, "noa")
        assert (noa.limit, noa.limit_remaining, noa.limits_by_credit_type) == (None, None, {})  # type: ignore[attr-defined]

    def test_member_usage_shows_the_limit_for_the_cycle_whatever_the_period(
        self, app: CreditUsage
    ) -> None:
        """A past period's usage beside this cycle's limit and what is left of it."""
        app.set_credit_limit("ada", "acme", MIA_100)
        spend(app, "e1", 25)
        usage = app.member_usage("mia", "acme", "mia")
        assert (usage.used, usage.limit, usage.limit_remaining) == (25, 100, 75)
        past = app.member_usage(
            "ada", "acme", "mia", period=DateRange(first=date(2026, 10, 1), last=date(2026, 10, 31))
        )
        assert (past.used, past.limit, past.limit_remaining) == (0, 100, 75)

    def test_group_views_show_the_groups_limit(self, app: CreditUsage) -> None:
        """by_group() carries each group's limit on all types."""
        app.set_credit_limit("ada", "acme", SALES_150)
        spend(app, "e1", 10)
        groups = {g.group_id: g for g in app.usage_report("ada", "acme", CYCLE).by_group()}
        assert groups["sales"].limit == 150
        assert groups["support"].limit is None

    def test_the_wide_csv_gets_limit_columns_when_the_team_has_limits(
        self, app: CreditUsage
    ) -> None:
        """limit and limit_remaining at the end; absent while the team has no limit."""
        spend(app, "e1", 10)
        out = io.StringIO(newline="")
        app.export_csv("ada", "acme", CYCLE, out)
        assert csv.reader(io.StringIO(out.getvalue())).__next__()[-1] == "total"
        app.set_credit_limit("ada", "acme", MIA_100)
        out = io.StringIO(newline="")
        app.export_csv("ada", "acme", CYCLE, out)
        header, *rows = list(csv.reader(io.StringIO(out.getvalue())))
        assert header[-3:] == ["total", "limit", "limit_remaining"]
        mia = next(r for r in rows if r[0] == "mia" and r[5] == "email")
        noa = next(r for r in rows if r[0] == "noa")
        assert (mia[-2:], noa[-2:]) == (["100", "90"], ["", ""])


@pytest.mark.usefixtures("team")
class TestThePaceForecast:
    """At the pace so far: where the cycle ends, and when the pool or a limit runs out."""

    def test_the_snapshot_projects_the_cycle_and_the_day_the_pool_runs_out(
        self, app: CreditUsage, clock: Clock
    ) -> None:
        """Half the cycle gone, 6,000 of 10,000 used: 12,000 projected, out before the end."""
        clock.now = NOW.replace(day=30, hour=0, minute=0)  # 15 of 30 days elapsed
        app.record_usage(
            "acme", "mia", feature="api", credit_type="email", amount=6_000,
            occurred_at=clock.now, entry_id="big",
        )  # fmt: skip
        snapshot = app.snapshot("ada", "acme")
        assert snapshot.projected_used == 12_000
        assert snapshot.runs_out_on == date(2026, 12, 10)

    def test_a_pool_that_lasts_runs_out_on_no_day(self, app: CreditUsage) -> None:
        """At a slow pace the pool lasts the cycle: runs_out_on is None."""
        spend(app, "e1", 10)
        assert app.snapshot("ada", "acme").runs_out_on is None

    def test_a_member_with_a_limit_gets_their_own_forecast(
        self, app: CreditUsage, clock: Clock
    ) -> None:
        """Against their limit; members without one get none."""
        clock.now = NOW.replace(day=30, hour=0, minute=0)
        app.set_credit_limit("ada", "acme", MIA_100)
        app.record_usage(
            "acme", "mia", feature="api", credit_type="email", amount=80,
            occurred_at=clock.now, entry_id="e1",
        )  # fmt: skip
        mia, noa = member(app), member(app, "noa")
        # 100 of them at 80 per 15 days: 18.75 days in, on 3 December.
        assert (mia.projected_used, mia.limit_runs_out_on) == (160, date(2026, 12, 3))  # type: ignore[attr-defined]
        assert (noa.projected_used, noa.limit_runs_out_on) == (None, None)  # type: ignore[attr-defined]


def _usage(entry_id: str, amount: int) -> LedgerEntry:
    return LedgerEntry(
        team_id="acme",
        entry_id=entry_id,
        kind="usage",
        user_id="mia",
        group_id="sales",
        feature="api",
        credit_type="email",
        amount=amount,
        occurred_at=NOW,
    )
