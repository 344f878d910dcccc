"""The building blocks of the HTML emails, and what the report's bodies share.

Mail clients differ widely in what HTML they render, so the emails are built
the way that works in nearly all of them: tables for layout, inline styles
(clients that drop ``<style>`` keep them), widths in %, no scripts, images,
web fonts or links. :func:`document` is the page, a centred card; the
composers of :mod:`credit_usage.reports.message` fill it with rows:
:func:`heading`, :func:`figures`, :func:`member_table` and :func:`footer`,
with :func:`bar` inside. Free text goes in through :func:`h` (one line,
escaped); the other functions take markup and trust it.

Also here, because the member table is their main reader and the text bodies
use them too: :class:`MemberTotal` and :func:`member_totals`, a report's
members by credits used, and the number formats :func:`number`,
:func:`share_of` and :func:`as_percent`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from attrs import define, field

from credit_usage.domain.results import Report
from credit_usage.reports.envelope import header_text

__all__ = [
    "ACCENT",
    "FONT",
    "INK",
    "LINE",
    "MUTED",
    "PAGE",
    "TRACK",
    "MemberTotal",
    "as_percent",
    "bar",
    "document",
    "figures",
    "footer",
    "h",
    "heading",
    "member_table",
    "member_totals",
    "number",
    "share_of",
]


# The look of the HTML emails: system fonts, dark ink and grey on white, one blue accent.
FONT = (
    "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,'Helvetica Neue',Arial,"
    "'Noto Sans',sans-serif"
)
INK = "#111827"
MUTED = "#6b7280"
LINE = "#e5e7eb"
ACCENT = "#2563eb"
TRACK = "#e5e7eb"
PAGE = "#f3f4f6"


def number(value: int) -> str:
    """An integer with thousands separators.

    >>> number(1234567)
    '1,234,567'
    """
    return f"{value:,}"


def share_of(part: int, whole: int) -> float:
    """``part`` as a fraction of ``whole``, within 0 to 1."""
    if whole <= 0 or part <= 0:
        return 0.0
    return min(1.0, part / whole)


def as_percent(fraction: float) -> str:
    """``fraction`` as a whole percentage; ``<1%`` for a share above 0 that rounds to 0."""
    if 0 < fraction < 0.005:
        return "<1%"
    return f"{round(fraction * 100)}%"


def h(text: str) -> str:
    """Free text for HTML: one line, escaped (quotes too)."""
    return html.escape(header_text(text), quote=True)


def bar(fraction: float, color: str, height: int) -> str:
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
        cells += cell.format(w=100 - filled, h=height, c=TRACK)
    return (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">'
        f"<tr>{cells}</tr></table>"
    )


def document(*, title: str, preheader: str, body: str) -> str:
    """An HTML email: a centred card on a grey page, up to 720 px wide."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light">\n'
        f"<title>{title}</title>\n</head>\n"
        f'<body style="margin:0;padding:0;background-color:{PAGE};">\n'
        '<div style="display:none;max-height:0;overflow:hidden;mso-hide:all;">'
        f"{preheader}</div>\n"
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        f'bgcolor="{PAGE}" style="width:100%;background-color:{PAGE};">\n'
        '<tr><td align="center" style="padding:24px 12px;">\n'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        'bgcolor="#ffffff" style="width:100%;max-width:720px;background-color:#ffffff;'
        f"border:1px solid {LINE};border-radius:8px;font-family:{FONT};color:{INK};"
        'font-size:14px;line-height:1.45;">\n'
        f"{body}"
        "</table>\n</td></tr>\n</table>\n</body>\n</html>\n"
    )


def heading(kicker: str, title: str, subtitle: str, color: str = ACCENT) -> str:
    """The card's top row: a small upper-case ``kicker`` in ``color``, a title, a subtitle."""
    return (
        '<tr><td style="padding:28px 32px 4px 32px;">'
        f'<div style="font-size:12px;font-weight:600;letter-spacing:0.06em;'
        f'text-transform:uppercase;color:{color};">{kicker}</div>'
        f'<div style="margin-top:6px;font-size:22px;font-weight:600;line-height:1.3;">'
        f"{title}</div>"
        f'<div style="margin-top:2px;font-size:14px;color:{MUTED};">{subtitle}</div>'
        "</td></tr>\n"
    )


def figures(figures: list[tuple[str, str]]) -> str:
    """Key figures side by side, each a label over a large number."""
    width = 100 // len(figures)
    cells = "".join(
        f'<td width="{width}%" valign="top" style="width:{width}%;padding:14px 16px;'
        f'border:1px solid {LINE};background-color:#f9fafb;">'
        f'<div style="font-size:12px;color:{MUTED};">{label}</div>'
        f'<div style="margin-top:2px;font-size:20px;font-weight:600;">{value}</div></td>'
        for label, value in figures
    )
    return (
        '<tr><td style="padding:20px 32px 8px 32px;">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        f'style="width:100%;border-collapse:collapse;"><tr>{cells}</tr></table>'
        "</td></tr>\n"
    )


