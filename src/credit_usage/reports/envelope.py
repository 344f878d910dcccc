"""The headers of the library's emails: Subject, From, To, Message-ID.

:func:`new_message` starts an :class:`email.message.EmailMessage` (policy
``email.policy.default``) with every header set and checked; the composers of
:mod:`credit_usage.reports.message` add the parts. :func:`report_message_id`
names a scheduled report's email, the same for the same schedule and period.

Header safety. Names -- of teams, members, groups -- are free text: they may
hold quotes, any script, control characters and line breaks. They only ever
reach one header, the Subject, and do so

* on one line (:func:`header_text`): control characters (Unicode Cc, which
  includes CR, LF, NUL and NEL) and the line and paragraph separators
  (U+2028, U+2029) become spaces;
* entirely as RFC 2047 encoded words of UTF-8 that this module folds itself
  (:meth:`~email.message.Message.set_raw`), at most 78 characters a line. The
  folder of ``email.policy.default`` is not used for it because some Python
  versions drop the white space between two encoded words it folds, changing
  the text; encoding every character keeps the decoded Subject exactly the
  one-line text, however it is folded, and a name that looks like an encoded
  word (``=?utf-8?q?...?=``) is shown as typed, not decoded.

Addresses (From, To) and the Message-ID are checked, not cleaned: one plain
ASCII address each, else :class:`~credit_usage.errors.ValidationError`.
"""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime

from credit_usage.errors import ValidationError

__all__ = ["header_text", "new_message", "report_message_id"]

#: Unicode categories that break a line or control a terminal: replaced by a space.
_LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})


def header_text(text: str) -> str:
    """``text`` on one line: control characters and line/paragraph separators become spaces.

    Lone surrogates, which no UTF-8 message can carry, become U+FFFD. Nothing
    else changes (no trimming, no collapsing of spaces).

    >>> header_text("Acme\\r\\nBcc: x@evil.test")
    'Acme  Bcc: x@evil.test'
    """
    return "".join(
        " "
        if (category := unicodedata.category(char)) in _LINE_BREAKING
        else "\ufffd"
        if category == "Cs"
        else char
        for char in text
    )


#: Bytes a Q-encoded word may carry as they are (RFC 2047 section 5, rule 3).
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
#: Longest encoded word (RFC 2047) and longest header line (RFC 5322 recommends 78).
_MAX_WORD = 75
_MAX_LINE = 78


def _q_encode(data: bytes) -> str:
    """``data`` as the payload of a Q-encoded word (RFC 2047): unsafe bytes as ``=XX``."""
    return "".join(
        chr(byte) if byte in _Q_SAFE else "_" if byte == 0x20 else f"={byte:02X}" for byte in data
    )


