"""Errors a web backend can map: a stable code, an HTTP status, the figures as attributes."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

import credit_usage.errors as errors
from credit_usage import (
    AlreadyExistsError,
    CreditUsage,
    CreditUsageError,
    DateRange,
    Group,
    IdempotencyConflictError,
    InsufficientCreditsError,
    NotFoundError,
    PermissionDeniedError,
    PlanNotEligibleError,
    RangeOutsideCycleError,
    SqlStorage,
    StorageError,
    ValidationError,
    to_dict,
)
from credit_usage.testing.builders import make_member
from tests.conftest import NOW, make_team

#: Every error class, with its code, HTTP status and fields: the table a host maps from.
TABLE = {
    errors.CreditUsageError: ("credit_usage_error", 500, ()),
    errors.ValidationError: ("validation_error", 422, ("field",)),
    errors.RangeOutsideCycleError: (
        "range_outside_cycle",
        422,
        ("field", "first", "last", "cycle_first_day", "cycle_last_day"),
    ),
    errors.AlreadyExistsError: (
        "already_exists",
        409,
        ("field", "team_id", "resource", "resource_id"),
    ),
    errors.NotFoundError: ("not_found", 404, ("team_id", "resource", "resource_id")),
    errors.PermissionDeniedError: ("permission_denied", 403, ("team_id", "viewer_id", "action")),
    errors.PlanNotEligibleError: ("plan_not_eligible", 403, ("team_id", "plan", "eligible_plans")),
    errors.CreditLimitExceededError: (
        "credit_limit_exceeded",
        402,
        ("team_id", "scope", "subject_id", "credit_type", "cycle", "limit", "used", "requested"),
    ),
    errors.InsufficientCreditsError: (
        "insufficient_credits",
        402,
        ("team_id", "cycle", "total", "used", "remaining", "requested"),
    ),
    errors.IdempotencyConflictError: ("idempotency_conflict", 409, ("team_id", "entry_id")),
    errors.DeliveryError: ("delivery_failed", 502, ("host", "reply_code", "reply")),
    errors.StorageError: ("storage_error", 503, ("operation",)),
}


class TestTheTable:
    """Each error class has its code, status and fields; to_dict gives a JSON body."""

    def test_every_error_class_is_in_the_table(self) -> None:
        """The table covers the whole hierarchy exported by credit_usage.errors."""
        exported = {getattr(errors, name) for name in errors.__all__}
        assert exported == set(TABLE)

    @pytest.mark.parametrize("cls", list(TABLE), ids=lambda cls: cls.__name__)
    def test_code_status_and_fields(self, cls: type[CreditUsageError]) -> None:
        """The class attributes are the stable ones of the table."""
        code, status, fields = TABLE[cls]
        assert (cls.code, cls.http_status, cls.fields) == (code, status, fields)
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", cls.code)

    def test_codes_are_unique(self) -> None:
        """No two classes share a code."""
        codes = [cls.code for cls in TABLE]
        assert len(codes) == len(set(codes))

    @pytest.mark.parametrize("cls", list(TABLE), ids=lambda cls: cls.__name__)
    def test_to_dict_is_a_json_body_with_code_message_and_figures(
        self, cls: type[CreditUsageError]
    ) -> None:
        """Every figure given is an attribute and a key of the body, dates as ISO text."""
        figures = {name: f"{name}-value" for name in cls.fields}
        if "cycle" in figures:
            figures["cycle"] = date(2026, 3, 15)  # type: ignore[assignment]
        error = cls("what went wrong", **figures)
        body = json.loads(json.dumps(to_dict(error)))
        assert body["code"] == cls.code
        assert body["message"] == "what went wrong" == str(error)
        for name, value in figures.items():
            assert getattr(error, name) == value
            assert body[name] == (value.isoformat() if isinstance(value, date) else value)

    def test_a_figure_not_given_reads_as_none(self) -> None:
        """An adapter that gives only a message still makes a complete error."""
        error = NotFoundError("team 'x' does not exist")
        assert (error.team_id, error.resource, error.resource_id) == (None, None, None)
        assert to_dict(error) == {
            "code": "not_found",
            "message": "team 'x' does not exist",
            "team_id": None,
            "resource": None,
            "resource_id": None,
        }

    def test_an_unknown_figure_is_a_programming_error(self) -> None:
        """A figure the class does not declare is refused at once."""
        with pytest.raises(TypeError, match="colour"):
            NotFoundError("x", colour="red")

    def test_a_value_that_is_no_json_is_shown_as_its_repr(self) -> None:
        """A ValidationError's field is JSON-ready whatever the caller passed."""
        body = to_dict(ValidationError("bad", field=object))  # type: ignore[arg-type]
        assert body["field"] == repr(object)


