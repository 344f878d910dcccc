"""CSV writers for usage reports and the ledger.

RFC 4180 with ``\\r\\n`` line ends, UTF-8 (``excel=True`` adds a BOM so Excel
detects it). Rows are written as they come, so memory does not grow with their
number. Numbers are written as plain integers.

Every text cell is made safe for spreadsheets (OWASP CSV injection): a cell
whose first character is a formula start -- ``=``, ``+``, ``-``, ``@``, tab, CR
or LF, or the full-width ``＝`` ``＋`` ``－`` ``＠`` (U+FF1D, U+FF0B, U+FF0D,
U+FF20) -- gets a leading ``'``; so does one where a formula start follows a
run of white space or invisible characters (space, no-break space, U+2000 to
U+200A, ideographic space, zero-width space and joiners, the BOM, control and
format characters, and the rest of Unicode's White_Space and
Default_Ignorable_Code_Point), since spreadsheets and import tools may drop
those. Any other text, such as ``a=b`` or ``x-y``, is written as it is.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal, TextIO

from credit_usage.domain.model import (
    DEFAULT_FEATURES,
    FeatureSpec,
    LedgerEntry,
    LedgerRow,
    ledger_row,
)
from credit_usage.domain.results import LongRow, ReportRow
from credit_usage.errors import ValidationError

__all__ = [
    "LEDGER_HEADER",
    "LONG_HEADER",
    "WIDE_HEADER",
    "safe_cell",
    "wide_header",
    "write_ledger_csv",
    "write_ledger_rows",
    "write_report_csv",
]

LONG_HEADER = ("user_id", "name", "email", "group", "feature", "credit_type", "credits")
LEDGER_HEADER = (
    "entry_id", "kind", "occurred_at", "recorded_at", "user_id", "group_id",
    "feature", "credit_type", "amount", "reverses",
)  # fmt: skip

BOM = "\ufeff"

# The spreadsheet-safety rule: its character sets, all in this one place.

#: Characters a spreadsheet reads as the start of a formula, ASCII and full-width.
_FORMULA_STARTS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")

#: First and last code point of each run of characters a formula start may hide
#: behind: white space (Python's str.isspace), control (Cc) and format (Cf)
#: characters, and Unicode's Default_Ignorable_Code_Point. Tab, CR and LF are
#: not here: they are formula starts themselves.
_INVISIBLE_RANGES = (
    (0x0000, 0x0008),  # C0 controls before tab
    (0x000B, 0x000C),  # vertical tab, form feed
    (0x000E, 0x0020),  # C0 controls after CR (0x1C-0x1F are white space), space
    (0x007F, 0x00A0),  # DEL, C1 controls (NEL), no-break space
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x0600, 0x0605),  # Arabic number signs (Cf)
    (0x061C, 0x061C),  # Arabic letter mark
    (0x06DD, 0x06DD),  # Arabic end of ayah (Cf)
    (0x070F, 0x070F),  # Syriac abbreviation mark (Cf)
    (0x0890, 0x0891),  # Arabic pound and piastre marks above (Cf)
    (0x08E2, 0x08E2),  # Arabic disputed end of ayah (Cf)
    (0x115F, 0x1160),  # Hangul choseong and jungseong fillers
    (0x1680, 0x1680),  # Ogham space mark
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian variation selectors and vowel separator
    (0x2000, 0x200F),  # en quad to hair space, zero-width space and joiners, LRM, RLM
    (0x2028, 0x202F),  # line and paragraph separators, bidi embeddings, narrow no-break space
    (0x205F, 0x206F),  # medium mathematical space, word joiner, invisible operators, isolates
    (0x3000, 0x3000),  # ideographic space
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFEFF, 0xFEFF),  # zero-width no-break space (byte order mark)
    (0xFFA0, 0xFFA0),  # half-width Hangul filler
    (0xFFF0, 0xFFFB),  # unassigned default-ignorables, interlinear annotation controls
    (0x110BD, 0x110BD),  # Kaithi number sign (Cf)
    (0x110CD, 0x110CD),  # Kaithi number sign above (Cf)
    (0x13430, 0x1343F),  # Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0000, 0xE0FFF),  # tags, variation selectors supplement, reserved ignorables
)
_INVISIBLE = frozenset(
    chr(code) for first, last in _INVISIBLE_RANGES for code in range(first, last + 1)
)

#: A cell whose first character is not one of these is safe as it is: the
#: quick test of the ledger export's hot loop, before it calls safe_cell.
_MAYBE_RISKY_FIRST = _FORMULA_STARTS | _INVISIBLE


def safe_cell(text: str) -> str:
    """``text`` as a cell a spreadsheet will not run as a formula.

    ``text`` gets a leading ``'`` when its first character other than white
    space or invisible characters is a formula start (``=``, ``+``, ``-``,
    ``@``, tab, CR, LF or a full-width ``＝＋－＠``); otherwise it is returned
    unchanged.

    >>> safe_cell("=HYPERLINK(1)")
    "'=HYPERLINK(1)"
    >>> safe_cell("\\u200b ＝1")
    "'\\u200b ＝1"
    >>> safe_cell("Ana")
    'Ana'
    >>> safe_cell("a=b")
    'a=b'
    """
    for char in text:
        if char not in _INVISIBLE:
            return "'" + text if char in _FORMULA_STARTS else text
    return text


def wide_header(features: Sequence[FeatureSpec] = DEFAULT_FEATURES) -> tuple[str, ...]:
    """The wide layout's header: a column per feature, by label, made safe for spreadsheets."""
    return (
        "user_id", "name", "email", "group", "role", "credit_type",
        *(safe_cell(feature.label) for feature in features), "total",
    )  # fmt: skip


