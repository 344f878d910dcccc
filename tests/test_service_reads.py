"""Reading through the service: authorization, the snapshot, reports and exports."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from credit_usage import (
    BillingSchedule,
    CreditUsage,
    DateRange,
    Feature,
    Member,
    PermissionDeniedError,
    PlanNotEligibleError,
    RangeOutsideCycleError,
    Role,
    Snapshot,
    Team,
    ValidationError,
    from_dict,
    to_dict,
)
from credit_usage.testing.storage import reads
from tests.conftest import NOW, Clock, make_team


def use(
    app: CreditUsage,
    user_id: str,
    entry_id: str,
    amount: int,
    *,
    at: datetime = NOW,
    feature: str = "api",
    credit_type: str = "email",
    team_id: str = "acme",
) -> None:
    app.record_usage(
        team_id, user_id, feature=feature, credit_type=credit_type, amount=amount,
        occurred_at=at, entry_id=entry_id,
    )  # fmt: skip


def set_member(app: CreditUsage, user_id: str, **changes: object) -> None:
    member = reads(app.storage, "acme").member(user_id)
    assert member is not None
    fields = {
        "team_id": member.team_id, "user_id": member.user_id, "name": member.name,
        "email": member.email, "role": member.role, "group_id": member.group_id,
        "active": member.active,
    }  # fmt: skip
    fields.update(changes)
    app.update_member(Member(**fields))  # type: ignore[arg-type]


ALL_READS = ["snapshot", "usage_report", "export_csv", "export_ledger_csv", "member_usage"]


def read(app: CreditUsage, name: str, viewer: str, team_id: str = "acme") -> object:
    period = DateRange(first=date(2026, 11, 15), last=date(2026, 11, 27))
    if name == "snapshot":
        return app.snapshot(viewer, team_id)
    if name == "usage_report":
        return app.usage_report(viewer, team_id, period)
    if name == "export_csv":
        return app.export_csv(viewer, team_id, period, io.StringIO())
    if name == "export_ledger_csv":
        return app.export_ledger_csv(viewer, team_id, period, io.StringIO())
    return app.member_usage(viewer, team_id, "noa")


@pytest.mark.usefixtures("team")
class TestAuthorization:
    @pytest.mark.parametrize("name", ALL_READS)
    def test_admins_and_managers_read_the_team(self, app: CreditUsage, name: str) -> None:
        """Admin and Manager may use every team read."""
        read(app, name, "ada")
        read(app, name, "max")

    @pytest.mark.parametrize("name", ALL_READS)
    def test_a_member_may_not_read_the_team(self, app: CreditUsage, name: str) -> None:
        """A Member reading team usage, or another member's, is denied."""
        with pytest.raises(PermissionDeniedError, match="mia"):
            read(app, name, "mia")

    def test_a_member_may_read_their_own_usage(self, app: CreditUsage) -> None:
        """member_usage for oneself is allowed to a Member."""
        use(app, "mia", "e1", 7)
        assert app.member_usage("mia", "acme", "mia").used == 7

    @pytest.mark.parametrize("name", ALL_READS)
    def test_a_deactivated_viewer_is_denied(self, app: CreditUsage, name: str) -> None:
        """An Admin who was deactivated can no longer read anything."""
        set_member(app, "ada", active=False)
        with pytest.raises(PermissionDeniedError, match="deactivated"):
            read(app, name, "ada")

    @pytest.mark.parametrize("name", ALL_READS)
    def test_a_viewer_of_another_team_is_denied(self, app: CreditUsage, name: str) -> None:
        """An Admin of another team cannot read this one."""
        app.create_team(make_team(team_id="globex"))
        app.add_member(
            Member(team_id="globex", user_id="gus", name="Gus", email="g@globex.test", role="admin")
        )
        with pytest.raises(PermissionDeniedError, match="gus"):
            read(app, name, "gus")

    @pytest.mark.parametrize("name", ALL_READS)
    def test_unknown_viewers_are_denied(self, app: CreditUsage, name: str) -> None:
        """A user id the team does not know gets PermissionDeniedError."""
        with pytest.raises(PermissionDeniedError, match="mallory"):
            read(app, name, "mallory")

    @pytest.mark.parametrize("name", ALL_READS)
    def test_free_teams_have_no_usage_views(self, app: CreditUsage, name: str) -> None:
        """Every read raises PlanNotEligibleError on Free."""
        app.update_team(make_team(plan="free"))
        with pytest.raises(PlanNotEligibleError, match="free"):
            read(app, name, "ada")

    def test_the_role_comes_from_storage(self, app: CreditUsage) -> None:
        """Demoting an Admin takes effect on their next read."""
        read(app, "snapshot", "ada")
        set_member(app, "ada", role=Role.MEMBER)
        with pytest.raises(PermissionDeniedError):
            read(app, "snapshot", "ada")


