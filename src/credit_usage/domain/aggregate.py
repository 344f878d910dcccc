"""Pure aggregation of ledger entries, usable from a notebook on a plain list.

``used`` is net usage: usage entries add their amount, reversals subtract
theirs, grants do not count. Example::

    >>> from credit_usage import aggregate
    >>> aggregate([], by=("user_id", "feature"))
    {}
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter
from typing import Any, NamedTuple

from credit_usage.domain.model import EntryKind, LedgerEntry
from credit_usage.errors import ValidationError

__all__ = [
    "DIMENSIONS",
    "MemberSums",
    "UsageCell",
    "aggregate",
    "member_sums",
    "sum_by_member",
    "sum_cells",
]

#: The fields usage can be broken down by.
DIMENSIONS = ("user_id", "group_id", "feature", "credit_type")


class UsageCell(NamedTuple):
    """Net credits used by one user, in one group, on one feature and credit type.

    A named tuple rather than an attrs class: storage returns one per
    member x group x feature x credit type for every read, and a snapshot of a
    large team builds tens of thousands of them.
    """

    user_id: str
    group_id: str | None
    feature: str
    credit_type: str
    credits: int


class MemberSums(NamedTuple):
    """One user's credits in a period, by feature and by credit type.

    What the Analytics table shows of a member: the cells of a user summed
    over groups, once per feature and once per credit type. A key is present
    when some cell of the user has it.
    """

    by_feature: dict[str, int]
    by_credit_type: dict[str, int]


def member_sums(cells: Iterable[UsageCell]) -> dict[str, MemberSums]:
    """The :class:`MemberSums` of every user with a cell, keyed by user id."""
    return sum_by_member((c.user_id, c.feature, c.credit_type, c.credits) for c in cells)


def sum_by_member(rows: Iterable[Sequence[Any]]) -> dict[str, MemberSums]:
    """The :class:`MemberSums` of rows of (user_id, feature, credit_type, credits).

    Storages that sum cells without their group hand such rows over as they are.
    """
    sums: dict[str, MemberSums] = {}
    for user_id, feature, credit_type, credits in rows:
        found = sums.get(user_id)
        if found is None:
            found = sums[user_id] = MemberSums({}, {})
        by_feature, by_type = found
        by_feature[feature] = by_feature.get(feature, 0) + credits
        by_type[credit_type] = by_type.get(credit_type, 0) + credits
    return sums


def _key(by: Sequence[str]) -> Callable[[Any], tuple[Any, ...]]:
    if isinstance(by, str):
        by = (by,)
    unknown = [name for name in by if name not in DIMENSIONS]
    if unknown or not by:
        raise ValidationError(f"by must name some of {', '.join(DIMENSIONS)}, got {tuple(by)!r}")
    if len(by) == 1:
        single = attrgetter(by[0])
        return lambda item: (single(item),)
    return attrgetter(*by)


def aggregate(
    entries: Iterable[LedgerEntry], by: Sequence[str] = ("user_id",)
) -> dict[tuple[Any, ...], int]:
    """Net credits used, keyed by the tuple of the ``by`` fields.

    Args:
        entries: ledger entries of one team, in any order.
        by: fields among ``user_id``, ``group_id``, ``feature``, ``credit_type``.

    Returns:
        ``{(value, ...): credits}`` for every key with at least one usage or
        reversal entry.

    Raises:
        ValidationError: ``by`` names an unknown field.
    """
    key = _key(by)
    usage, reversal = EntryKind.USAGE, EntryKind.REVERSAL
    totals: defaultdict[tuple[Any, ...], int] = defaultdict(int)
    for entry in entries:
        kind = entry.kind
        if kind is usage:
            totals[key(entry)] += entry.amount
        elif kind is reversal:
            totals[key(entry)] -= entry.amount
    return dict(totals)


def sum_cells(
    cells: Iterable[UsageCell], by: Sequence[str] = ("user_id",)
) -> dict[tuple[Any, ...], int]:
    """Like :func:`aggregate`, over already aggregated :class:`UsageCell` values."""
    key = _key(by)
    totals: defaultdict[tuple[Any, ...], int] = defaultdict(int)
    for cell in cells:
        totals[key(cell)] += cell.credits
    return dict(totals)
