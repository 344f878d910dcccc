"""Values to rows and rows back to values.

Rows read back were validated when they were written, so members and
entries are rebuilt with their ``trusted`` constructors, skipping the
validation that dominated the cost of a large snapshot or export.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final, TypeVar, cast

import sqlalchemy as sa

from credit_usage.domain.aggregate import MemberSums, UsageCell
from credit_usage.domain.cycles import BillingSchedule
from credit_usage.domain.model import (
    DEFAULT_FEATURES,
    CreditLimit,
    EntryKind,
    FeatureSpec,
    LedgerEntry,
    LedgerRow,
    LimitScope,
    Member,
    Role,
    Team,
)

__all__ = [
    "EntryDecoder",
    "cells",
    "chunks",
    "credit_limit",
    "entry_row",
    "from_micros",
    "limit_key_values",
    "limit_values",
    "member",
    "member_values",
    "micros",
    "team",
    "team_values",
]

T = TypeVar("T")

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_KINDS: Final = {kind.value: kind for kind in EntryKind}
_ROLES: Final = {role.value: role for role in Role}


def micros(instant: datetime) -> int:
    """An aware datetime as exact microseconds since the Unix epoch."""
    return (instant - _EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    """Microseconds since the Unix epoch as an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=micros)


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def team(row: sa.Row[Any]) -> Team:
    """A team from a row of the teams table."""
    return Team(
        team_id=row.team_id,
        name=row.name,
        plan=row.plan,
        billing=BillingSchedule(anchor=row.billing_anchor, period=row.billing_period),
        credits_per_cycle=int(row.credits_per_cycle),
        timezone=row.timezone,
        credit_types=tuple(row.credit_types.split(",")),
        features=_features(row.features),
    )


class TeamDecoder:
    """Teams from rows of the teams table, each distinct row decoded (and validated) once.

    Every call reads its team's row; the row changes only when the team's
    settings do (its ledger position aside, which is not part of the key).
    """

    #: Distinct rows kept before the cache starts afresh.
    LIMIT: ClassVar[int] = 1024

    def __init__(self) -> None:
        self._known: dict[tuple[object, ...], Team] = {}

    def __call__(self, row: sa.Row[Any]) -> Team:
        key = (
            row.team_id,
            row.name,
            row.plan,
            row.billing_anchor,
            row.billing_period,
            row.credits_per_cycle,
            row.timezone,
            row.credit_types,
            row.features,
        )
        found = self._known.get(key)
        if found is None:
            if len(self._known) >= self.LIMIT:
                self._known.clear()
            found = self._known[key] = team(row)
        return found


def _features(stored: str | None) -> tuple[FeatureSpec, ...]:
    # NULL: a team stored before features were declared per team.
    if stored is None:
        return DEFAULT_FEATURES
    return tuple(FeatureSpec(value=value, label=label) for value, label in json.loads(stored))


def team_values(value: Team) -> dict[str, object]:
    """The columns of a team's row (its ledger position and volume aside)."""
    return {
        "team_id": value.team_id,
        "name": value.name,
        "plan": value.plan,
        "billing_anchor": value.billing.anchor,
        "billing_period": value.billing.period.value,
        "credits_per_cycle": value.credits_per_cycle,
        "timezone": value.timezone,
        "credit_types": ",".join(value.credit_types),
        "features": json.dumps([[f.value, f.label] for f in value.features]),
    }


def member(team_id: str, row: sa.Row[Any]) -> Member:
    """A member from a row of the members table."""
    return Member.trusted(
        team_id,
        row.user_id,
        row.name,
        row.email,
        _ROLES[row.role],
        row.group_id,
        # MariaDB returns BOOLEAN as 0/1.
        bool(row.active),
    )


def members(team_id: str, found: Iterable[Sequence[Any]]) -> list[Member]:
    """Members from raw rows of (user_id, name, email, role, group_id, active)."""
    trusted, roles = Member.trusted, _ROLES
    return [
        # MariaDB and SQLite return BOOLEAN as 0/1.
        trusted(team_id, user_id, name, email, roles[role], group_id, bool(active))
        for user_id, name, email, role, group_id, active in found
    ]


def member_values(value: Member) -> dict[str, object]:
    """The columns of a member's row."""
    return {
        "team_id": value.team_id,
        "user_id": value.user_id,
        "name": value.name,
        "email": value.email,
        "role": value.role.value,
        "group_id": value.group_id,
        "active": value.active,
    }


def limit_key_values(team_id: str, limit: CreditLimit) -> dict[str, object]:
    """The key columns of a limit's row ('' for all credit types)."""
    return {
        "team_id": team_id,
        "scope": limit.scope.value,
        "subject_id": limit.subject_id,
        "credit_type": limit.credit_type or "",
    }


def limit_values(team_id: str, limit: CreditLimit) -> dict[str, object]:
    """The columns of a limit's row."""
    return {**limit_key_values(team_id, limit), "credits": limit.credits}