def footer(text: str) -> str:
    """The card's last row: ``text`` small and muted."""
    return (
        f'<tr><td style="padding:16px 32px 28px 32px;font-size:12px;color:{MUTED};">'
        f"{text}</td></tr>\n"
    )


@define
class MemberTotal:
    """One member's usage in the report, over their groups and credit types: a row of the table."""

    user_id: str
    name: str
    groups: list[str] = field(factory=list)
    by_feature: dict[str, int] = field(factory=dict)
    total: int = 0


def member_totals(report: Report) -> list[MemberTotal]:
    """Members by credits used, most first, then by name and user id."""
    members: dict[str, MemberTotal] = {}
    for row in report.rows:
        member = members.get(row.user_id)
        if member is None:
            member = members[row.user_id] = MemberTotal(user_id=row.user_id, name=row.name)
        if row.group_name not in member.groups:
            member.groups.append(row.group_name)
        for feature, credits in row.by_feature.items():
            member.by_feature[feature] = member.by_feature.get(feature, 0) + credits
        member.total += row.total
    return sorted(members.values(), key=lambda m: (-m.total, m.name.casefold(), m.user_id))


def member_table(report: Report, members: Sequence[MemberTotal], *, limit: int) -> str:
    """Members by usage: name over group, a column per feature, total, share with a bar.

    The first ``limit`` of ``members`` get a row, then a line says how many
    more the attached CSV lists; the foot sums the feature columns over all.
    """
    features = report.features
    used = report.total
    # Member 26%, total 10%, share 20%; the features share the rest.
    feature_width = max(3, 44 // max(1, len(features)))
    th = (
        '<th align="{align}" width="{width}%" style="width:{width}%;padding:8px 6px;'
        f"border-bottom:1px solid {LINE};font-size:11px;font-weight:600;color:{MUTED};"
        'text-transform:uppercase;letter-spacing:0.04em;text-align:{align};">{text}</th>'
    )
    head = th.format(align="left", width=26, text="Member")
    head += "".join(
        th.format(align="right", width=feature_width, text=h(f.label)) for f in features
    )
    head += th.format(align="right", width=10, text="Total")
    head += (
        th.format(align="left", width=20, text="Share")
        .replace("<th ", '<th colspan="2" ', 1)
        .replace("padding:8px 6px;", "padding:8px 6px 8px 14px;", 1)
    )
    # Rows are many: short markup keeps a large team's email under Gmail's clipping size.
    td = f'<td{{attrs}} style="padding:10px 6px;border-bottom:1px solid {LINE};{{style}}">'
    left, right = ' align="left"', ' align="right"'
    muted = f"color:{MUTED};"
    body = []
    for member in members[:limit]:
        fraction = share_of(member.total, used)
        groups = ", ".join(h(g) for g in member.groups if g)
        cells = td.format(attrs=left, style="word-break:break-word;")
        cells += f'<div style="font-weight:600;">{h(member.name)}</div>'
        cells += f'<div style="font-size:12px;{muted}">{groups or "No group"}</div></td>'
        for feature in features:
            credits = member.by_feature.get(feature.value, 0)
            style = "white-space:nowrap;" + ("" if credits else muted)
            cells += td.format(attrs=right, style=style) + f"{number(credits)}</td>"
        cells += td.format(attrs=right, style="white-space:nowrap;font-weight:600;")
        cells += f"{number(member.total)}</td>"
        cells += td.format(attrs=' width="14%"' + left, style="padding-left:14px;")
        cells += f"{bar(fraction, ACCENT, 6)}</td>"
        cells += td.format(attrs=' width="6%"' + right, style=f"white-space:nowrap;{muted}")
        cells += f'<span style="font-size:12px;">{as_percent(fraction)}</span></td>'
        body.append(f"<tr>{cells}</tr>")
    foot_td = (
        '<td align="{align}" style="padding:10px 6px;border-top:2px solid '
        f'{INK};font-weight:600;white-space:nowrap;">{{text}}</td>'
    )
    sums = {f.value: sum(m.by_feature.get(f.value, 0) for m in members) for f in features}
    foot = foot_td.format(align="left", text="Team total")
    foot += "".join(foot_td.format(align="right", text=number(sums[f.value])) for f in features)
    foot += foot_td.format(align="right", text=number(used))
    foot += foot_td.format(align="left", text="").replace("<td ", '<td colspan="2" ', 1)
    more = ""
    if len(members) > limit:
        rest = len(members) - limit
        more = (
            f'<tr><td colspan="{len(features) + 4}" style="padding:9px 6px;color:{MUTED};'
            f'font-size:13px;border-bottom:1px solid {LINE};">… and {number(rest)} more '
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