@pytest.mark.usefixtures("team")
class TestSnapshot:
    def test_totals_cover_the_whole_cycle(self, app: CreditUsage) -> None:
        """total, used and remaining are for the current cycle, from its first day."""
        use(app, "mia", "e1", 100, at=datetime(2026, 11, 15, 0, 0, tzinfo=UTC))
        use(app, "noa", "e2", 50)
        use(app, "noa", "old", 999, at=datetime(2026, 11, 14, 23, 59, 59, tzinfo=UTC))
        snap = app.snapshot("ada", "acme")
        assert snap.cycle.first_day == date(2026, 11, 15)
        assert snap.cycle.last_day == date(2026, 12, 14)
        assert (snap.total_credits, snap.used, snap.remaining) == (10_000, 150, 9_850)

    def test_members_are_sorted_by_used_then_name(self, app: CreditUsage) -> None:
        """The table lists heavy users first; ties by name; zero-usage members included."""
        use(app, "noa", "e1", 5)
        use(app, "mia", "e2", 5)
        use(app, "max", "e3", 9)
        snap = app.snapshot("ada", "acme")
        assert [(m.user_id, m.used) for m in snap.members] == [
            ("max", 9), ("mia", 5), ("noa", 5), ("ada", 0),
        ]  # fmt: skip

    def test_breakdowns_by_feature_and_credit_type(self, app: CreditUsage) -> None:
        """Each member row splits usage by feature and by declared credit type."""
        use(app, "mia", "e1", 5, feature="api", credit_type="email")
        use(app, "mia", "e2", 7, feature="workspace", credit_type="phone")
        (mia,) = [m for m in app.snapshot("ada", "acme").members if m.user_id == "mia"]
        assert mia.by_feature == {
            Feature.PLATFORM: 0, Feature.EXTENSION: 0, Feature.API: 5, Feature.WORKSPACE: 7,
        }  # fmt: skip
        assert mia.by_credit_type == {"email": 5, "phone": 7}
        assert (mia.group_id, mia.limit, mia.limit_remaining) == ("sales", None, None)

    def test_a_date_range_filters_members_not_totals(self, app: CreditUsage) -> None:
        """With a range, members show that range; the cycle figures stay whole."""
        use(app, "mia", "e1", 100, at=datetime(2026, 11, 16, 12, tzinfo=UTC))
        use(app, "noa", "e2", 50, at=datetime(2026, 11, 20, 12, tzinfo=UTC))
        snap = app.snapshot(
            "ada", "acme", date_range=DateRange(first=date(2026, 11, 18), last=date(2026, 11, 27))
        )
        assert snap.used == 150
        assert {m.user_id: m.used for m in snap.members}["mia"] == 0
        assert {m.user_id: m.used for m in snap.members}["noa"] == 50

    @pytest.mark.parametrize(
        ("first", "last"),
        [(date(2026, 11, 14), date(2026, 11, 20)), (date(2026, 12, 1), date(2026, 12, 15))],
    )
    def test_a_range_outside_the_cycle_points_to_the_export(
        self, app: CreditUsage, first: date, last: date
    ) -> None:
        """Ranges reaching outside the current cycle are refused with a pointer to the export."""
        with pytest.raises(RangeOutsideCycleError, match="export_csv"):
            app.snapshot("ada", "acme", date_range=DateRange(first=first, last=last))

    def test_deactivated_members_appear_only_when_they_used_credits(self, app: CreditUsage) -> None:
        """A deactivated member shows up only for a range in which they used credits."""
        use(app, "mia", "e1", 10, at=datetime(2026, 11, 16, tzinfo=UTC))
        set_member(app, "mia", active=False)
        set_member(app, "noa", active=False)
        ids = [m.user_id for m in app.snapshot("ada", "acme").members]
        assert "mia" in ids
        assert "noa" not in ids
        later = DateRange(first=date(2026, 11, 20), last=date(2026, 11, 27))
        assert "mia" not in [
            m.user_id for m in app.snapshot("ada", "acme", date_range=later).members
        ]

    def test_follows_the_injected_clock(self, app: CreditUsage, clock: Clock) -> None:
        """When the clock passes the cycle end, the snapshot shows the new cycle."""
        use(app, "mia", "e1", 10)
        clock.now = datetime(2026, 12, 15, 0, 0, tzinfo=UTC)
        snap = app.snapshot("ada", "acme")
        assert snap.cycle.first_day == date(2026, 12, 15)
        assert snap.used == 0

    def test_round_trips_through_json(self, app: CreditUsage) -> None:
        """A snapshot dumps to JSON and loads back equal."""
        use(app, "mia", "e1", 10)
        snap = app.snapshot(
            "ada", "acme", date_range=DateRange(first=date(2026, 11, 20), last=date(2026, 11, 27))
        )
        data = json.loads(json.dumps(to_dict(snap)))
        assert data["cycle"]["start"] == "2026-11-15T00:00:00+00:00"
        assert data["members"][0]["by_feature"]["api"] == 10
        assert from_dict(Snapshot, data) == snap


