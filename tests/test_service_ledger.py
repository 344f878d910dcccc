"""Writing the ledger through the service: validation, idempotency, reversals, the pool."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from credit_usage import (
    BillingSchedule,
    CreditUsage,
    DateRange,
    EntryKind,
    Feature,
    Group,
    IdempotencyConflictError,
    InsufficientCreditsError,
    LedgerEntry,
    Member,
    NotFoundError,
    PermissionDeniedError,
    Team,
    ValidationError,
)
from credit_usage.domain.ledger import MAX_LEDGER_VOLUME
from credit_usage.domain.validation import MAX_CREDITS
from credit_usage.testing.storage import ledger as kit_ledger
from credit_usage.testing.storage import reads
from tests.conftest import NOW, make_team


def ledger(app: CreditUsage, team_id: str = "acme") -> list[LedgerEntry]:
    """Every entry of the team, from storage."""
    return kit_ledger(app.storage, team_id)


def use(app: CreditUsage, entry_id: str, amount: int = 10, **overrides: object) -> LedgerEntry:
    fields: dict[str, object] = {
        "feature": "api",
        "credit_type": "email",
        "amount": amount,
        "occurred_at": NOW,
        "entry_id": entry_id,
    }
    user = overrides.pop("user_id", "mia")
    fields.update(overrides)
    return app.record_usage("acme", user, **fields)  # type: ignore[arg-type]


def used(app: CreditUsage) -> int:
    return app.snapshot("ada", "acme").used


@pytest.mark.usefixtures("team")
class TestRecordUsage:
    def test_records_an_entry_with_the_members_current_group(self, app: CreditUsage) -> None:
        """A usage entry stores the member's group at the time of use."""
        entry = use(app, "e1", 25)
        assert entry.kind is EntryKind.USAGE
        assert (entry.user_id, entry.group_id, entry.feature) == ("mia", "sales", Feature.API)
        assert entry.recorded_at == NOW
        assert ledger(app) == [entry]

    def test_the_same_entry_id_and_payload_counts_once(self, app: CreditUsage) -> None:
        """A retried write returns the stored entry and is counted once."""
        first = use(app, "e1", 25)
        again = use(app, "e1", 25)
        assert again == first
        assert used(app) == 25
        assert len(ledger(app)) == 1

    def test_the_same_entry_id_with_another_payload_conflicts(self, app: CreditUsage) -> None:
        """Reusing an entry id for other credits is an IdempotencyConflictError."""
        use(app, "e1", 25)
        with pytest.raises(IdempotencyConflictError, match="e1"):
            use(app, "e1", 26)
        assert used(app) == 25

    def test_a_retry_after_the_member_moved_group_is_still_the_same_call(
        self, app: CreditUsage
    ) -> None:
        """The group is our snapshot, not the caller's payload: a retry does not conflict."""
        first = use(app, "e1", 25)
        mia = reads(app.storage, "acme").member("mia")
        assert mia is not None
        app.update_member(Member(**{**_fields(mia), "group_id": "support"}))
        assert use(app, "e1", 25) == first

    def test_a_refused_write_does_not_burn_its_id(self, app: CreditUsage) -> None:
        """After a write is refused, the same id can be used for a valid write."""
        with pytest.raises(InsufficientCreditsError):
            use(app, "e1", 10_001)
        assert ledger(app) == []
        assert use(app, "e1", 10).amount == 10

    def test_the_team_pool_is_enforced(self, app: CreditUsage) -> None:
        """Usage beyond the cycle's credits is refused with the numbers in the message."""
        use(app, "e1", 9_990)
        with pytest.raises(InsufficientCreditsError, match=r"10 credits left.*11 were requested"):
            use(app, "e2", 11)
        use(app, "e3", 10)
        assert used(app) == 10_000

    def test_grants_add_to_the_pool_of_their_cycle(self, app: CreditUsage) -> None:
        """A top-up in the cycle raises its total and lets more usage through."""
        app.grant_credits("acme", amount=500, occurred_at=NOW, entry_id="g1")
        use(app, "e1", 10_400)
        snap = app.snapshot("ada", "acme")
        assert (snap.total_credits, snap.used, snap.remaining) == (10_500, 10_400, 100)

    def test_a_grant_is_idempotent(self, app: CreditUsage) -> None:
        """The same grant twice adds its credits once; another amount conflicts."""
        app.grant_credits("acme", amount=500, occurred_at=NOW, entry_id="g1")
        app.grant_credits("acme", amount=500, occurred_at=NOW, entry_id="g1")
        assert app.snapshot("ada", "acme").total_credits == 10_500
        with pytest.raises(IdempotencyConflictError):
            app.grant_credits("acme", amount=600, occurred_at=NOW, entry_id="g1")

    def test_each_cycle_has_its_own_pool(self, app: CreditUsage) -> None:
        """Usage in a past cycle is checked against that cycle's pool."""
        use(app, "now", 10_000)
        past = datetime(2026, 10, 20, tzinfo=UTC)
        use(app, "past", 10_000, occurred_at=past)
        with pytest.raises(InsufficientCreditsError, match="2026-10-15"):
            use(app, "past-2", 1, occurred_at=past)

    def test_a_deactivated_member_cannot_use_credits(self, app: CreditUsage) -> None:
        """Usage by a deactivated member is refused and nothing is written."""
        mia = reads(app.storage, "acme").member("mia")
        assert mia is not None
        app.update_member(Member(**{**_fields(mia), "active": False}))
        with pytest.raises(PermissionDeniedError, match="mia"):
            use(app, "e1")
        assert ledger(app) == []


