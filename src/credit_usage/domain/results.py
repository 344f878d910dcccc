"""What the reads return -- snapshots, member usage and reports -- and how they are built.

The builders are pure: they take a team's members and groups and the
:class:`~credit_usage.domain.aggregate.UsageCell` values storage summed for a
period, and lay them out the way an Admin reads them.

Breakdowns by feature follow the team's declared features, in their order;
a feature the team no longer declares but that has usage in the period is
shown after them (labelled by its value), so every breakdown still adds up
to the team's total.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from attrs import frozen

from credit_usage.domain.aggregate import UsageCell
from credit_usage.domain.cycles import Cycle, DateRange
from credit_usage.domain.model import DEFAULT_FEATURES, FeatureSpec, Group, Member, Role, Team

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "GroupUsage",
    "LongRow",
    "MemberUsage",
    "Report",
    "ReportRow",
    "Snapshot",
    "build_member_usage",
    "build_report",
    "report_features",
    "snapshot_members",
]


def report_features(team: Team, cells: Iterable[UsageCell]) -> tuple[FeatureSpec, ...]:
    """The feature columns of a breakdown: the team's, then undeclared ones that have usage."""
    declared = set(team.feature_values)
    extra = sorted({c.feature for c in cells if c.credits and c.feature not in declared})
    return team.features + tuple(FeatureSpec(value=value, label=value) for value in extra)


@frozen(kw_only=True)
class MemberUsage:
    """One member's usage in a period, as a row of the Analytics table.

    ``limit`` is the credits of the member's user-scope, all-types limit (or
    ``None``); ``limit_remaining`` what is left of it in the cycle.
    """

    user_id: str
    name: str
    email: str
    role: Role
    group_id: str | None
    used: int
    by_feature: dict[str, int]
    by_credit_type: dict[str, int]
    limit: int | None = None
    limit_remaining: int | None = None


@frozen(kw_only=True)
class Snapshot:
    """The live Analytics view of the current billing cycle.

    ``total_credits``, ``used`` and ``remaining`` cover the whole cycle so far;
    ``members`` covers ``date_range`` (the whole cycle when it is ``None``).
    """

    team_id: str
    cycle: Cycle
    date_range: DateRange | None
    total_credits: int
    used: int
    remaining: int
    members: list[MemberUsage]


@frozen(kw_only=True)
class ReportRow:
    """One member x group at the time of use x credit type, with per-feature columns."""

    user_id: str
    name: str
    email: str
    group_id: str | None
    group_name: str
    role: Role
    credit_type: str
    by_feature: dict[str, int]
    total: int


@frozen(kw_only=True)
class LongRow:
    """One non-zero cell of a report in tidy (long) form."""

    user_id: str
    name: str
    email: str
    group_id: str | None
    group_name: str
    feature: str
    credit_type: str
    credits: int


@frozen(kw_only=True)
class GroupUsage:
    """A group's usage in a report; members with no group are under ``group_id=None``."""

    group_id: str | None
    name: str
    total: int
    by_feature: dict[str, int]
    by_credit_type: dict[str, int]


@frozen(kw_only=True)
class Report:
    """Usage of a team for any period, one :class:`ReportRow` per member x group x credit type.

    ``features`` are the report's feature columns, in order: the team's
    declared features, then any undeclared one with usage in the period.
    """

    team_id: str
    period: DateRange
    rows: list[ReportRow]
    features: tuple[FeatureSpec, ...] = DEFAULT_FEATURES

    @property
    def total(self) -> int:
        """Net credits used by the whole team in the period."""
        return sum(row.total for row in self.rows)

    def by_group(self) -> list[GroupUsage]:
        """Totals per group (by name; members without a group first, named "")."""
        groups: dict[str | None, GroupUsage] = {}
        for row in self.rows:
            usage = groups.get(row.group_id)
            if usage is None:
                usage = groups[row.group_id] = GroupUsage(
                    group_id=row.group_id,
                    name=row.group_name,
                    total=0,
                    by_feature=dict.fromkeys((f.value for f in self.features), 0),
                    by_credit_type={},
                )
            for feature, credits in row.by_feature.items():
                usage.by_feature[feature] += credits
            usage.by_credit_type[row.credit_type] = (
                usage.by_credit_type.get(row.credit_type, 0) + row.total
            )
        return sorted(
            (
                GroupUsage(
                    group_id=g.group_id,
                    name=g.name,
                    total=sum(g.by_feature.values()),
                    by_feature=g.by_feature,
                    by_credit_type=dict(sorted(g.by_credit_type.items())),
                )
                for g in groups.values()
            ),
            key=lambda g: (g.name, g.group_id or ""),
        )

    def long_rows(self) -> list[LongRow]:
        """The non-zero cells in tidy form, in the report's order, features in column order."""
        return [
            LongRow(
                user_id=row.user_id,
                name=row.name,
                email=row.email,
                group_id=row.group_id,
                group_name=row.group_name,
                feature=feature,
                credit_type=row.credit_type,
                credits=credits,
            )
            for row in self.rows
            for feature, credits in row.by_feature.items()
            if credits
        ]

    @property
    def feature_labels(self) -> dict[str, str]:
        """The label of each feature column, by value."""
        return {f.value: f.label for f in self.features}

    def to_dataframe(self) -> pd.DataFrame:
        """The wide rows as a :class:`pandas.DataFrame` (needs the ``pandas`` extra).

        Raises:
            ImportError: pandas is not installed; the message says how to install it.
        """
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "Report.to_dataframe() needs pandas; install it with "
                "pip install 'credit_usage[pandas]'"
            ) from None
        columns = ["user_id", "name", "email", "group_id", "group", "role", "credit_type"]
        columns += [feature.label for feature in self.features] + ["total"]
        records: list[list[Any]] = [
            [
                row.user_id,
                row.name,
                row.email,
                row.group_id,
                row.group_name,
                row.role.value,
                row.credit_type,
                *(row.by_feature.get(feature.value, 0) for feature in self.features),
                row.total,
            ]
            for row in self.rows
        ]
        return pd.DataFrame.from_records(records, columns=columns)


