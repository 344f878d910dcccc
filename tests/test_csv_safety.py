"""Spreadsheet safety (OWASP CSV injection): formulas hidden behind invisible characters.

A text cell whose first character other than white space or invisible
characters is ``=``, ``+``, ``-``, ``@``, tab, CR or LF, or one of the
full-width ``＝＋－＠``, is written with a leading ``'``; all other text is
written as it is. These tests hold ``safe_cell``, both report layouts and the
ledger CSV (whose hot loop inlines a quick test) to that one rule.
"""

from __future__ import annotations

import csv
import io
import sys
import unicodedata
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credit_usage import (
    EntryKind,
    Feature,
    LedgerEntry,
    LongRow,
    ReportRow,
    Role,
    safe_cell,
    write_ledger_csv,
    write_report_csv,
)

ASCII_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
#: U+FF1D, U+FF0B, U+FF0D and U+FF20.
FULL_WIDTH_FORMULA_STARTS = ("＝", "＋", "－", "＠")
FORMULA_STARTS = ASCII_FORMULA_STARTS + FULL_WIDTH_FORMULA_STARTS

#: Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt), first
#: and last code point of each run.
DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)

#: Characters a formula may hide behind, by name: the audit's near-misses first.
INVISIBLES = {
    "space": " ",
    "no-break space": "\u00a0",
    "zero-width space": "\u200b",
    "byte order mark": "\ufeff",
    "ideographic space": "\u3000",
    "en quad": "\u2000",
    "em space": "\u2003",
    "thin space": "\u2009",
    "hair space": "\u200a",
    "narrow no-break space": "\u202f",
    "medium mathematical space": "\u205f",
    "word joiner": "\u2060",
    "Mongolian vowel separator": "\u180e",
    "zero-width joiner": "\u200d",
    "left-to-right mark": "\u200e",
    "right-to-left override": "\u202e",
    "soft hyphen": "\u00ad",
    "Hangul filler": "\u3164",
    "variation selector 16": "\ufe0f",
    "vertical tab": "\x0b",
    "next line": "\x85",
    "line separator": "\u2028",
    "tag space": "\U000e0020",
}

#: Text cells a spreadsheet would run, each with its formula start hidden or disguised.
NEAR_MISSES = {
    "space": " =1+1",
    "spaces": "   =1+1",
    "no-break space": "\u00a0=1+1",
    "zero-width space": "\u200b=1+1",
    "byte order mark": "\ufeff=1+1",
    "ideographic space": "\u3000=1+1",
    "em space": "\u2003+1",
    "narrow no-break space": "\u202f-1",
    "medium mathematical space": "\u205f@SUM(A1)",
    "word joiner": "\u2060=1",
    "Mongolian vowel separator": "\u180e=1",
    "a mixed run": " \u00a0\u200b\ufeff\u3000\u2060=1",
    "space then tab": " \t=1",
    "space then CR LF": " \r\n=1",
    "full-width equals": "＝1+1",
    "full-width plus": "＋1",
    "full-width minus": "－1",
    "full-width at": "＠SUM(A1)",
    "ideographic space then full-width equals": "\u3000＝1",
    "zero-width space then full-width at": "\u200b＠SUM(A1)",
    "BOM and space then full-width minus": "\ufeff －1",
}

#: Text no spreadsheet runs: it is written exactly as it is.
HARMLESS = [
    "",
    "Ana",
    "  Ana",
    "\u3000Ana",
    "\u200bAna",
    "a=b",
    "Zoë",
    "123",
    "x-y",
    "1＝2",
    "'=1",
    " '=1",
    "Ａ＝1",
    " ",
    "\u200b\ufeff\u00a0",
]

WHEN = datetime(2026, 3, 1, 12, tzinfo=UTC)