def _fields(member: Member) -> dict[str, object]:
    return {
        "team_id": member.team_id,
        "user_id": member.user_id,
        "name": member.name,
        "email": member.email,
        "role": member.role,
        "group_id": member.group_id,
        "active": member.active,
    }


@pytest.mark.usefixtures("team")
class TestBadInputWritesNothing:
    @pytest.mark.parametrize(
        ("overrides", "error", "message"),
        [
            ({"occurred_at": datetime(2026, 11, 27, 12)}, ValidationError, "naive"),
            ({"amount": 0}, ValidationError, "0"),
            ({"amount": -5}, ValidationError, "-5"),
            ({"amount": 2.5}, ValidationError, "2.5"),
            ({"amount": True}, ValidationError, "True"),
            ({"credit_type": "sms"}, ValidationError, "sms"),
            ({"feature": "mobile"}, ValidationError, "mobile"),
            ({"user_id": "ghost"}, NotFoundError, "ghost"),
            ({"entry_id": ""}, ValidationError, "entry_id"),
        ],
    )
    def test_record_usage_refuses(
        self, app: CreditUsage, overrides: dict[str, object], error: type[Exception], message: str
    ) -> None:
        """Each kind of bad input raises its typed error naming the value, and writes nothing."""
        overrides = dict(overrides)  # the parametrized dict is shared by every storage
        entry_id = str(overrides.pop("entry_id", "e1"))
        with pytest.raises(error, match=message):
            use(app, entry_id, **overrides)
        assert ledger(app) == []

    def test_unknown_team(self, app: CreditUsage) -> None:
        """Writing to a team that does not exist is a NotFoundError."""
        with pytest.raises(NotFoundError, match="nope"):
            app.record_usage(
                "nope", "mia", feature="api", credit_type="email", amount=1,
                occurred_at=NOW, entry_id="e1",
            )  # fmt: skip

    def test_invalid_time_zone(self, app: CreditUsage) -> None:
        """A team with an unknown IANA zone cannot be created."""
        with pytest.raises(ValidationError, match="Mars/Olympus"):
            make_team(team_id="other", timezone="Mars/Olympus")
        with pytest.raises(NotFoundError):
            app.get_team("other")

    def test_reversed_date_range(self, app: CreditUsage) -> None:
        """A range whose first day is after its last is refused."""
        with pytest.raises(ValidationError, match=r"2026-11-20.*2026-11-16"):
            DateRange(first=date(2026, 11, 20), last=date(2026, 11, 16))

    def test_grant_with_a_naive_datetime(self, app: CreditUsage) -> None:
        """A grant needs an aware datetime too."""
        with pytest.raises(ValidationError, match="naive"):
            app.grant_credits("acme", amount=5, occurred_at=datetime(2026, 11, 1), entry_id="g")
        assert ledger(app) == []

    def test_member_in_an_unknown_group(self, app: CreditUsage) -> None:
        """A member cannot join a group the team does not have."""
        with pytest.raises(NotFoundError, match="legal"):
            app.add_member(
                Member(team_id="acme", user_id="lu", name="Lu", email="lu@acme.test",
                       role="member", group_id="legal")
            )  # fmt: skip
        assert reads(app.storage, "acme").member("lu") is None

    def test_duplicate_group(self, app: CreditUsage) -> None:
        """A group id can be used once per team."""
        with pytest.raises(ValidationError, match="sales"):
            app.add_group(Group(team_id="acme", group_id="sales", name="Again"))