class _Breakdown:
    """Per-user sums by feature and by credit type, in one pass over the cells."""

    def __init__(
        self, cells: Iterable[UsageCell], credit_types: Iterable[str], features: Iterable[str]
    ) -> None:
        self._types = tuple(credit_types)
        self._features = tuple(features)
        self.by_feature: dict[str, dict[str, int]] = {}
        self.by_type: dict[str, dict[str, int]] = {}
        for user_id, _group_id, feature, credit_type, credits in cells:
            by_feature = self.by_feature.get(user_id)
            if by_feature is None:
                by_feature = self.by_feature[user_id] = dict.fromkeys(self._features, 0)
                self.by_type[user_id] = dict.fromkeys(self._types, 0)
            by_feature[feature] = by_feature.get(feature, 0) + credits
            types = self.by_type[user_id]
            types[credit_type] = types.get(credit_type, 0) + credits

    def usage(
        self, member: Member, *, limit: int | None = None, used_in_cycle: int = 0
    ) -> MemberUsage:
        by_feature = self.by_feature.get(member.user_id) or dict.fromkeys(self._features, 0)
        return MemberUsage(
            user_id=member.user_id,
            name=member.name,
            email=member.email,
            role=member.role,
            group_id=member.group_id,
            used=sum(by_feature.values()),
            by_feature=by_feature,
            by_credit_type=self.by_type.get(member.user_id) or dict.fromkeys(self._types, 0),
            limit=limit,
            limit_remaining=None if limit is None else max(0, limit - used_in_cycle),
        )


def _breakdown(team: Team, cells: Iterable[UsageCell]) -> _Breakdown:
    cells = list(cells)
    columns = (f.value for f in report_features(team, cells))
    return _Breakdown(cells, team.credit_types, columns)


def build_member_usage(
    team: Team,
    member: Member,
    cells: Iterable[UsageCell],
    *,
    limit: int | None = None,
    used_in_cycle: int = 0,
) -> MemberUsage:
    """A member's :class:`MemberUsage` from their cells (other users' cells are ignored)."""
    mine = [cell for cell in cells if cell.user_id == member.user_id]
    return _breakdown(team, mine).usage(member, limit=limit, used_in_cycle=used_in_cycle)


def snapshot_members(
    team: Team,
    members: Iterable[Member],
    cells: Iterable[UsageCell],
    *,
    limits: Mapping[str, int] | None = None,
    used_in_cycle: Mapping[str, int] | None = None,
) -> list[MemberUsage]:
    """The Analytics table: active members, plus deactivated ones who used credits.

    Sorted by ``used`` descending, then name, then user id.
    """
    limits = limits or {}
    used_in_cycle = used_in_cycle or {}
    breakdown = _breakdown(team, cells)
    rows = []
    for member in members:
        usage = breakdown.usage(
            member,
            limit=limits.get(member.user_id),
            used_in_cycle=used_in_cycle.get(member.user_id, 0),
        )
        if member.active or usage.used:
            rows.append(usage)
    rows.sort(key=lambda u: (-u.used, u.name, u.user_id))
    return rows


def build_report(
    team: Team,
    period: DateRange,
    members: Iterable[Member],
    groups: Mapping[str, Group],
    cells: Iterable[UsageCell],
) -> Report:
    """The usage report of ``period`` from its cells.

    Every active member and every member with usage appears; each gets a row
    for every declared credit type (a zero row under their current group
    when they did not use it) and for any other type they used. Rows are
    ordered by group name, member name, user id and credit type.
    """
    cells = list(cells)
    features = report_features(team, cells)
    values = tuple(f.value for f in features)
    members_by_id = {m.user_id: m for m in members}

    def zero() -> dict[str, int]:
        return dict.fromkeys(values, 0)

    cells_by_row: defaultdict[tuple[str, str | None, str], dict[str, int]] = defaultdict(zero)
    for cell in cells:
        if cell.credits and cell.user_id in members_by_id:
            cells_by_row[(cell.user_id, cell.group_id, cell.credit_type)][cell.feature] += (
                cell.credits
            )
    used_types: defaultdict[str, set[str]] = defaultdict(set)
    for user_id, _, credit_type in cells_by_row:
        used_types[user_id].add(credit_type)
    for member in members_by_id.values():
        if not member.active and member.user_id not in used_types:
            continue
        for credit_type in team.credit_types:
            if credit_type not in used_types[member.user_id]:
                cells_by_row[(member.user_id, member.group_id, credit_type)] = zero()

    def group_name(group_id: str | None) -> str:
        group = groups.get(group_id) if group_id is not None else None
        return group.name if group is not None else ""

    rows = []
    for (user_id, group_id, credit_type), by_feature in cells_by_row.items():
        member = members_by_id[user_id]
        rows.append(
            ReportRow(
                user_id=user_id,
                name=member.name,
                email=member.email,
                group_id=group_id,
                group_name=group_name(group_id),
                role=member.role,
                credit_type=credit_type,
                by_feature=by_feature,
                total=sum(by_feature.values()),
            )
        )
    rows.sort(key=lambda r: (r.group_name, r.group_id or "", r.name, r.user_id, r.credit_type))
    return Report(team_id=team.team_id, period=period, rows=rows, features=features)
