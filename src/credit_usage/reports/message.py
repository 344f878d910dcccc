"""The emails the library sends: the scheduled usage report and the limit alert.

Pure functions that build :class:`email.message.EmailMessage` objects (policy
``email.policy.default``); sending them is an adapter's business. Nothing
depends on the clock or the host: the caller passes the ``Message-ID``
(:func:`report_message_id`) and, if it wants one, the ``Date``, so the same
arguments give the same headers and parts. Only the MIME boundaries differ
from one build to the next: the generator picks them at random when the
message is first serialized, and checks that no line of the body matches
them (a boundary a name could predict could forge a part).

A report is ``multipart/mixed``: a ``multipart/alternative`` of a plain-text
summary and an HTML one (inline CSS, table layout, no scripts, images, fonts
or links), then the wide CSV as a ``text/csv`` attachment (base64, so its
bytes and ``\\r\\n`` line ends arrive as :func:`write_report_csv` wrote them).
An alert is a ``multipart/alternative`` of text and HTML.

Header safety. Names -- of teams, members, groups -- are free text: they may
hold quotes, any script, control characters and line breaks. They only ever
reach one header, the Subject, and do so

* on one line: control characters (Unicode Cc, which includes CR, LF, NUL and
  NEL) and the line and paragraph separators (U+2028, U+2029) become spaces;
* entirely as RFC 2047 encoded words of UTF-8 that this module folds itself
  (:meth:`~email.message.Message.set_raw`), at most 78 characters a line. The
  folder of ``email.policy.default`` is not used for it because some Python
  versions drop the white space between two encoded words it folds, changing
  the text; encoding every character keeps the decoded Subject exactly the
  one-line text, however it is folded, and a name that looks like an encoded
  word (``=?utf-8?q?...?=``) is shown as typed, not decoded.

Addresses (From, To) and the Message-ID are checked, not cleaned: one plain
ASCII address each, else :class:`~credit_usage.errors.ValidationError`. In
the bodies, names get the same one-line treatment and, in HTML,
:func:`html.escape`. The attachment's filename keeps only ``[A-Za-z0-9._-]``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import re
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime

from attrs import define, field

from credit_usage.domain.cycles import DateRange
from credit_usage.domain.results import Report
from credit_usage.errors import ValidationError
from credit_usage.reports.csv_writer import write_report_csv

__all__ = [
    "MAX_TABLE_MEMBERS",
    "alert_message",
    "format_period",
    "header_text",
    "report_filename",
    "report_message",
    "report_message_id",
]

#: The most members the HTML table of a report lists (the CSV has them all):
#: Gmail clips an HTML body over about 100 kB.
MAX_TABLE_MEMBERS = 50

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# --- text --------------------------------------------------------------------------------

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


def _day(day: date, *, month: bool = True, year: bool = True) -> str:
    text = str(day.day)
    if month:
        text += f" {_MONTHS[day.month - 1]}"
    if year:
        text += f" {day.year}"
    return text


def format_period(period: DateRange) -> str:
    """The days of ``period`` for people, with an en dash; the year and month said once.

    >>> from datetime import date
    >>> format_period(DateRange(first=date(2026, 4, 1), last=date(2026, 4, 30)))
    '1 – 30 Apr 2026'
    >>> format_period(DateRange(first=date(2026, 3, 15), last=date(2026, 4, 14)))
    '15 Mar – 14 Apr 2026'
    >>> format_period(DateRange(first=date(2025, 12, 15), last=date(2026, 1, 14)))
    '15 Dec 2025 – 14 Jan 2026'
    >>> format_period(DateRange(first=date(2026, 4, 7), last=date(2026, 4, 7)))
    '7 Apr 2026'
    """
    first, last = period.first, period.last
    if first == last:
        return _day(first)
    same_year = first.year == last.year
    same_month = same_year and first.month == last.month
    return f"{_day(first, month=not same_month, year=not same_year)} – {_day(last)}"


def _n(value: int) -> str:
    """An integer with thousands separators."""
    return f"{value:,}"


def _share(part: int, whole: int) -> float:
    """``part`` as a fraction of ``whole``, within 0 to 1."""
    if whole <= 0 or part <= 0:
        return 0.0
    return min(1.0, part / whole)


def _percent(fraction: float) -> str:
    if 0 < fraction < 0.005:
        return "<1%"
    return f"{round(fraction * 100)}%"


# --- headers -----------------------------------------------------------------------------

#: Bytes a Q-encoded word may carry as they are (RFC 2047 section 5, rule 3).
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
#: Longest encoded word (RFC 2047) and longest header line (RFC 5322 recommends 78).
_MAX_WORD = 75
_MAX_LINE = 78


def _q_encode(data: bytes) -> str:
    return "".join(
        chr(byte) if byte in _Q_SAFE else "_" if byte == 0x20 else f"={byte:02X}" for byte in data
    )


def _b_length(size: int) -> int:
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
    if isinstance(value, str) and len(value) <= 250 and _MESSAGE_ID.fullmatch(value):
        return value
    raise ValidationError(
        f"message_id must look like <local@domain> (printable ASCII), got {value!r}",
        field="message_id",
    )


def _new_message(
    *,
    subject: str,
    sender: str,
    recipients: Sequence[str],
    message_id: str,
    date: datetime | None,
) -> EmailMessage:
    """A message with its headers; the caller adds the parts."""
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


# --- report ------------------------------------------------------------------------------


@define
class _MemberTotal:
    """One member's usage in the report, over their groups and credit types."""

    user_id: str
    name: str
    groups: list[str] = field(factory=list)
    by_feature: dict[str, int] = field(factory=dict)
    total: int = 0