#: The wide header with the default features.
WIDE_HEADER = wide_header()


def _writer(out: TextIO, excel: bool) -> csv.Writer:  # type: ignore[name-defined]
    if excel:
        out.write(BOM)
    return csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)


def _wide(row: ReportRow, features: Sequence[FeatureSpec], limits: bool) -> list[str | int]:
    cells: list[str | int] = [
        safe_cell(row.user_id),
        safe_cell(row.name),
        safe_cell(row.email),
        safe_cell(row.group_name),
        safe_cell(row.role.value),
        safe_cell(row.credit_type),
        *(row.by_feature.get(feature.value, 0) for feature in features),
        row.total,
    ]
    if limits:
        cells += [_blank(row.limit), _blank(row.limit_remaining)]
    return cells


def _blank(number: int | None) -> str | int:
    return "" if number is None else number


def _long(row: LongRow, labels: dict[str, str]) -> list[str | int]:
    return [
        safe_cell(row.user_id),
        safe_cell(row.name),
        safe_cell(row.email),
        safe_cell(row.group_name),
        safe_cell(labels.get(row.feature, row.feature)),
        safe_cell(row.credit_type),
        row.credits,
    ]


def write_report_csv(
    rows: Iterable[ReportRow] | Iterable[LongRow],
    out: TextIO,
    *,
    features: Sequence[FeatureSpec] = DEFAULT_FEATURES,
    layout: Literal["wide", "long"] | None = None,
    excel: bool = False,
    limit_columns: bool = False,
) -> int:
    """Write report rows as CSV: wide (``ReportRow``) or long (``LongRow``).

    Args:
        rows: the rows, in the order to write them.
        out: a text stream opened with ``newline=""``.
        features: the feature columns, in order, by label (``Report.features``);
            the long layout names each row's feature by its label.
        layout: ``"wide"`` or ``"long"``; by default taken from the first row
            (wide when there is none).
        excel: start with a UTF-8 byte order mark.
        limit_columns: the wide layout ends with ``limit`` and
            ``limit_remaining`` (the member's user limit on all types and what
            is left of it in the current cycle; empty without one).

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
    header = wide_header(features) if layout == "wide" else LONG_HEADER
    if layout == "wide" and limit_columns:
        header += ("limit", "limit_remaining")
    writer.writerow(header)
    labels = {feature.value: feature.label for feature in features}
    count = 0
    row: object = first
    while row is not None:
        if not isinstance(row, expected):
            raise ValidationError(f"a {layout} CSV takes {expected.__name__} rows, got {row!r}")
        writer.writerow(
            _wide(row, features, limit_columns)
            if isinstance(row, ReportRow)
            else _long(row, labels)
        )
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
    return write_ledger_rows(map(ledger_row, entries), out, excel=excel)


def write_ledger_rows(rows: Iterable[LedgerRow], out: TextIO, *, excel: bool = False) -> int:
    """:func:`write_ledger_csv` of entries given as :data:`~credit_usage.domain.model.LedgerRow`.

    What ``export_ledger_csv`` streams a storage's rows through.
    """
    writer = _writer(out, excel)
    writer.writerow(LEDGER_HEADER)
    writerow = writer.writerow
    maybe_risky, safe = _MAYBE_RISKY_FIRST, safe_cell
    count = 0
    last_recorded: datetime | None = None
    recorded_text = ""
    # The hot loop of a million-row export. The spreadsheet-safety rule is
    # safe_cell's, but only a cell whose first character may start a formula
    # or hide one calls it; the common case, an id starting with a letter or a
    # digit, costs a set lookup. The entries of one import share their
    # recorded_at, so it is formatted once.
    for row in rows:
        (
            entry_id,
            kind,
            occurred_at,
            recorded_at,
            user_id,
            group_id,
            feature,
            credit_type,
            amount,
            reverses,
        ) = row
        if recorded_at is not last_recorded:
            last_recorded = recorded_at
            recorded_text = recorded_at.isoformat() if recorded_at else ""
        user_id, group_id = user_id or "", group_id or ""
        credit_type, reverses = credit_type or "", reverses or ""
        writerow(
            (
                safe(entry_id) if entry_id[:1] in maybe_risky else entry_id,
                kind,
                occurred_at.isoformat(),
                recorded_text,
                safe(user_id) if user_id[:1] in maybe_risky else user_id,
                safe(group_id) if group_id[:1] in maybe_risky else group_id,
                feature or "",
                safe(credit_type) if credit_type[:1] in maybe_risky else credit_type,
                amount,
                safe(reverses) if reverses[:1] in maybe_risky else reverses,
            )
        )
        count += 1
    return count
