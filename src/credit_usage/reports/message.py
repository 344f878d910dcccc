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

This module composes the two; the pieces live beside it.
:mod:`credit_usage.reports.envelope` sets and checks the headers -- names
reach the Subject on one line, as RFC 2047 encoded words, and addresses and
the Message-ID are checked, not cleaned -- and :func:`header_text` and
:func:`report_message_id` are re-exported from there.
:mod:`credit_usage.reports.html` holds the HTML building blocks. In the
bodies, names get the same one-line treatment as in the Subject and, in HTML,
:func:`html.escape`. The attachment's filename keeps only ``[A-Za-z0-9._-]``.
"""

from __future__ import annotations

import html
import io
import re
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from email.message import EmailMessage

from attrs import define

from credit_usage.domain.cycles import DateRange
from credit_usage.domain.results import Report
from credit_usage.errors import ValidationError
from credit_usage.reports.csv_writer import write_report_csv
from credit_usage.reports.envelope import header_text, new_message, report_message_id
from credit_usage.reports.html import (
    MUTED,
    MemberTotal,
    as_percent,
    bar,
    document,
    figures,
    footer,
    h,
    heading,
    member_table,
    member_totals,
    number,
    share_of,
)

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

# --- periods -----------------------------------------------------------------------------


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


# --- report ------------------------------------------------------------------------------


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
    members: list[MemberTotal]
    total_credits: int | None
    remaining: int | None
    filename: str


def _report_text(view: _ReportView, top: int) -> str:
    team_name, period, report, members = view.team_name, view.period, view.report, view.members
    total_credits, remaining, filename = view.total_credits, view.remaining, view.filename
    used = report.total
    lines = [f"Credit usage report for {header_text(team_name)}", f"Period: {period}", ""]
    if total_credits is not None:
        lines.append(f"Total credits: {number(total_credits)}")
    lines.append(f"Used: {number(used)}")
    if remaining is not None:
        lines.append(f"Remaining: {number(remaining)}")
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
                f"{rank:>{width}}. {header_text(member.name)}: {number(member.total)} credits "
                f"({as_percent(share_of(member.total, used))})"
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


def _report_html(view: _ReportView) -> str:
    team_name, period, report, members = view.team_name, view.period, view.report, view.members
    total_credits, remaining, filename = view.total_credits, view.remaining, view.filename
    key_figures = []
    if total_credits is not None:
        key_figures.append(("Total credits", number(total_credits)))
    key_figures.append(("Used", number(report.total)))
    if remaining is not None:
        key_figures.append(("Remaining", number(remaining)))
    body = heading("Credit usage report", h(team_name), html.escape(period))
    body += figures(key_figures)
    if members:
        body += member_table(report, members, limit=MAX_TABLE_MEMBERS)
    else:
        body += (
            f'<tr><td style="padding:16px 32px;color:{MUTED};">'
            "No members used credits in this period.</td></tr>\n"
        )
    body += footer(
        f"The attached file <strong>{html.escape(filename)}</strong> lists every member's "
        "usage by feature and credit type.<br>Sent automatically by the scheduled credit "
        "usage report."
    )
    preheader = f"{number(report.total)} credits used, {html.escape(period)}"
    title = html.escape(f"Credit usage — {header_text(team_name)} — {period}")
    return document(title=title, preheader=preheader, body=body)


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
    message = new_message(
        subject=f"Credit usage — {team_name} — {period}",
        sender=sender,
        recipients=recipients,
        message_id=message_id,
        date=date,
    )
    members = member_totals(report)
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
            f"{name} has used {number(used)} of its {number(limit)} credits{kind} "
            f"({percent}%) in the cycle {cycle}."
        )
    who = name if scope == "user" else f"The group {name}"
    return (
        f"{who} has used {number(used)} of a {number(limit)}-credit limit{kind} "
        f"({percent}%) in the cycle {cycle}."
    )


def _alert_consequence(*, scope: str, kind: str, reached: bool, left: int, cycle: DateRange) -> str:
    """What the alert means for the rest of the cycle; ``kind`` already formatted."""
    if not reached:
        of = "of the team's credits" if scope == "team" else "of the limit"
        return f"{number(left)} credits {of} are left until the cycle ends on {_day(cycle.last)}."
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
    message = new_message(
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
            f"{budget}: {number(limit)} credits ({types})",
            f"Used: {number(used)} ({percent}%)",
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
        name=f"<strong>{h(subject_name)}</strong>",
        kind="" if credit_type is None else f" on {h(credit_type)} credits",
        used=used,
        limit=limit,
        percent=percent,
        cycle=html.escape(period),
    )
    color = "#dc2626" if reached else "#d97706"
    badge = "limit reached" if reached else f"{threshold_percent}% of limit"
    body = heading(
        f"Credit limit alert · {badge}",
        h(subject_name),
        f"{h(team_name)} · {html.escape(period)}",
        color=color,
    )
    body += (
        '<tr><td style="padding:16px 32px 4px 32px;font-size:15px;">'
        f'<p style="margin:0 0 14px 0;">{html_sentence}</p>'
        f"{bar(share_of(used, limit), color, 10)}"
        f'<p style="margin:12px 0 0 0;font-size:14px;color:{MUTED};">'
        f"{html.escape(consequence)}</p>"
        "</td></tr>\n"
    )
    body += figures(
        [
            (
                f"{html.escape(budget)} · {h(types.lower() if credit_type is None else types)}",
                number(limit),
            ),
            (
                "Used",
                f'{number(used)} <span style="font-size:13px;font-weight:400;color:{MUTED};">'
                f"({percent}%)</span>",
            ),
            ("Left", number(max(0, limit - used))),
        ]
    )
    body += footer(f"Sent automatically when usage reaches {threshold_percent}% of a limit.")
    title = html.escape(
        f"Credit limit alert — {header_text(team_name)} — {header_text(subject_name)}"
    )
    message.add_alternative(
        document(title=title, preheader=html.escape(sentence), body=body),
        subtype="html",
        cte="quoted-printable",
    )
    return message