def credit_limit(row: Sequence[Any]) -> CreditLimit:
    """A limit from (scope, subject_id, credit_type, credits)."""
    scope, subject_id, credit_type, credits = row
    return CreditLimit.trusted(LimitScope(scope), subject_id, int(credits), credit_type or None)


#: ``kind.value`` without the enum's descriptor: a bulk import reads it per entry.
_KIND_VALUES: Final = {kind: kind.value for kind in EntryKind}


def entry_row(team_id: str, seq: int, entry: LedgerEntry) -> tuple[object, ...]:
    """A ledger row, in the order of :data:`~credit_usage.adapters.sql.schema.LEDGER_ROW`."""
    recorded = entry.recorded_at
    return (
        team_id,
        seq,
        entry.entry_id,
        _KIND_VALUES[entry.kind],
        entry.user_id,
        entry.group_id,
        entry.feature,
        entry.credit_type,
        entry.amount,
        (entry.occurred_at - _EPOCH) // _MICROSECOND,
        None if recorded is None else (recorded - _EPOCH) // _MICROSECOND,
        entry.reverses,
    )


def ledger_rows(pages: Iterable[Iterable[Sequence[Any]]]) -> Iterator[LedgerRow]:
    """:data:`LedgerRow` values from raw rows of ``schema.ENTRY_COLUMNS`` (then ``seq``).

    The audit export's hot loop: no entry objects; the ``recorded_at`` an
    import's entries share is converted once.
    """
    last_recorded: int | None = None
    recorded_at: datetime | None = None
    epoch, tick = _EPOCH, _MICROSECOND
    for page in pages:
        # The order of ENTRY_COLUMNS.
        for (
            entry_id,
            kind,
            user_id,
            group_id,
            feature,
            credit_type,
            amount,
            occurred,
            recorded,
            reverses,
            *_,
        ) in page:
            if recorded != last_recorded:
                last_recorded = recorded
                recorded_at = None if recorded is None else epoch + tick * recorded
            yield (
                entry_id,
                kind,
                epoch + tick * occurred,
                recorded_at,
                user_id,
                group_id,
                feature,
                credit_type,
                int(amount),
                reverses,
            )


class EntryDecoder:
    """Turns rows that start with the columns of ``schema.ENTRY_COLUMNS`` into entries.

    Columns after those (a page's ``seq``) are ignored.

    Entries of one batch share their ``recorded_at``, so the last one
    converted is kept.
    """

    __slots__ = ("_recorded", "_recorded_at", "_team_id")

    def __init__(self, team_id: str) -> None:
        self._team_id = team_id
        self._recorded: int | None = None
        self._recorded_at: datetime | None = None

    def __call__(self, row: Sequence[Any]) -> LedgerEntry:
        # The order of ENTRY_COLUMNS.
        (
            entry_id,
            kind,
            user_id,
            group_id,
            feature,
            credit_type,
            amount,
            occurred,
            recorded,
            rev,
            *_,
        ) = row
        if recorded != self._recorded:
            self._recorded = recorded
            self._recorded_at = (
                None if recorded is None else _EPOCH + timedelta(microseconds=recorded)
            )
        return LedgerEntry.trusted(
            self._team_id,
            entry_id,
            _KINDS[kind],
            user_id,
            group_id,
            feature,
            credit_type,
            int(amount),
            _EPOCH + timedelta(microseconds=occurred),
            self._recorded_at,
            rev,
        )


def raw(result: sa.CursorResult[Any]) -> list[Any]:
    """The rows of ``result`` as the driver returns them, and the result closed.

    Skips SQLAlchemy's per-row work: only for columns that need no result
    processing (text and integers; a PostgreSQL ``SUM`` is cast to ``BIGINT``).
    """
    try:
        return cast(list[Any], result.cursor.fetchall())
    finally:
        result.close()


def split_member_sums(
    by_feature: Iterable[Sequence[Any]], by_type: Iterable[Sequence[Any]]
) -> dict[str, MemberSums]:
    """Per-user sums from rows of (user_id, feature, credits) and (user_id, credit_type, credits).

    A user's feature rows may come once per group they used it in: added up.
    """
    sums: dict[str, MemberSums] = {}
    for user_id, feature, credits in by_feature:
        found = sums.get(user_id)
        if found is None:
            sums[user_id] = MemberSums({feature: credits}, {})
        else:
            features = found.by_feature
            features[feature] = features.get(feature, 0) + credits
    for user_id, credit_type, credits in by_type:
        found = sums.get(user_id)
        if found is None:  # only if the figures disagree: verify() reports it
            found = sums[user_id] = MemberSums({}, {})
        found.by_credit_type[credit_type] = credits
    return sums


def cells(rows: Iterable[Sequence[Any]]) -> list[UsageCell]:
    """Usage cells from rows of (user_id, group_id, feature, credit_type, credits)."""
    # Positional: a snapshot of a large team builds tens of thousands of cells.
    # SUM() of a BIGINT is a DECIMAL on PostgreSQL and MariaDB, hence int().
    return [
        UsageCell(user_id, group_id or None, feature, credit_type, int(credits))
        for user_id, group_id, feature, credit_type, credits in rows
    ]
