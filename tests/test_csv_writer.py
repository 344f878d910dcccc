"""CSV reports: RFC 4180, spreadsheet-safe cells, plain integers, streamed rows."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pandas as pd
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
    ValidationError,
    safe_cell,
    write_ledger_csv,
    write_report_csv,
)
from tests.strategies import FORMULA_STARTS, long_rows, report_rows, spreadsheet_text

WIDE_HEADER = [
    "user_id",
    "name",
    "email",
    "group",
    "role",
    "credit_type",
    "Platform",
    "Extension",
    "API",
    "Workspace",
    "total",
]
LONG_HEADER = ["user_id", "name", "email", "group", "feature", "credit_type", "credits"]
LEDGER_HEADER = (
    "entry_id,kind,occurred_at,recorded_at,user_id,group_id,feature,credit_type,amount,reverses"
)
#: A field in double quotes, as RFC 4180 writes it (quotes inside doubled).
QUOTED_FIELD = re.compile(r'"(?:[^"]|"")*"')


def write(rows: list[ReportRow] | list[LongRow], **options: object) -> str:
    out = io.StringIO(newline="")
    count = write_report_csv(rows, out, **options)  # type: ignore[arg-type]
    assert count == len(rows)
    return out.getvalue()


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def line_breaks_outside_quotes(text: str) -> list[str]:
    """Every CR or LF that ends a record (those inside quoted fields removed), as runs."""
    return re.findall(r"[\r\n]+", QUOTED_FIELD.sub("", text))


def wide_row(**overrides: object) -> ReportRow:
    fields: dict[str, object] = {
        "user_id": "mia",
        "name": "Mia",
        "email": "mia@acme.test",
        "group_id": "sales",
        "group_name": "Sales EMEA",
        "role": Role.MEMBER,
        "credit_type": "email",
        "by_feature": {
            Feature.PLATFORM: 1,
            Feature.EXTENSION: 0,
            Feature.API: 20,
            Feature.WORKSPACE: 3,
        },
        "total": 24,
    }
    fields.update(overrides)
    return ReportRow(**fields)  # type: ignore[arg-type]


def expected_wide(row: ReportRow) -> list[str]:
    text = [row.user_id, row.name, row.email, row.group_name, row.role.value, row.credit_type]
    numbers = [row.by_feature[feature] for feature in Feature] + [row.total]
    return [safe_cell(cell) for cell in text] + [str(n) for n in numbers]


def expected_long(row: LongRow) -> list[str]:
    text = [row.user_id, row.name, row.email, row.group_name]
    return [
        *(safe_cell(cell) for cell in text),
        Feature(row.feature).label,
        safe_cell(row.credit_type),
        str(row.credits),
    ]


class TestSafeCell:
    """A cell a spreadsheet would run as a formula gets a leading apostrophe."""

    @pytest.mark.parametrize("start", FORMULA_STARTS)
    def test_a_formula_start_is_prefixed(self, start: str) -> None:
        """=, +, -, @, tab, CR and LF at the start are neutralised with a '."""
        assert safe_cell(start + "SUM(A1)") == "'" + start + "SUM(A1)"

    @pytest.mark.parametrize("text", ["", "Ana", "  Ana", "a=b", "'=1", "1-2", "x-y", "ünï"])
    def test_other_text_is_left_alone(self, text: str) -> None:
        """Text whose first visible character starts no formula is written as it is."""
        assert safe_cell(text) == text

    @given(text=spreadsheet_text())
    def test_a_safe_cell_never_starts_like_a_formula(self, text: str) -> None:
        """After safe_cell, no cell starts with a formula character, and nothing is lost."""
        cell = safe_cell(text)
        assert not cell.startswith(FORMULA_STARTS)
        assert cell in (text, "'" + text)


class TestWideCsvRoundTrip:
    """Whatever text is in the rows, the wide CSV parses back to the same, safe cells."""

    @given(rows=st.lists(report_rows(), max_size=4))
    def test_the_wide_csv_parses_back_to_safe_rows(self, rows: list[ReportRow]) -> None:
        """Header plus one record per row, each as wide as the header, cells safe and intact."""
        records = parse(write(rows))
        assert records[0] == WIDE_HEADER
        assert len(records) == len(rows) + 1
        for record, row in zip(records[1:], rows, strict=True):
            assert len(record) == len(WIDE_HEADER)
            assert record == expected_wide(row)
            assert not any(cell.startswith(FORMULA_STARTS) for cell in record)
            assert all(re.fullmatch(r"0|[1-9][0-9]*", cell) for cell in record[6:])

    @given(rows=st.lists(long_rows(), max_size=4))
    def test_the_long_csv_parses_back_to_safe_rows(self, rows: list[LongRow]) -> None:
        """The long layout is as safe: header, one record per row, cells intact."""
        records = parse(write(rows, layout="long"))
        assert records[0] == LONG_HEADER
        assert len(records) == len(rows) + 1
        for record, row in zip(records[1:], rows, strict=True):
            assert len(record) == len(LONG_HEADER)
            assert record == expected_long(row)
            assert not any(cell.startswith(FORMULA_STARTS) for cell in record)

    @given(rows=st.lists(report_rows(), max_size=4))
    def test_every_record_ends_with_crlf(self, rows: list[ReportRow]) -> None:
        """Records end with \\r\\n; bare CR or LF only appear inside quoted cells."""
        text = write(rows)
        assert text.endswith("\r\n")
        assert line_breaks_outside_quotes(text) == ["\r\n"] * (len(rows) + 1)

    @given(rows=st.lists(report_rows(), max_size=4))
    def test_excel_output_is_the_same_rows_after_a_bom(self, rows: list[ReportRow]) -> None:
        """excel=True prepends a UTF-8 BOM; decoded as utf-8-sig it is the same CSV."""
        plain, excel = write(rows), write(rows, excel=True)
        assert excel.startswith("\ufeff")
        assert not plain.startswith("\ufeff")
        decoded = excel.encode("utf-8").decode("utf-8-sig")
        assert decoded == plain
        assert parse(decoded) == parse(plain)

    @given(rows=st.lists(report_rows(), min_size=1, max_size=4))
    def test_pandas_reads_the_wide_csv_to_the_right_shape(self, rows: list[ReportRow]) -> None:
        """pd.read_csv gets one row per report row, 11 columns and an integer total."""
        frame = pd.read_csv(io.StringIO(write(rows), newline=""), keep_default_na=False)
        assert list(frame.columns) == WIDE_HEADER
        assert frame.shape == (len(rows), len(WIDE_HEADER))
        assert pd.api.types.is_integer_dtype(frame["total"])
        assert frame["total"].tolist() == [row.total for row in rows]

    def test_a_worked_example(self) -> None:
        """An injected name and a comma-and-quote group come out quoted and neutralised."""
        row = wide_row(name='=HYPERLINK("http://x")', group_name='Sales, "EMEA"')
        assert write([row]).split("\r\n") == [
            ",".join(WIDE_HEADER),
            'mia,"\'=HYPERLINK(""http://x"")",mia@acme.test,"Sales, ""EMEA""",member,email,'
            "1,0,20,3,24",
            "",
        ]

    def test_a_line_break_in_a_name_stays_inside_its_cell(self) -> None:
        """A name with CR/LF is quoted and does not start a new record."""
        records = parse(write([wide_row(name="Mia\r\nRow 2,=1")]))
        assert len(records) == 2
        assert records[1][1] == "Mia\r\nRow 2,=1"