def is_invisible(char: str) -> bool:
    """White space, a control, format or default-ignorable character, other than tab/CR/LF."""
    if char in "\t\r\n":
        return False
    code = ord(char)
    return (
        char.isspace()
        or unicodedata.category(char) in ("Cc", "Cf")
        or any(first <= code <= last for first, last in DEFAULT_IGNORABLE)
    )


def starts_a_formula(text: str) -> bool:
    """Whether ``text``, its leading invisible characters stripped, starts with a formula start."""
    visible = text.lstrip("".join(char for char in set(text) if is_invisible(char)))
    return visible.startswith(FORMULA_STARTS)


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def wide_csv_records(text: str) -> list[str]:
    """The text cells of a wide CSV with ``text`` in every text field but the role."""
    row = ReportRow(
        user_id=text,
        name=text,
        email=text,
        group_id=text,
        group_name=text,
        role=Role.MEMBER,
        credit_type=text,
        by_feature=dict.fromkeys(Feature, 1),
        total=len(Feature),
    )
    out = io.StringIO(newline="")
    assert write_report_csv([row], out) == 1
    record = parse(out.getvalue())[1]
    assert record[4] == "member"
    assert record[6:] == ["1", "1", "1", "1", "4"]
    return record[:4] + record[5:6]


def long_csv_records(text: str) -> list[str]:
    """The text cells of a long CSV with ``text`` in every text field."""
    row = LongRow(
        user_id=text,
        name=text,
        email=text,
        group_id=text,
        group_name=text,
        feature=Feature.API,
        credit_type=text,
        credits=7,
    )
    out = io.StringIO(newline="")
    assert write_report_csv([row], out) == 1
    record = parse(out.getvalue())[1]
    assert record[4] == "API"
    assert record[6] == "7"
    return record[:4] + record[5:6]


def reversal(entry_id: str, user_id: str, group_id: str | None, reverses: str) -> LedgerEntry:
    return LedgerEntry(
        team_id="acme",
        entry_id=entry_id,
        kind=EntryKind.REVERSAL,
        user_id=user_id,
        group_id=group_id,
        feature=Feature.API,
        credit_type="email",
        amount=5,
        occurred_at=WHEN,
        recorded_at=WHEN,
        reverses=reverses,
    )


def ledger_records(entries: list[LedgerEntry], *, excel: bool = False) -> list[list[str]]:
    out = io.StringIO(newline="")
    assert write_ledger_csv(iter(entries), out, excel=excel) == len(entries)
    return parse(out.getvalue().removeprefix("\ufeff"))[1:]


def ledger_id_cells(text: str) -> list[str]:
    """entry_id, user_id, group_id and reverses of a ledger CSV record with ``text`` in each."""
    [record] = ledger_records([reversal(text, text, text, text)])
    assert record[1:4] == ["reversal", WHEN.isoformat(), WHEN.isoformat()]
    assert record[6:9] == ["api", "email", "5"]
    return [record[0], record[4], record[5], record[9]]


#: A few of each kind of character the rule looks at, for the properties.
TRICKY = st.sampled_from(
    [*INVISIBLES.values(), *FORMULA_STARTS, "a", "1", "'", "Ａ", '"', ",", "\x00"]
)


def tricky_text() -> st.SearchStrategy[str]:
    """Any text, often a formula start behind a run of invisible characters."""
    return st.one_of(
        st.text(),
        st.text(TRICKY),
        st.builds(
            lambda hiding, start, rest: hiding + start + rest,
            st.text(st.sampled_from(list(INVISIBLES.values()))),
            st.sampled_from(FORMULA_STARTS),
            st.text(),
        ),
    )


def tricky_ids() -> st.SearchStrategy[str]:
    """Ledger ids: tricky text that is non-empty, has no NUL and fits 255 characters."""
    return tricky_text().filter(lambda text: 0 < len(text) <= 255 and "\x00" not in text)


