"""CSV writers for usage reports and the ledger.

RFC 4180 with ``\\r\\n`` line ends, UTF-8 (``excel=True`` adds a BOM so Excel
detects it). Rows are written as they come, so memory does not grow with their
number. Every text cell is made safe for spreadsheets (OWASP CSV injection): a
cell starting with ``=``, ``+``, ``-``, ``@``, tab, CR or LF gets a leading
``'``; numbers are written as plain integers.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Literal, TextIO

from credit_usage.domain.model import Feature, LedgerEntry
from credit_usage.domain.results import LongRow, ReportRow
from credit_usage.errors import ValidationError

__all__ = [
    "LEDGER_HEADER",
    "LONG_HEADER",
    "WIDE_HEADER",
    "safe_cell",
    "write_ledger_csv",
    "write_report_csv",
]

WIDE_HEADER = (
    "user_id", "name", "email", "group", "role", "credit_type",
    *(feature.label for feature in Feature), "total",
)  # fmt: skip
LONG_HEADER = ("user_id", "name", "email", "group", "feature", "credit_type", "credits")
LEDGER_HEADER = (
    "entry_id", "kind", "occurred_at", "recorded_at", "user_id", "group_id",
    "feature", "credit_type", "amount", "reverses",
)  # fmt: skip

_FORMULA_STARTS = frozenset("=+-@\t\r\n")
BOM = "\ufeff"


def safe_cell(text: str) -> str:
    """``text`` as a cell a spreadsheet will not run as a formula.

    >>> safe_cell("=HYPERLINK(1)")
    "'=HYPERLINK(1)"
    >>> safe_cell("Ana")
    'Ana'
    """
    if text and text[0] in _FORMULA_STARTS:
        return "'" + text
    return text


def _writer(out: TextIO, excel: bool) -> csv.Writer:  # type: ignore[name-defined]
    if excel:
        out.write(BOM)
    return csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)


def _wide(row: ReportRow) -> list[str | int]:
    return [
        safe_cell(row.user_id),
        safe_cell(row.name),
        safe_cell(row.email),
        safe_cell(row.group_name),
        safe_cell(row.role.value),
        safe_cell(row.credit_type),
        *(row.by_feature.get(feature, 0) for feature in Feature),
        row.total,
    ]


def _long(row: LongRow) -> list[str | int]:
    return [
        safe_cell(row.user_id),
        safe_cell(row.name),
        safe_cell(row.email),
        safe_cell(row.group_name),
        row.feature.label,
        safe_cell(row.credit_type),
        row.credits,
    ]


def write_report_csv(
    rows: Iterable[ReportRow] | Iterable[LongRow],
    out: TextIO,
    *,
    layout: Literal["wide", "long"] | None = None,
    excel: bool = False,
) -> int:
    """Write report rows as CSV: wide (``ReportRow``) or long (``LongRow``).

    Args:
        rows: the rows, in the order to write them.
        out: a text stream opened with ``newline=""``.
        layout: ``"wide"`` or ``"long"``; by default taken from the first row
            (wide when there is none).
        excel: start with a UTF-8 byte order mark.

    Returns:
        The number of data rows written.
    """
    iterator = iter(rows)
    first = next(iterator, None)
    if layout is None:
        layout = "long" if isinstance(first, LongRow) else "wide"
    if layout not in ("wide", "long"):
        raise ValidationError(f"layout must be 'wide' or 'long', got {layout!r}")
    expected: type[ReportRow] | type[LongRow] = ReportRow if layout == "wide" else LongRow
    writer = _writer(out, excel)
    writer.writerow(WIDE_HEADER if layout == "wide" else LONG_HEADER)
    count = 0
    row: object = first
    while row is not None:
        if not isinstance(row, expected):
            raise ValidationError(f"a {layout} CSV takes {expected.__name__} rows, got {row!r}")
        writer.writerow(_wide(row) if isinstance(row, ReportRow) else _long(row))
        count += 1
        row = next(iterator, None)
    return count


def write_ledger_csv(entries: Iterable[LedgerEntry], out: TextIO, *, excel: bool = False) -> int:
    """Write ledger entries as the audit-trail CSV, streaming.

    Columns: ``entry_id,kind,occurred_at,recorded_at,user_id,group_id,feature,
    credit_type,amount,reverses``; datetimes in ISO 8601 UTC, enums by value.

    Returns:
        The number of entries written.
    """
    writer = _writer(out, excel)
    writer.writerow(LEDGER_HEADER)
    writerow = writer.writerow
    risky = _FORMULA_STARTS
    count = 0
    # The hot loop of a million-row export: the spreadsheet-safety check is
    # inlined (same rule as safe_cell) and enum members are written as they
    # are, since a StrEnum member is the string of its value.
    for e in entries:
        entry_id, user_id, group_id = e.entry_id, e.user_id or "", e.group_id or ""
        credit_type, reverses = e.credit_type or "", e.reverses or ""
        recorded_at = e.recorded_at
        writerow(
            (
                "'" + entry_id if entry_id[:1] in risky else entry_id,
                e.kind,
                e.occurred_at.isoformat(),
                recorded_at.isoformat() if recorded_at else "",
                "'" + user_id if user_id[:1] in risky else user_id,
                "'" + group_id if group_id[:1] in risky else group_id,
                e.feature or "",
                "'" + credit_type if credit_type[:1] in risky else credit_type,
                e.amount,
                "'" + reverses if reverses[:1] in risky else reverses,
            )
        )
        count += 1
    return count
