"""Report and alert emails: subjects, parts, the CSV attachment, HTML and header safety."""

from __future__ import annotations

import csv
import email
import email.policy
import html
import io
import re
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone
from email.message import EmailMessage
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credit_usage import ValidationError
from credit_usage.domain.cycles import DateRange
from credit_usage.domain.model import DEFAULT_FEATURES, CreditLimit, FeatureSpec, Role
from credit_usage.domain.results import Report, ReportRow
from credit_usage.reports.csv_writer import write_report_csv
from credit_usage.reports.message import (
    MAX_TABLE_MEMBERS,
    alert_message,
    format_period,
    header_text,
    report_filename,
    report_message,
    report_message_id,
)

PERIOD = DateRange(first=date(2026, 3, 15), last=date(2026, 4, 14))
APRIL = DateRange(first=date(2026, 4, 1), last=date(2026, 4, 30))
SENDER = "reports@credits.example.com"
RECIPIENTS = ("ada@acme.example.com", "bo@acme.example.com")
MESSAGE_ID = "<credit-usage.abc123@credits.example.com>"
WHEN = datetime(2026, 4, 15, 7, 0, tzinfo=UTC)

#: The headers of a report or alert, in order (Date only when one is given).
HEADERS = ["From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted"]
HEADERS += ["MIME-Version", "Content-Type"]
HEADERS_WITHOUT_DATE = [name for name in HEADERS if name != "Date"]

HOSTILE_NAMES = [
    "Acme\r\nBcc: x@evil.example",
    "Acme\nBcc: x@evil.example",
    "Acme\rTo: x@evil.example",
    "Acme\u2028Bcc: x@evil.example",
    "Acme\u2029\u0085Cc: x@evil.example",
    "Acme\x00\x0b\x0c\x1b[31m",
    "=?utf-8?q?Bcc=3A_x=40evil=2Eexample?=",
    '"Acme", <x@evil.example>; Bcc: y@evil.example',
    "Ünïcödé 株式会社 😀 " * 12,
    " leading and  double  spaces ",
    "",
]


def one_line(text: str) -> str:
    """The expected one-line form: Cc, Zl and Zp characters become spaces."""
    return "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)


def row(
    user_id: str,
    name: str,
    group: str = "Engineering",
    *,
    credit_type: str = "standard",
    **by_feature: int,
) -> ReportRow:
    features = {f.value: by_feature.get(f.value, 0) for f in DEFAULT_FEATURES}
    return ReportRow(
        user_id=user_id,
        name=name,
        email=f"{user_id}@acme.example.com",
        group_id=group.lower() or None,
        group_name=group,
        role=Role.MEMBER,
        credit_type=credit_type,
        by_feature=features,
        total=sum(features.values()),
    )


def sample_report(*rows: ReportRow, **kwargs: Any) -> Report:
    if not rows:
        rows = (
            row("u1", "Priya Raman", platform=1840, extension=620, api=2310, workspace=140),
            row("u2", "Zoë Øberg", "Design", platform=960, extension=85, workspace=1210),
            row("u3", 'Seán "Sully" O\'Brien', "Support", platform=410, workspace=730),
            row("u4", "Marcus Chen", platform=1220, extension=940, api=880, workspace=60),
            row("u5", "Kenji Watanabe", "Support"),
        )
    return Report(team_id="acme", period=kwargs.pop("period", PERIOD), rows=list(rows), **kwargs)


def build(report: Report | None = None, **overrides: Any) -> EmailMessage:
    arguments: dict[str, Any] = {
        "team_name": "Acme Analytics",
        "team_id": "acme",
        "report": report or sample_report(),
        "total_credits": 25_000,
        "remaining": 11_225,
        "sender": SENDER,
        "recipients": RECIPIENTS,
        "message_id": MESSAGE_ID,
        "date": WHEN,
    }
    arguments.update(overrides)
    return report_message(**arguments)


def build_alert(**overrides: Any) -> EmailMessage:
    arguments: dict[str, Any] = {
        "team_name": "Acme",
        "subject_name": "Mia",
        "scope": "user",
        "credit_type": None,
        "threshold_percent": 75,
        "used": 80,
        "limit": 100,
        "cycle": APRIL,
        "sender": SENDER,
        "recipients": RECIPIENTS,
        "message_id": MESSAGE_ID,
        "date": WHEN,
    }
    arguments.update(overrides)
    return alert_message(**arguments)


