"""InMemoryMailer: the mailer of tests and demos, which keeps what it is sent.

It checks and writes out each message as :class:`~credit_usage.adapters.smtp.SmtpMailer`
does, so a message it accepts is one SMTP would accept too, and it keeps a
copy read back from those bytes: what a recipient would parse. A host's tests
read :attr:`InMemoryMailer.outbox` and can make sends fail to simulate a mail
outage::

    mailer = InMemoryMailer()
    mailer.fail_next()                  # the next send raises DeliveryError
    mailer.fail_with = DeliveryError("mail server down", host="smtp.example.com")
    mailer.fail_with = None             # delivering again

The checks shared by both mailers (:func:`prepare`) live here, so that this
module stays cheap to import: the :mod:`email` modules are imported on the first send.
"""

from __future__ import annotations

import copy
import re
import threading
from typing import TYPE_CHECKING, Final

from attrs import frozen

from credit_usage.errors import DeliveryError, ValidationError

if TYPE_CHECKING:
    from email.message import EmailMessage, Message

__all__ = ["InMemoryMailer", "Prepared", "flatten", "prepare"]

# A header name is printable ASCII without ":" (RFC 5322 ftext).
_FIELD_NAME: Final = re.compile(r"[!-9;-~]+")
# A line break not followed by white space ends the header: folding is the only
# break allowed in a value. The atomic group keeps "\r\n " from matching as "\r".
_BARE_BREAK: Final = re.compile(r"(?>\r\n|\r|\n)(?![ \t])")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_SHOWN: Final = 200  # characters of a bad header value quoted in an error


@frozen
class Prepared:
    """A checked message: its envelope and its bytes for the wire.

    ``data`` has CRLF line ends and 8-bit parts as composed; ``international``
    says an address is not ASCII, so the server must offer SMTPUTF8.
    """

    sender: str
    recipients: tuple[str, ...]
    international: bool
    data: bytes


def prepare(message: Message, *, keep_bcc: bool = False) -> Prepared:
    """Check ``message`` and write it out; ``ValidationError(field="message")`` if it is unfit.

    Refused: no ``From`` (or ``Sender``) address, no address in To, Cc and
    Bcc, an address that is none, a header name or value that could inject
    a header (a line break that is not folding), a message that cannot be
    written out. The envelope is ``Sender`` (else the first ``From``) and the
    To, Cc and Bcc addresses, each once, in that order; the ``Bcc`` header is
    left out of ``data`` unless ``keep_bcc``.
    """
    import email.message

    if not isinstance(message, email.message.Message):
        raise ValidationError(
            f"a mailer sends an email.message.EmailMessage, not {type(message).__name__}",
            field="message",
        )
    for part in message.walk():
        for name, value in part.raw_items():
            _check_header(name, str(value))
    senders = _addresses(message, "Sender") or _addresses(message, "From")
    if not senders:
        raise ValidationError("the message has no From address", field="message")
    recipients = tuple(
        dict.fromkeys(a for header in ("To", "Cc", "Bcc") for a in _addresses(message, header))
    )
    if not recipients:
        raise ValidationError(
            "the message has no recipient: its To, Cc and Bcc headers name no address",
            field="message",
        )
    international = not "".join((senders[0], *recipients)).isascii()
    data = flatten(message, international=international, keep_bcc=keep_bcc)
    return Prepared(senders[0], recipients, international, data)


def flatten(
    message: Message, *, international: bool, keep_bcc: bool = False, seven_bit: bool = False
) -> bytes:
    """``message`` as bytes with CRLF line ends, without ``Bcc`` unless ``keep_bcc``.

    ``international`` writes headers as UTF-8 (for SMTPUTF8); ``seven_bit``
    re-encodes 8-bit parts (base64 or quoted-printable) for a server without 8BITMIME.
    """
    import email.errors
    import email.generator
    import io
    from email.policy import EmailPolicy

    if not keep_bcc and "Bcc" in message:
        message = copy.copy(message)  # shallow: deleting rebinds its header list only
        del message["Bcc"]
    policy = message.policy
    if international:
        if not isinstance(policy, EmailPolicy):
            raise ValidationError(
                "a message to or from a non-ASCII address needs an email.policy.EmailPolicy "
                f"(such as email.policy.default), not {type(policy).__name__}",
                field="message",
            )
        policy = policy.clone(utf8=True)
    if seven_bit:
        policy = policy.clone(cte_type="7bit")
    with io.BytesIO() as buffer:
        try:
            email.generator.BytesGenerator(buffer, policy=policy).flatten(message, linesep="\r\n")
        except (ValueError, TypeError, LookupError, email.errors.MessageError) as exc:
            raise ValidationError(
                f"the message cannot be written out: {exc}", field="message"
            ) from exc
        return buffer.getvalue()