@pytest.mark.usefixtures("team")
class TestReversals:
    def test_a_partial_then_a_full_reversal(self, app: CreditUsage) -> None:
        """A reversal refunds part of an entry; ``amount=None`` refunds the remainder."""
        use(app, "e1", 100)
        partial = app.reverse_usage("acme", "e1", reversal_id="r1", amount=30)
        rest = app.reverse_usage("acme", "e1", reversal_id="r2")
        assert (partial.amount, rest.amount) == (30, 70)
        assert used(app) == 0

    def test_reversals_are_capped_at_the_original(self, app: CreditUsage) -> None:
        """More than what is left to reverse is refused and writes nothing."""
        use(app, "e1", 100)
        app.reverse_usage("acme", "e1", reversal_id="r1", amount=60)
        with pytest.raises(ValidationError, match="40 credits left"):
            app.reverse_usage("acme", "e1", reversal_id="r2", amount=41)
        app.reverse_usage("acme", "e1", reversal_id="r3")
        with pytest.raises(ValidationError, match="fully reversed"):
            app.reverse_usage("acme", "e1", reversal_id="r4")
        assert used(app) == 0
        assert [e.entry_id for e in ledger(app)] == ["e1", "r1", "r3"]

    def test_a_reversal_is_idempotent(self, app: CreditUsage) -> None:
        """The same reversal id twice refunds once."""
        use(app, "e1", 100)
        first = app.reverse_usage("acme", "e1", reversal_id="r1", amount=30)
        assert app.reverse_usage("acme", "e1", reversal_id="r1", amount=30) == first
        assert used(app) == 70
        with pytest.raises(IdempotencyConflictError):
            app.reverse_usage("acme", "e1", reversal_id="r1", amount=31)

    def test_a_reversal_in_a_past_cycle_nets_out_there(
        self, app: CreditUsage, clock: object
    ) -> None:
        """Reversing last cycle's usage changes last cycle, not the current one."""
        past = datetime(2026, 10, 20, 9, tzinfo=UTC)
        use(app, "old", 100, occurred_at=past)
        use(app, "new", 50)
        reversal = app.reverse_usage("acme", "old", reversal_id="r-old", amount=40)
        assert reversal.occurred_at == past
        assert reversal.recorded_at == NOW
        assert used(app) == 50
        last_cycle = app.get_team("acme").cycle_at(past)
        report = app.usage_report("ada", "acme", last_cycle)
        assert report.total == 60
        day = app.usage_report(
            "ada", "acme", DateRange(first=date(2026, 10, 20), last=date(2026, 10, 20))
        )
        assert day.total == 60

    def test_only_usage_can_be_reversed(self, app: CreditUsage) -> None:
        """Reversing a grant or an unknown entry is refused."""
        app.grant_credits("acme", amount=5, occurred_at=NOW, entry_id="g1")
        with pytest.raises(ValidationError, match="g1"):
            app.reverse_usage("acme", "g1", reversal_id="r1")
        with pytest.raises(NotFoundError, match="nope"):
            app.reverse_usage("acme", "nope", reversal_id="r2")
        assert [e.entry_id for e in ledger(app)] == ["g1"]


def entry(entry_id: str, amount: int = 10, **overrides: object) -> LedgerEntry:
    fields: dict[str, object] = {
        "team_id": "acme",
        "entry_id": entry_id,
        "kind": "usage",
        "user_id": "mia",
        "group_id": "sales",
        "feature": "platform",
        "credit_type": "phone",
        "amount": amount,
        "occurred_at": NOW - timedelta(hours=1),
    }
    fields.update(overrides)
    return LedgerEntry(**fields)  # type: ignore[arg-type]


