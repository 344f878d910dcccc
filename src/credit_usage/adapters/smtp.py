"""SmtpMailer: the mailer port on :mod:`smtplib`, one connection per message.

Each :meth:`SmtpMailer.send` connects, says EHLO, upgrades with STARTTLS,
logs in when given a user name, sends the message to its To, Cc and Bcc
recipients and says QUIT. It sends to every recipient or to none: when the
server refuses one recipient, the transaction is abandoned before DATA.

**TLS.** ``starttls=True`` (the default) *requires* STARTTLS: a server that
does not offer it is refused with ``DeliveryError`` rather than sent the
message, and the password, in clear text. The server's certificate is
checked against the system's trusted authorities and ``host``
(:func:`ssl.create_default_context`), or against ``tls_context`` when one is
given (a private authority, a pinned certificate). ``starttls=False`` never
upgrades, even when the server offers it, and sends everything -- the
password too -- in clear text: for a relay on ``localhost`` or a private
network. Implicit TLS (SMTPS, port 465) is not supported.

**Failures.** Everything that stops a message -- the server unreachable,
silent for ``timeout`` seconds, closing the connection, answering 4xx or 5xx
to the greeting, EHLO, STARTTLS, AUTH, MAIL, RCPT or DATA, a failed TLS
handshake -- raises :class:`~credit_usage.errors.DeliveryError` naming
``host:port``, the step and the server's reply, with ``reply_code`` and
``reply`` set when the server answered, and the :mod:`smtplib`, :mod:`ssl` or
:mod:`socket` exception as ``__cause__``. The password never appears in an
error, its cause or a repr. A message unfit to send (no From address or
recipient, a line break that could inject a header) raises
``ValidationError(field="message")`` before any connection is made.

``timeout`` bounds each network operation (the connection, each reply), not
the whole send.
"""

from __future__ import annotations

import contextlib
import math
import smtplib
import ssl
from typing import TYPE_CHECKING, Final

from attrs import field, frozen

from credit_usage.adapters.mail import Prepared, flatten, prepare
from credit_usage.errors import DeliveryError, ValidationError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from email.message import EmailMessage

    _Redact = Callable[[str, Iterable[str]], str]

__all__ = ["SmtpMailer"]

#: How a password is shown in a repr (as ``credentials.MASK``).
_MASK: Final = "***"