def _check_header(name: str, value: str) -> None:
    if not _FIELD_NAME.fullmatch(name):
        raise ValidationError(
            f"the message has a header named {name[:_SHOWN]!r}, which is not a header name",
            field="message",
        )
    if _BARE_BREAK.search(value):
        raise ValidationError(
            f"the message's {name} header holds a line break that is not folding, "
            f"which would start another header: {value[:_SHOWN]!r}",
            field="message",
        )


def _addresses(message: Message, header: str) -> list[str]:
    """The addresses of every ``header`` of ``message``, each checked to be one."""
    from email.utils import getaddresses

    found: list[str] = []
    for value in message.get_all(header, []):
        parsed = getattr(value, "addresses", None)  # an email.policy.default header
        if parsed is not None:
            found.extend(address.addr_spec for address in parsed)
        else:
            found.extend(address for _, address in getaddresses([str(value)]))
    for address in found:
        local, at, domain = address.rpartition("@")
        if not (local and at and domain) or _CONTROL.search(address) or " " in domain:
            raise ValidationError(
                f"the message's {header} header holds {address[:_SHOWN]!r}, "
                "which is not an email address",
                field="message",
            )
    return found


class InMemoryMailer:
    """A :class:`~credit_usage.ports.Mailer` that keeps every message it is sent.

    :meth:`send` checks the message as :class:`~credit_usage.adapters.smtp.SmtpMailer`
    does (``ValidationError`` for a message without a From address or
    recipients, or with a line break that could inject a header) and keeps a
    copy read back from its bytes, ``Bcc`` included, parsed with
    :data:`email.policy.default`: later changes to the message sent do not
    show in the outbox. Thread-safe.

    Simulating a mail outage:

    * :attr:`fail_with`: while it is set, every send raises it and keeps
      nothing; set it back to ``None`` to deliver again.
    * :meth:`fail_next`: the next sends raise, then sends deliver again (a
      transient failure, to test a retry).

    Args:
        fail_with: the error every send raises; ``None`` (the default) delivers.
    """

    def __init__(self, *, fail_with: DeliveryError | None = None) -> None:
        self._lock = threading.Lock()
        self._outbox: list[EmailMessage] = []
        self._failures: list[DeliveryError] = []
        #: While set, every send raises this error and keeps nothing.
        self.fail_with = fail_with

    @property
    def outbox(self) -> list[EmailMessage]:
        """Copies of the messages sent, oldest first: a new list at each read."""
        with self._lock:
            return list(self._outbox)

    def send(self, message: EmailMessage) -> None:
        """Keep a copy of ``message``, or raise the failure the mailer was told to raise.

        Raises:
            ValidationError: the message is unfit to send (nothing is kept).
            DeliveryError: :attr:`fail_with` is set, or :meth:`fail_next` asked for it.
        """
        from email import message_from_bytes
        from email.message import EmailMessage
        from email.policy import default

        prepared = prepare(message, keep_bcc=True)
        received = message_from_bytes(prepared.data, policy=default)
        assert isinstance(received, EmailMessage)  # what email.policy.default parses into
        with self._lock:
            failure = self.fail_with or (self._failures.pop(0) if self._failures else None)
            if failure is None:
                self._outbox.append(received)
                return
        # Raised afresh each time: re-raising one instance would grow its traceback.
        raise failure.with_traceback(None)

    def fail_next(self, count: int = 1, error: DeliveryError | None = None) -> None:
        """Make the next ``count`` sends raise ``error``, then deliver again.

        Args:
            count: how many sends fail (added to those already asked for).
            error: what they raise; by default a ``DeliveryError`` of a
                simulated outage, with ``host="memory"``.
        """
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValidationError(
                f"count must be an integer of at least 1, got {count!r}", field="count"
            )
        if error is None:
            error = DeliveryError(
                "the in-memory mailer was told to fail (a simulated mail outage)", host="memory"
            )
        with self._lock:
            self._failures.extend([error] * count)

    def clear(self) -> None:
        """Forget the messages sent so far (:attr:`fail_with` and :meth:`fail_next` stay)."""
        with self._lock:
            self._outbox.clear()

    def __repr__(self) -> str:
        with self._lock:
            sent = len(self._outbox)
        failing = "" if self.fail_with is None else f", fail_with={self.fail_with!r}"
        return f"InMemoryMailer(<{sent} sent>{failing})"