@pytest.mark.usefixtures("team")
class TestRecordMany:
    def test_returns_how_many_were_new(self, app: CreditUsage) -> None:
        """Entries already stored are skipped and not counted."""
        assert app.record_many([entry("a"), entry("b")]) == 2
        assert app.record_many([entry("b"), entry("c")]) == 1
        assert used(app) == 30

    def test_duplicates_within_a_batch_count_once(self, app: CreditUsage) -> None:
        """The same entry twice in one batch is stored once."""
        assert app.record_many([entry("a"), entry("a"), entry("b")]) == 2
        assert used(app) == 20

    def test_is_all_or_nothing(self, app: CreditUsage) -> None:
        """One conflicting entry refuses the whole batch."""
        app.record_many([entry("a")])
        with pytest.raises(IdempotencyConflictError, match="'a'"):
            app.record_many([entry("b"), entry("c"), entry("a", amount=11)])
        assert [e.entry_id for e in ledger(app)] == ["a"]

    def test_keeps_historical_groups(self, app: CreditUsage) -> None:
        """An import stores the group each entry carries, not the member's current one."""
        app.record_many([entry("a", group_id="support")])
        (stored,) = ledger(app)
        assert stored.group_id == "support"
        assert stored.recorded_at == NOW

    def test_enforces_the_pool_unless_told_not_to(self, app: CreditUsage) -> None:
        """``enforce_limits=False`` imports history beyond the pool."""
        with pytest.raises(InsufficientCreditsError):
            app.record_many([entry("a", 6_000), entry("b", 6_000)])
        assert ledger(app) == []
        assert app.record_many([entry("a", 6_000), entry("b", 6_000)], enforce_limits=False) == 2
        assert used(app) == 12_000

    def test_refuses_entries_of_several_teams(self, app: CreditUsage) -> None:
        """One call ingests one team's entries."""
        app.create_team(make_team(team_id="globex"))
        with pytest.raises(ValidationError, match="globex"):
            app.record_many([entry("a"), entry("b", team_id="globex")])
        assert ledger(app) == []

    @pytest.mark.parametrize(
        ("overrides", "error"),
        [
            ({"user_id": "ghost"}, NotFoundError),
            ({"group_id": "legal"}, NotFoundError),
            ({"credit_type": "sms"}, ValidationError),
        ],
    )
    def test_refuses_unknown_references(
        self, app: CreditUsage, overrides: dict[str, object], error: type[Exception]
    ) -> None:
        """Users, groups and credit types must exist in the team."""
        with pytest.raises(error):
            app.record_many([entry("a"), entry("b", **overrides)])
        assert ledger(app) == []

    def test_takes_reversals_of_earlier_entries(self, app: CreditUsage) -> None:
        """A reversal in a batch is checked against its original, even in the same batch."""
        reversal = entry("r", 4, kind="reversal", reverses="a")
        assert app.record_many([entry("a", 10), reversal]) == 2
        assert used(app) == 6
        with pytest.raises(ValidationError, match="exceeds"):
            app.record_many([entry("r2", 7, kind="reversal", reverses="a")])
        with pytest.raises(ValidationError, match="match its original"):
            app.record_many([entry("r3", 1, kind="reversal", reverses="a", feature="api")])
        assert used(app) == 6


@pytest.mark.usefixtures("team")
class TestGroupsAtTheTimeOfUse:
    def test_moving_a_member_does_not_rewrite_history(self, app: CreditUsage) -> None:
        """Usage before a move stays with the old group; usage after goes to the new one."""
        use(app, "before", 40)
        mia = reads(app.storage, "acme").member("mia")
        assert mia is not None
        app.update_member(Member(**{**_fields(mia), "group_id": "support"}))
        use(app, "after", 15)
        report = app.usage_report("ada", "acme", app.get_team("acme").cycle_at(NOW))
        totals = {g.name: g.total for g in report.by_group()}
        assert totals == {"": 0, "Sales EMEA": 40, "Support": 15}
        mia_rows = [
            (r.group_name, r.credit_type, r.total) for r in report.rows if r.user_id == "mia"
        ]
        assert mia_rows == [
            ("Sales EMEA", "email", 40),
            ("Support", "email", 15),
            ("Support", "phone", 0),
        ]


def test_team_is_read_not_trusted(app: CreditUsage) -> None:
    """Creating a team twice is refused and the first one is kept."""
    app.create_team(make_team())
    with pytest.raises(ValidationError, match="acme"):
        app.create_team(make_team(name="Impostor"))
    stored = app.get_team("acme")
    assert isinstance(stored, Team)
    assert stored.name == "Acme"