def _member_totals(report: Report) -> list[_MemberTotal]:
    """Members by credits used, most first, then by name and user id."""
    members: dict[str, _MemberTotal] = {}
    for row in report.rows:
        member = members.get(row.user_id)
        if member is None:
            member = members[row.user_id] = _MemberTotal(user_id=row.user_id, name=row.name)
        if row.group_name not in member.groups:
            member.groups.append(row.group_name)
        for feature, credits in row.by_feature.items():
            member.by_feature[feature] = member.by_feature.get(feature, 0) + credits
        member.total += row.total
    return sorted(members.values(), key=lambda m: (-m.total, m.name.casefold(), m.user_id))


_SAFE_FILENAME_RUN = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_FILENAME_PART = 64


def _filename_part(text: str) -> str:
    """``text`` folded to ASCII letters, digits, ``.``, ``_``, ``-``; may be empty."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_ish = "".join(c for c in decomposed if not unicodedata.combining(c))
    part = _SAFE_FILENAME_RUN.sub("-", ascii_ish).strip(".-")
    return part[:_MAX_FILENAME_PART].rstrip(".-")


def report_filename(*, team_name: str, team_id: str, period: DateRange) -> str:
    """The CSV attachment's name: ``credit-usage_<team>_<first>_<last>.csv``.

    ``<team>`` is the team name with accents dropped and every run of other
    characters than ``[A-Za-z0-9._-]`` made one ``-``, at most 64
    characters; the team id the same way when nothing is left of the name,
    and ``team`` when nothing is left of either.

    >>> from datetime import date
    >>> report_filename(team_name="Zoë & Co.", team_id="z1",
    ...                 period=DateRange(first=date(2026, 4, 1), last=date(2026, 4, 30)))
    'credit-usage_Zoe-Co_2026-04-01_2026-04-30.csv'
    """
    team = _filename_part(team_name) or _filename_part(team_id) or "team"
    return f"credit-usage_{team}_{period.first.isoformat()}_{period.last.isoformat()}.csv"


@define(frozen=True)
class _ReportView:
    """What both bodies of a report email show."""

    team_name: str
    period: str
    report: Report
    members: list[_MemberTotal]
    total_credits: int | None
    remaining: int | None
    filename: str


def _report_text(view: _ReportView, top: int) -> str:
    team_name, period, report, members = view.team_name, view.period, view.report, view.members
    total_credits, remaining, filename = view.total_credits, view.remaining, view.filename
    used = report.total
    lines = [f"Credit usage report for {header_text(team_name)}", f"Period: {period}", ""]
    if total_credits is not None:
        lines.append(f"Total credits: {_n(total_credits)}")
    lines.append(f"Used: {_n(used)}")
    if remaining is not None:
        lines.append(f"Remaining: {_n(remaining)}")
    lines.append("")
    leaders = [m for m in members if m.total > 0][:top]
    if not any(m.total > 0 for m in members):
        lines += ["No credits were used in this period.", ""]
    elif leaders:
        lines.append(
            f"Top {len(leaders)} members by credits used"
            if len(leaders) > 1
            else "Top member by credits used"
        )
        width = len(str(len(leaders)))
        for rank, member in enumerate(leaders, 1):
            lines.append(
                f"{rank:>{width}}. {header_text(member.name)}: {_n(member.total)} credits "
                f"({_percent(_share(member.total, used))})"
            )
        lines.append("")
    lines += [
        f"The attached file {filename} lists every member's usage by feature and credit type.",
        "",
        "-- ",
        "Sent automatically by the scheduled credit usage report.",
        "",
    ]
    return "\n".join(lines)


# The look of the HTML emails: inline styles, so mail clients that drop <style> keep it.
_FONT = (
    "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,'Helvetica Neue',Arial,"
    "'Noto Sans',sans-serif"
)
_INK = "#111827"
_MUTED = "#6b7280"
_LINE = "#e5e7eb"
_ACCENT = "#2563eb"
_TRACK = "#e5e7eb"
_PAGE = "#f3f4f6"


def _h(text: str) -> str:
    """Free text for HTML: one line, escaped (quotes too)."""
    return html.escape(header_text(text), quote=True)


def _bar(fraction: float, color: str, height: int) -> str:
    """A horizontal bar, ``fraction`` of it filled: a one-row table, widths in %."""
    filled = round(fraction * 100)
    cell = (
        '<td width="{w}%" height="{h}" bgcolor="{c}" '
        'style="height:{h}px;font-size:0;line-height:0;">&nbsp;</td>'
    )
    cells = ""
    if filled > 0:
        cells += cell.format(w=filled, h=height, c=color)
    if filled < 100:
        cells += cell.format(w=100 - filled, h=height, c=_TRACK)
    return (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">'
        f"<tr>{cells}</tr></table>"
    )


def _document(*, title: str, preheader: str, body: str) -> str:
    """An HTML email: a centred card on a grey page, up to 720 px wide."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light">\n'
        f"<title>{title}</title>\n</head>\n"
        f'<body style="margin:0;padding:0;background-color:{_PAGE};">\n'
        '<div style="display:none;max-height:0;overflow:hidden;mso-hide:all;">'
        f"{preheader}</div>\n"
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        f'bgcolor="{_PAGE}" style="width:100%;background-color:{_PAGE};">\n'
        '<tr><td align="center" style="padding:24px 12px;">\n'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        'bgcolor="#ffffff" style="width:100%;max-width:720px;background-color:#ffffff;'
        f"border:1px solid {_LINE};border-radius:8px;font-family:{_FONT};color:{_INK};"
        'font-size:14px;line-height:1.45;">\n'
        f"{body}"
        "</table>\n</td></tr>\n</table>\n</body>\n</html>\n"
    )


