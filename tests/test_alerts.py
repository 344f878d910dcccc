"""Limit alerts: recorded by the write that crosses 75 % or 100 %, emailed once to Admins.

Every test runs on every storage; the racing test has 16 writers, each with
its own storage object on the same database, and expects exactly one alert
per crossing.
"""

from __future__ import annotations

from datetime import date

import pytest

from credit_usage import (
    CreditLimit,
    CreditLimitExceededError,
    CreditUsage,
    DeliveryError,
    InMemoryMailer,
    LedgerEntry,
    LimitAlert,
    PermissionDeniedError,
    PlanNotEligibleError,
    Storage,
)
from credit_usage.testing.builders import make_group, make_member, make_team, usage
from tests.conftest import NOW, Clock, StorageFactory
from tests.test_limit_races import THREADS, race
from tests.test_limits import spend
from tests.test_reports import SENDER

MIA_100 = CreditLimit(scope="user", subject_id="mia", credits=100)
CYCLE_FIRST = date(2026, 11, 15)


@pytest.fixture
def mailer() -> InMemoryMailer:
    return InMemoryMailer()


@pytest.fixture
def app(storage: Storage, clock: Clock, mailer: InMemoryMailer) -> CreditUsage:
    return CreditUsage(storage, mailer, clock, sender=SENDER)


def batch_entry(entry_id: str, amount: int) -> LedgerEntry:
    return usage(entry_id, amount=amount, occurred_at=NOW, recorded_at=None)


def crossed(alerts: list[LimitAlert]) -> list[tuple[str, str, str | None, int, int, int]]:
    return [(a.scope, a.subject_id, a.credit_type, a.threshold, a.limit, a.used) for a in alerts]


@pytest.mark.usefixtures("team")
class TestRecording:
    """One alert per threshold crossed by a write, in the write's transaction."""

    def test_a_user_crosses_75_then_100_percent(self, app: CreditUsage) -> None:
        app.set_credit_limit("ada", "acme", MIA_100)
        spend(app, "u1", 74)
        assert app.list_alerts("ada", "acme") == []
        spend(app, "u2", 6)
        spend(app, "u3", 5)
        spend(app, "u4", 15)
        alerts = app.list_alerts("max", "acme")
        assert crossed(alerts) == [
            ("user", "mia", None, 75, 100, 80),
            ("user", "mia", None, 100, 100, 100),
        ]
        assert {a.cycle for a in alerts} == {CYCLE_FIRST}
        assert {a.created_at for a in alerts} == {NOW}
        assert {a.team_id for a in alerts} == {"acme"}

    def test_one_write_may_cross_both(self, app: CreditUsage) -> None:
        app.set_credit_limit("ada", "acme", MIA_100)
        spend(app, "u1", 100)
        assert [a.threshold for a in app.list_alerts("ada", "acme")] == [75, 100]

    def test_a_refused_write_records_no_alert(self, app: CreditUsage) -> None:
        app.set_credit_limit("ada", "acme", MIA_100)
        with pytest.raises(CreditLimitExceededError):
            spend(app, "u1", 101)
        assert app.list_alerts("ada", "acme") == []

    def test_a_group_a_credit_type_and_the_team_pool(self, app: CreditUsage, clock: Clock) -> None:
        """Listed oldest first."""
        app.set_credit_limit(
            "ada", "acme", CreditLimit(scope="group", subject_id="sales", credits=40)
        )
        app.set_credit_limit(
            "ada",
            "acme",
            CreditLimit(scope="user", subject_id="noa", credits=8, credit_type="phone"),
        )
        spend(app, "u1", 30)
        clock.advance(seconds=1)
        spend(app, "u2", 6, user="noa", credit_type="phone")
        clock.advance(seconds=1)
        spend(app, "u3", 7_464, user="max")
        assert crossed(app.list_alerts("ada", "acme")) == [
            ("group", "sales", None, 75, 40, 30),
            ("user", "noa", "phone", 75, 8, 6),
            ("team", "", None, 75, 10_000, 7_500),
        ]

    def test_the_same_crossing_again_is_not_alerted_again(self, app: CreditUsage) -> None:
        """Falling back below a threshold and crossing it again in the cycle: one alert."""
        app.set_credit_limit("ada", "acme", MIA_100)
        spend(app, "u1", 80)
        app.reverse_usage("acme", "u1", reversal_id="r1")
        spend(app, "u2", 90)
        assert [a.threshold for a in app.list_alerts("ada", "acme")] == [75]

    def test_a_raised_limit_can_be_crossed_again(self, app: CreditUsage) -> None:
        app.set_credit_limit("ada", "acme", MIA_100)
        spend(app, "u1", 100)
        app.set_credit_limit(
            "ada", "acme", CreditLimit(scope="user", subject_id="mia", credits=200)
        )
        spend(app, "u2", 50)
        spend(app, "u3", 50)
        assert [(a.threshold, a.limit) for a in app.list_alerts("ada", "acme")] == [
            (75, 100),
            (100, 100),
            (75, 200),
            (100, 200),
        ]

    def test_a_batch_records_its_crossings(self, app: CreditUsage) -> None:
        app.set_credit_limit("ada", "acme", MIA_100)
        entries = [batch_entry(f"b{i}", 40) for i in range(2)]
        app.record_many(entries)
        assert crossed(app.list_alerts("ada", "acme")) == [("user", "mia", None, 75, 100, 80)]

    def test_only_admins_and_managers_of_eligible_teams_list_them(self, app: CreditUsage) -> None:
        with pytest.raises(PermissionDeniedError):
            app.list_alerts("mia", "acme")
        app.create_team(make_team("globex"))
        with pytest.raises(PermissionDeniedError):
            app.list_alerts("ada", "globex")
        app.update_team(make_team(plan="free"))
        with pytest.raises(PlanNotEligibleError):
            app.list_alerts("ada", "acme")