class TestFormulaAfterInvisibleCharacters:
    """A formula start after leading white space or invisible characters is neutralised."""

    @pytest.mark.parametrize("start", ASCII_FORMULA_STARTS)
    @pytest.mark.parametrize("invisible", INVISIBLES.values(), ids=INVISIBLES.keys())
    def test_a_formula_start_after_an_invisible_character_is_prefixed(
        self, invisible: str, start: str
    ) -> None:
        """One invisible character before =, +, -, @, tab, CR or LF hides nothing."""
        text = invisible + start + "SUM(A1)"
        assert safe_cell(text) == "'" + text

    @pytest.mark.parametrize("start", ASCII_FORMULA_STARTS)
    def test_a_formula_start_after_a_run_of_invisible_characters_is_prefixed(
        self, start: str
    ) -> None:
        """A run of different invisible characters before the formula hides nothing either."""
        text = "".join(INVISIBLES.values()) + start + "1"
        assert safe_cell(text) == "'" + text

    @pytest.mark.parametrize("start", ASCII_FORMULA_STARTS)
    def test_white_space_alone_before_a_formula_start_is_enough_to_prefix(self, start: str) -> None:
        """Plain spaces, which some importers trim, do not hide a formula."""
        assert safe_cell("   " + start + "1") == "'   " + start + "1"

    def test_every_white_space_control_and_format_character_hides_nothing(self) -> None:
        """Every white-space, control (Cc) or format (Cf) character of Unicode is skipped."""
        hiding = [
            char
            for char in map(chr, range(sys.maxunicode + 1))
            if char not in "\t\r\n"
            and (char.isspace() or unicodedata.category(char) in ("Cc", "Cf"))
        ]
        assert len(hiding) > 150
        assert [c for c in hiding if safe_cell(c + "=1") != "'" + c + "=1"] == []

    def test_every_default_ignorable_character_hides_nothing(self) -> None:
        """Each Default_Ignorable_Code_Point (fillers, variation selectors, tags) is skipped."""
        hiding = [chr(code) for first, last in DEFAULT_IGNORABLE for code in range(first, last + 1)]
        assert [c for c in hiding if safe_cell(c + "@x") != "'" + c + "@x"] == []


class TestFullWidthFormulaStarts:
    """The full-width ＝＋－＠, which spreadsheets may read as =+-@, are formula starts too."""

    @pytest.mark.parametrize("start", FULL_WIDTH_FORMULA_STARTS)
    def test_a_full_width_formula_start_is_prefixed(self, start: str) -> None:
        """＝, ＋, － and ＠ at the start are neutralised with a '."""
        assert safe_cell(start + "SUM(A1)") == "'" + start + "SUM(A1)"

    @pytest.mark.parametrize("start", FULL_WIDTH_FORMULA_STARTS)
    @pytest.mark.parametrize("invisible", INVISIBLES.values(), ids=INVISIBLES.keys())
    def test_a_full_width_formula_start_after_an_invisible_character_is_prefixed(
        self, invisible: str, start: str
    ) -> None:
        """A full-width formula start behind an invisible character is neutralised."""
        text = invisible + start + "1"
        assert safe_cell(text) == "'" + text


class TestHarmlessText:
    """Text whose first visible character starts no formula is written exactly as it is."""

    @pytest.mark.parametrize("text", HARMLESS)
    def test_safe_cell_leaves_harmless_text_alone(self, text: str) -> None:
        """Names, ids, inner = or -, full-width text and white space alone are unchanged."""
        assert safe_cell(text) == text

    @pytest.mark.parametrize("text", [t for t in HARMLESS if t])
    def test_the_report_csvs_write_harmless_text_as_it_is(self, text: str) -> None:
        """Wide and long CSV cells of harmless text parse back unchanged."""
        assert wide_csv_records(text) == [text] * 5
        assert long_csv_records(text) == [text] * 5

    @pytest.mark.parametrize("text", [t for t in HARMLESS if t])
    def test_the_ledger_csv_writes_harmless_ids_as_they_are(self, text: str) -> None:
        """Ledger ids of harmless text parse back unchanged."""
        assert ledger_id_cells(text) == [text] * 4