@pytest.mark.usefixtures("team")
class TestRetriesAfterAChange:
    """A retry of a stored entry returns it, whatever changed in the team since."""

    def test_a_retry_after_the_member_was_deactivated_returns_the_stored_entry(
        self, app: CreditUsage
    ) -> None:
        """The member left since the spend; the host's retry still learns the spend landed."""
        first = use(app, "e1", 7)
        mia = reads(app.storage, "acme").member("mia")
        assert mia is not None
        app.update_member(Member(**{**_fields(mia), "active": False}))
        assert use(app, "e1", 7) == first
        assert used(app) == 7

    def test_a_retry_after_the_credit_type_was_withdrawn_returns_the_stored_entry(
        self, app: CreditUsage
    ) -> None:
        """The team no longer declares the entry's credit type; the retry is no error."""
        first = use(app, "e1", 7, credit_type="phone")
        app.update_team(make_team(credit_types=("email",)))
        assert use(app, "e1", 7, credit_type="phone") == first
        with pytest.raises(ValidationError, match="phone"):
            use(app, "e2", 7, credit_type="phone")

    def test_a_bulk_retry_after_a_change_counts_nothing_new(self, app: CreditUsage) -> None:
        """record_many of entries already stored returns 0 after their member was deactivated."""
        entries = [_usage(f"m{i}") for i in range(3)]
        assert app.record_many(entries) == 3
        mia = reads(app.storage, "acme").member("mia")
        assert mia is not None
        app.update_member(Member(**{**_fields(mia), "active": False}))
        app.update_team(make_team(credit_types=("phone",)))
        assert app.record_many(entries) == 0

    def test_a_reversal_retry_after_the_member_was_deactivated_returns_it(
        self, app: CreditUsage
    ) -> None:
        """A reversal retried after its member was deactivated returns the stored reversal."""
        use(app, "e1", 7)
        first = app.reverse_usage("acme", "e1", reversal_id="r1", amount=2)
        mia = reads(app.storage, "acme").member("mia")
        assert mia is not None
        app.update_member(Member(**{**_fields(mia), "active": False}))
        assert app.reverse_usage("acme", "e1", reversal_id="r1", amount=2) == first


def _usage(entry_id: str, *, at: datetime = NOW, amount: int = 1) -> LedgerEntry:
    return LedgerEntry(
        team_id="acme",
        entry_id=entry_id,
        kind="usage",
        user_id="mia",
        group_id="sales",
        feature="api",
        credit_type="email",
        amount=amount,
        occurred_at=at,
    )


def _grant(entry_id: str, amount: int, *, at: datetime = NOW) -> LedgerEntry:
    return LedgerEntry(
        team_id="acme",
        entry_id=entry_id,
        kind="grant",
        user_id=None,
        group_id=None,
        feature=None,
        credit_type=None,
        amount=amount,
        occurred_at=at,
    )


@pytest.mark.usefixtures("team")
class TestUsageInTheFuture:
    """Usage dated further ahead of the clock than the tolerance is refused; the past is fine."""

    def test_usage_up_to_the_tolerance_ahead_is_recorded(self, app: CreditUsage) -> None:
        """Five minutes ahead of the clock (the default tolerance) is still accepted."""
        use(app, "e1", 1, occurred_at=NOW + timedelta(minutes=5))
        assert used(app) == 1

    def test_usage_beyond_the_tolerance_is_refused_naming_both_instants(
        self, app: CreditUsage
    ) -> None:
        """A microsecond beyond the tolerance is a ValidationError naming both instants."""
        ahead = NOW + timedelta(minutes=5, microseconds=1)
        with pytest.raises(ValidationError) as raised:
            use(app, "e1", 1, occurred_at=ahead)
        assert ahead.isoformat() in str(raised.value)
        assert NOW.isoformat() in str(raised.value)
        assert ledger(app) == []

    def test_next_years_pool_cannot_be_spent_today(self, app: CreditUsage) -> None:
        """The audit's case: usage dated a year ahead, by one call or in a batch, is refused."""
        next_year = NOW + timedelta(days=365)
        with pytest.raises(ValidationError, match="future"):
            use(app, "e1", 1, occurred_at=next_year)
        with pytest.raises(ValidationError, match="future"):
            app.record_many([_usage("m1"), _usage("m2", at=next_year)])
        assert ledger(app) == []

    def test_past_usage_of_any_age_is_recorded(self, app: CreditUsage) -> None:
        """There is no bound into the past: imports of old history are usage too."""
        use(app, "old", 1, occurred_at=datetime(1990, 1, 1, tzinfo=UTC))
        assert [e.entry_id for e in ledger(app)] == ["old"]

    def test_the_tolerance_is_a_setting(self, app: CreditUsage) -> None:
        """CreditUsage(future_tolerance=...) widens or narrows the window."""
        strict = CreditUsage(app.storage, clock=app.clock, future_tolerance=timedelta(0))
        with pytest.raises(ValidationError):
            strict.record_usage(
                "acme", "mia", feature="api", credit_type="email", amount=1,
                occurred_at=NOW + timedelta(microseconds=1), entry_id="e1",
            )  # fmt: skip
        lenient = CreditUsage(app.storage, clock=app.clock, future_tolerance=timedelta(days=1))
        lenient.record_usage(
            "acme", "mia", feature="api", credit_type="email", amount=1,
            occurred_at=NOW + timedelta(hours=23), entry_id="e2",
        )  # fmt: skip

    @pytest.mark.parametrize("tolerance", [timedelta(minutes=-1), 300, None])
    def test_a_bad_tolerance_is_refused(self, app: CreditUsage, tolerance: object) -> None:
        """The tolerance is a timedelta of zero or more."""
        with pytest.raises(ValidationError, match="future_tolerance"):
            CreditUsage(app.storage, future_tolerance=tolerance)  # type: ignore[arg-type]

    def test_grants_may_be_dated_ahead(self, app: CreditUsage) -> None:
        """A top-up for next cycle is not usage: a grant may be dated in the future."""
        app.grant_credits(
            "acme", amount=50, occurred_at=NOW + timedelta(days=30), entry_id="g-next"
        )
        assert [e.entry_id for e in ledger(app)] == ["g-next"]