@pytest.mark.usefixtures("team")
class TestDelivering:
    """Each alert is emailed once to the team's active Admins; failures are retried."""

    def test_emailed_once_to_the_active_admins(
        self, app: CreditUsage, mailer: InMemoryMailer
    ) -> None:
        app.add_member(make_member("ida", role="admin", active=False))
        app.add_member(make_member("ann", role="admin"))
        app.set_credit_limit("ada", "acme", MIA_100)
        spend(app, "u1", 80)
        assert app.deliver_alerts() == 1
        [message] = mailer.outbox
        assert sorted(a.addr_spec for a in message["To"].addresses) == [
            "ada@acme.test",
            "ann@acme.test",
        ]
        assert message["From"] == SENDER
        assert message["Subject"] == "Credit limit alert — Acme — Mia at 75%"
        body = message.get_body(("plain",))
        assert body is not None
        assert "80 of a 100-credit limit" in body.get_content()
        assert app.deliver_alerts() == 0
        spend(app, "u2", 20)
        assert app.deliver_alerts() == 1
        assert [m["Subject"] for m in mailer.outbox][1].endswith("Mia at 100%")

    def test_a_failed_send_is_retried(self, app: CreditUsage, mailer: InMemoryMailer) -> None:
        app.set_credit_limit("ada", "acme", MIA_100)
        spend(app, "u1", 80)
        mailer.fail_next(1, DeliveryError("421 try later", host="mx"))
        assert app.deliver_alerts() == 0
        assert app.deliver_alerts() == 1
        assert app.deliver_alerts() == 0
        assert len(mailer.outbox) == 1

    def test_run_due_reports_delivers_them_too(
        self, app: CreditUsage, mailer: InMemoryMailer
    ) -> None:
        app.set_credit_limit("ada", "acme", MIA_100)
        spend(app, "u1", 100)
        assert app.run_due_reports() == []
        assert sorted(str(m["Subject"])[-4:] for m in mailer.outbox) == [" 75%", "100%"]

    def test_no_active_admin_means_skipped(self, app: CreditUsage, mailer: InMemoryMailer) -> None:
        app.set_credit_limit("ada", "acme", MIA_100)
        spend(app, "u1", 80)
        app.update_member(make_member("ada", role="admin", active=False))
        assert app.deliver_alerts() == 0
        app.update_member(make_member("ada", role="admin"))
        assert app.deliver_alerts() == 0
        assert mailer.outbox == []
        assert len(app.list_alerts("ada", "acme")) == 1

    def test_a_backdated_crossing_names_its_own_cycle(
        self, app: CreditUsage, clock: Clock, mailer: InMemoryMailer
    ) -> None:
        """An alert delivered after its cycle ended still names that cycle."""
        app.set_credit_limit("ada", "acme", MIA_100)
        spend(app, "u1", 80)
        clock.advance(days=40)
        assert app.deliver_alerts() == 1
        body = mailer.outbox[0].get_body(("plain",))
        assert body is not None
        assert "15 Nov – 14 Dec 2026" in body.get_content()

    def test_without_a_mailer_alerts_wait(self, storage: Storage, app: CreditUsage) -> None:
        app.set_credit_limit("ada", "acme", MIA_100)
        spend(app, "u1", 80)
        assert CreditUsage(storage).deliver_alerts() == 0
        assert app.deliver_alerts() == 1


