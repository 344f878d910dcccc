"""Aggregation: every breakdown of a ledger adds up to the team's net usage."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given

from credit_usage import (
    EntryKind,
    Feature,
    LedgerEntry,
    UsageCell,
    ValidationError,
    aggregate,
    sum_cells,
)
from credit_usage.domain.aggregate import DIMENSIONS
from tests.strategies import ledgers

WHEN = datetime(2026, 3, 1, 12, tzinfo=UTC)


def net_used(entries: list[LedgerEntry]) -> int:
    """Usage minus reversals; grants add to the pool, not to what was used."""
    usage = sum(e.amount for e in entries if e.kind is EntryKind.USAGE)
    reversed_ = sum(e.amount for e in entries if e.kind is EntryKind.REVERSAL)
    return usage - reversed_


def by_loop(entries: list[LedgerEntry], by: tuple[str, ...]) -> dict[tuple[Any, ...], int]:
    """The breakdown the slow, obvious way."""
    totals: Counter[tuple[Any, ...]] = Counter()
    for entry in entries:
        if entry.kind is not EntryKind.GRANT:
            totals[tuple(getattr(entry, name) for name in by)] += entry.usage_delta
    return dict(totals)


def cells_of(entries: list[LedgerEntry]) -> list[UsageCell]:
    """The ledger summed into cells, as storage hands them to the report builders."""
    return [
        UsageCell(user_id=u, group_id=g, feature=f, credit_type=t, credits=credits)
        for (u, g, f, t), credits in aggregate(entries, by=DIMENSIONS).items()
    ]


def entry(kind: str = "usage", **overrides: Any) -> LedgerEntry:
    fields: dict[str, Any] = {
        "team_id": "acme",
        "entry_id": "e1",
        "kind": kind,
        "user_id": "mia",
        "group_id": "sales",
        "feature": "api",
        "credit_type": "email",
        "amount": 5,
        "occurred_at": WHEN,
    }
    if kind == "grant":
        fields.update(user_id=None, group_id=None, feature=None, credit_type=None)
    fields.update(overrides)
    return LedgerEntry(**fields)


class TestBreakdownsAddUp:
    """Whichever way usage is broken down, the parts add up to the team's net used."""

    @given(entries=ledgers())
    def test_every_breakdown_sums_to_net_used(self, entries: list[LedgerEntry]) -> None:
        """Sums by user, by group, by feature and by credit type all equal usage − reversals."""
        for dimension in DIMENSIONS:
            breakdown = aggregate(entries, by=(dimension,))
            assert sum(breakdown.values()) == net_used(entries), dimension
            assert breakdown == by_loop(entries, (dimension,)), dimension

    @given(entries=ledgers())
    def test_no_cell_goes_negative_when_reversals_stay_within_their_usage(
        self, entries: list[LedgerEntry]
    ) -> None:
        """A reversal nets out in its original's cell, so no cell is below zero."""
        assert all(credits >= 0 for credits in aggregate(entries, by=DIMENSIONS).values())

    @given(entries=ledgers())
    def test_grants_never_count_as_usage(self, entries: list[LedgerEntry]) -> None:
        """Dropping the grants changes no breakdown."""
        without_grants = [e for e in entries if e.kind is not EntryKind.GRANT]
        assert aggregate(entries, by=DIMENSIONS) == aggregate(without_grants, by=DIMENSIONS)

    @given(entries=ledgers())
    def test_summing_cells_gives_the_same_breakdowns(self, entries: list[LedgerEntry]) -> None:
        """sum_cells over the four-dimension cells equals aggregating the ledger directly."""
        cells = cells_of(entries)
        for by in [*((d,) for d in DIMENSIONS), ("group_id", "feature"), DIMENSIONS]:
            assert sum_cells(cells, by=by) == aggregate(entries, by=by), by

    @given(entries=ledgers())
    def test_the_order_of_the_entries_does_not_matter(self, entries: list[LedgerEntry]) -> None:
        """Aggregation is a sum: reversing the ledger gives the same breakdown."""
        assert aggregate(entries, by=DIMENSIONS) == aggregate(entries[::-1], by=DIMENSIONS)


class TestKeys:
    """Keys are tuples of the `by` fields, in the order asked."""

    def test_a_worked_example(self) -> None:
        """Two usages and a partial reversal, broken down by user and feature."""
        entries = [
            entry(entry_id="e1", amount=10),
            entry(entry_id="e2", amount=4, user_id="noa", feature="platform", group_id=None),
            entry("reversal", entry_id="r1", amount=3, reverses="e1"),
            entry("grant", entry_id="g1", amount=1000),
        ]
        assert aggregate(entries, by=("user_id", "feature")) == {
            ("mia", Feature.API): 7,
            ("noa", Feature.PLATFORM): 4,
        }
        assert aggregate(entries, by=("group_id",)) == {("sales",): 7, (None,): 4}

    def test_a_fully_reversed_key_stays_with_zero(self) -> None:
        """A key whose usage was all reversed is listed with 0 credits."""
        entries = [entry(amount=5), entry("reversal", entry_id="r1", amount=5, reverses="e1")]
        assert aggregate(entries) == {("mia",): 0}

    def test_the_default_is_by_user(self) -> None:
        """Without `by`, usage is broken down by user."""
        assert aggregate([entry(amount=2)]) == {("mia",): 2}

    def test_a_single_name_may_be_given_as_a_string(self) -> None:
        """by="feature" means by=("feature",)."""
        assert aggregate([entry(amount=2)], by="feature") == {(Feature.API,): 2}
        assert sum_cells(cells_of([entry(amount=2)]), by="feature") == {(Feature.API,): 2}

    def test_grants_alone_aggregate_to_nothing(self) -> None:
        """A ledger of grants has no usage keys."""
        assert aggregate([entry("grant", amount=100)], by=DIMENSIONS) == {}


class TestUnknownDimensions:
    """Only user_id, group_id, feature and credit_type are dimensions."""

    @pytest.mark.parametrize(
        "by", [("user",), ("user_id", "amount"), ("team_id",), (), ("occurred_at",)]
    )
    def test_an_unknown_or_empty_by_is_refused(self, by: tuple[str, ...]) -> None:
        """aggregate and sum_cells refuse it, naming what was asked and the choices."""
        expected = r"user_id, group_id, feature, credit_type.*" + "".join(
            rf".*'{name}'" for name in by
        )
        with pytest.raises(ValidationError, match=expected):
            aggregate([], by=by)
        with pytest.raises(ValidationError, match=expected):
            sum_cells([], by=by)