class TestLayouts:
    """Wide takes ReportRow, long takes LongRow."""

    def test_no_rows_is_a_header_only(self) -> None:
        """An empty report is the wide header alone."""
        assert write([]) == ",".join(WIDE_HEADER) + "\r\n"
        assert write([], layout="long") == ",".join(LONG_HEADER) + "\r\n"

    def test_the_layout_follows_the_first_row(self) -> None:
        """Without layout=, LongRow values give the long layout."""
        row = LongRow(
            user_id="mia",
            name="Mia",
            email="mia@acme.test",
            group_id=None,
            group_name="",
            feature=Feature.API,
            credit_type="email",
            credits=7,
        )
        assert parse(write([row])) == [
            LONG_HEADER,
            ["mia", "Mia", "mia@acme.test", "", "API", "email", "7"],
        ]

    def test_a_row_of_the_other_layout_is_refused(self) -> None:
        """A ReportRow in a long CSV is a ValidationError."""
        with pytest.raises(ValidationError, match="long CSV takes LongRow"):
            write([wide_row()], layout="long")

    def test_an_unknown_layout_is_refused(self) -> None:
        """Only "wide" and "long" exist."""
        with pytest.raises(ValidationError, match="'tall'"):
            write([wide_row()], layout="tall")


class TestStreaming:
    """Rows are written as they come, so memory does not grow with them."""

    def test_rows_from_a_generator_are_written_before_the_next_is_asked(self) -> None:
        """Each row is in the output before the generator is asked for the next one."""
        out = io.StringIO(newline="")
        rows = [wide_row(user_id=f"u{n}", name=f"User {n}") for n in range(5)]

        def generate() -> Iterator[ReportRow]:
            for n, row in enumerate(rows):
                if n:
                    assert parse(out.getvalue())[-1] == expected_wide(rows[n - 1])
                    assert len(parse(out.getvalue())) == n + 1
                yield row

        assert write_report_csv(generate(), out) == len(rows)
        assert parse(out.getvalue())[1:] == [expected_wide(row) for row in rows]


class TestLedgerCsv:
    """The audit trail: every entry, one record each, in the fixed column order."""

    def test_the_header_is_fixed(self) -> None:
        """The ledger CSV header is exactly the documented column list."""
        out = io.StringIO(newline="")
        assert write_ledger_csv([], out) == 0
        assert out.getvalue() == LEDGER_HEADER + "\r\n"

    def test_entries_are_written_as_iso_utc_values_and_integers(self) -> None:
        """Datetimes in ISO 8601 UTC, enums by value, amount as an integer, ids made safe."""
        when = datetime(2026, 3, 1, 12, tzinfo=UTC)
        entries = [
            LedgerEntry(
                team_id="acme",
                entry_id="-1",
                kind=EntryKind.USAGE,
                user_id="=mia",
                group_id=None,
                feature=Feature.API,
                credit_type="email",
                amount=5,
                occurred_at=when,
                recorded_at=when,
            ),
            LedgerEntry(
                team_id="acme",
                entry_id="g1",
                kind=EntryKind.GRANT,
                user_id=None,
                group_id=None,
                feature=None,
                credit_type=None,
                amount=100,
                occurred_at=when,
            ),
        ]
        out = io.StringIO(newline="")
        assert write_ledger_csv(iter(entries), out, excel=True) == 2
        text = out.getvalue()
        assert text.startswith("\ufeff" + LEDGER_HEADER + "\r\n")
        assert parse(text.removeprefix("\ufeff"))[1:] == [
            [
                "'-1",
                "usage",
                "2026-03-01T12:00:00+00:00",
                "2026-03-01T12:00:00+00:00",
                "'=mia",
                "",
                "api",
                "email",
                "5",
                "",
            ],
            ["g1", "grant", "2026-03-01T12:00:00+00:00", "", "", "", "", "", "100", ""],
        ]