def _heading(kicker: str, title: str, subtitle: str, color: str = _ACCENT) -> str:
    return (
        '<tr><td style="padding:28px 32px 4px 32px;">'
        f'<div style="font-size:12px;font-weight:600;letter-spacing:0.06em;'
        f'text-transform:uppercase;color:{color};">{kicker}</div>'
        f'<div style="margin-top:6px;font-size:22px;font-weight:600;line-height:1.3;">'
        f"{title}</div>"
        f'<div style="margin-top:2px;font-size:14px;color:{_MUTED};">{subtitle}</div>'
        "</td></tr>\n"
    )


def _figures(figures: list[tuple[str, str]]) -> str:
    """Key figures side by side, each a label over a large number."""
    width = 100 // len(figures)
    cells = "".join(
        f'<td width="{width}%" valign="top" style="width:{width}%;padding:14px 16px;'
        f'border:1px solid {_LINE};background-color:#f9fafb;">'
        f'<div style="font-size:12px;color:{_MUTED};">{label}</div>'
        f'<div style="margin-top:2px;font-size:20px;font-weight:600;">{value}</div></td>'
        for label, value in figures
    )
    return (
        '<tr><td style="padding:20px 32px 8px 32px;">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        f'style="width:100%;border-collapse:collapse;"><tr>{cells}</tr></table>'
        "</td></tr>\n"
    )


