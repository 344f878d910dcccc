"""The mailer contract: the tests every :class:`~credit_usage.ports.Mailer` passes.

A host proves its adapter by subclassing :class:`MailerContract` and
overriding two pytest fixtures: ``mailer``, the adapter under test, and
``delivered``, a function returning what has arrived so far, one
:class:`Received` per message received: the envelope's recipients and the
message parsed from the bytes received (with :data:`email.policy.default`)::

    import email
    import email.policy

    import pytest
    from credit_usage.testing.mail import Delivered, MailerContract, Received

    class TestMyMailer(MailerContract):
        @pytest.fixture
        def sink(self) -> Iterator[MySink]:           # a test SMTP server, an API stub...
            with MySink() as sink:
                yield sink

        @pytest.fixture
        def mailer(self, sink: MySink) -> Mailer:
            return MyMailer(sink.url)

        @pytest.fixture
        def delivered(self, sink: MySink) -> Delivered:
            def read() -> list[Received]:
                return [
                    Received(tuple(r), email.message_from_bytes(raw, policy=email.policy.default))
                    for r, raw in sink.received()
                ]
            return read

For an :class:`~credit_usage.adapters.mail.InMemoryMailer`, ``delivered``
needs no override: by default it reads the mailer's outbox, as recipients
would receive it (without its ``Bcc`` header). An adapter may deliver a
message to all its recipients at once (one :class:`Received`) or to each
apart (one per recipient): the tests count what each recipient got.

The tests send report-like messages: plain text with an HTML alternative and
a CSV attachment, non-ASCII names, several recipients, long subjects and
lines; and messages that must be refused without anything being sent.
"""

from __future__ import annotations

import copy
import email.errors
import email.policy
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import NamedTuple

import pytest

from credit_usage.adapters.mail import InMemoryMailer
from credit_usage.errors import CreditUsageError
from credit_usage.ports import Mailer

__all__ = ["Delivered", "MailerContract", "Received"]

SENDER = "Credit Usage <reports@usage.example.com>"
ADA = "ada@acme.example"
LEE = "lee@acme.example"
MIA = "mia@acme.example"
NOA = "noa@acme.example"

CSV_BYTES = (
    "user_id,name,email,group,credits\r\n"
    "ada,Ada Lovelace,ada@acme.example,,1200\r\n"
    'zoe,"Zoë Ñúñez, Jr.",zoe@acme.example,Sales,7\r\n'
    "=1+1,formula-looking,x@acme.example,,0\r\n"
).encode("utf-8-sig")
TEXT = "Credit usage of Acme, 15 January to 14 February 2025.\n\nUsed: 1,207 of 10,000.\n"
HTML = (
    "<html><body><h1>Credit usage of Acme</h1><p>Used: <b>1,207</b> of 10,000.</p></body></html>\n"
)
# Every line of a header or body written by a correct mailer fits in these many characters.
FOLD_AT = 78
HARD_LIMIT = 998


class Received(NamedTuple):
    """One message received: its envelope recipients and the message as parsed."""

    recipients: tuple[str, ...]
    message: EmailMessage


#: The type of the ``delivered`` fixture: a function listing what was received so far.
Delivered = Callable[[], list[Received]]


def _report(
    subject: str = "Credit usage of Acme, January 2025",
    *,
    to: str = f"Ada Lovelace <{ADA}>",
    sender: str = SENDER,
    text: str = TEXT,
    html: str | None = HTML,
    attachment: tuple[str, bytes] | None = ("usage-2025-01.csv", CSV_BYTES),
) -> EmailMessage:
    """A usage report: text, an HTML alternative and a CSV attachment, by default."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(1736899200, localtime=False)
    message["Message-ID"] = make_msgid("report", domain="usage.example.com")
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    if attachment is not None:
        filename, data = attachment
        message.add_attachment(data, maintype="text", subtype="csv", filename=filename)
    return message


def _body(message: EmailMessage, subtype: str) -> str:
    """The text of the ``text/<subtype>`` body, with LF line ends (CRLF on the wire)."""
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} body in the message received"
    assert part.get_content_type() == f"text/{subtype}"
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def _attachments(message: EmailMessage) -> list[tuple[str | None, str, bytes]]:
    """Each attachment's filename, content type and bytes."""
    found = []
    for part in message.iter_attachments():
        assert isinstance(part, EmailMessage)
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        found.append((part.get_filename(), part.get_content_type(), data))
    return found


def _received_by(deliveries: list[Received], recipient: str) -> list[EmailMessage]:
    return [d.message for d in deliveries if recipient in d.recipients]