def reparse(message: EmailMessage) -> EmailMessage:
    """``message`` serialized to bytes and parsed back, as a receiving mail system would."""
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage)
    content = part.get_content()
    assert isinstance(content, str)
    return content


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert isinstance(part, EmailMessage)
    content = part.get_content()
    assert isinstance(content, str)
    return content


def attachment_of(message: EmailMessage) -> EmailMessage:
    attachments = list(message.iter_attachments())
    assert len(attachments) == 1
    part = attachments[0]
    assert isinstance(part, EmailMessage)
    return part


def csv_of(report: Report) -> str:
    out = io.StringIO(newline="")
    write_report_csv(report.rows, out, features=report.features, limit_columns=bool(report.limits))
    return out.getvalue()


def assert_safe_headers(message: EmailMessage, subject: str, *, dated: bool = True) -> None:
    """Exactly the expected headers, once each, the expected subject and recipients."""
    assert list(message.keys()) == (HEADERS if dated else HEADERS_WITHOUT_DATE)
    assert message["Subject"] == subject
    assert message["From"] == SENDER
    assert [a.addr_spec for a in message["To"].addresses] == list(RECIPIENTS)
    assert message["Message-ID"] == MESSAGE_ID
    for name in ("Bcc", "Cc", "Reply-To", "Sender"):
        assert message[name] is None


class TestFormatPeriod:
    """A period reads as days, with the month and year said once when shared."""

    @pytest.mark.parametrize(
        ("first", "last", "text"),
        [
            (date(2026, 4, 1), date(2026, 4, 30), "1 – 30 Apr 2026"),
            (date(2026, 3, 15), date(2026, 4, 14), "15 Mar – 14 Apr 2026"),
            (date(2025, 12, 15), date(2026, 1, 14), "15 Dec 2025 – 14 Jan 2026"),
            (date(2025, 4, 15), date(2026, 4, 14), "15 Apr 2025 – 14 Apr 2026"),
            (date(2026, 4, 7), date(2026, 4, 7), "7 Apr 2026"),
            (date(2026, 1, 1), date(2026, 12, 31), "1 Jan – 31 Dec 2026"),
        ],
    )
    def test_the_rule(self, first: date, last: date, text: str) -> None:
        """Same month: "1 – 30 Apr 2026"; same year: "15 Mar – 14 Apr 2026"; else both years."""
        assert format_period(DateRange(first=first, last=last)) == text


class TestSubjects:
    """Subjects name the team and the period or the alert, with em and en dashes."""

    def test_the_report_subject(self) -> None:
        """Credit usage — <team> — <period>."""
        message = reparse(build())
        assert message["Subject"] == "Credit usage — Acme Analytics — 15 Mar – 14 Apr 2026"

    def test_a_report_across_years(self) -> None:
        """A period across New Year names both years."""
        report = sample_report(period=DateRange(first=date(2025, 12, 15), last=date(2026, 1, 14)))
        message = reparse(build(report))
        assert message["Subject"] == "Credit usage — Acme Analytics — 15 Dec 2025 – 14 Jan 2026"

    @pytest.mark.parametrize("threshold", [75, 100])
    def test_the_alert_subject(self, threshold: int) -> None:
        """Credit limit alert — <team> — <subject name> at <threshold>%."""
        message = reparse(build_alert(threshold_percent=threshold, used=threshold))
        assert message["Subject"] == f"Credit limit alert — Acme — Mia at {threshold}%"

    def test_every_header_line_is_short_and_ascii(self) -> None:
        """The Subject is folded into lines of at most 78 characters, 7-bit clean."""
        message = build(team_name="Zoë's Ünïcödé Team 株式会社 " * 20)
        head = message.as_bytes().split(b"\n\n", 1)[0]
        assert head.isascii()
        assert max(len(line) for line in head.splitlines()) <= 78


