"""Mailers: the in-memory outbox, and SMTP against a real server and broken ones.

Both mailers pass the mailer contract (``credit_usage.testing.mail``). The
SMTP server is aiosmtpd on 127.0.0.1, in clear text and with STARTTLS and
AUTH (a throwaway self-signed certificate made with ``openssl``); the broken
servers -- silent, hanging up -- are plain sockets. No test leaves a thread
or a server running.
"""

from __future__ import annotations

import shutil
import smtplib
import socket
import ssl
import subprocess
import threading
import time
import traceback
from base64 import b64encode
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from credit_usage.adapters.mail import InMemoryMailer
from credit_usage.adapters.smtp import SmtpMailer
from credit_usage.errors import DeliveryError, ValidationError
from credit_usage.testing.mail import Delivered, MailerContract
from tests.smtp import HOST, PASSWORD, USER, Sink, free_port, smtp_server

SENDER = "reports@usage.example.com"
ADA = "ada@acme.example"
LEE = "lee@acme.example"


def message(
    *, to: str = ADA, subject: str = "Credit usage", text: str = "Used: 1,207.\n"
) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = f"Credit Usage <{SENDER}>"
    mail["To"] = to
    mail["Subject"] = subject
    mail.set_content(text)
    return mail


@pytest.fixture(autouse=True)
def no_threads_left() -> Iterator[None]:
    """Every server a test starts is stopped, its thread joined."""
    before = set(threading.enumerate())
    yield
    left = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not left, f"threads left running: {left}"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 and localhost, and its key."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the STARTTLS tests need a certificate, and the openssl command is missing")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def trusting(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    """A client context that trusts the throwaway certificate (and checks the host name)."""
    return ssl.create_default_context(cafile=str(certificate[0]))


@contextmanager
def tls_server(sink: Sink, certificate: tuple[Path, Path], **options: Any) -> Iterator[Sink]:
    """aiosmtpd requiring STARTTLS, then AUTH with USER and PASSWORD."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    settings: dict[str, Any] = {
        "tls_context": context,
        "require_starttls": True,
        "authenticator": sink.authenticate,
        "auth_required": True,
    }
    with smtp_server(sink, **(settings | options)):
        yield sink


@pytest.fixture
def sink() -> Iterator[Sink]:
    """aiosmtpd in clear text, without AUTH."""
    with smtp_server(Sink()) as server:
        yield server


@pytest.fixture
def tls_sink(certificate: tuple[Path, Path]) -> Iterator[Sink]:
    """aiosmtpd requiring STARTTLS and AUTH."""
    with tls_server(Sink(), certificate) as server:
        yield server


# -- broken servers: plain sockets -----------------------------------------------------------
@contextmanager
def raw_server(serve: Callable[[socket.socket, threading.Event], None]) -> Iterator[int]:
    """A server on a free port that runs ``serve(connection, stop)`` for the first client."""
    listener = socket.create_server((HOST, 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                serve(connection, stop)
            return

    thread = threading.Thread(target=run, name="raw-smtp-server", daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=10)
        listener.close()


def silent(connection: socket.socket, stop: threading.Event) -> None:
    """Accept, then say nothing until the test ends."""
    stop.wait(10)


def hanging_up_at(verb: bytes) -> Callable[[socket.socket, threading.Event], None]:
    """Speak SMTP until the client sends ``verb``, then close the connection."""
    replies = {
        b"EHLO": b"250-test.example\r\n250 8BITMIME\r\n",
        b"MAIL": b"250 2.1.0 OK\r\n",
        b"RCPT": b"250 2.1.5 OK\r\n",
        b"RSET": b"250 OK\r\n",
    }

    def serve(connection: socket.socket, stop: threading.Event) -> None:
        connection.settimeout(5)
        connection.sendall(b"220 test.example ESMTP\r\n")
        with connection.makefile("rb") as lines:
            for line in lines:
                command = line.split(b" ", 1)[0].strip().upper()
                if command == verb:
                    return
                connection.sendall(replies.get(command, b"500 5.5.2 what?\r\n"))

    return serve


def greeting(reply: bytes) -> Callable[[socket.socket, threading.Event], None]:
    """Greet with ``reply`` and wait for the client to go."""

    def serve(connection: socket.socket, stop: threading.Event) -> None:
        connection.settimeout(5)
        connection.sendall(reply)
        with connection.makefile("rb") as lines:
            for line in lines:
                if line.upper().startswith(b"QUIT"):
                    connection.sendall(b"221 bye\r\n")
                    return

    return serve


def send_failing(mailer: SmtpMailer, mail: EmailMessage | None = None) -> DeliveryError:
    """Send, expecting a DeliveryError; the error."""
    with pytest.raises(DeliveryError) as caught:
        mailer.send(mail or message())
    return caught.value


def full_text(error: BaseException) -> str:
    """The error's str, repr and whole traceback, causes included."""
    return "\n".join([str(error), repr(error), *traceback.format_exception(error)])


# -- the contract ----------------------------------------------------------------------------
class TestInMemoryMailer(MailerContract):
    """The in-memory mailer keeps copies; tests can make it fail."""

    @pytest.fixture
    def mailer(self) -> InMemoryMailer:
        return InMemoryMailer()

    def test_the_outbox_keeps_a_copy_as_composed_bcc_included(self) -> None:
        """The outbox shows Bcc; later changes to the message sent do not show in it."""
        mailer = InMemoryMailer()
        sent = message()
        sent["Bcc"] = LEE
        mailer.send(sent)
        sent.replace_header("Subject", "changed")

        [kept] = mailer.outbox
        assert kept["Subject"] == "Credit usage"
        assert kept["Bcc"] == LEE
        assert kept is not sent

    def test_fail_with_makes_every_send_fail_until_reset(self) -> None:
        """While fail_with is set, sends raise it and keep nothing; None delivers again."""
        outage = DeliveryError("mail server down", host="smtp.example.com")
        mailer = InMemoryMailer(fail_with=outage)
        for _ in range(3):
            with pytest.raises(DeliveryError) as caught:
                mailer.send(message())
            assert caught.value is outage
        assert mailer.outbox == []

        mailer.fail_with = None
        mailer.send(message())
        assert len(mailer.outbox) == 1

    def test_fail_next_fails_that_many_sends_then_delivers(self) -> None:
        """fail_next(2): a transient outage of two sends, then the retry gets through."""
        mailer = InMemoryMailer()
        mailer.fail_next(2)
        for _ in range(2):
            with pytest.raises(DeliveryError, match="simulated mail outage") as caught:
                mailer.send(message())
            assert caught.value.host == "memory"
        mailer.send(message())
        assert len(mailer.outbox) == 1

    @pytest.mark.parametrize("count", [0, -1, True, 1.5])
    def test_fail_next_refuses_a_count_below_one(self, count: Any) -> None:
        with pytest.raises(ValidationError, match="count must be an integer") as caught:
            InMemoryMailer().fail_next(count)
        assert caught.value.field == "count"

    def test_an_unfit_message_is_refused_before_a_simulated_failure(self) -> None:
        """A message without recipients is a ValidationError even during an outage."""
        mailer = InMemoryMailer(fail_with=DeliveryError("down"))
        nobody = message()
        del nobody["To"]
        with pytest.raises(ValidationError, match="no recipient"):
            mailer.send(nobody)

    def test_clear_empties_the_outbox_which_is_a_snapshot(self) -> None:
        mailer = InMemoryMailer()
        mailer.send(message())
        snapshot = mailer.outbox
        snapshot.clear()
        assert len(mailer.outbox) == 1
        assert repr(mailer) == "InMemoryMailer(<1 sent>)"
        mailer.clear()
        assert mailer.outbox == []

    def test_sends_from_many_threads_are_all_kept(self) -> None:
        mailer = InMemoryMailer()

        def work(worker: int) -> None:
            for i in range(25):
                mailer.send(message(subject=f"{worker}-{i}"))

        threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        subjects = sorted(str(kept["Subject"]) for kept in mailer.outbox)
        assert subjects == sorted(f"{w}-{i}" for w in range(8) for i in range(25))


class TestSmtpMailer(MailerContract):
    """SMTP in clear text (starttls=False) to aiosmtpd."""

    @pytest.fixture
    def mailer(self, sink: Sink) -> SmtpMailer:
        return SmtpMailer(HOST, sink.port, starttls=False, timeout=10)

    @pytest.fixture
    def delivered(self, sink: Sink) -> Delivered:
        return sink.delivered


class TestSmtpMailerOverStartTls(MailerContract):
    """SMTP with STARTTLS and AUTH to aiosmtpd requiring both."""

    @pytest.fixture
    def mailer(self, tls_sink: Sink, trusting: ssl.SSLContext) -> SmtpMailer:
        return SmtpMailer(
            HOST, tls_sink.port, username=USER, password=PASSWORD, tls_context=trusting, timeout=10
        )

    @pytest.fixture
    def delivered(self, tls_sink: Sink) -> Delivered:
        return tls_sink.delivered

    def test_the_message_went_over_tls_after_login(
        self, mailer: SmtpMailer, tls_sink: Sink
    ) -> None:
        mailer.send(message())
        assert tls_sink.sessions == [(True, True)]
        assert tls_sink.logins == [USER.encode()]


# -- SMTP: envelope and encodings ----------------------------------------------------------------
class TestSmtpEnvelope:
    """What goes on the wire: envelope, Bcc, 8-bit and international addresses."""

    def test_bcc_recipients_get_it_without_the_bcc_header(self, sink: Sink) -> None:
        mail = message(to=f"Ada <{ADA}>, {ADA}")  # one address twice: sent to once
        mail["Bcc"] = LEE
        SmtpMailer(HOST, sink.port, starttls=False).send(mail)

        assert [d.recipients for d in sink.deliveries] == [(ADA, LEE)]
        assert b"Bcc" not in sink.raw[0]
        assert b"lee@" not in sink.raw[0]

    def test_8bit_text_is_declared_as_8bitmime(self, sink: Sink) -> None:
        mailer = SmtpMailer(HOST, sink.port, starttls=False)
        mailer.send(message(text="Grüße\n"))
        mailer.send(message(text="plain ASCII\n"))

        assert "BODY=8BITMIME" in sink.mail_options[0]
        assert "BODY=8BITMIME" not in sink.mail_options[1]
        assert any(option.startswith("SIZE=") for option in sink.mail_options[0])

    def test_without_8bitmime_8bit_parts_are_sent_in_7bit(self, sink: Sink) -> None:
        sink.hidden.add("8BITMIME")
        SmtpMailer(HOST, sink.port, starttls=False).send(message(text="Grüße, Zoë 👋\n"))

        assert sink.raw[0].isascii()
        assert "BODY=8BITMIME" not in sink.mail_options[0]
        body = sink.deliveries[0].message.get_content()
        assert body.replace("\r\n", "\n") == "Grüße, Zoë 👋\n"

    def test_a_non_ascii_address_is_sent_with_smtputf8(self, sink: Sink) -> None:
        SmtpMailer(HOST, sink.port, starttls=False).send(message(to="Jürgen <jürgen@exämple.de>"))

        assert sink.deliveries[0].recipients == ("jürgen@exämple.de",)
        assert "SMTPUTF8" in sink.mail_options[0]

    def test_a_non_ascii_address_needs_a_server_offering_smtputf8(self, sink: Sink) -> None:
        sink.hidden.add("SMTPUTF8")
        error = send_failing(
            SmtpMailer(HOST, sink.port, starttls=False), message(to="jürgen@exämple.de")
        )
        assert "SMTPUTF8" in str(error)
        assert sink.deliveries == []


# -- SMTP: TLS -----------------------------------------------------------------------------------
class TestStartTls:
    """starttls=True requires TLS (and checks the certificate); starttls=False never uses it."""

    def test_starttls_true_refuses_a_server_without_starttls_before_login(self) -> None:
        """No TLS offered: refused before AUTH, so the password is not sent in clear text."""
        recorder = Sink()
        with smtp_server(recorder, authenticator=recorder.authenticate, auth_require_tls=False):
            mailer = SmtpMailer(HOST, recorder.port, username=USER, password=PASSWORD)
            error = send_failing(mailer)

        assert f"{HOST}:{recorder.port} at STARTTLS" in str(error)
        assert "does not offer STARTTLS" in str(error)
        assert (error.reply_code, error.reply) == (None, None)
        assert isinstance(error.__cause__, smtplib.SMTPNotSupportedError)
        assert recorder.logins == []
        assert recorder.deliveries == []

    def test_starttls_false_never_upgrades(self, tls_sink: Sink) -> None:
        """A server requiring STARTTLS answers 530 to a mailer that will not use it."""
        error = send_failing(SmtpMailer(HOST, tls_sink.port, starttls=False))

        assert error.reply_code == 530
        assert "STARTTLS" in (error.reply or "")
        assert tls_sink.deliveries == []

    def test_an_untrusted_certificate_fails_the_handshake(self, tls_sink: Sink) -> None:
        """The default context checks the certificate against the system's authorities."""
        mailer = SmtpMailer(HOST, tls_sink.port, username=USER, password=PASSWORD)
        error = send_failing(mailer)

        assert "TLS handshake failed" in str(error)
        assert "CERTIFICATE_VERIFY_FAILED" in str(error)
        assert error.reply_code is None
        assert isinstance(error.__cause__, ssl.SSLCertVerificationError)
        assert tls_sink.logins == []

    def test_starttls_false_may_log_in_in_clear_text(self) -> None:
        """For a relay on localhost: AUTH without TLS when the server allows it."""
        recorder = Sink()
        with smtp_server(recorder, authenticator=recorder.authenticate, auth_require_tls=False):
            mailer = SmtpMailer(
                HOST, recorder.port, starttls=False, username=USER, password=PASSWORD
            )
            mailer.send(message())
        assert recorder.sessions == [(True, False)]


# -- SMTP: failures ------------------------------------------------------------------------------
class TestDeliveryFailures:
    """Every failure is a DeliveryError naming host:port and the server's reply."""

    def test_nothing_listening(self) -> None:
        port = free_port()
        error = send_failing(SmtpMailer(HOST, port, starttls=False, timeout=5))

        assert f"{HOST}:{port} at connect" in str(error)
        assert "could not be reached" in str(error)
        assert (error.host, error.reply_code, error.reply) == (f"{HOST}:{port}", None, None)
        assert isinstance(error.__cause__, ConnectionRefusedError)
        assert error.code == "delivery_failed"

    def test_a_refused_recipient(self, sink: Sink) -> None:
        sink.refused_recipients.add(ADA)
        error = send_failing(SmtpMailer(HOST, sink.port, starttls=False))

        assert error.reply_code == 550
        assert error.reply == "5.1.1 mailbox unavailable"
        assert f"{HOST}:{sink.port} at RCPT TO" in str(error)
        assert f"refused the recipient {ADA!r}" in str(error)
        assert str(error).endswith("550 5.1.1 mailbox unavailable")
        assert isinstance(error.__cause__, smtplib.SMTPRecipientsRefused)

    def test_one_refused_recipient_stops_the_message_for_all(self, sink: Sink) -> None:
        """All or nothing: no DATA when any recipient is refused, so a retry sends no duplicates."""
        sink.refused_recipients.add(LEE)
        error = send_failing(
            SmtpMailer(HOST, sink.port, starttls=False), message(to=f"{ADA}, {LEE}")
        )

        assert error.reply_code == 550
        assert LEE in str(error)
        assert sink.deliveries == []

    def test_a_refused_message(self, sink: Sink) -> None:
        sink.data_reply = "550 5.1.1 mailbox unavailable"
        mail = message()
        mail["Message-ID"] = "<r1@usage.example.com>"
        error = send_failing(SmtpMailer(HOST, sink.port, starttls=False), mail)

        assert (error.reply_code, error.reply) == (550, "5.1.1 mailbox unavailable")
        assert "at DATA: the server refused the message <r1@usage.example.com>" in str(error)
        assert isinstance(error.__cause__, smtplib.SMTPDataError)

    def test_a_server_refusing_at_the_greeting(self) -> None:
        with raw_server(greeting(b"554 5.3.2 too busy, go away\r\n")) as port:
            error = send_failing(SmtpMailer(HOST, port, starttls=False, timeout=5))
        assert (error.reply_code, error.reply) == (554, "5.3.2 too busy, go away")
        assert "refused the connection" in str(error)

    def test_a_wrong_password_is_not_shown_anywhere(
        self, tls_sink: Sink, trusting: ssl.SSLContext
    ) -> None:
        wrong = "N0t-the-P4ssw0rd!"
        mailer = SmtpMailer(
            HOST, tls_sink.port, username=USER, password=wrong, tls_context=trusting
        )
        error = send_failing(mailer)

        assert error.reply_code == 535
        assert f"refused the credentials of user {USER!r}" in str(error)
        assert isinstance(error.__cause__, smtplib.SMTPAuthenticationError)
        assert wrong not in full_text(error)
        assert wrong not in repr(mailer)
        assert tls_sink.deliveries == []

    def test_a_password_echoed_by_the_server_is_hidden(
        self, tls_sink: Sink, trusting: ssl.SSLContext
    ) -> None:
        """A server quoting the password, as typed or in base64, has it masked, cause included."""
        tls_sink.echo_password = True
        wrong = "N0t-the-P4ssw0rd!"
        mailer = SmtpMailer(
            HOST, tls_sink.port, username=USER, password=wrong, tls_context=trusting
        )
        error = send_failing(mailer)

        shown = full_text(error)
        assert wrong not in shown
        assert b64encode(wrong.encode()).decode() not in shown
        assert "password *** (***) is wrong" in str(error.reply)
        assert error.reply_code == 535

    def test_a_silent_server_times_out(self) -> None:
        with raw_server(silent) as port:
            started = time.monotonic()
            error = send_failing(SmtpMailer(HOST, port, starttls=False, timeout=0.5))
            elapsed = time.monotonic() - started

        assert elapsed < 3, f"took {elapsed:.1f} s with a 0.5 s timeout"
        assert f"{HOST}:{port} at connect: the server did not answer within 0.5 s" in str(error)
        assert (error.reply_code, error.reply) == (None, None)

    @pytest.mark.parametrize(("verb", "stage"), [(b"EHLO", "EHLO"), (b"DATA", "DATA")])
    def test_a_server_hanging_up_mid_session(self, verb: bytes, stage: str) -> None:
        with raw_server(hanging_up_at(verb)) as port:
            error = send_failing(SmtpMailer(HOST, port, starttls=False, timeout=5))

        assert f"{HOST}:{port} at {stage}: the server closed the connection" in str(error)
        assert (error.reply_code, error.reply) == (None, None)
        assert isinstance(error.__cause__, smtplib.SMTPServerDisconnected)

    def test_nothing_is_sent_for_an_unfit_message(self) -> None:
        """An unfit message is a ValidationError raised before connecting (nothing listens here)."""
        nobody = message()
        del nobody["To"]
        with pytest.raises(ValidationError, match="no recipient") as caught:
            SmtpMailer(HOST, free_port(), starttls=False).send(nobody)
        assert caught.value.field == "message"


# -- SMTP: configuration -------------------------------------------------------------------------
class TestSmtpMailerConfiguration:
    def test_repr_masks_the_password(self) -> None:
        mailer = SmtpMailer("smtp.example.com", 587, username=USER, password=PASSWORD)
        assert repr(mailer) == (
            "SmtpMailer(host='smtp.example.com', port=587, starttls=True, "
            "username='reports', password='***', timeout=30.0)"
        )
        assert PASSWORD not in repr(mailer)
        assert repr(SmtpMailer("localhost", starttls=False)) == (
            "SmtpMailer(host='localhost', port=25, starttls=False, username=None, "
            "password=None, timeout=30.0)"
        )

    def test_errors_name_an_ipv6_server_in_brackets(self) -> None:
        assert SmtpMailer("::1", 2525).address == "[::1]:2525"

    @pytest.mark.parametrize(
        ("arguments", "field"),
        [
            ({"host": ""}, "host"),
            ({"host": "smtp example.com"}, "host"),
            ({"host": None}, "host"),
            ({"port": 0}, "port"),
            ({"port": 65536}, "port"),
            ({"port": True}, "port"),
            ({"port": "25"}, "port"),
            ({"timeout": 0}, "timeout"),
            ({"timeout": -1.0}, "timeout"),
            ({"timeout": float("nan")}, "timeout"),
            ({"timeout": float("inf")}, "timeout"),
            ({"starttls": "yes"}, "starttls"),
            ({"username": USER}, "password"),
            ({"password": PASSWORD}, "username"),
            ({"username": "", "password": PASSWORD}, "username"),
            ({"username": "a\r\nb", "password": PASSWORD}, "username"),
            ({"username": "zoë", "password": PASSWORD}, "username"),
            ({"username": USER, "password": "pässword"}, "password"),
            ({"tls_context": "strict"}, "tls_context"),
        ],
    )
    def test_bad_arguments_are_refused(self, arguments: dict[str, Any], field: str) -> None:
        settings: dict[str, Any] = {"host": "smtp.example.com"} | arguments
        with pytest.raises(ValidationError) as caught:
            SmtpMailer(**settings)
        assert caught.value.field == field
        assert PASSWORD not in str(caught.value)
        assert "pässword" not in str(caught.value)
