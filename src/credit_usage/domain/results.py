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
from datetime import date
from typing import TYPE_CHECKING, Any, NamedTuple

from attrs import Factory, frozen

from credit_usage.domain.aggregate import MemberSums, UsageCell, member_sums
from credit_usage.domain.cycles import Cycle, DateRange
from credit_usage.domain.forecast import Forecast
from credit_usage.domain.model import (
    DEFAULT_FEATURES,
    CreditLimit,
    FeatureSpec,
    Group,
    LimitScope,
    Member,
    Role,
    Team,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "GroupUsage",
    "LimitState",
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

    ``used``, ``by_feature`` and ``by_credit_type`` cover the period. The
    limit figures cover the current cycle: ``limit`` is the credits of the
    member's user limit on all types (or ``None``) and ``limit_remaining``
    what is left of it, never below 0; ``limits_by_credit_type`` and
    ``limit_remaining_by_credit_type`` the same for per-type limits;
    ``over_limit`` is true when nothing is left under one of those limits
    (at or over it, as after a limit lowered below what was used).
    ``projected_used`` is the member's cycle usage at the pace so far and
    ``limit_runs_out_on`` the local day their all-types limit runs out at
    that pace; both only for members with such a limit, in a snapshot.
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
    limits_by_credit_type: dict[str, int] = Factory(dict)
    limit_remaining_by_credit_type: dict[str, int] = Factory(dict)
    over_limit: bool = False
    projected_used: int | None = None
    limit_runs_out_on: date | None = None


class LimitState(NamedTuple):
    """A member's user limits in the current cycle and what was used against them."""

    limit: int | None
    used: int
    limits_by_credit_type: Mapping[str, int]
    used_by_credit_type: Mapping[str, int]


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
    #: ``used`` at the cycle's end at the pace so far.
    projected_used: int | None = None
    #: The local day the pool runs out at that pace, or ``None`` if it lasts the cycle.
    runs_out_on: date | None = None


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
    #: The member's user limit on all types, and what is left of it in the current cycle.
    limit: int | None = None
    limit_remaining: int | None = None


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
    #: The group's limit on all types, shared by its members, per cycle.
    limit: int | None = None


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
    #: The team's credit limits when the report was made.
    limits: tuple[CreditLimit, ...] = ()

    @property
    def total(self) -> int:
        """Net credits used by the whole team in the period."""
        return sum(row.total for row in self.rows)

    def by_group(self) -> list[GroupUsage]:
        """Totals per group (by name; members without a group first, named "").

        Each group shows its limit on all types, if it has one.
        """
        group_limits = {
            limit.subject_id: limit.credits
            for limit in self.limits
            if limit.scope is LimitScope.GROUP and limit.credit_type is None
        }
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
                    limit=None if g.group_id is None else group_limits.get(g.group_id),
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
    """Per-user sums by feature and by credit type, as table rows with every column."""

    def __init__(
        self, sums: Mapping[str, MemberSums], credit_types: Iterable[str], features: Iterable[str]
    ) -> None:
        self._sums = sums
        self._types = tuple(credit_types)
        self._features = tuple(features)

    def usage(
        self, member: Member, state: LimitState | None = None, forecast: Forecast | None = None
    ) -> MemberUsage:
        by_feature = dict.fromkeys(self._features, 0)
        by_type = dict.fromkeys(self._types, 0)
        found = self._sums.get(member.user_id)
        if found is not None:
            by_feature.update(found.by_feature)
            by_type.update(found.by_credit_type)
        limits = {} if state is None else _limit_fields(state, forecast)
        return MemberUsage(
            user_id=member.user_id,
            name=member.name,
            email=member.email,
            role=member.role,
            group_id=member.group_id,
            used=sum(by_feature.values()),
            by_feature=by_feature,
            by_credit_type=by_type,
            **limits,
        )


def _limit_fields(state: LimitState, forecast: Forecast | None) -> dict[str, Any]:
    """The limit figures of a :class:`MemberUsage` from its :class:`LimitState`."""
    remaining_by_type = {
        credit_type: max(0, limit - state.used_by_credit_type.get(credit_type, 0))
        for credit_type, limit in state.limits_by_credit_type.items()
    }
    over = (state.limit is not None and state.used >= state.limit) or any(
        state.used_by_credit_type.get(credit_type, 0) >= limit
        for credit_type, limit in state.limits_by_credit_type.items()
    )
    return {
        "limit": state.limit,
        "limit_remaining": None if state.limit is None else max(0, state.limit - state.used),
        "limits_by_credit_type": dict(state.limits_by_credit_type),
        "limit_remaining_by_credit_type": remaining_by_type,
        "over_limit": over,
        "projected_used": None if forecast is None else forecast.projected_used,
        "limit_runs_out_on": None if forecast is None else forecast.runs_out_on,
    }


def _breakdown(team: Team, sums: Mapping[str, MemberSums]) -> _Breakdown:
    declared = set(team.feature_values)
    extra = sorted(
        {f for s in sums.values() for f, credits in s.by_feature.items() if credits} - declared
    )
    return _Breakdown(sums, team.credit_types, (*team.feature_values, *extra))


def build_member_usage(
    team: Team,
    member: Member,
    cells: Iterable[UsageCell],
    state: LimitState | None = None,
    forecast: Forecast | None = None,
) -> MemberUsage:
    """A member's :class:`MemberUsage` from their cells (other users' cells are ignored)."""
    mine = member_sums(cell for cell in cells if cell.user_id == member.user_id)
    return _breakdown(team, mine).usage(member, state, forecast)


def snapshot_members(
    team: Team,
    members: Iterable[Member],
    sums: Mapping[str, MemberSums],
    states: Mapping[str, LimitState] | None = None,
    forecasts: Mapping[str, Forecast] | None = None,
) -> list[MemberUsage]:
    """The Analytics table: active members, plus deactivated ones who used credits.

    ``states`` and ``forecasts`` give, by user id, the limits of the members
    who have some. Sorted by ``used`` descending, then name, then user id.
    """
    states = states or {}
    forecasts = forecasts or {}
    breakdown = _breakdown(team, sums)
    rows = []
    for member in members:
        user_id = member.user_id
        usage = breakdown.usage(member, states.get(user_id), forecasts.get(user_id))
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
    *,
    limits: Iterable[CreditLimit] = (),
    states: Mapping[str, LimitState] | None = None,
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

    states = states or {}
    rows = []
    for (user_id, group_id, credit_type), by_feature in cells_by_row.items():
        member = members_by_id[user_id]
        state = states.get(user_id)
        limit = None if state is None else state.limit
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
                limit=limit,
                limit_remaining=None
                if state is None or limit is None
                else max(0, limit - state.used),
            )
        )
    rows.sort(key=lambda r: (r.group_name, r.group_id or "", r.name, r.user_id, r.credit_type))
    return Report(
        team_id=team.team_id,
        period=period,
        rows=rows,
        features=features,
        limits=tuple(limits),
    )