class TestReportParts:
    """A report is text and HTML alternatives, then the wide CSV attached."""

    def test_the_structure(self) -> None:
        """multipart/mixed of (text/plain | text/html) and a text/csv attachment."""
        message = reparse(build())
        types = [part.get_content_type() for part in message.walk()]
        assert types == [
            "multipart/mixed",
            "multipart/alternative",
            "text/plain",
            "text/html",
            "text/csv",
        ]
        for part in message.walk():
            if not part.is_multipart():
                assert part.get_content_charset() == "utf-8"

    def test_the_attachment_name(self) -> None:
        """credit-usage_<team>_<first>_<last>.csv, as an attachment."""
        part = attachment_of(reparse(build()))
        assert part.get_content_disposition() == "attachment"
        assert part.get_filename() == "credit-usage_Acme-Analytics_2026-03-15_2026-04-14.csv"

    def test_the_csv_is_what_write_report_csv_writes(self) -> None:
        """Byte for byte, CRLF line ends included, and it parses with csv."""
        report = sample_report()
        part = attachment_of(reparse(build(report)))
        expected = csv_of(report)
        assert part.get_payload(decode=True) == expected.encode("utf-8")
        assert part.get_content() == expected
        records = list(csv.reader(io.StringIO(part.get_content(), newline="")))
        assert records[0][:6] == ["user_id", "name", "email", "group", "role", "credit_type"]
        assert records[0][6:] == [f.label for f in DEFAULT_FEATURES] + ["total"]
        assert len(records) == len(report.rows) + 1
        assert records[3][1] == 'Seán "Sully" O\'Brien'

    def test_limits_add_the_limit_columns(self) -> None:
        """A report with limits attaches the CSV with limit and limit_remaining."""
        report = sample_report(limits=(CreditLimit(scope="user", subject_id="u1", credits=9),))
        part = attachment_of(reparse(build(report)))
        assert part.get_content() == csv_of(report)
        assert part.get_content().split("\r\n", 1)[0].endswith(",total,limit,limit_remaining")

    def test_the_text_summary(self) -> None:
        """Team, period, total/used/remaining and the top members, with thousands separators."""
        text = text_of(reparse(build(top=3)))
        assert "Credit usage report for Acme Analytics" in text
        assert "Period: 15 Mar – 14 Apr 2026" in text
        assert "Total credits: 25,000" in text
        assert "Used: 11,405" in text
        assert "Remaining: 11,225" in text
        assert "Top 3 members by credits used" in text
        leaders = re.findall(r"^\d\. (.+): ([\d,]+) credits", text, re.MULTILINE)
        assert leaders == [
            ("Priya Raman", "4,910"),
            ("Marcus Chen", "3,100"),
            ("Zoë Øberg", "2,255"),
        ]

    def test_figures_not_given_are_left_out(self) -> None:
        """Without total_credits and remaining, the summary shows what was used only."""
        message = reparse(build(total_credits=None, remaining=None))
        for body in (text_of(message), html_of(message)):
            assert "Total credits" not in body
            assert "Remaining" not in body
            assert "11,405" in body

    def test_a_member_is_summed_over_groups_and_credit_types(self) -> None:
        """Rows of one member (two groups, two credit types) are one line and one table row."""
        report = sample_report(
            row("u1", "Mia", "Design", platform=5),
            row("u1", "Mia", "Sales", credit_type="email", api=7),
            row("u1", "Mia", "Sales", credit_type="phone"),
            row("u2", "Bo", "Sales", platform=1),
        )
        message = reparse(build(report))
        assert "1. Mia: 12 credits (92%)" in text_of(message)
        assert html_of(message).count(">Mia<") == 1
        assert "Design, Sales" in html_of(message)

    def test_no_usage_says_so(self) -> None:
        """A period without usage has no top list."""
        text = text_of(reparse(build(sample_report(row("u1", "Mia")))))
        assert "No credits were used in this period." in text
        assert "Top" not in text

    def test_the_html_table_has_the_feature_columns_in_order(self) -> None:
        """A column per feature by label, in report.features order, and the team total."""
        features = (FeatureSpec(value="b", label="Bravo"), FeatureSpec(value="a", label="Alpha"))
        rows = [
            ReportRow(
                user_id="u1",
                name="Mia",
                email="mia@acme.example.com",
                group_id=None,
                group_name="",
                role=Role.MEMBER,
                credit_type="standard",
                by_feature={"b": 1_234, "a": 5},
                total=1_239,
            )
        ]
        body = html_of(reparse(build(sample_report(*rows, features=features))))
        assert body.index(">Bravo<") < body.index(">Alpha<")
        assert ">1,234<" in body
        assert ">1,239<" in body
        assert "No group" in body

    def test_a_large_team_is_cut_in_the_html_only(self) -> None:
        """Past MAX_TABLE_MEMBERS the table says how many more; the CSV has everyone."""
        rows = [row(f"u{i:03}", f"Member {i:03}", platform=i) for i in range(MAX_TABLE_MEMBERS + 7)]
        report = sample_report(*rows)
        message = reparse(build(report))
        assert "… and 7 more members: see the attached CSV." in html_of(message)
        assert attachment_of(message).get_content() == csv_of(report)

    def test_no_date_unless_given(self) -> None:
        """Without date there is no Date header; with one, it is that instant."""
        assert reparse(build(date=None))["Date"] is None
        dated = reparse(
            build(date=datetime(2026, 4, 15, 9, 0, tzinfo=timezone(timedelta(hours=2))))
        )
        assert dated["Date"].datetime == datetime(2026, 4, 15, 7, 0, tzinfo=UTC)

    def test_the_same_arguments_give_the_same_message(self) -> None:
        """Headers and parts do not depend on the clock (MIME boundaries aside)."""
        first, second = reparse(build()), reparse(build())
        assert first.items()[:-1] == second.items()[:-1]
        for a, b in zip(first.walk(), second.walk(), strict=True):
            if not a.is_multipart():
                assert a.get_content() == b.get_content()