class TestTeamTimeZone:
    def test_new_york_days_differ_from_utc(self, app: CreditUsage, clock: Clock) -> None:
        """Usage at 02:00 UTC belongs to the previous day in New York, and to its cycle."""
        app.create_team(make_team(timezone="America/New_York"))
        app.add_member(
            Member(team_id="acme", user_id="ada", name="Ada", email="a@a.test", role="admin")
        )
        clock.now = datetime(2026, 11, 27, 15, tzinfo=UTC)
        # 2026-11-15T03:00Z is Nov 14, 22:00 in New York: the previous cycle, not this one.
        use(app, "ada", "late", 30, at=datetime(2026, 11, 15, 3, tzinfo=UTC))
        use(app, "ada", "on-time", 20, at=datetime(2026, 11, 15, 5, tzinfo=UTC))
        snap = app.snapshot("ada", "acme")
        assert snap.cycle.start == datetime(2026, 11, 15, 5, tzinfo=UTC)
        assert snap.used == 20
        nov14 = DateRange(first=date(2026, 11, 14), last=date(2026, 11, 14))
        assert app.usage_report("ada", "acme", nov14).total == 30

    def test_changing_the_time_zone_moves_usage_between_days(
        self, app: CreditUsage, clock: Clock
    ) -> None:
        """Roll-ups follow the team's new time zone."""
        app.create_team(make_team())
        app.add_member(
            Member(team_id="acme", user_id="ada", name="Ada", email="a@a.test", role="admin")
        )
        use(app, "ada", "e1", 30, at=datetime(2026, 11, 20, 3, tzinfo=UTC))
        nov19 = DateRange(first=date(2026, 11, 19), last=date(2026, 11, 19))
        assert app.usage_report("ada", "acme", nov19).total == 0
        app.update_team(make_team(timezone="America/New_York"))
        assert app.usage_report("ada", "acme", nov19).total == 30