def _b_length(size: int) -> int:
    """The length of ``size`` bytes in base64, padding included."""
    return 4 * -(-size // 3)


def _encoded_words(text: str, header_name: str) -> str:
    """``text`` as UTF-8 encoded words, folded: the raw value of header ``header_name``.

    Words are cut between characters, never inside one; Q encoding when it
    is no longer than base64 (mostly Latin text), base64 otherwise.
    """
    data = text.encode("utf-8")
    q = len(_q_encode(data)) <= _b_length(len(data))
    prefix, suffix = ("=?utf-8?q?", "?=") if q else ("=?utf-8?b?", "?=")
    # The first line holds "Name: "; the others start with one space.
    budgets = [min(_MAX_WORD, _MAX_LINE - len(header_name) - 2), _MAX_WORD]
    words: list[str] = []
    chunk = b""

    def cost(data: bytes) -> int:
        return len(_q_encode(data)) if q else _b_length(len(data))

    def flush() -> None:
        payload = _q_encode(chunk) if q else base64.b64encode(chunk).decode("ascii")
        words.append(prefix + payload + suffix)

    for char in text:
        encoded = char.encode("utf-8")
        budget = budgets[min(len(words), 1)] - len(prefix) - len(suffix)
        if chunk and cost(chunk + encoded) > budget:
            flush()
            chunk = b""
        chunk += encoded
    if chunk or not words:
        flush()
    return "\r\n ".join(words)


def _set_subject(message: EmailMessage, subject: str) -> None:
    """Set the Subject to ``subject`` made one line, as encoded words folded here."""
    message.set_raw("Subject", _encoded_words(header_text(subject), "Subject"))


def _address(value: object, what: str) -> Address:
    """``value`` as one plain ASCII address (``user@example.com``), else ValidationError."""
    if isinstance(value, str) and value.isascii() and value.isprintable():
        try:
            address = Address(addr_spec=value)
        except (ValueError, IndexError, MessageError):
            pass
        else:
            if address.addr_spec == value and address.username and address.domain:
                return address
    raise ValidationError(
        f"{what} must be a plain ASCII email address (user@example.com), got {value!r}",
        field=what,
    )


def _recipients(values: Sequence[str]) -> list[Address]:
    """``values`` as addresses: a non-empty sequence of plain ASCII ones, else ValidationError."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
        raise ValidationError(
            f"recipients must be a non-empty sequence of addresses, got {values!r}",
            field="recipients",
        )
    return [_address(value, "recipients") for value in values]


_MESSAGE_ID = re.compile(r"<[!-;=?A-~]+@[!-;=?A-~]+>")  # printable ASCII but <, > and @ inside
_DOMAIN = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
    r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*"
)


def _message_id(value: object) -> str:
    """``value`` if a ``<local@domain>`` Message-ID of printable ASCII, else ValidationError."""
    if isinstance(value, str) and len(value) <= 250 and _MESSAGE_ID.fullmatch(value):
        return value
    raise ValidationError(
        f"message_id must look like <local@domain> (printable ASCII), got {value!r}",
        field="message_id",
    )


def new_message(
    *,
    subject: str,
    sender: str,
    recipients: Sequence[str],
    message_id: str,
    date: datetime | None,
) -> EmailMessage:
    """A message with its headers checked and set; the caller adds the parts.

    The Subject is ``subject`` on one line, as folded encoded words; no Date
    header without ``date``; ``Auto-Submitted: auto-generated`` always.

    Raises:
        ValidationError: ``sender`` or a recipient is not one plain ASCII
            address; no recipients; a bad ``message_id``; a naive ``date``.
    """
    from_ = _address(sender, "sender")
    to = _recipients(recipients)
    message_id = _message_id(message_id)
    if date is not None and (not isinstance(date, datetime) or date.utcoffset() is None):
        raise ValidationError(f"date must be an aware datetime, got {date!r}", field="date")
    message = EmailMessage(policy=default_policy)
    message["From"] = from_
    message["To"] = to
    _set_subject(message, subject)
    if date is not None:
        message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    # RFC 3834: an automated message; vacation responders do not answer it.
    message["Auto-Submitted"] = "auto-generated"
    return message


def report_message_id(
    *, team_id: str, schedule_id: str, first: date, last: date, domain: str
) -> str:
    """The Message-ID of a scheduled report's email: the same for the same schedule and period.

    ``<credit-usage.{sha-256 hex}@{domain}>``, the digest over the
    length-prefixed parts, so no two different inputs share one. A resend
    of the same period carries the same id, and mail systems drop it as a
    duplicate.

    Raises:
        ValidationError: ``domain`` is not a host name (letters, digits,
            ``-``, ``_`` in dot-separated labels), or a part is not text or
            a date.
    """
    if not isinstance(domain, str) or not _DOMAIN.fullmatch(domain):
        raise ValidationError(
            f"domain must be a host name like mail.example.com, got {domain!r}", field="domain"
        )
    for what, text in (("team_id", team_id), ("schedule_id", schedule_id)):
        if not isinstance(text, str):
            raise ValidationError(f"{what} must be text, got {text!r}", field=what)
    for what, day in (("first", first), ("last", last)):
        if not isinstance(day, date) or isinstance(day, datetime):
            raise ValidationError(f"{what} must be a date, got {day!r}", field=what)
    digest = hashlib.sha256()
    for part in ("credit-usage-report", team_id, schedule_id, first.isoformat(), last.isoformat()):
        data = part.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "big") + data)
    return f"<credit-usage.{digest.hexdigest()}@{domain}>"