@pytest.mark.usefixtures("team")
class TestTheLedgerVolumeBound:
    """No team's figures can overflow 64 bits: its ledger moves at most 10**18 credits."""

    def test_a_thousand_maximal_grants_are_exact_and_one_more_is_refused(
        self, app: CreditUsage
    ) -> None:
        """1,000 grants of 10**15 reach the bound exactly; the next credit is refused by name."""
        app.record_many([_grant(f"g{i}", MAX_CREDITS) for i in range(1_000)])
        assert app.snapshot("ada", "acme").total_credits == 10_000 + 1_000 * MAX_CREDITS
        with pytest.raises(ValidationError, match=str(MAX_LEDGER_VOLUME)):
            app.grant_credits("acme", amount=1, occurred_at=NOW, entry_id="one-more")
        with pytest.raises(ValidationError, match=str(MAX_LEDGER_VOLUME)):
            use(app, "e1", 1)
        snapshot = app.snapshot("ada", "acme")
        assert (snapshot.total_credits, snapshot.used) == (10_000 + 1_000 * MAX_CREDITS, 0)
        assert getattr(app.storage, "verify")("acme") == []  # noqa: B009

    def test_one_batch_past_the_bound_is_refused_whole(self, app: CreditUsage) -> None:
        """A single batch whose amounts sum past the bound writes nothing."""
        with pytest.raises(ValidationError, match=str(MAX_LEDGER_VOLUME)):
            app.record_many(
                [_grant(f"g{i}", MAX_CREDITS) for i in range(1_001)], enforce_limits=False
            )
        assert ledger(app) == []

    def test_reversals_count_towards_the_volume(self, app: CreditUsage) -> None:
        """Usage and its reversal both move credits: each counts."""
        app.record_many([_grant(f"g{i}", MAX_CREDITS) for i in range(999)])
        use(app, "e1", MAX_CREDITS // 2)
        app.reverse_usage("acme", "e1", reversal_id="r1")
        with pytest.raises(ValidationError, match=str(MAX_LEDGER_VOLUME)):
            app.grant_credits("acme", amount=1, occurred_at=NOW, entry_id="one-more")


@pytest.mark.usefixtures("team")
class TestVeryLongPeriods:
    """A report may span every cycle the library can represent, on every storage."""

    def test_a_report_over_almost_ten_thousand_years_of_cycles(self, app: CreditUsage) -> None:
        """Monthly cycles from year 2 to 9997 (some 120,000) report usage without a hitch."""
        app.update_team(make_team(billing=date_anchor(date(2, 1, 1))))
        use(app, "e1", 3)
        period = DateRange(first=date(2, 1, 1), last=date(9997, 12, 31))
        report = app.usage_report("ada", "acme", period)
        assert report.total == 3
        assert sum(row.total for row in app.usage_report("ada", "acme", period).rows) == 3


def date_anchor(anchor: date) -> BillingSchedule:
    return BillingSchedule(anchor=anchor)