def _raw_lines(message: EmailMessage, header: str) -> list[str]:
    """The lines ``header`` was written on, as received (``Name: value`` and its folds)."""
    raw = [value for name, value in message.raw_items() if name.lower() == header.lower()]
    assert len(raw) == 1, f"expected one {header} header, got {raw!r}"
    return f"{header}: {raw[0]}".splitlines()


class MailerContract:
    """Every test a :class:`~credit_usage.ports.Mailer` adapter must pass.

    Subclass it in a test module (its name must start with ``Test``) and
    override ``mailer`` and, unless the mailer is an ``InMemoryMailer``,
    ``delivered``; generator fixtures may clean up after the test.
    """

    @pytest.fixture
    def mailer(self) -> Mailer:
        """The mailer under test; subclasses must override this fixture."""
        raise NotImplementedError(
            f"{type(self).__name__} must override the `mailer` fixture to return the mailer "
            "under test, and the `delivered` fixture to read back what it delivered, e.g.\n\n"
            "    @pytest.fixture\n"
            "    def mailer(self, sink) -> Mailer:\n"
            "        return MyMailer(sink.address)\n"
        )

    @pytest.fixture
    def delivered(self, mailer: Mailer) -> Delivered:
        """What arrived so far; reads an ``InMemoryMailer``'s outbox, else must be overridden."""
        if not isinstance(mailer, InMemoryMailer):
            raise NotImplementedError(
                f"{type(self).__name__} must override the `delivered` fixture to return a "
                "function listing the messages received so far, as Received(recipients, "
                "message parsed with email.policy.default)"
            )
        outbox = mailer

        def read() -> list[Received]:
            deliveries = []
            for message in outbox.outbox:
                recipients = tuple(
                    address.addr_spec
                    for header in ("To", "Cc", "Bcc")
                    for value in message.get_all(header, [])
                    for address in value.addresses
                )
                received = copy.copy(message)
                del received["Bcc"]  # what recipients see
                deliveries.append(Received(recipients, received))
            return deliveries

        return read

    # -- what arrives ---------------------------------------------------------------------
    def test_a_report_with_html_and_a_csv_attachment_arrives_intact(
        self, mailer: Mailer, delivered: Delivered
    ) -> None:
        """Subject, From, To, Date, Message-ID, both bodies and the attachment's bytes arrive."""
        sent = _report()
        mailer.send(sent)

        [delivery] = delivered()
        received = delivery.message
        assert delivery.recipients == (ADA,)
        for header in ("Subject", "From", "To", "Date", "Message-ID"):
            assert received[header] == sent[header], header
        assert received.get_content_type() == "multipart/mixed"
        assert _body(received, "plain") == TEXT
        assert _body(received, "html") == HTML
        assert _attachments(received) == [("usage-2025-01.csv", "text/csv", CSV_BYTES)]

    def test_non_ascii_names_subjects_bodies_and_filenames_survive(
        self, mailer: Mailer, delivered: Delivered
    ) -> None:
        """Names, subject, bodies and a filename in Latin, Greek, CJK and emoji arrive as sent."""
        subject = "Crédits utilisés — équipe «Ärger & Co», 東京チーム 👋"
        text = "Grüße, Zoë! Ελληνικά: 1 234,50 € — 東京チーム 👋\n"
        html = "<p>Grüße, <b>Zoë</b>! 東京チーム 👋</p>\n"
        filename = "relevé d'utilisation — été 2025.csv"
        sent = _report(
            subject,
            to=f'"Jürgen Groß, Zoë Ñúñez" <{ADA}>',
            sender="Crédits Équipe <reports@usage.example.com>",
            text=text,
            html=html,
            attachment=(filename, CSV_BYTES),
        )
        mailer.send(sent)

        [delivery] = delivered()
        received = delivery.message
        assert received["Subject"] == subject
        assert received["From"].addresses[0].display_name == "Crédits Équipe"
        assert received["To"].addresses[0].display_name == "Jürgen Groß, Zoë Ñúñez"
        assert received["To"].addresses[0].addr_spec == ADA
        assert _body(received, "plain") == text
        assert _body(received, "html") == html
        assert _attachments(received) == [(filename, "text/csv", CSV_BYTES)]

    def test_every_recipient_of_to_cc_and_bcc_receives_it_once(
        self, mailer: Mailer, delivered: Delivered
    ) -> None:
        """Two To, one Cc and one Bcc recipient each get the message; none sees the Bcc."""
        sent = _report(to=f"Ada <{ADA}>, Lee <{LEE}>")
        sent["Cc"] = f"Mia <{MIA}>"
        sent["Bcc"] = f"Noa <{NOA}>"
        mailer.send(sent)

        deliveries = delivered()
        for recipient in (ADA, LEE, MIA, NOA):
            received = _received_by(deliveries, recipient)
            assert len(received) == 1, f"{recipient} received {len(received)} messages"
            assert received[0]["Message-ID"] == sent["Message-ID"]
            assert "Bcc" not in received[0], f"{recipient} was shown the Bcc header"
            assert _attachments(received[0]) == [("usage-2025-01.csv", "text/csv", CSV_BYTES)]
        assert {r for d in deliveries for r in d.recipients} == {ADA, LEE, MIA, NOA}

    def test_a_long_subject_is_folded_and_a_long_line_is_encoded(
        self, mailer: Mailer, delivered: Delivered
    ) -> None:
        """A 300-character subject is folded under 78 columns; a 2,000-character line arrives."""
        words = "Credit usage of team Acme Corporation for the cycle 15 January to 14 February"
        subject = f"{words}, {words.lower()}, {words.upper()}, Zoë and Jürgen"
        line = ",".join(f"member-{i}:{i * 7}" for i in range(150))
        assert len(subject) > 2 * FOLD_AT
        assert len(line) > 2 * HARD_LIMIT
        mailer.send(_report(subject, text=f"{line}\n", html=None, attachment=None))

        [delivery] = delivered()
        received = delivery.message
        assert received["Subject"] == subject
        subject_lines = _raw_lines(received, "Subject")
        assert len(subject_lines) > 1, "the long subject was not folded"
        assert all(len(folded) <= FOLD_AT for folded in subject_lines), subject_lines
        assert _body(received, "plain") == f"{line}\n"
        payload = received.get_payload()
        assert isinstance(payload, str)
        assert all(len(encoded) <= HARD_LIMIT for encoded in payload.splitlines())

    def test_sending_twice_delivers_twice(self, mailer: Mailer, delivered: Delivered) -> None:
        """The same message sent twice arrives twice, intact both times."""
        sent = _report()
        mailer.send(sent)
        mailer.send(sent)

        deliveries = _received_by(delivered(), ADA)
        assert len(deliveries) == 2
        for received in deliveries:
            assert received["Message-ID"] == sent["Message-ID"]
            assert _body(received, "plain") == TEXT
            assert _attachments(received) == [("usage-2025-01.csv", "text/csv", CSV_BYTES)]

    def test_sending_leaves_the_message_unchanged(
        self, mailer: Mailer, delivered: Delivered
    ) -> None:
        """send neither removes the Bcc header nor changes anything else of the caller's message."""
        sent = _report()
        sent["Bcc"] = NOA
        before = sent.as_bytes()
        mailer.send(sent)

        assert sent.as_bytes() == before
        assert sent["Bcc"] == NOA
        assert len(delivered()) == 1

    # -- what is refused ------------------------------------------------------------------
    def test_a_header_with_a_line_break_is_refused_and_nothing_is_sent(
        self, mailer: Mailer, delivered: Delivered
    ) -> None:
        """CR/LF in a header cannot inject another: refused when set, and when sent anyway.

        ``email.policy.default`` refuses the value; a message of the legacy
        ``compat32`` policy takes it, and the mailer must refuse to send it.
        """
        injected = f"Your report\r\nBcc: attacker@evil.example\r\nX-Injected: {NOA}"
        composed = EmailMessage()
        with pytest.raises(ValueError, match="linefeed or carriage return"):
            composed["Subject"] = injected

        legacy = EmailMessage(policy=email.policy.compat32)
        legacy["From"] = SENDER
        legacy["To"] = ADA
        legacy["Subject"] = injected
        legacy.set_payload("Used: 1,207 of 10,000.\n")
        with pytest.raises((ValueError, CreditUsageError, email.errors.MessageError)):
            mailer.send(legacy)
        assert delivered() == []

    def test_a_message_without_recipients_or_sender_is_refused(
        self, mailer: Mailer, delivered: Delivered
    ) -> None:
        """No To, Cc or Bcc address, or no From: refused, and nothing is sent."""
        nobody = _report()
        del nobody["To"]
        with pytest.raises((ValueError, CreditUsageError)):
            mailer.send(nobody)

        anonymous = _report()
        del anonymous["From"]
        with pytest.raises((ValueError, CreditUsageError)):
            mailer.send(anonymous)
        assert delivered() == []