@pytest.mark.usefixtures("team")
class TestUsageReport:
    def test_rows_per_member_group_and_credit_type(self, app: CreditUsage) -> None:
        """Every member gets a row per declared type; rows are ordered by group, name, type."""
        use(app, "mia", "e1", 10, feature="api", credit_type="email")
        use(app, "mia", "e2", 4, feature="platform", credit_type="email")
        use(app, "noa", "e3", 3, credit_type="phone")
        report = app.usage_report(
            "ada", "acme", DateRange(first=date(2026, 11, 1), last=NOW.date())
        )
        assert [(r.group_name, r.user_id, r.credit_type, r.total) for r in report.rows] == [
            ("", "ada", "email", 0), ("", "ada", "phone", 0),
            ("", "max", "email", 0), ("", "max", "phone", 0),
            ("Sales EMEA", "mia", "email", 14), ("Sales EMEA", "mia", "phone", 0),
            ("Support", "noa", "email", 0), ("Support", "noa", "phone", 3),
        ]  # fmt: skip
        mia_email = report.rows[4]
        assert mia_email.by_feature[Feature.API] == 10
        assert mia_email.by_feature[Feature.PLATFORM] == 4
        assert report.total == 17

    def test_by_group_and_long_rows(self, app: CreditUsage) -> None:
        """The group view and the tidy view sum to the same total as the rows."""
        use(app, "mia", "e1", 10)
        use(app, "noa", "e2", 3, feature="extension")
        use(app, "ada", "e3", 2, feature="workspace")
        report = app.usage_report("ada", "acme", app.get_team("acme").cycle_at(NOW))
        groups = report.by_group()
        assert [(g.name, g.total) for g in groups] == [("", 2), ("Sales EMEA", 10), ("Support", 3)]
        assert groups[2].by_feature[Feature.EXTENSION] == 3
        long = report.long_rows()
        assert [(r.user_id, r.feature, r.credits) for r in long] == [
            ("ada", Feature.WORKSPACE, 2), ("mia", Feature.API, 10), ("noa", Feature.EXTENSION, 3),
        ]  # fmt: skip
        assert sum(r.credits for r in long) == report.total == 15

    def test_any_past_period(self, app: CreditUsage) -> None:
        """A report may cover months ago, across cycle boundaries."""
        use(app, "mia", "jan", 10, at=datetime(2026, 1, 20, tzinfo=UTC))
        use(app, "mia", "feb", 20, at=datetime(2026, 2, 20, tzinfo=UTC))
        team = app.get_team("acme")
        both = DateRange(first=date(2026, 1, 15), last=date(2026, 3, 14))
        assert app.usage_report("ada", "acme", both).total == 30
        assert (
            app.usage_report("ada", "acme", team.cycle_at(datetime(2026, 2, 1, tzinfo=UTC))).total
            == 10
        )
        partial = DateRange(first=date(2026, 2, 1), last=date(2026, 2, 20))
        assert app.usage_report("ada", "acme", partial).total == 20

    def test_deactivated_members_without_usage_are_left_out(self, app: CreditUsage) -> None:
        """Inactive members appear only with usage in the period."""
        set_member(app, "max", active=False)
        report = app.usage_report("ada", "acme", app.get_team("acme").cycle_at(NOW))
        assert "max" not in {r.user_id for r in report.rows}

    def test_to_dataframe(self, app: CreditUsage) -> None:
        """With pandas installed, the wide rows become a DataFrame."""
        use(app, "mia", "e1", 10)
        frame = app.usage_report("ada", "acme", app.get_team("acme").cycle_at(NOW)).to_dataframe()
        assert list(frame.columns[-5:]) == ["Platform", "Extension", "API", "Workspace", "total"]
        assert int(frame["total"].sum()) == 10
        assert len(frame) == 8

    def test_to_dataframe_without_pandas_says_how_to_install(
        self, app: CreditUsage, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without pandas the error names the extra to install."""
        monkeypatch.setitem(sys.modules, "pandas", None)
        report = app.usage_report("ada", "acme", app.get_team("acme").cycle_at(NOW))
        with pytest.raises(ImportError, match=r"credit_usage\[pandas\]"):
            report.to_dataframe()

    def test_a_period_must_be_a_range_or_a_cycle(self, app: CreditUsage) -> None:
        """Anything else is a ValidationError."""
        with pytest.raises(ValidationError, match="period"):
            app.usage_report("ada", "acme", "2026-11")  # type: ignore[arg-type]


@pytest.mark.usefixtures("team")
class TestExports:
    def test_wide_csv(self, app: CreditUsage) -> None:
        """The wide export has the documented header, neutralised text and integer counts."""
        set_member(app, "mia", name='=HYPERLINK("x")')
        use(app, "mia", "e1", 10)
        out = io.StringIO(newline="")
        app.export_csv("ada", "acme", app.get_team("acme").cycle_at(NOW), out)
        text = out.getvalue()
        assert text.startswith(
            "user_id,name,email,group,role,credit_type,Platform,Extension,API,Workspace,total\r\n"
        )
        rows = list(csv.reader(io.StringIO(text, newline="")))
        mia = next(r for r in rows if r[0] == "mia" and r[5] == "email")
        assert mia == ["mia", "'=HYPERLINK(\"x\")", "mia@acme.test", "Sales EMEA", "member",
                       "email", "0", "0", "10", "0", "10"]  # fmt: skip
        frame = pd.read_csv(io.StringIO(text))
        assert frame["total"].sum() == 10

    def test_long_csv_and_excel_bom(self, app: CreditUsage) -> None:
        """The long layout lists non-zero cells; excel=True starts with a BOM."""
        use(app, "mia", "e1", 10)
        out = io.StringIO(newline="")
        app.export_csv(
            "ada", "acme", app.get_team("acme").cycle_at(NOW), out, layout="long", excel=True
        )
        text = out.getvalue()
        assert text.startswith("\ufeffuser_id,name,email,group,feature,credit_type,credits\r\n")
        assert text.splitlines()[1:] == ["mia,Mia,mia@acme.test,Sales EMEA,API,email,10"]

    def test_unknown_layout(self, app: CreditUsage) -> None:
        """Only wide and long exist."""
        with pytest.raises(ValidationError, match="tall"):
            app.export_csv("ada", "acme", app.get_team("acme").cycle_at(NOW), io.StringIO(),
                           layout="tall")  # type: ignore[arg-type]  # fmt: skip

    def test_ledger_csv_lists_every_entry_of_the_period_in_order(self, app: CreditUsage) -> None:
        """The audit trail streams entries by occurred_at; reversals follow their original."""
        use(app, "noa", "late", 3, at=NOW)
        use(app, "mia", "early", 10, at=NOW - timedelta(days=2))
        app.reverse_usage("acme", "early", reversal_id="undo", amount=4)
        use(app, "mia", "outside", 1, at=datetime(2026, 11, 14, 23, tzinfo=UTC))
        out = io.StringIO(newline="")
        count = app.export_ledger_csv("ada", "acme", app.get_team("acme").cycle_at(NOW), out)
        rows = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
        assert count == 3
        assert [(r["entry_id"], r["kind"], r["amount"], r["reverses"]) for r in rows] == [
            ("early", "usage", "10", ""),
            ("undo", "reversal", "4", "early"),
            ("late", "usage", "3", ""),
        ]
        assert rows[0]["occurred_at"] == "2026-11-25T15:30:00+00:00"


def test_annual_plans_report_a_whole_year(app: CreditUsage, clock: Clock) -> None:
    """An annual cycle anchored on Feb 29 runs to the day before Feb 28 the next year."""
    app.create_team(
        Team(team_id="y", name="Yearly", plan="scale", credits_per_cycle=1000,
             billing=BillingSchedule(anchor=date(2024, 2, 29), period="annual"))
    )  # fmt: skip
    app.add_member(Member(team_id="y", user_id="ada", name="Ada", email="a@y.test", role="admin"))
    clock.now = datetime(2026, 2, 28, 0, 0, tzinfo=UTC)
    snap = app.snapshot("ada", "y")
    assert (snap.cycle.first_day, snap.cycle.last_day) == (date(2026, 2, 28), date(2027, 2, 27))
