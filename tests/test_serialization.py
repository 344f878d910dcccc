"""Serialization: to_dict gives plain JSON data, from_dict gives the same value back."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credit_usage import (
    BillingSchedule,
    CreditLimit,
    Cycle,
    DateRange,
    Feature,
    FeatureSpec,
    Group,
    GroupUsage,
    LedgerEntry,
    LongRow,
    Member,
    MemberUsage,
    Report,
    ReportRow,
    Role,
    Snapshot,
    Team,
    ValidationError,
    from_dict,
    to_dict,
)
from tests.strategies import (
    credit_limits,
    cycles,
    date_ranges,
    group_usages,
    groups,
    ledger_entries,
    long_rows,
    member_usages,
    members,
    report_rows,
    reports,
    schedules,
    snapshots,
    teams,
)

#: Every public value type and a strategy for its values.
VALUE_TYPES: list[tuple[type[Any], st.SearchStrategy[Any]]] = [
    (Team, teams()),
    (Group, groups()),
    (Member, members()),
    (CreditLimit, credit_limits()),
    (LedgerEntry, ledger_entries()),
    (BillingSchedule, schedules()),
    (Cycle, cycles()),
    (DateRange, date_ranges()),
    (Snapshot, snapshots()),
    (MemberUsage, member_usages()),
    (Report, reports()),
    (ReportRow, report_rows()),
    (LongRow, long_rows()),
    (GroupUsage, group_usages()),
]

WHEN = datetime(2026, 3, 1, 12, tzinfo=UTC)


def plain(data: object) -> bool:
    """Whether ``data`` is made only of dicts, lists, str, int, bool and None (exact types)."""
    if isinstance(data, dict):
        return all(type(k) is str and plain(v) for k, v in data.items())
    if isinstance(data, list):
        return all(plain(item) for item in data)
    return data is None or type(data) in (str, int, bool)


def usage_data(**overrides: object) -> dict[str, Any]:
    data: dict[str, Any] = {
        "team_id": "acme",
        "entry_id": "e1",
        "kind": "usage",
        "user_id": "mia",
        "group_id": None,
        "feature": "api",
        "credit_type": "email",
        "amount": 5,
        "occurred_at": "2026-03-01T12:00:00+00:00",
        "recorded_at": None,
        "reverses": None,
    }
    data.update(overrides)
    return data


def snapshot() -> Snapshot:
    cycle = BillingSchedule(anchor=date(2026, 1, 31)).cycle(1, "America/Santiago")
    mia = MemberUsage(
        user_id="mia",
        name="=Mia",
        email="mia@acme.test",
        role=Role.MEMBER,
        group_id="sales",
        used=12,
        by_feature={
            Feature.API: 12,
            Feature.PLATFORM: 0,
            Feature.EXTENSION: 0,
            Feature.WORKSPACE: 0,
        },
        by_credit_type={"email": 12, "phone": 0},
        limit=100,
        limit_remaining=88,
    )
    return Snapshot(
        team_id="acme",
        cycle=cycle,
        date_range=DateRange(first=date(2026, 3, 1), last=date(2026, 3, 7)),
        total_credits=1000,
        used=12,
        remaining=988,
        members=[mia],
    )


class TestRoundTrip:
    """from_dict(T, to_dict(x)) == x for every public value type."""

    @pytest.mark.parametrize(
        ("cls", "values"), VALUE_TYPES, ids=[cls.__name__ for cls, _ in VALUE_TYPES]
    )
    @given(data=st.data())
    def test_from_dict_of_to_dict_is_the_same_value(
        self, cls: type[Any], values: st.SearchStrategy[Any], data: st.DataObject
    ) -> None:
        """Every value survives to_dict, json and from_dict unchanged, through plain data only."""
        value = data.draw(values)
        assert type(value) is cls
        dumped = to_dict(value)
        assert plain(dumped)
        assert from_dict(cls, dumped) == value
        assert from_dict(cls, json.loads(json.dumps(dumped))) == value

    def test_a_snapshot_goes_through_json(self) -> None:
        """json.dumps(to_dict(snapshot)) works and loads back to an equal snapshot."""
        original = snapshot()
        text = json.dumps(to_dict(original))
        assert from_dict(Snapshot, json.loads(text)) == original


class TestFormats:
    """Datetimes ISO 8601 with offset, dates ISO, enums by value."""

    def test_a_snapshot_as_plain_data(self) -> None:
        """Cycle bounds carry their offset, days are ISO dates, enums are their values."""
        data = to_dict(snapshot())
        assert data["cycle"] == {
            "index": 1,
            "start": "2026-02-28T03:00:00+00:00",
            "end": "2026-03-31T03:00:00+00:00",
            "first_day": "2026-02-28",
            "last_day": "2026-03-30",
        }
        assert data["date_range"] == {"first": "2026-03-01", "last": "2026-03-07"}
        member = data["members"][0]
        assert type(member["role"]) is str
        assert member["role"] == "member"
        assert member["by_feature"] == {"platform": 0, "extension": 0, "api": 12, "workspace": 0}
        assert all(type(key) is str for key in member["by_feature"])

    def test_a_team_as_plain_data(self) -> None:
        """A team's plan and period are strings, its credit types a list."""
        team = Team(
            team_id="acme",
            name="Acme",
            plan="pro",
            billing=BillingSchedule(anchor=date(2024, 2, 29), period="annual"),
            credits_per_cycle=500,
            timezone="Europe/London",
            credit_types=("email", "phone"),
        )
        assert to_dict(team) == {
            "team_id": "acme",
            "name": "Acme",
            "plan": "pro",
            "billing": {"anchor": "2024-02-29", "period": "annual"},
            "credits_per_cycle": 500,
            "timezone": "Europe/London",
            "credit_types": ["email", "phone"],
            "features": [
                {"value": "platform", "label": "Platform"},
                {"value": "extension", "label": "Extension"},
                {"value": "api", "label": "API"},
                {"value": "workspace", "label": "Workspace"},
            ],
        }
        assert type(to_dict(team)["plan"]) is str

    def test_a_result_built_with_an_enums_string_value_is_written_as_that_string(self) -> None:
        """Result types do not convert their fields; a role given as "admin" is written as is."""
        row = LongRow(
            user_id="ada",
            name="Ada",
            email="ada@acme.test",
            group_id=None,
            group_name="",
            feature="api",  # type: ignore[arg-type]
            credit_type="email",
            credits=3,
        )
        assert to_dict(row)["feature"] == "api"

    def test_a_ledger_entry_is_written_in_utc_with_its_offset(self) -> None:
        """occurred_at is stored in UTC and written with its +00:00 offset."""
        entry = from_dict(LedgerEntry, usage_data(occurred_at="2026-03-01T09:00:00-03:00"))
        assert entry.occurred_at == WHEN
        assert to_dict(entry) == usage_data(kind="usage", feature="api")
        assert to_dict(entry)["occurred_at"] == "2026-03-01T12:00:00+00:00"

    def test_any_offset_is_read(self) -> None:
        """A datetime with a non-UTC offset is read as that instant."""
        cycle = from_dict(
            Cycle,
            {
                "index": 0,
                "start": "2026-03-01T00:00:00+05:30",
                "end": "2026-04-01T00:00:00+05:30",
                "first_day": "2026-03-01",
                "last_day": "2026-03-31",
            },
        )
        assert cycle.start == datetime(2026, 2, 28, 18, 30, tzinfo=UTC)