class TestFilename:
    """The attachment's team part keeps [A-Za-z0-9._-] only, is never empty, and is short."""

    @pytest.mark.parametrize(
        ("team_name", "team_id", "part"),
        [
            ("Acme", "acme", "Acme"),
            ("Zoë & Co.", "z", "Zoe-Co"),
            ('a"b\r\nc/d\\e:f', "x", "a-b-c-d-e-f"),
            ("株式会社", "team-42", "team-42"),
            ("..", "../..", "team"),
            ("x" * 300, "x", "x" * 64),
        ],
    )
    def test_the_team_part(self, team_name: str, team_id: str, part: str) -> None:
        """Accents dropped, runs of other characters one -, the team id or "team" as fallback."""
        name = report_filename(team_name=team_name, team_id=team_id, period=APRIL)
        assert name == f"credit-usage_{part}_2026-04-01_2026-04-30.csv"

    @given(team_name=st.text(), team_id=st.text())
    def test_any_name_gives_a_safe_filename(self, team_name: str, team_id: str) -> None:
        """Whatever the names, the filename is safe and its team part 1 to 64 characters."""
        name = report_filename(team_name=team_name, team_id=team_id, period=APRIL)
        match = re.fullmatch(r"credit-usage_([A-Za-z0-9._-]+)_2026-04-01_2026-04-30\.csv", name)
        assert match is not None
        assert 1 <= len(match[1]) <= 64
        assert not match[1].startswith(".")


class TestHtmlSafety:
    """The HTML runs nothing, loads nothing, and shows names as text."""

    NASTY = "<script>alert(1)</script> & \"dq\" 'sq' <img src=x onerror=alert(2)>"

    def message(self) -> EmailMessage:
        features = (FeatureSpec(value="api", label="<b>API</b> & co"),)
        rows = [
            ReportRow(
                user_id="u1",
                name=self.NASTY,
                email="u1@acme.example.com",
                group_id="g",
                group_name='<i>Sales</i> & "Ops"',
                role=Role.MEMBER,
                credit_type="standard",
                by_feature={"api": 3},
                total=3,
            )
        ]
        report = sample_report(*rows, features=features)
        return reparse(build(report, team_name='Acme <Corp> & "Sons"'))

    def test_no_scripts_or_remote_resources(self) -> None:
        """No <script, no http(s) src or href, no url() -- in the report and the alert."""
        alert = reparse(build_alert(subject_name=self.NASTY, team_name=self.NASTY))
        for body in (html_of(self.message()), html_of(alert)):
            assert "<script" not in body.lower()
            assert not re.search(r"(src|href)\s*=\s*[\"']?\s*https?:", body, re.IGNORECASE)
            assert "url(" not in body.lower()
            assert "<img" not in body.lower()
            assert "<link" not in body.lower()

    def test_names_and_labels_are_escaped(self) -> None:
        """Member, group and team names and feature labels appear escaped, never raw."""
        body = html_of(self.message())
        assert html.escape(self.NASTY) in body
        assert "&lt;b&gt;API&lt;/b&gt; &amp; co" in body
        assert "&lt;i&gt;Sales&lt;/i&gt; &amp; &quot;Ops&quot;" in body
        assert "Acme &lt;Corp&gt; &amp; &quot;Sons&quot;" in body
        assert self.NASTY not in body
        assert "<b>API</b>" not in body

    def test_the_alert_escapes_names(self) -> None:
        """The alert's subject and team names are escaped too."""
        body = html_of(reparse(build_alert(subject_name=self.NASTY, team_name="A&B")))
        assert html.escape(self.NASTY) in body
        assert "A&amp;B" in body