class TestTheLibraryGivesTheFigures:
    """Every error the library raises carries the figures of its message, on every storage."""

    def test_insufficient_credits(self, app: CreditUsage, team: object) -> None:
        """team_id, cycle, total, used, remaining and requested, as in the message."""
        spend(app, "e1", 9_990)
        with pytest.raises(InsufficientCreditsError) as raised:
            spend(app, "e2", 11)
        error = raised.value
        assert (error.team_id, error.cycle) == ("acme", date(2026, 11, 15))
        assert (error.total, error.used, error.remaining, error.requested) == (
            10_000,
            9_990,
            10,
            11,
        )
        assert "10 credits left" in str(error)
        assert to_dict(error)["cycle"] == "2026-11-15"

    def test_idempotency_conflict(self, app: CreditUsage, team: object) -> None:
        """The reused entry id and its team."""
        spend(app, "e1", 1)
        with pytest.raises(IdempotencyConflictError) as raised:
            spend(app, "e1", 2)
        assert (raised.value.team_id, raised.value.entry_id) == ("acme", "e1")

    def test_not_found(self, app: CreditUsage, team: object) -> None:
        """resource and resource_id name what was missing: a team, user, group or entry."""
        cases = [
            (lambda: app.get_team("nope"), ("nope", "team", "nope")),
            (lambda: spend(app, "e1", 1, user="ghost"), ("acme", "user", "ghost")),
            (
                lambda: app.add_member(make_member("zoe", group_id="nowhere")),
                ("acme", "group", "nowhere"),
            ),
            (
                lambda: app.reverse_usage("acme", "gone", reversal_id="r1"),
                ("acme", "entry", "gone"),
            ),
            (lambda: app.member_usage("ada", "acme", "ghost"), ("acme", "user", "ghost")),
        ]
        for call, expected in cases:
            with pytest.raises(NotFoundError) as raised:
                call()
            error = raised.value
            assert (error.team_id, error.resource, error.resource_id) == expected

    def test_already_exists(self, app: CreditUsage, team: object) -> None:
        """The taken id and what it names."""
        cases = [
            (lambda: app.create_team(make_team()), ("acme", "team", "acme")),
            (
                lambda: app.add_group(Group(team_id="acme", group_id="sales", name="S")),
                ("acme", "group", "sales"),
            ),
            (lambda: app.add_member(make_member("mia")), ("acme", "user", "mia")),
        ]
        for call, expected in cases:
            with pytest.raises(AlreadyExistsError) as raised:
                call()
            assert (raised.value.team_id, raised.value.resource, raised.value.resource_id) == (
                expected
            )

    def test_permission_denied(self, app: CreditUsage, team: object) -> None:
        """The team, the viewer and the action refused."""
        with pytest.raises(PermissionDeniedError) as raised:
            app.snapshot("mia", "acme")
        error = raised.value
        assert (error.team_id, error.viewer_id, error.action) == ("acme", "mia", "view_team_usage")

    def test_plan_not_eligible(self, app: CreditUsage, team: object) -> None:
        """The team's plan and the eligible ones, sorted."""
        app.update_team(make_team(plan="free"))
        with pytest.raises(PlanNotEligibleError) as raised:
            app.snapshot("ada", "acme")
        error = raised.value
        assert (error.team_id, error.plan) == ("acme", "free")
        assert error.eligible_plans == ["premium", "pro", "scale"]

    def test_range_outside_cycle(self, app: CreditUsage, team: object) -> None:
        """The range asked for and the cycle's days."""
        with pytest.raises(RangeOutsideCycleError) as raised:
            app.snapshot(
                "ada",
                "acme",
                date_range=DateRange(first=date(2026, 11, 1), last=date(2026, 11, 20)),
            )
        error = raised.value
        assert (error.field, error.first, error.last) == (
            "date_range",
            date(2026, 11, 1),
            date(2026, 11, 20),
        )
        assert (error.cycle_first_day, error.cycle_last_day) == (
            date(2026, 11, 15),
            date(2026, 12, 14),
        )

    def test_validation_names_the_field(self, app: CreditUsage, team: object) -> None:
        """A bad argument's name is the error's field."""
        for call, field in [
            (lambda: spend(app, "e1", 0), "amount"),
            (lambda: spend(app, "e1", 1, occurred_at=NOW.replace(tzinfo=None)), "occurred_at"),
            (lambda: spend(app, "", 1), "entry_id"),
            (lambda: spend(app, "e1", 1, occurred_at=NOW.replace(year=2030)), "occurred_at"),
        ]:
            with pytest.raises(ValidationError) as raised:
                call()
            assert raised.value.field == field

    def test_storage_names_the_operation(self) -> None:
        """A backend failure says what was being done."""
        storage = SqlStorage.from_url("postgresql+psycopg://u:S3cr3t@127.0.0.1:1/x")
        try:
            with pytest.raises(StorageError) as raised:
                storage.read("acme", lambda tx: tx.team)
        finally:
            storage.engine.dispose()
        assert raised.value.operation == "connect"
        assert "S3cr3t" not in json.dumps(to_dict(raised.value))


def spend(
    app: CreditUsage, entry_id: str, amount: int, *, user: str = "mia", **overrides: object
) -> object:
    fields: dict[str, object] = {
        "feature": "api",
        "credit_type": "email",
        "amount": amount,
        "occurred_at": NOW,
        "entry_id": entry_id,
    }
    fields.update(overrides)
    return app.record_usage("acme", user, **fields)  # type: ignore[arg-type]
