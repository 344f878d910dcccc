"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1 and a free port.

:class:`Sink` keeps what the server accepts (the envelope recipients and the
parsed message) and refuses what a test tells it to; :func:`smtp_server` runs
it in aiosmtpd's thread for the length of a ``with`` block.
"""

from __future__ import annotations

import email
import email.policy
import socket
from base64 import b64encode
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from credit_usage.testing.mail import Received

HOST = "127.0.0.1"
USER = "reports"
PASSWORD = "Tr0ub4dor&3-horse"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


# -- an SMTP server: aiosmtpd ---------------------------------------------------------------
class Sink:
    """An aiosmtpd handler that keeps what it accepts and refuses what it is told to."""

    def __init__(self) -> None:
        self.port = 0
        self.deliveries: list[Received] = []
        self.raw: list[bytes] = []
        self.mail_options: list[list[str]] = []
        self.sessions: list[tuple[bool, bool]] = []  # (authenticated, over TLS) per delivery
        self.logins: list[bytes] = []
        self.refused_recipients: set[str] = set()
        self.data_reply: str | None = None
        self.hidden: set[str] = set()  # EHLO keywords not offered
        self.echo_password = False

    def delivered(self) -> list[Received]:
        return list(self.deliveries)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return [line for line in responses if line[4:].split(" ")[0].upper() not in self.hidden]

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refused_recipients:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply is not None:
            return self.data_reply
        content = envelope.content
        received = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(received, EmailMessage)
        self.raw.append(content)
        self.mail_options.append(list(envelope.mail_options))
        self.sessions.append((bool(session.authenticated), session.ssl is not None))
        self.deliveries.append(Received(tuple(envelope.rcpt_tos), received))
        return "250 2.0.0 accepted"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append(auth_data.login)
        if auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode():
            return AuthResult(success=True)
        if self.echo_password:  # a careless server, quoting what it was sent
            typed = auth_data.password.decode()
            encoded = b64encode(auth_data.password).decode()
            return AuthResult(
                success=False,
                handled=False,
                message=f"535 5.7.8 password {typed} ({encoded}) is wrong for {USER}",
            )
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535


@contextmanager
def smtp_server(sink: Sink, **options: Any) -> Iterator[Sink]:
    """aiosmtpd on 127.0.0.1 and a free port, handing what it receives to ``sink``."""
    sink.port = free_port()
    controller = Controller(sink, hostname=HOST, port=sink.port, **options)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