class TestMessageId:
    """The report Message-ID is stable per schedule and period, and unambiguous."""

    def make(self, **overrides: Any) -> str:
        arguments: dict[str, Any] = {
            "team_id": "acme",
            "schedule_id": "monthly",
            "first": date(2026, 3, 15),
            "last": date(2026, 4, 14),
            "domain": "credits.example.com",
        }
        arguments.update(overrides)
        return report_message_id(**arguments)

    def test_the_form(self) -> None:
        """<credit-usage.{64 hex}@{domain}>."""
        assert re.fullmatch(r"<credit-usage\.[0-9a-f]{64}@credits\.example\.com>", self.make())

    def test_the_same_inputs_give_the_same_id(self) -> None:
        """A resend of a period carries the same id."""
        assert self.make() == self.make()

    @pytest.mark.parametrize(
        "change",
        [
            {"team_id": "acme2"},
            {"schedule_id": "weekly"},
            {"first": date(2026, 3, 16)},
            {"last": date(2026, 4, 15)},
            {"domain": "mail.example.com"},
        ],
    )
    def test_any_other_input_gives_another_id(self, change: dict[str, Any]) -> None:
        """Each input counts."""
        assert self.make(**change) != self.make()

    def test_the_parts_do_not_run_together(self) -> None:
        """("ab", "c") and ("a", "bc") differ: the parts are length-prefixed."""
        assert self.make(team_id="ab", schedule_id="c") != self.make(team_id="a", schedule_id="bc")

    @pytest.mark.parametrize(
        "domain", ["", "a b.example", "x@y.example", "<x.example>", "x.example\r\n", "-x.", "ü.de"]
    )
    def test_a_bad_domain_is_refused(self, domain: str) -> None:
        """Not a host name: ValidationError naming the field."""
        with pytest.raises(ValidationError) as caught:
            self.make(domain=domain)
        assert caught.value.field == "domain"

    def test_it_is_accepted_as_a_message_id(self) -> None:
        """report_message takes it and the parsed message carries it."""
        message_id = self.make()
        assert reparse(build(message_id=message_id))["Message-ID"] == message_id


class TestHeaderInjection:
    """No name can add, break or duplicate a header."""

    @pytest.mark.parametrize("name", HOSTILE_NAMES)
    def test_a_hostile_team_name(self, name: str) -> None:
        """The report keeps exactly its headers; the Subject shows the name on one line."""
        message = reparse(build(team_name=name))
        assert_safe_headers(message, f"Credit usage — {one_line(name)} — 15 Mar – 14 Apr 2026")

    @pytest.mark.parametrize("name", HOSTILE_NAMES)
    def test_a_hostile_member_name(self, name: str) -> None:
        """A member's name stays in the bodies; the report's headers are untouched."""
        report = sample_report(row("u1", name, name, platform=1))
        message = reparse(build(report))
        assert_safe_headers(message, "Credit usage — Acme Analytics — 15 Mar – 14 Apr 2026")
        assert f"1. {one_line(name)}: 1 credits" in text_of(message)

    @pytest.mark.parametrize("name", HOSTILE_NAMES)
    def test_a_hostile_alert_subject(self, name: str) -> None:
        """The alert names its subject in the Subject, on one line, headers untouched."""
        message = reparse(build_alert(subject_name=name, team_name=name))
        assert_safe_headers(
            message, f"Credit limit alert — {one_line(name)} — {one_line(name)} at 75%"
        )

    def test_header_text(self) -> None:
        """CR, LF, NUL, NEL and U+2028/9 become spaces; everything else stays."""
        assert header_text("a\r\nb\x00c\x85d\u2028e\u2029f g\u200bh") == "a  b c d e f g\u200bh"

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("sender", "reports@x.example\r\nBcc: y@evil.example"),
            ("sender", "Reports <reports@x.example>"),
            ("sender", "zoë@x.example"),
            ("recipients", ["a@x.example", "b@x.example\nBcc: y@evil.example"]),
            ("recipients", ["a@x.example, y@evil.example"]),
            ("recipients", "a@x.example"),
            ("recipients", []),
            ("message_id", "<a@b>\r\nBcc: y@evil.example"),
            ("message_id", "no-brackets@x.example"),
            ("message_id", "<a@b@c>"),
        ],
    )
    def test_addresses_and_ids_are_checked(self, field: str, value: object) -> None:
        """A bad address or message id is refused, never cleaned into a header."""
        for make in (build, build_alert):
            with pytest.raises(ValidationError) as caught:
                make(**{field: value})
            assert caught.value.field == field


