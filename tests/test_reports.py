"""Automated usage reports: scheduled by Admins and Managers, sent once per period.

Every test runs on every storage (in memory, SQLite, PostgreSQL, MariaDB) with
an :class:`InMemoryMailer`; the two-worker test sends through a real SMTP
server (aiosmtpd) and counts what arrives.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage

import pytest

from credit_usage import (
    CreditUsage,
    DateRange,
    DeliveryResult,
    DeliveryStatus,
    InMemoryMailer,
    InMemoryStorage,
    NotFoundError,
    PermissionDeniedError,
    PlanNotEligibleError,
    SmtpMailer,
    Storage,
    ValidationError,
)
from credit_usage.testing.builders import make_group, make_member, make_team
from tests.conftest import NOW, Clock, StorageFactory
from tests.databases import sibling_storages
from tests.smtp import HOST, Sink, free_port, smtp_server

SENDER = "reports@usage.example.com"
LEE = "lee@acme.example"
KIM = "kim@acme.example"
#: The billing cycle of NOW for the conftest team (anchor the 15th, UTC).
CYCLE = DateRange(first=date(2026, 11, 15), last=date(2026, 12, 14))
#: When that cycle ends, and its monthly report falls due.
CYCLE_END = datetime(2026, 12, 15, tzinfo=UTC)
#: NOW is Friday 27 November 2026: its week runs Monday 23 to Sunday 29.
WEEK_END = datetime(2026, 11, 30, tzinfo=UTC)


@pytest.fixture
def mailer() -> InMemoryMailer:
    return InMemoryMailer()


@pytest.fixture
def app(storage: Storage, clock: Clock, mailer: InMemoryMailer) -> CreditUsage:
    """The conftest ``team`` fixture builds its team through this app."""
    return CreditUsage(storage, mailer, clock, sender=SENDER)


def spend(app: CreditUsage, entry_id: str, amount: int, *, user: str = "mia") -> None:
    app.record_usage(
        "acme", user, feature="api", credit_type="email", amount=amount,
        occurred_at=NOW, entry_id=entry_id,
    )  # fmt: skip


def statuses(results: list[DeliveryResult]) -> list[tuple[str, date, DeliveryStatus]]:
    return [(r.schedule_id, r.period.first, r.status) for r in results]


def attachment(message: EmailMessage) -> tuple[str, bytes]:
    parts = list(message.iter_attachments())
    assert len(parts) == 1
    payload = parts[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    return parts[0].get_filename() or "", payload


@pytest.mark.usefixtures("team")
class TestScheduling:
    """Admins and Managers of eligible teams schedule; bad input stores nothing."""

    def test_an_admin_and_a_manager_schedule_and_list(self, app: CreditUsage) -> None:
        weekly = app.schedule_report("ada", "acme", frequency="weekly", recipients=[LEE])
        monthly = app.schedule_report("max", "acme", frequency="monthly", recipients=(KIM, LEE))
        assert (weekly.frequency, weekly.created_by, weekly.recipients) == ("weekly", "ada", (LEE,))
        assert (monthly.created_by, monthly.recipients) == ("max", (KIM, LEE))
        assert weekly.created_at == NOW
        assert weekly.active
        assert weekly.team_id == "acme"
        listed = app.list_reports("max", "acme")
        assert sorted(listed, key=lambda s: s.created_by) == [weekly, monthly]

    def test_repeated_recipients_are_kept_once_whatever_their_case(self, app: CreditUsage) -> None:
        schedule = app.schedule_report(
            "ada", "acme", frequency="weekly",
            recipients=["Lee@Acme.example", KIM, "lee@ACME.EXAMPLE", KIM],
        )  # fmt: skip
        assert schedule.recipients == ("Lee@Acme.example", KIM)

    @pytest.mark.parametrize(
        "recipients",
        [
            pytest.param([], id="empty"),
            pytest.param([f"u{i}@acme.example" for i in range(6)], id="six, over the default 5"),
            pytest.param(["lee"], id="no domain"),
            pytest.param(["lee@acme"], id="undotted domain"),
            pytest.param([f"{'l' * 250}@acme.example"], id="over 254 characters"),
            pytest.param([f"{LEE}\r\nBcc: evil@evil.example"], id="CRLF header injection"),
            pytest.param([f"{LEE}\nBcc: evil@evil.example"], id="LF header injection"),
            pytest.param([f"{LEE}\x00"], id="NUL"),
            pytest.param([f"{LEE}\u2028"], id="line separator"),
            pytest.param([f"Lee <{LEE}>"], id="display name"),
            pytest.param([f"{LEE}, evil@evil.example"], id="two in one"),
            pytest.param(["lee(comment)@acme.example"], id="comment"),
            pytest.param(["léa@acme.example"], id="not ASCII"),
            pytest.param([42], id="not text"),
            pytest.param(LEE, id="a bare string"),
        ],
    )
    def test_bad_recipients_are_refused_and_nothing_is_stored(
        self, app: CreditUsage, recipients: object
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            app.schedule_report(
                "ada", "acme", frequency="weekly", recipients=recipients,  # type: ignore[arg-type]
            )  # fmt: skip
        assert caught.value.field == "recipients"
        assert app.list_reports("ada", "acme") == []

    def test_an_unknown_frequency_is_refused(self, app: CreditUsage) -> None:
        with pytest.raises(ValidationError, match="daily"):
            app.schedule_report("ada", "acme", frequency="daily", recipients=[LEE])
        assert app.list_reports("ada", "acme") == []

    def test_a_member_may_not_schedule_cancel_or_list(self, app: CreditUsage) -> None:
        schedule = app.schedule_report("ada", "acme", frequency="weekly", recipients=[LEE])
        with pytest.raises(PermissionDeniedError):
            app.schedule_report("mia", "acme", frequency="weekly", recipients=[LEE])
        with pytest.raises(PermissionDeniedError):
            app.cancel_report("mia", "acme", schedule.schedule_id)
        with pytest.raises(PermissionDeniedError):
            app.list_reports("mia", "acme")
        assert app.list_reports("ada", "acme") == [schedule]

    def test_an_ineligible_plan_has_no_reports(self, app: CreditUsage) -> None:
        app.update_team(make_team(plan="free"))
        with pytest.raises(PlanNotEligibleError):
            app.schedule_report("ada", "acme", frequency="monthly", recipients=[LEE])
        app.update_team(make_team())
        assert app.list_reports("ada", "acme") == []

    def test_another_teams_schedule_cannot_be_cancelled(self, app: CreditUsage) -> None:
        app.create_team(make_team("globex", name="Globex"))
        app.add_member(make_member("gus", team_id="globex", role="admin"))
        theirs = app.schedule_report("gus", "globex", frequency="weekly", recipients=[LEE])
        with pytest.raises(NotFoundError):
            app.cancel_report("ada", "acme", theirs.schedule_id)
        with pytest.raises(PermissionDeniedError):
            app.cancel_report("ada", "globex", theirs.schedule_id)
        assert app.list_reports("gus", "globex") == [theirs]

    def test_a_cancelled_schedule_sends_nothing(
        self, app: CreditUsage, clock: Clock, mailer: InMemoryMailer
    ) -> None:
        schedule = app.schedule_report("ada", "acme", frequency="weekly", recipients=[LEE])
        cancelled = app.cancel_report("max", "acme", schedule.schedule_id)
        assert not cancelled.active
        assert app.list_reports("ada", "acme") == []
        with pytest.raises(NotFoundError):
            app.cancel_report("ada", "acme", schedule.schedule_id)
        clock.now = WEEK_END + timedelta(days=30)
        assert app.run_due_reports() == []
        assert mailer.outbox == []

    def test_max_recipients_is_the_services(self, storage: Storage, clock: Clock) -> None:
        app = CreditUsage(storage, clock=clock, max_recipients=2)
        with pytest.raises(ValidationError, match="at most 2"):
            app.schedule_report("ada", "acme", frequency="weekly", recipients=[LEE, KIM, SENDER])
        assert app.list_reports("ada", "acme") == []


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("sender", "not an address"),
        ("sender", "reports@usage.example.com\r\nBcc: evil@evil.example"),
        ("sender", "Reports <reports@usage.example.com>"),
        ("max_recipients", 0),
        ("max_recipients", 101),
        ("max_recipients", True),
        ("max_recipients", 2.0),
    ],
)
def test_a_bad_sender_or_max_recipients_is_refused(option: str, value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        CreditUsage(InMemoryStorage(), **{option: value})  # type: ignore[arg-type]
    assert caught.value.field == option


def test_the_default_sender_is_accepted() -> None:
    assert CreditUsage(InMemoryStorage()).sender == "credit-usage@localhost"


def test_without_a_mailer_nothing_is_sent() -> None:
    app = CreditUsage(InMemoryStorage())
    with pytest.raises(ValidationError, match="mailer"):
        app.run_due_reports()
    assert app.deliver_alerts() == 0


@pytest.mark.usefixtures("team")
class TestRunning:
    """What falls due is sent once, oldest first; failures are retried; skips are final."""

    def test_a_monthly_report_is_due_when_the_cycle_ends(
        self, app: CreditUsage, clock: Clock, mailer: InMemoryMailer
    ) -> None:
        schedule = app.schedule_report("ada", "acme", frequency="monthly", recipients=[LEE])
        clock.now = CYCLE_END - timedelta(microseconds=1)
        assert app.run_due_reports() == []
        clock.now = CYCLE_END
        results = app.run_due_reports()
        assert statuses(results) == [(schedule.schedule_id, CYCLE.first, DeliveryStatus.SENT)]
        assert results[0].period == CYCLE
        assert results[0].error is None
        assert [m["Message-ID"] for m in mailer.outbox] == [results[0].message_id]
        assert app.run_due_reports() == []
        assert len(mailer.outbox) == 1

    def test_four_missed_weeks_are_sent_oldest_first(
        self, app: CreditUsage, clock: Clock, mailer: InMemoryMailer
    ) -> None:
        """After a four-week outage, exactly the four missed weekly reports go out."""
        schedule = app.schedule_report("ada", "acme", frequency="weekly", recipients=[LEE])
        clock.now = WEEK_END + timedelta(weeks=3, days=4)
        results = app.run_due_reports()
        mondays = [date(2026, 11, 23) + timedelta(weeks=k) for k in range(4)]
        assert statuses(results) == [
            (schedule.schedule_id, monday, DeliveryStatus.SENT) for monday in mondays
        ]
        assert [r.period.last for r in results] == [m + timedelta(days=6) for m in mondays]
        subjects = [str(m["Subject"]) for m in mailer.outbox]
        assert subjects == [
            "Credit usage — Acme — 23 – 29 Nov 2026",
            "Credit usage — Acme — 30 Nov – 6 Dec 2026",
            "Credit usage — Acme — 7 – 13 Dec 2026",
            "Credit usage — Acme — 14 – 20 Dec 2026",
        ]
        assert len({m["Message-ID"] for m in mailer.outbox}) == 4
        assert app.run_due_reports() == []
        clock.now = WEEK_END + timedelta(weeks=4)
        assert statuses(app.run_due_reports()) == [
            (schedule.schedule_id, date(2026, 12, 21), DeliveryStatus.SENT)
        ]

    def test_the_email(self, app: CreditUsage, clock: Clock, mailer: InMemoryMailer) -> None:
        """Subject, From, To, both parts, and the wide CSV the export writes, attached."""
        spend(app, "u1", 1_200)
        spend(app, "u2", 300, user="noa")
        app.schedule_report("ada", "acme", frequency="monthly", recipients=[LEE, KIM])
        clock.now = CYCLE_END
        [result] = app.run_due_reports()
        [message] = mailer.outbox
        assert message["Subject"] == "Credit usage — Acme — 15 Nov – 14 Dec 2026"
        assert message["From"] == SENDER
        assert [a.addr_spec for a in message["To"].addresses] == [LEE, KIM]
        assert message["Message-ID"] == result.message_id
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert text is not None
        assert html is not None
        plain = text.get_content()
        for figure in ("10,000", "1,500", "8,500", "Mia", "Noa"):
            assert figure in plain
        markup = html.get_content()
        assert "<script" not in markup.lower()
        assert "src=" not in markup
        assert "Mia" in markup
        assert "1,200" in markup
        name, data = attachment(message)
        assert name == "credit-usage_Acme_2026-11-15_2026-12-14.csv"
        exported = io.StringIO(newline="")
        app.export_csv("ada", "acme", CYCLE, exported)
        assert data.decode("utf-8") == exported.getvalue()
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
        assert sum(int(r["total"]) for r in rows) == 1_500

    def test_names_cannot_inject_headers(
        self, app: CreditUsage, clock: Clock, mailer: InMemoryMailer
    ) -> None:
        """Quotes, non-ASCII and line breaks in names survive a round trip as text."""
        name = 'Ünïcode "Quoted" Co.\r\nBcc: evil@evil.example\nX-Evil: 1'
        app.update_team(make_team(name=name))
        app.update_member(make_member("mia", group_id="sales", name="<b>Mia</b>\r\nBcc: x@x.x"))
        spend(app, "u1", 10)
        app.schedule_report("ada", "acme", frequency="monthly", recipients=[LEE])
        clock.now = CYCLE_END
        [result] = app.run_due_reports()
        assert result.status is DeliveryStatus.SENT
        [message] = mailer.outbox
        reparsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
        assert isinstance(reparsed, EmailMessage)
        for parsed in (message, reparsed):
            assert parsed["Bcc"] is None
            assert parsed["X-Evil"] is None
            assert [a.addr_spec for a in parsed["To"].addresses] == [LEE]
            subject = str(parsed["Subject"])
            assert "\n" not in subject
            assert "\r" not in subject
            assert 'Ünïcode "Quoted" Co.' in subject
            assert "Bcc: evil@evil.example" in subject
        html = reparsed.get_body(("html",))
        assert html is not None
        assert "<b>Mia</b>" not in html.get_content()
        assert "&lt;b&gt;Mia&lt;/b&gt;" in html.get_content()

    def test_a_failed_send_is_recorded_and_retried_without_stopping_the_others(
        self, app: CreditUsage, clock: Clock, mailer: InMemoryMailer
    ) -> None:
        first = app.schedule_report("ada", "acme", frequency="weekly", recipients=[LEE])
        second = app.schedule_report("max", "acme", frequency="weekly", recipients=[KIM])
        clock.now = WEEK_END
        mailer.fail_next(1)
        results = app.run_due_reports()
        assert sorted(r.status for r in results) == [DeliveryStatus.FAILED, DeliveryStatus.SENT]
        [failed] = [r for r in results if r.status is DeliveryStatus.FAILED]
        assert failed.error is not None
        assert "DeliveryError" in failed.error
        assert failed.schedule_id in (first.schedule_id, second.schedule_id)
        assert len(mailer.outbox) == 1
        clock.advance(minutes=1)
        retried = app.run_due_reports()
        assert statuses(retried) == [(failed.schedule_id, failed.period.first, DeliveryStatus.SENT)]
        assert retried[0].message_id == failed.message_id
        assert app.run_due_reports() == []
        assert len(mailer.outbox) == 2

    def test_a_long_server_reply_is_kept_short(
        self, app: CreditUsage, clock: Clock, mailer: InMemoryMailer
    ) -> None:
        from credit_usage import DeliveryError

        app.schedule_report("ada", "acme", frequency="weekly", recipients=[LEE])
        clock.now = WEEK_END
        mailer.fail_next(1, DeliveryError("550 " + "x" * 5_000 + "\x00\r\nend", host="mx"))
        [failed] = app.run_due_reports()
        assert failed.status is DeliveryStatus.FAILED
        assert failed.error is not None
        assert len(failed.error) <= 1_000
        assert "\x00" not in failed.error
        assert "\n" not in failed.error

    def test_skipped_for_good_while_the_plan_is_not_eligible(
        self, app: CreditUsage, clock: Clock, mailer: InMemoryMailer
    ) -> None:
        schedule = app.schedule_report("ada", "acme", frequency="weekly", recipients=[LEE])
        app.update_team(make_team(plan="free"))
        clock.now = WEEK_END
        [skipped] = app.run_due_reports()
        assert skipped.status is DeliveryStatus.SKIPPED
        assert skipped.error is not None
        assert "'free' plan" in skipped.error
        app.update_team(make_team())
        assert app.run_due_reports() == []
        clock.now = WEEK_END + timedelta(weeks=1)
        assert statuses(app.run_due_reports()) == [
            (schedule.schedule_id, date(2026, 11, 30), DeliveryStatus.SENT)
        ]
        assert len(mailer.outbox) == 1

    @pytest.mark.parametrize("change", [{"role": "member"}, {"active": False}])
    def test_skipped_when_the_creator_is_no_longer_an_active_admin_or_manager(
        self, app: CreditUsage, clock: Clock, mailer: InMemoryMailer, change: dict[str, object]
    ) -> None:
        app.schedule_report("max", "acme", frequency="weekly", recipients=[LEE])
        app.update_member(make_member("max", **{"role": "manager", **change}))  # type: ignore[arg-type]
        clock.now = WEEK_END
        [skipped] = app.run_due_reports()
        assert skipped.status is DeliveryStatus.SKIPPED
        assert skipped.error is not None
        assert "'max'" in skipped.error
        assert mailer.outbox == []

    def test_a_crash_between_sending_and_marking_resends_after_the_lease(
        self, storage: Storage, app: CreditUsage, clock: Clock, mailer: InMemoryMailer
    ) -> None:
        """The claim holds for the lease; then the same Message-ID goes out again."""
        app.schedule_report("ada", "acme", frequency="weekly", recipients=[LEE])
        crashing = _CrashingMailer()
        clock.now = WEEK_END
        with pytest.raises(_Crash):
            CreditUsage(storage, crashing, clock, sender=SENDER).run_due_reports()
        [lost] = crashing.seen
        clock.advance(minutes=14)
        assert app.run_due_reports() == []
        clock.advance(minutes=1)
        [resent] = app.run_due_reports()
        assert resent.status is DeliveryStatus.SENT
        [message] = mailer.outbox
        assert message["Message-ID"] == lost["Message-ID"] == resent.message_id
        assert app.run_due_reports() == []

    def test_a_shorter_lease(self, storage: Storage, app: CreditUsage, clock: Clock) -> None:
        app.schedule_report("ada", "acme", frequency="weekly", recipients=[LEE])
        clock.now = WEEK_END
        with pytest.raises(_Crash):
            CreditUsage(storage, _CrashingMailer(), clock, sender=SENDER).run_due_reports()
        clock.advance(seconds=30)
        assert app.run_due_reports(lease=timedelta(seconds=31)) == []
        assert len(app.run_due_reports(lease=timedelta(seconds=30))) == 1

    def test_other_teams_are_not_held_up(
        self, app: CreditUsage, clock: Clock, mailer: InMemoryMailer
    ) -> None:
        app.create_team(make_team("globex", name="Globex"))
        app.add_member(make_member("gus", team_id="globex", role="admin"))
        app.schedule_report("gus", "globex", frequency="weekly", recipients=[KIM])
        app.schedule_report("ada", "acme", frequency="weekly", recipients=[LEE])
        clock.now = WEEK_END
        results = app.run_due_reports()
        assert sorted(r.team_id for r in results) == ["acme", "globex"]
        assert {m["Subject"].split(" — ")[1] for m in mailer.outbox} == {"Acme", "Globex"}


class _Crash(BaseException):
    """A worker killed mid-run: nothing after the send runs."""


class _CrashingMailer:
    def __init__(self) -> None:
        self.seen: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.seen.append(message)
        raise _Crash


# -- two workers at once, through a real SMTP server ---------------------------------------
class _SlowMailer:
    """An SmtpMailer that waits before each send, so that two workers overlap."""

    def __init__(self, inner: SmtpMailer) -> None:
        self.inner = inner

    def send(self, message: EmailMessage) -> None:
        time.sleep(0.02)
        self.inner.send(message)


@pytest.fixture
def sink() -> Iterator[Sink]:
    with smtp_server(Sink()) as server:
        yield server


def test_two_workers_send_each_report_exactly_once(
    make_storage: StorageFactory, sink: Sink
) -> None:
    """Two run_due_reports() at once, each with its own storage object and SMTP connection."""
    storage = make_storage()
    clock = Clock(NOW)
    setup = CreditUsage(storage, clock=clock)
    for team_id in ("acme", "globex", "initech"):
        setup.create_team(make_team(team_id, name=team_id.title()))
        setup.add_group(make_group("sales", team_id=team_id))
        setup.add_member(make_member("ada", team_id=team_id, role="admin"))
        for frequency in ("weekly", "monthly"):
            setup.schedule_report(
                "ada", team_id, frequency=frequency, recipients=[f"{frequency}@{team_id}.example"]
            )
    # Three weeks and one cycle end later: 3 weekly and 1 monthly report per team.
    clock.now = CYCLE_END + timedelta(hours=1)
    expected = 3 * (3 + 1)
    results: list[list[DeliveryResult]] = [[], []]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)
    with sibling_storages(storage, 2) as storages:

        def work(worker: int) -> None:
            mailer = _SlowMailer(SmtpMailer(HOST, sink.port, starttls=False, timeout=10))
            app = CreditUsage(storages[worker], mailer, clock, sender=SENDER)
            try:
                barrier.wait(timeout=30)
                results[worker] = app.run_due_reports()
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert errors == []
    sent = [r for worker in results for r in worker]
    assert Counter(r.status for r in sent) == {DeliveryStatus.SENT: expected}
    received = [message["Message-ID"] for _, message in sink.delivered()]
    assert len(received) == expected
    assert sorted(received) == sorted(r.message_id for r in sent)
    assert len(set(received)) == expected
    after = CreditUsage(storage, InMemoryMailer(), clock, sender=SENDER)
    assert after.run_due_reports() == []


@pytest.mark.usefixtures("team")
def test_an_unreachable_mail_server_is_recorded_as_failed_then_retried(
    storage: Storage, app: CreditUsage, clock: Clock, sink: Sink
) -> None:
    """Through SmtpMailer: nothing listening is a failed delivery; the next run sends it."""
    app.schedule_report("ada", "acme", frequency="weekly", recipients=[LEE])
    clock.now = WEEK_END
    down = SmtpMailer(HOST, free_port(), starttls=False, timeout=5)
    [failed] = CreditUsage(storage, down, clock, sender=SENDER).run_due_reports()
    assert failed.status is DeliveryStatus.FAILED
    assert failed.error is not None
    assert "DeliveryError" in failed.error
    assert sink.delivered() == []
    up = SmtpMailer(HOST, sink.port, starttls=False, timeout=5)
    [sent] = CreditUsage(storage, up, clock, sender=SENDER).run_due_reports()
    assert sent.status is DeliveryStatus.SENT
    [(recipients, message)] = sink.delivered()
    assert recipients == (LEE,)
    assert message["Message-ID"] == sent.message_id == failed.message_id