#: Each of the THREADS writers tries this many spends (160 in all, for 100 credits).
SPENDS = 10


def test_racing_writers_record_exactly_one_alert_per_crossing(
    make_storage: StorageFactory,
) -> None:
    """16 writers spend one credit at a time as Mia, past her, her group's and the pool's 75 %.

    Mia may spend 100 (her limit): that crosses 75 % and 100 % of it, 75 % of
    the Sales limit of 120 (at 90) and 75 % of the pool of 130 (at 98), and
    nothing else. Each crossing is recorded by exactly one of the writers.
    """
    storage = make_storage()
    setup = CreditUsage(storage, clock=Clock(NOW))
    setup.create_team(make_team(credits_per_cycle=130))
    setup.add_group(make_group("sales"))
    setup.add_member(make_member("ada", role="admin"))
    setup.add_member(make_member("mia", group_id="sales"))
    setup.set_credit_limit("ada", "acme", MIA_100)
    setup.set_credit_limit(
        "ada", "acme", CreditLimit(scope="group", subject_id="sales", credits=120)
    )
    outcomes = race(storage, lambda _: "mia", CreditLimitExceededError, spends=SPENDS)
    assert outcomes == {"accepted": 100, "refused": THREADS * SPENDS - 100}
    alerts = setup.list_alerts("ada", "acme")
    assert sorted(crossed(alerts)) == [
        ("group", "sales", None, 75, 120, 90),
        ("team", "", None, 75, 130, 98),
        ("user", "mia", None, 75, 100, 75),
        ("user", "mia", None, 100, 100, 100),
    ]
    mailer = InMemoryMailer()
    worker = CreditUsage(storage, mailer, Clock(NOW), sender=SENDER)
    assert worker.deliver_alerts() == 4
    assert worker.deliver_alerts() == 0
    assert len(mailer.outbox) == 4


@pytest.mark.usefixtures("team")
def test_an_admin_email_no_message_can_carry_is_left_out(
    app: CreditUsage, mailer: InMemoryMailer
) -> None:
    """A non-ASCII address is a valid member email but not a recipient: the others get it."""
    app.add_member(make_member("leo", role="admin", email="léo@acme.test"))
    app.add_member(make_member("ann", role="admin", email="ADA@acme.test"))
    app.set_credit_limit("ada", "acme", MIA_100)
    spend(app, "u1", 80)
    assert app.deliver_alerts() == 1
    [message] = mailer.outbox
    assert [a.addr_spec for a in message["To"].addresses] == ["ada@acme.test"]