class TestNearMissesInTheCsvs:
    """Every near-miss of the audit comes out of every CSV starting with a '."""

    @pytest.mark.parametrize("text", NEAR_MISSES.values(), ids=NEAR_MISSES.keys())
    def test_safe_cell_prefixes_the_near_miss(self, text: str) -> None:
        """safe_cell puts a ' before the near-miss and keeps the rest intact."""
        assert safe_cell(text) == "'" + text

    @pytest.mark.parametrize("text", NEAR_MISSES.values(), ids=NEAR_MISSES.keys())
    def test_the_wide_report_csv_prefixes_the_near_miss(self, text: str) -> None:
        """Each text cell of a wide CSV row parses back as ' plus the near-miss."""
        assert wide_csv_records(text) == ["'" + text] * 5

    @pytest.mark.parametrize("text", NEAR_MISSES.values(), ids=NEAR_MISSES.keys())
    def test_the_long_report_csv_prefixes_the_near_miss(self, text: str) -> None:
        """Each text cell of a long CSV row parses back as ' plus the near-miss."""
        assert long_csv_records(text) == ["'" + text] * 5

    @pytest.mark.parametrize("text", NEAR_MISSES.values(), ids=NEAR_MISSES.keys())
    def test_the_ledger_csv_prefixes_the_near_miss(self, text: str) -> None:
        """entry_id, user_id, group_id and reverses of a ledger record parse back prefixed."""
        assert ledger_id_cells(text) == ["'" + text] * 4

    def test_the_ledger_csv_prefixes_a_bom_id_in_an_excel_file(self) -> None:
        """With excel=True, an id starting with a BOM is prefixed after the file's own BOM."""
        [record] = ledger_records([reversal("\ufeff=1", "\ufeff=1", None, "x")], excel=True)
        assert [record[0], record[4], record[5], record[9]] == ["'\ufeff=1", "'\ufeff=1", "", "x"]


class TestSafetyProperties:
    """The rule holds for any text, and the ledger's inlined check is exactly safe_cell."""

    @given(text=tricky_text())
    def test_safe_cell_adds_a_quote_exactly_when_the_first_visible_character_starts_a_formula(
        self, text: str
    ) -> None:
        """safe_cell(t) is t, or "'" + t exactly when t's first visible character starts one."""
        cell = safe_cell(text)
        assert cell in (text, "'" + text)
        assert (cell == "'" + text) == starts_a_formula(text)

    @given(
        ids=st.lists(st.tuples(tricky_ids(), tricky_ids(), tricky_ids(), tricky_ids()), max_size=5),
        grants=st.lists(tricky_ids(), max_size=2),
    )
    def test_ledger_csv_cells_equal_safe_cell_of_the_values(
        self, ids: list[tuple[str, str, str, str]], grants: list[str]
    ) -> None:
        """Every text cell of the ledger CSV is safe_cell of its value; the rest is unchanged."""
        entries = [reversal(*four) for four in ids] + [
            LedgerEntry(
                team_id="acme",
                entry_id=entry_id,
                kind=EntryKind.GRANT,
                user_id=None,
                group_id=None,
                feature=None,
                credit_type=None,
                amount=100,
                occurred_at=WHEN,
            )
            for entry_id in grants
        ]
        expected = [
            [
                safe_cell(e.entry_id),
                e.kind.value,
                e.occurred_at.isoformat(),
                e.recorded_at.isoformat() if e.recorded_at else "",
                safe_cell(e.user_id or ""),
                safe_cell(e.group_id or ""),
                e.feature or "",
                safe_cell(e.credit_type or ""),
                str(e.amount),
                safe_cell(e.reverses or ""),
            ]
            for e in entries
        ]
        assert ledger_records(entries) == expected