@frozen(repr=False)
class SmtpMailer:
    """Sends each message over its own SMTP connection (see the module's docstring).

    Thread-safe: it holds no connection between sends.

    Args:
        host: the mail server's name or IP address.
        port: its port, 1 to 65535: 25 (the default) or 587 (submission).
        starttls: require STARTTLS and send only over TLS (the default);
            ``False`` sends in clear text, even to a server that offers TLS.
        username: log in as this user (AUTH) after STARTTLS; with ``password``.
            ASCII, as :mod:`smtplib` sends it.
        password: the user's password; ASCII, as :mod:`smtplib` sends it.
        timeout: seconds to wait for the connection and for each reply.
        tls_context: checks the server's certificate; by default the system's
            authorities and ``host`` (:func:`ssl.create_default_context`).

    Raises:
        ValidationError: an argument is out of range; ``field`` names it.

    Example::

        mailer = SmtpMailer("smtp.example.com", 587, username="reports", password=secret)
        repr(mailer)  # ... username='reports', password='***', timeout=30.0)
    """

    host: str
    port: int = 25
    starttls: bool = field(default=True, kw_only=True)
    username: str | None = field(default=None, kw_only=True)
    password: str | None = field(default=None, kw_only=True)
    timeout: float = field(default=30.0, kw_only=True)
    tls_context: ssl.SSLContext | None = field(default=None, kw_only=True, eq=False)

    def __attrs_post_init__(self) -> None:
        host: object = self.host
        if not isinstance(host, str) or not host or any(c.isspace() for c in host):
            raise ValidationError(
                f"host must be a host name or IP address without spaces, got {host!r}",
                field="host",
            )
        port: object = self.port
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ValidationError(
                f"port must be an integer from 1 to 65535, got {port!r}", field="port"
            )
        starttls: object = self.starttls
        if not isinstance(starttls, bool):
            raise ValidationError(
                f"starttls must be True or False, got {starttls!r}", field="starttls"
            )
        timeout: object = self.timeout
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise ValidationError(
                f"timeout must be a number of seconds greater than 0, got {timeout!r}",
                field="timeout",
            )
        self._check_credentials()
        context: object = self.tls_context
        if context is not None and not isinstance(context, ssl.SSLContext):
            raise ValidationError(
                f"tls_context must be an ssl.SSLContext or None, got {type(context).__name__}",
                field="tls_context",
            )

    def _check_credentials(self) -> None:
        username: object = self.username
        password: object = self.password
        if username is None and password is None:
            return
        if (
            not isinstance(username, str)
            or not username
            or not username.isprintable()
            or not username.isascii()
        ):
            raise ValidationError(
                "username must be a non-empty string of printable ASCII (smtplib sends it as "
                f"ASCII) when a password is given, got {username!r}",
                field="username",
            )
        # The password itself is never shown: only what it is not.
        if not isinstance(password, str):
            raise ValidationError(
                f"password must be a string when a username ({username!r}) is given, "
                f"got {type(password).__name__}",
                field="password",
            )
        if not password.isascii():
            raise ValidationError(
                f"the password of user {username!r} must be ASCII: smtplib sends it as ASCII",
                field="password",
            )

    @property
    def address(self) -> str:
        """``host:port``, as errors name the server (an IPv6 address in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` to its To, Cc and Bcc recipients, over one connection.

        The ``Bcc`` header is not sent. Non-ASCII addresses need a server
        offering SMTPUTF8; 8-bit parts are declared (``BODY=8BITMIME``), or
        re-encoded in 7 bits for a server without 8BITMIME.

        Raises:
            ValidationError: the message has no From address or recipient, or
                a header that could inject another; nothing was sent.
            DeliveryError: the message was not accepted for every recipient
                (see the module's docstring).
        """
        prepared = prepare(message)
        smtp: smtplib.SMTP | None = None
        stage = "connect"
        try:
            # Connects, and raises SMTPConnectError unless greeted with 220. The host
            # given here is also the name STARTTLS checks the certificate against.
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            stage = "EHLO"
            smtp.ehlo_or_helo_if_needed()
            if self.starttls:
                stage = "STARTTLS"
                if not smtp.has_extn("starttls"):
                    raise smtplib.SMTPNotSupportedError(
                        "the server does not offer STARTTLS, and starttls=True refuses "
                        "to send in clear text (starttls=False would)"
                    )
                smtp.starttls(context=self.tls_context or ssl.create_default_context())
                stage = "EHLO"
                smtp.ehlo_or_helo_if_needed()
            if self.username is not None:
                stage = "AUTH"
                smtp.login(self.username, self.password or "")
            stage = "MAIL FROM"
            options, data = _mail_options(smtp, prepared, message)
            code, reply = smtp.mail(prepared.sender, options)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, reply, prepared.sender)
            stage = "RCPT TO"
            for recipient in prepared.recipients:
                code, reply = smtp.rcpt(recipient)
                if code not in (250, 251):
                    raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
            stage = "DATA"
            code, reply = smtp.data(data)
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)
        except (smtplib.SMTPException, OSError) as exc:
            if smtp is not None and not isinstance(exc, OSError | smtplib.SMTPServerDisconnected):
                _quit(smtp)  # the server is there and answering: end politely
            raise self._failure(exc, stage, message) from exc
        else:
            _quit(smtp)  # the message is accepted: a failing QUIT changes nothing
        finally:
            if smtp is not None:
                smtp.close()

    def _failure(self, exc: BaseException, stage: str, message: EmailMessage) -> DeliveryError:
        """The DeliveryError of ``exc``, raised at ``stage``, without the password."""
        code, reply = _reply_of(exc)
        what: str
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            recipient = next(iter(exc.recipients))
            what = f"the server refused the recipient {recipient!r}, so nobody was sent it"
        elif isinstance(exc, smtplib.SMTPSenderRefused):
            what = f"the server refused the sender {exc.sender!r}"
        elif isinstance(exc, smtplib.SMTPAuthenticationError):
            what = f"the server refused the credentials of user {self.username!r}"
        elif isinstance(exc, smtplib.SMTPDataError):
            what = f"the server refused the message {message.get('Message-ID', '')!s}".rstrip()
        elif isinstance(exc, smtplib.SMTPConnectError):
            what = "the server refused the connection"
        elif isinstance(exc, smtplib.SMTPResponseException):
            what = "the server answered with an error"
        elif isinstance(exc, ssl.SSLError):
            what = f"the TLS handshake failed: {exc}"
        elif isinstance(exc, TimeoutError) and stage == "connect":
            what = f"the server could not be reached within {self.timeout} s"
        elif isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
            what = f"the server did not answer within {self.timeout} s"
        elif isinstance(exc, smtplib.SMTPServerDisconnected):
            what = f"the server closed the connection ({exc})"
        elif isinstance(exc, OSError) and stage == "connect":
            what = f"the server could not be reached: {exc.strerror or exc}"
        else:
            what = str(exc)
        text = f"could not send email through the mail server {self.address} at {stage}: {what}"
        if code is not None:
            text += f": {code} {reply}"
        if self.password:
            text, reply = self._redacted(exc, text, reply)
        return DeliveryError(text, host=self.address, reply_code=code, reply=reply)

    def _redacted(self, exc: BaseException, text: str, reply: str | None) -> tuple[str, str | None]:
        """``text`` and ``reply`` without the password; the password scrubbed from ``exc`` too.

        The password as typed and as AUTH LOGIN and PLAIN send it, in base64:
        a server may echo any of them in its reply, which ``exc`` holds.
        """
        # Imported here: credentials imports SQLAlchemy, which a send need not pay for.
        from base64 import b64encode

        from credit_usage.adapters.credentials import redact

        password = self.password or ""
        secrets = [
            password,
            b64encode(password.encode()).decode(),
            b64encode(f"\0{self.username}\0{password}".encode()).decode(),
        ]
        seen: set[int] = set()
        cause: BaseException | None = exc
        while cause is not None and id(cause) not in seen:
            seen.add(id(cause))
            cause.args = tuple(_redact_value(arg, secrets, redact) for arg in cause.args)
            if isinstance(cause, smtplib.SMTPResponseException):
                answer = cause.smtp_error
                cause.smtp_error = (
                    redact(answer, secrets)
                    if isinstance(answer, str)
                    else _redact_bytes(answer, secrets, redact)
                )
            if isinstance(cause, smtplib.SMTPRecipientsRefused):
                cause.recipients = {
                    address: (code, _redact_bytes(answer, secrets, redact))
                    for address, (code, answer) in cause.recipients.items()
                }
            cause = cause.__cause__ or cause.__context__
        return redact(text, secrets), None if reply is None else redact(reply, secrets)

    def __repr__(self) -> str:
        password = None if self.password is None else _MASK
        return (
            f"SmtpMailer(host={self.host!r}, port={self.port!r}, starttls={self.starttls!r}, "
            f"username={self.username!r}, password={password!r}, timeout={self.timeout!r})"
        )