def _footer(text: str) -> str:
    return (
        f'<tr><td style="padding:16px 32px 28px 32px;font-size:12px;color:{_MUTED};">'
        f"{text}</td></tr>\n"
    )


def _member_table(report: Report, members: list[_MemberTotal]) -> str:
    """Members by usage: name over group, a column per feature, total, share with a bar."""
    features = report.features
    used = report.total
    # Member 26%, total 10%, share 20%; the features share the rest.
    feature_width = max(3, 44 // max(1, len(features)))
    th = (
        '<th align="{align}" width="{width}%" style="width:{width}%;padding:8px 6px;'
        f"border-bottom:1px solid {_LINE};font-size:11px;font-weight:600;color:{_MUTED};"
        'text-transform:uppercase;letter-spacing:0.04em;text-align:{align};">{text}</th>'
    )
    head = th.format(align="left", width=26, text="Member")
    head += "".join(
        th.format(align="right", width=feature_width, text=_h(f.label)) for f in features
    )
    head += th.format(align="right", width=10, text="Total")
    head += (
        th.format(align="left", width=20, text="Share")
        .replace("<th ", '<th colspan="2" ', 1)
        .replace("padding:8px 6px;", "padding:8px 6px 8px 14px;", 1)
    )
    # Rows are many: short markup keeps a large team's email under Gmail's clipping size.
    td = f'<td{{attrs}} style="padding:10px 6px;border-bottom:1px solid {_LINE};{{style}}">'
    left, right = ' align="left"', ' align="right"'
    muted = f"color:{_MUTED};"
    body = []
    for member in members[:MAX_TABLE_MEMBERS]:
        share = _share(member.total, used)
        groups = ", ".join(_h(g) for g in member.groups if g)
        cells = td.format(attrs=left, style="word-break:break-word;")
        cells += f'<div style="font-weight:600;">{_h(member.name)}</div>'
        cells += f'<div style="font-size:12px;{muted}">{groups or "No group"}</div></td>'
        for feature in features:
            credits = member.by_feature.get(feature.value, 0)
            style = "white-space:nowrap;" + ("" if credits else muted)
            cells += td.format(attrs=right, style=style) + f"{_n(credits)}</td>"
        cells += td.format(attrs=right, style="white-space:nowrap;font-weight:600;")
        cells += f"{_n(member.total)}</td>"
        cells += td.format(attrs=' width="14%"' + left, style="padding-left:14px;")
        cells += f"{_bar(share, _ACCENT, 6)}</td>"
        cells += td.format(attrs=' width="6%"' + right, style=f"white-space:nowrap;{muted}")
        cells += f'<span style="font-size:12px;">{_percent(share)}</span></td>'
        body.append(f"<tr>{cells}</tr>")
    foot_td = (
        '<td align="{align}" style="padding:10px 6px;border-top:2px solid '
        f'{_INK};font-weight:600;white-space:nowrap;">{{text}}</td>'
    )
    sums = {f.value: sum(m.by_feature.get(f.value, 0) for m in members) for f in features}
    foot = foot_td.format(align="left", text="Team total")
    foot += "".join(foot_td.format(align="right", text=_n(sums[f.value])) for f in features)
    foot += foot_td.format(align="right", text=_n(used))
    foot += foot_td.format(align="left", text="").replace("<td ", '<td colspan="2" ', 1)
    more = ""
    if len(members) > MAX_TABLE_MEMBERS:
        rest = len(members) - MAX_TABLE_MEMBERS
        more = (
            f'<tr><td colspan="{len(features) + 4}" style="padding:9px 6px;color:{_MUTED};'
            f'font-size:13px;border-bottom:1px solid {_LINE};">… and {_n(rest)} more '
            f"member{'s' if rest != 1 else ''}: see the attached CSV.</td></tr>"
        )
    return (
        '<tr><td style="padding:16px 32px 4px 32px;">'
        '<div style="font-size:15px;font-weight:600;margin-bottom:6px;">Usage by member</div>'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        'style="width:100%;border-collapse:collapse;font-size:13px;">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}{more}</tbody>"
        f"<tfoot><tr>{foot}</tr></tfoot></table>"
        "</td></tr>\n"
    )


def _report_html(view: _ReportView) -> str:
    team_name, period, report, members = view.team_name, view.period, view.report, view.members
    total_credits, remaining, filename = view.total_credits, view.remaining, view.filename
    figures = []
    if total_credits is not None:
        figures.append(("Total credits", _n(total_credits)))
    figures.append(("Used", _n(report.total)))
    if remaining is not None:
        figures.append(("Remaining", _n(remaining)))
    body = _heading("Credit usage report", _h(team_name), html.escape(period))
    body += _figures(figures)
    if members:
        body += _member_table(report, members)
    else:
        body += (
            f'<tr><td style="padding:16px 32px;color:{_MUTED};">'
            "No members used credits in this period.</td></tr>\n"
        )
    body += _footer(
        f"The attached file <strong>{html.escape(filename)}</strong> lists every member's "
        "usage by feature and credit type.<br>Sent automatically by the scheduled credit "
        "usage report."
    )
    preheader = f"{_n(report.total)} credits used, {html.escape(period)}"
    title = html.escape(f"Credit usage — {header_text(team_name)} — {period}")
    return _document(title=title, preheader=preheader, body=body)


def _count(value: object, what: str, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError(f"{what} must be an integer, got {value!r}", field=what)


def report_message(
    *,
    team_name: str,
    team_id: str,
    report: Report,
    total_credits: int | None,
    remaining: int | None,
    sender: str,
    recipients: Sequence[str],
    message_id: str,
    top: int = 5,
    date: datetime | None = None,
) -> EmailMessage:
    """The scheduled usage report email of ``report`` for one period.

    Subject ``Credit usage — <team name> — <period>`` (:func:`format_period`).
    A text part (the team's total, used and remaining credits, those given,
    and the ``top`` members by credits used), an HTML alternative (the same
    figures and every member, up to :data:`MAX_TABLE_MEMBERS`, by feature
    with a bar for their share of the team's usage), and the wide CSV
    (:func:`write_report_csv`, limit columns when the report has limits)
    attached as :func:`report_filename`.

    ``message_id`` should come from :func:`report_message_id`; ``date``, an
    aware datetime, sets the Date header (without it the message has none
    and stays the same whenever it is built; a mail server adds one).

    Raises:
        ValidationError: ``team_id`` is not ``report.team_id``; ``sender`` or
            a recipient is not one plain ASCII address; no recipients; a bad
            ``message_id``; a naive ``date``; ``top`` below 0.
    """
    if team_id != report.team_id:
        raise ValidationError(
            f"team_id {team_id!r} is not the report's team {report.team_id!r}", field="team_id"
        )
    _count(total_credits, "total_credits", optional=True)
    _count(remaining, "remaining", optional=True)
    _count(top, "top")
    if top < 0:
        raise ValidationError(f"top must be at least 0, got {top!r}", field="top")
    period = format_period(report.period)
    message = _new_message(
        subject=f"Credit usage — {team_name} — {period}",
        sender=sender,
        recipients=recipients,
        message_id=message_id,
        date=date,
    )
    members = _member_totals(report)
    filename = report_filename(team_name=team_name, team_id=team_id, period=report.period)
    view = _ReportView(
        team_name=team_name,
        period=period,
        report=report,
        members=members,
        total_credits=total_credits,
        remaining=remaining,
        filename=filename,
    )
    message.set_content(_report_text(view, top), cte="quoted-printable")
    message.add_alternative(_report_html(view), subtype="html", cte="quoted-printable")
    out = io.StringIO(newline="")
    write_report_csv(report.rows, out, features=report.features, limit_columns=bool(report.limits))
    message.add_attachment(
        out.getvalue().encode("utf-8"),
        maintype="text",
        subtype="csv",
        filename=filename,
        params={"charset": "utf-8"},
    )
    return message


# --- alert -------------------------------------------------------------------------------

_SCOPES = ("user", "group", "team")


def _alert_sentence(
    *, scope: str, name: str, kind: str, used: int, limit: int, percent: int, cycle: str
) -> str:
    """The alert in one sentence; ``name``, ``kind`` and ``cycle`` already formatted."""
    if scope == "team":  # name: the team's, or a phrase such as "The team's pool"
        return (
            f"{name} has used {_n(used)} of its {_n(limit)} credits{kind} "
            f"({percent}%) in the cycle {cycle}."
        )
    who = name if scope == "user" else f"The group {name}"
    return (
        f"{who} has used {_n(used)} of a {_n(limit)}-credit limit{kind} "
        f"({percent}%) in the cycle {cycle}."
    )


def _alert_consequence(*, scope: str, kind: str, reached: bool, left: int, cycle: DateRange) -> str:
    """What the alert means for the rest of the cycle; ``kind`` already formatted."""
    if not reached:
        of = "of the team's credits" if scope == "team" else "of the limit"
        return f"{_n(left)} credits {of} are left until the cycle ends on {_day(cycle.last)}."
    next_cycle = _day(cycle.last + timedelta(days=1))
    unless = "credits are added" if scope == "team" else "the limit is raised"
    return (
        f"Further usage{kind} is refused until the next cycle starts on {next_cycle}, "
        f"unless {unless}."
    )


def alert_message(
    *,
    team_name: str,
    subject_name: str,
    scope: str,
    credit_type: str | None,
    threshold_percent: int,
    used: int,
    limit: int,
    cycle: DateRange,
    sender: str,
    recipients: Sequence[str],
    message_id: str,
    date: datetime | None = None,
) -> EmailMessage:
    """A limit alert: ``subject_name`` (a user, group or the team) passed ``threshold_percent``.

    Subject ``Credit limit alert — <team> — <subject name> at 75%``; a text
    and an HTML part saying, for instance, "Mia has used 80 of a 100-credit
    limit (80%) in the cycle 1 – 30 Apr 2026"; a group reads "The group
    Sales has used ...", the team "<subject name> has used 7,500 of its
    10,000 credits ..." (pass the team's name, or a phrase such as "The
    team's pool"). The percentage shown is rounded down, so 99.6 % never
    reads as 100 %.

    Raises:
        ValidationError: ``scope`` is not ``user``, ``group`` or ``team``;
            ``limit`` below 1, ``used`` below 0, ``threshold_percent`` not
            from 1 to 100; bad addresses, ``message_id`` or ``date``.
    """
    if scope not in _SCOPES:
        raise ValidationError(
            f"scope must be one of {', '.join(_SCOPES)}, got {scope!r}", field="scope"
        )
    scope = str(scope)
    for what, value, low in (("limit", limit, 1), ("used", used, 0)):
        _count(value, what)
        if value < low:
            raise ValidationError(f"{what} must be at least {low}, got {value!r}", field=what)
    _count(threshold_percent, "threshold_percent")
    if not 1 <= threshold_percent <= 100:
        raise ValidationError(
            f"threshold_percent must be from 1 to 100, got {threshold_percent!r}",
            field="threshold_percent",
        )
    if not isinstance(cycle, DateRange):
        raise ValidationError(f"cycle must be a DateRange, got {cycle!r}", field="cycle")
    message = _new_message(
        subject=f"Credit limit alert — {team_name} — {subject_name} at {threshold_percent}%",
        sender=sender,
        recipients=recipients,
        message_id=message_id,
        date=date,
    )
    period = format_period(cycle)
    percent = used * 100 // limit
    reached = threshold_percent >= 100
    of_type = "" if credit_type is None else f" of {header_text(credit_type)} credits"
    consequence = _alert_consequence(
        scope=scope, kind=of_type, reached=reached, left=max(0, limit - used), cycle=cycle
    )
    kind = "" if credit_type is None else f" on {header_text(credit_type)} credits"
    sentence = _alert_sentence(
        scope=scope,
        name=header_text(subject_name),
        kind=kind,
        used=used,
        limit=limit,
        percent=percent,
        cycle=period,
    )
    budget = "Team credits" if scope == "team" else f"{scope.capitalize()} limit"
    types = "All credit types" if credit_type is None else header_text(credit_type)
    text = "\n".join(
        [
            f"Credit limit alert for {header_text(team_name)}",
            "",
            sentence,
            consequence,
            "",
            f"{budget}: {_n(limit)} credits ({types})",
            f"Used: {_n(used)} ({percent}%)",
            f"Cycle: {period}",
            "",
            "-- ",
            f"Sent automatically when usage reaches {threshold_percent}% of a limit.",
            "",
        ]
    )
    message.set_content(text, cte="quoted-printable")
    html_sentence = _alert_sentence(
        scope=scope,
        name=f"<strong>{_h(subject_name)}</strong>",
        kind="" if credit_type is None else f" on {_h(credit_type)} credits",
        used=used,
        limit=limit,
        percent=percent,
        cycle=html.escape(period),
    )
    color = "#dc2626" if reached else "#d97706"
    badge = "limit reached" if reached else f"{threshold_percent}% of limit"
    body = _heading(
        f"Credit limit alert · {badge}",
        _h(subject_name),
        f"{_h(team_name)} · {html.escape(period)}",
        color=color,
    )
    body += (
        '<tr><td style="padding:16px 32px 4px 32px;font-size:15px;">'
        f'<p style="margin:0 0 14px 0;">{html_sentence}</p>'
        f"{_bar(_share(used, limit), color, 10)}"
        f'<p style="margin:12px 0 0 0;font-size:14px;color:{_MUTED};">'
        f"{html.escape(consequence)}</p>"
        "</td></tr>\n"
    )
    body += _figures(
        [
            (
                f"{html.escape(budget)} · {_h(types.lower() if credit_type is None else types)}",
                _n(limit),
            ),
            (
                "Used",
                f'{_n(used)} <span style="font-size:13px;font-weight:400;color:{_MUTED};">'
                f"({percent}%)</span>",
            ),
            ("Left", _n(max(0, limit - used))),
        ]
    )
    body += _footer(f"Sent automatically when usage reaches {threshold_percent}% of a limit.")
    title = html.escape(
        f"Credit limit alert — {header_text(team_name)} — {header_text(subject_name)}"
    )
    message.add_alternative(
        _document(title=title, preheader=html.escape(sentence), body=body),
        subtype="html",
        cte="quoted-printable",
    )
    return message