names = st.text(st.characters(exclude_categories=("Cs",)), max_size=120)
hostile = st.lists(st.sampled_from(HOSTILE_NAMES) | names, max_size=3).map("".join)


class TestHeaderProperty:
    """For any names, the message serializes, and parses back to the same one-line Subject."""

    @given(team_name=hostile, member_names=st.lists(hostile, min_size=1, max_size=3))
    def test_any_report(self, team_name: str, member_names: list[str]) -> None:
        """as_bytes never raises; one each of To/From/Subject/Message-ID; names intact."""
        rows = [row(f"u{i}", name, name, api=i + 1) for i, name in enumerate(member_names)]
        report = sample_report(*rows)
        message = reparse(build(report, team_name=team_name))
        assert_safe_headers(message, f"Credit usage — {one_line(team_name)} — 15 Mar – 14 Apr 2026")
        for name in ("To", "From", "Subject", "Message-ID"):
            assert len(message.get_all(name, [])) == 1
        text, body = text_of(message), html_of(message)
        for name in member_names:
            assert one_line(name) in text
            assert html.escape(one_line(name)) in body
        assert attachment_of(message).get_content() == csv_of(report)

    @given(team_name=hostile, subject_name=hostile, credit_type=st.none() | hostile)
    def test_any_alert(self, team_name: str, subject_name: str, credit_type: str | None) -> None:
        """The same for alerts, whose Subject also names the member or group."""
        message = reparse(
            build_alert(team_name=team_name, subject_name=subject_name, credit_type=credit_type)
        )
        subject = f"Credit limit alert — {one_line(team_name)} — {one_line(subject_name)} at 75%"
        assert_safe_headers(message, subject)
        assert one_line(subject_name) in text_of(message)


class TestAlert:
    """An alert says who used how much of which limit, in which cycle."""

    def test_a_user_alert(self) -> None:
        """Mia has used 80 of a 100-credit limit (80%) in the cycle 1 – 30 Apr 2026."""
        message = reparse(build_alert())
        text = text_of(message)
        assert "Mia has used 80 of a 100-credit limit (80%) in the cycle 1 – 30 Apr 2026." in text
        assert "20 credits of the limit are left until the cycle ends on 30 Apr 2026." in text
        assert [p.get_content_type() for p in message.walk()] == [
            "multipart/alternative",
            "text/plain",
            "text/html",
        ]
        assert "has used 80 of a 100-credit limit (80%)" in html_of(message)

    def test_a_group_alert_on_a_credit_type(self) -> None:
        """Groups are named as such; a per-type limit names its type; thousands separated."""
        text = text_of(
            reparse(
                build_alert(
                    scope="group",
                    subject_name="Sales",
                    credit_type="email",
                    threshold_percent=100,
                    used=12_000,
                    limit=12_000,
                )
            )
        )
        assert (
            "The group Sales has used 12,000 of a 12,000-credit limit on email credits (100%)"
            in text
        )
        assert (
            "Further usage of email credits is refused until the next cycle starts on 1 May" in text
        )

    @pytest.mark.parametrize("name", ["Acme", "The team's pool"])
    def test_a_team_alert(self, name: str) -> None:
        """The team's pool is its credits, not a limit; named by the team or a phrase."""
        message = reparse(build_alert(scope="team", subject_name=name, used=7_500, limit=10_000))
        assert f"{name} has used 7,500 of its 10,000 credits (75%)" in text_of(message)

    def test_the_percentage_is_rounded_down(self) -> None:
        """99.6 % reads 99 %, never 100 %."""
        assert "(99%)" in text_of(reparse(build_alert(used=996, limit=1_000)))

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("scope", "org"),
            ("limit", 0),
            ("used", -1),
            ("threshold_percent", 0),
            ("threshold_percent", 101),
            ("date", datetime(2026, 4, 15)),
        ],
    )
    def test_bad_figures_are_refused(self, field: str, value: object) -> None:
        """Out-of-range figures and a naive date raise ValidationError naming the field."""
        with pytest.raises(ValidationError) as caught:
            build_alert(**{field: value})
        assert caught.value.field == field


class TestReportValidation:
    """Arguments that would make a wrong or broken report are refused."""

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("team_id", "other"),
            ("top", -1),
            ("total_credits", "many"),
            ("date", datetime(2026, 4, 15)),
        ],
    )
    def test_bad_arguments(self, field: str, value: object) -> None:
        """ValidationError naming the field."""
        with pytest.raises(ValidationError) as caught:
            build(**{field: value})
        assert caught.value.field == field