def _mail_options(
    smtp: smtplib.SMTP, prepared: Prepared, message: EmailMessage
) -> tuple[list[str], bytes]:
    """The MAIL FROM options for this server, and the bytes to send it."""
    options: list[str] = []
    data = prepared.data
    if prepared.international:
        if not smtp.has_extn("smtputf8"):
            raise smtplib.SMTPNotSupportedError(
                "a non-ASCII address needs SMTPUTF8, which the server does not offer"
            )
        options += ["SMTPUTF8", "BODY=8BITMIME"]
    elif not data.isascii():
        if smtp.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        else:
            data = flatten(message, international=False, seven_bit=True)
    if smtp.has_extn("size"):
        options.append(f"SIZE={len(data)}")
    return options, data


def _reply_of(exc: BaseException) -> tuple[int | None, str | None]:
    """The server's reply code and text carried by ``exc``, or ``(None, None)``."""
    raw: bytes | str
    if isinstance(exc, smtplib.SMTPRecipientsRefused) and exc.recipients:
        code, raw = next(iter(exc.recipients.values()))
    elif isinstance(exc, smtplib.SMTPResponseException):
        code, raw = exc.smtp_code, exc.smtp_error
    else:
        return None, None
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return code, text


def _redact_bytes(value: bytes, secrets: list[str], redact: _Redact) -> bytes:
    """A server's answer without the secrets, still bytes."""
    text = value.decode("utf-8", "surrogateescape")
    return redact(text, secrets).encode("utf-8", "surrogateescape")


def _redact_value(value: object, secrets: list[str], redact: _Redact) -> object:
    """``value`` (an argument of an exception) without the secrets, in its own type."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, bytes):
        return _redact_bytes(value, secrets, redact)
    if isinstance(value, dict):  # SMTPRecipientsRefused: {address: (code, reply)}
        return {key: _redact_value(item, secrets, redact) for key, item in value.items()}
    if isinstance(value, tuple):
        return tuple(_redact_value(item, secrets, redact) for item in value)
    return value


def _quit(smtp: smtplib.SMTP) -> None:
    """Say QUIT, ignoring a failure: the outcome of the send is known already."""
    with contextlib.suppress(smtplib.SMTPException, OSError):
        smtp.quit()