class TestBadData:
    """Data that does not describe a valid value is a ValidationError naming what was wrong."""

    def test_a_naive_datetime_string_is_refused(self) -> None:
        """A datetime without an offset is refused, naming it."""
        with pytest.raises(ValidationError, match="2026-03-01T12:00:00"):
            from_dict(LedgerEntry, usage_data(occurred_at="2026-03-01T12:00:00"))

    def test_a_naive_datetime_in_a_cycle_is_refused(self) -> None:
        """Cycles do not validate their own bounds, so the converter must."""
        data = to_dict(snapshot().cycle)
        data["start"] = "2026-02-28T03:00:00"
        with pytest.raises(ValidationError, match="offset"):
            from_dict(Cycle, data)

    def test_a_naive_datetime_object_is_refused(self) -> None:
        """A naive datetime object is no better than a naive string."""
        data = to_dict(snapshot().cycle)
        data["end"] = datetime(2026, 3, 31, 3)
        with pytest.raises(ValidationError, match="offset"):
            from_dict(Cycle, data)

    @pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00+00:00", 1_700_000_000])
    def test_a_malformed_datetime_is_refused(self, value: object) -> None:
        """Text that is not ISO 8601, or a number, is refused, naming it."""
        with pytest.raises(ValidationError, match=repr(value).replace("+", r"\+")):
            from_dict(LedgerEntry, usage_data(occurred_at=value))

    @pytest.mark.parametrize(("field", "value"), [("kind", "refund"), ("feature", "SMS!")])
    def test_an_unknown_enum_value_is_refused(self, field: str, value: str) -> None:
        """A kind outside the enum, or a feature that is no slug, is refused, naming it."""
        with pytest.raises(ValidationError, match=re.escape(value)):
            from_dict(LedgerEntry, usage_data(**{field: value}))

    def test_a_feature_key_that_is_no_string_is_refused(self) -> None:
        """A by_feature key must be a feature's value, a string."""
        data = to_dict(snapshot().members[0])
        data["by_feature"][7] = 1
        with pytest.raises(ValidationError, match="7"):
            from_dict(MemberUsage, data)

    def test_declared_features_round_trip(self) -> None:
        """A team's own features come back in their order, with their labels."""
        team = Team(
            team_id="acme",
            name="Acme",
            plan="gold",
            billing=BillingSchedule(anchor=date(2024, 2, 29)),
            credits_per_cycle=500,
            features=(
                FeatureSpec(value="search", label="Search"),
                FeatureSpec(value="enrich", label="=Enrichment"),
            ),
        )
        assert to_dict(team)["features"] == [
            {"value": "search", "label": "Search"},
            {"value": "enrich", "label": "=Enrichment"},
        ]
        assert from_dict(Team, json.loads(json.dumps(to_dict(team)))) == team

    @pytest.mark.parametrize("field", ["team_id", "amount", "occurred_at", "kind"])
    def test_a_missing_field_is_refused(self, field: str) -> None:
        """A required field left out is refused, naming it."""
        data = usage_data()
        del data[field]
        with pytest.raises(ValidationError, match=field):
            from_dict(LedgerEntry, data)

    @pytest.mark.parametrize("amount", [1.5, 2.0, True, "5"])
    def test_an_amount_that_is_not_an_integer_is_refused(self, amount: object) -> None:
        """A float, boolean or text amount is refused, never rounded or coerced."""
        with pytest.raises(ValidationError, match=repr(amount)):
            from_dict(LedgerEntry, usage_data(amount=amount))

    @pytest.mark.parametrize(("field", "value"), [("team_id", None), ("user_id", 42)])
    def test_an_id_that_is_not_text_is_refused(self, field: str, value: object) -> None:
        """None or a number is not an id; it is refused, not turned into "None" or "42"."""
        with pytest.raises(ValidationError, match=repr(value)):
            from_dict(LedgerEntry, usage_data(**{field: value}))

    def test_a_name_of_null_is_refused(self) -> None:
        """A member whose name is null is refused, not named "None"."""
        data = {
            "team_id": "acme",
            "user_id": "mia",
            "name": None,
            "email": "mia@acme.test",
            "role": "member",
            "group_id": None,
            "active": True,
        }
        with pytest.raises(ValidationError, match="None"):
            from_dict(Member, data)

    def test_domain_rules_apply(self) -> None:
        """from_dict builds through the constructors, so their checks run too."""
        with pytest.raises(ValidationError, match=r"2026-03-02.*2026-03-01"):
            from_dict(DateRange, {"first": "2026-03-02", "last": "2026-03-01"})
        data = to_dict(
            Team(
                team_id="acme",
                name="Acme",
                plan="pro",
                billing=BillingSchedule(anchor=date(2026, 1, 1)),
                credits_per_cycle=1,
            )
        )
        with pytest.raises(ValidationError, match="Mars/Olympus"):
            from_dict(Team, {**data, "timezone": "Mars/Olympus"})
        with pytest.raises(ValidationError, match="amount"):
            from_dict(LedgerEntry, usage_data(amount=0))

    @pytest.mark.parametrize("credit_types", ["email", {"email": 1}, None])
    def test_credit_types_that_are_not_a_list_are_refused(self, credit_types: object) -> None:
        """A bare string is not split into one-letter types, nor a dict read as its keys."""
        data = to_dict(
            Team(
                team_id="acme",
                name="Acme",
                plan="pro",
                billing=BillingSchedule(anchor=date(2026, 1, 1)),
                credits_per_cycle=1,
            )
        )
        with pytest.raises(ValidationError, match=re.escape(repr(credit_types))):
            from_dict(Team, {**data, "credit_types": credit_types})

    def test_rows_that_are_not_a_list_are_refused(self) -> None:
        """A report whose rows are a single object is refused."""
        data = {"team_id": "acme", "period": {"first": "2026-03-01", "last": "2026-03-31"}}
        with pytest.raises(ValidationError, match="expected a list"):
            from_dict(Report, {**data, "rows": {"user_id": "mia"}})

    @pytest.mark.parametrize("active", ["false", 0, None])
    def test_a_flag_that_is_not_a_boolean_is_refused(self, active: object) -> None:
        """active must be true or false; the string "false" is not read as True."""
        data = {
            "team_id": "acme",
            "user_id": "mia",
            "name": "Mia",
            "email": "mia@acme.test",
            "role": "member",
            "group_id": None,
            "active": active,
        }
        with pytest.raises(ValidationError, match=repr(active)):
            from_dict(Member, data)

    @pytest.mark.parametrize("value", ["2026/03/01", "", 20260301])
    def test_a_malformed_date_is_refused(self, value: object) -> None:
        """A date that is not an ISO date is refused, naming it."""
        with pytest.raises(ValidationError, match=repr(value)):
            from_dict(DateRange, {"first": value, "last": "2026-03-31"})
