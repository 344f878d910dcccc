"""The value types of credit_usage: teams, members, groups, limits, ledger entries.

Every type is a frozen attrs class with keyword-only arguments, validated on
construction: an invalid value cannot exist. Arguments typed with an enum also
accept the enum's string value, so hosts can pass JSON straight through.

Plans and features are the host's own slugs: :class:`Plan` and
:class:`Feature` name the defaults (the four plans and four features of a
typical B2B product), and a team declares its features in ``Team.features``.
Values are stored as plain strings, so ``Feature.API == "api"`` either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, tzinfo
from enum import StrEnum
from typing import Final

from attrs import field, fields, frozen

from credit_usage.domain.cycles import BillingSchedule, Cycle
from credit_usage.domain.validation import (
    require_aware,
    require_credits,
    require_email,
    require_id,
    require_optional_aware,
    require_optional_id,
    require_slug,
    require_text,
    require_zone,
    to_enum,
    zone,
)
from credit_usage.errors import ValidationError

__all__ = [
    "DEFAULT_FEATURES",
    "CreditLimit",
    "EntryKind",
    "Feature",
    "FeatureSpec",
    "Frequency",
    "Group",
    "LedgerEntry",
    "LedgerRow",
    "LimitScope",
    "Member",
    "Plan",
    "Role",
    "Team",
    "ledger_row",
]


class Role(StrEnum):
    """What a member may do. The role is always read from storage."""

    ADMIN = "admin"
    MANAGER = "manager"
    MEMBER = "member"


class Plan(StrEnum):
    """Constants for the usual plans; ``Team.plan`` is any slug the host names.

    Which plans get team views, exports, limits and reports is the
    ``eligible_plans`` setting of :class:`~credit_usage.CreditUsage`
    (default Pro, Premium and Scale).
    """

    FREE = "free"
    PRO = "pro"
    PREMIUM = "premium"
    SCALE = "scale"


class Feature(StrEnum):
    """The values of the default features; a team may declare others (``Team.features``)."""

    PLATFORM = "platform"
    EXTENSION = "extension"
    API = "api"
    WORKSPACE = "workspace"

    @property
    def label(self) -> str:
        """The column heading users read: "Platform", "Extension", "API", "Workspace"."""
        return _FEATURE_LABELS[self]


_FEATURE_LABELS = {
    Feature.PLATFORM: "Platform",
    Feature.EXTENSION: "Extension",
    Feature.API: "API",
    Feature.WORKSPACE: "Workspace",
}


class LimitScope(StrEnum):
    """Whom a credit limit caps."""

    USER = "user"
    GROUP = "group"


class Frequency(StrEnum):
    """How often a scheduled report is sent."""

    WEEKLY = "weekly"
    MONTHLY = "monthly"


class EntryKind(StrEnum):
    """What a ledger entry records."""

    USAGE = "usage"
    GRANT = "grant"
    REVERSAL = "reversal"


# Named converters (rather than a factory) so that mypy's attrs plugin can see
# the accepted input types.
def _role(value: Role | str) -> Role:
    return to_enum(Role, value)


def _slug_value(what: str, value: object) -> str:
    """A slug as a plain ``str`` (a ``StrEnum`` member gives its value)."""
    return require_slug(what, value.value if isinstance(value, StrEnum) else value)


def _plan(value: Plan | str) -> str:
    return _slug_value("plan", value)


def _optional_feature(value: Feature | str | None) -> str | None:
    return None if value is None else _slug_value("feature", value)


def _feature_value(value: Feature | str) -> str:
    return _slug_value("feature", value)


def _label(value: str) -> str:
    return require_text("label", value)


def _scope(value: LimitScope | str) -> LimitScope:
    return to_enum(LimitScope, value)


def _kind(value: EntryKind | str) -> EntryKind:
    return to_enum(EntryKind, value)


def _team_id(value: str) -> str:
    return require_id("team_id", value)


def _user_id(value: str) -> str:
    return require_id("user_id", value)


def _group_id(value: str) -> str:
    return require_id("group_id", value)


def _optional_group_id(value: str | None) -> str | None:
    return require_optional_id("group_id", value)


def _name(value: str) -> str:
    return require_text("name", value)


def _email(value: str) -> str:
    return require_email(value)


def _timezone(value: str) -> str:
    return require_zone(value)


def _credit_types(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise ValidationError(f"credit_types must be a sequence of slugs, got {value!r}")
    types = tuple(require_slug("credit type", t) for t in value)
    if not types:
        raise ValidationError("credit_types must declare at least one credit type, got ()")
    if len(set(types)) != len(types):
        raise ValidationError(f"credit_types must not repeat a type, got {types!r}")
    return types


def _per_cycle(value: int) -> int:
    return require_credits("credits_per_cycle", value, minimum=0)


def _billing(value: BillingSchedule) -> BillingSchedule:
    if not isinstance(value, BillingSchedule):
        raise ValidationError(f"billing must be a BillingSchedule, got {value!r}")
    return value


def _bool(what: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{what} must be True or False, got {value!r}")
    return value


def _active(value: bool) -> bool:
    return _bool("active", value)


@frozen(kw_only=True)
class FeatureSpec:
    """A feature a team declares: where credits are spent, and its column heading.

    ``value`` is a slug stored with every entry; ``label`` any text shown in
    reports (CSV column headings are made safe for spreadsheets).
    """

    value: str = field(converter=_feature_value)
    label: str = field(converter=_label)


#: The default features: Platform, Extension, API and Workspace.
DEFAULT_FEATURES: tuple[FeatureSpec, ...] = tuple(
    FeatureSpec(value=feature.value, label=label) for feature, label in _FEATURE_LABELS.items()
)
#: The most features a team may declare.
MAX_FEATURES = 64


def _features(value: Iterable[FeatureSpec]) -> tuple[FeatureSpec, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValidationError(f"features must be a sequence of FeatureSpec, got {value!r}")
    features = tuple(value)
    for spec in features:
        if not isinstance(spec, FeatureSpec):
            raise ValidationError(f"features must be FeatureSpec values, got {spec!r}")
    if not features:
        raise ValidationError("features must declare at least one feature, got ()")
    if len(features) > MAX_FEATURES:
        raise ValidationError(
            f"features must declare at most {MAX_FEATURES} features, got {len(features)}"
        )
    for what, seen in (
        ("value", [f.value for f in features]),
        ("label", [f.label for f in features]),
    ):
        repeated = sorted({x for x in seen if seen.count(x) > 1})
        if repeated:
            raise ValidationError(f"features must not repeat a {what}, got {repeated!r} twice")
    return features


# Frozen attrs classes refuse attribute assignment; object's own setter is how
# the ``trusted`` constructors fill the slots without running ``__init__``.
_set = object.__setattr__


@frozen(kw_only=True)
class Team:
    """A customer team with a plan, a billing schedule and a credit pool per cycle."""

    team_id: str = field(converter=_team_id)
    name: str = field(converter=_name)
    plan: str = field(converter=_plan)
    billing: BillingSchedule = field(converter=_billing)
    credits_per_cycle: int = field(converter=_per_cycle)
    timezone: str = field(default="UTC", converter=_timezone)
    credit_types: tuple[str, ...] = field(default=("standard",), converter=_credit_types)
    features: tuple[FeatureSpec, ...] = field(default=DEFAULT_FEATURES, converter=_features)

    @property
    def tz(self) -> tzinfo:
        """The team's time zone."""
        return zone(self.timezone)

    def cycle_at(self, instant: datetime) -> Cycle:
        """The billing cycle that contains ``instant``."""
        return self.billing.cycle_at(instant, self.tz)

    def cycles_between(self, start: datetime, end: datetime) -> list[Cycle]:
        """Every billing cycle that overlaps ``[start, end)``."""
        return self.billing.cycles_between(start, end, self.tz)

    def local_day(self, instant: datetime) -> date:
        """The calendar day ``instant`` falls on in the team's time zone."""
        return require_aware("instant", instant).astimezone(self.tz).date()

    def require_credit_type(self, credit_type: str) -> str:
        """Return ``credit_type`` if the team declared it, else raise."""
        if credit_type not in self.credit_types:
            raise ValidationError(
                f"credit type {credit_type!r} is not declared by team {self.team_id!r} "
                f"(declared: {', '.join(self.credit_types)})"
            )
        return credit_type

    @property
    def feature_values(self) -> tuple[str, ...]:
        """The values of the declared features, in their declared order."""
        return tuple(spec.value for spec in self.features)

    def require_feature(self, feature: str) -> str:
        """Return ``feature`` if the team declared it, else raise."""
        if feature not in self.feature_values:
            raise ValidationError(
                f"feature {feature!r} is not declared by team {self.team_id!r} "
                f"(declared: {', '.join(self.feature_values)})"
            )
        return feature


@frozen(kw_only=True)
class Group:
    """A named set of members, such as "Sales EMEA"."""

    team_id: str = field(converter=_team_id)
    group_id: str = field(converter=_group_id)
    name: str = field(converter=_name)


@frozen(kw_only=True)
class Member:
    """A user of a team. ``name`` may hold any text; CSV writers make it safe."""

    team_id: str = field(converter=_team_id)
    user_id: str = field(converter=_user_id)
    name: str = field(converter=_name)
    email: str = field(converter=_email)
    role: Role = field(converter=_role)
    group_id: str | None = field(default=None, converter=_optional_group_id)
    active: bool = field(default=True, converter=_active)

    @classmethod
    def trusted(
        cls,
        team_id: str,
        user_id: str,
        name: str,
        email: str,
        role: Role,
        group_id: str | None,
        active: bool,
    ) -> Member:
        """Rebuild a member from values validated when it was stored (for adapters).

        Skips ``__init__``'s validation: a snapshot of a large team reads
        every member, and checking each email again is wasted work.
        """
        member = object.__new__(cls)
        _set(member, "team_id", team_id)
        _set(member, "user_id", user_id)
        _set(member, "name", name)
        _set(member, "email", email)
        _set(member, "role", role)
        _set(member, "group_id", group_id)
        _set(member, "active", active)
        return member


def _subject_id(value: str) -> str:
    return require_id("subject_id", value)


def _limit_credits(value: int) -> int:
    return require_credits("credits", value, minimum=0)


def _optional_credit_type(value: str | None) -> str | None:
    return None if value is None else require_slug("credit type", value)


@frozen(kw_only=True)
class CreditLimit:
    """A cap on what a user or group may spend per billing cycle.

    ``credit_type=None`` caps all credit types together.
    """

    scope: LimitScope = field(converter=_scope)
    subject_id: str = field(converter=_subject_id)
    credits: int = field(converter=_limit_credits)
    credit_type: str | None = field(default=None, converter=_optional_credit_type)

    @classmethod
    def trusted(
        cls, scope: LimitScope, subject_id: str, credits: int, credit_type: str | None
    ) -> CreditLimit:
        """Rebuild a limit from values validated when it was stored (for adapters).

        Skips ``__init__``'s validation: every write reads the limits it checks.
        """
        limit = object.__new__(cls)
        _set(limit, "scope", scope)
        _set(limit, "subject_id", subject_id)
        _set(limit, "credits", credits)
        _set(limit, "credit_type", credit_type)
        return limit


def _entry_id(value: str) -> str:
    return require_id("entry_id", value)


def _optional_user_id(value: str | None) -> str | None:
    return require_optional_id("user_id", value)


def _amount(value: int) -> int:
    return require_credits("amount", value, minimum=1)


def _occurred_at(value: datetime) -> datetime:
    return require_aware("occurred_at", value)


def _recorded_at(value: datetime | None) -> datetime | None:
    return require_optional_aware("recorded_at", value)


def _reverses(value: str | None) -> str | None:
    return require_optional_id("reverses", value)


@frozen(kw_only=True)
class LedgerEntry:
    """One append-only line of a team's credit ledger.

    ``usage`` spends credits, ``reversal`` refunds (part of) one usage entry
    and ``grant`` adds credits to the team's pool for the cycle it falls in.
    A grant has no user, group, feature or credit type. Datetimes are stored
    in UTC; ``recorded_at`` is set by the service when left ``None``.
    """

    team_id: str = field(converter=_team_id)
    entry_id: str = field(converter=_entry_id)
    kind: EntryKind = field(converter=_kind)
    user_id: str | None = field(converter=_optional_user_id)
    group_id: str | None = field(converter=_optional_group_id)
    feature: str | None = field(converter=_optional_feature)
    credit_type: str | None = field(converter=_optional_credit_type)
    amount: int = field(converter=_amount)
    occurred_at: datetime = field(converter=_occurred_at)
    recorded_at: datetime | None = field(default=None, converter=_recorded_at)
    reverses: str | None = field(default=None, converter=_reverses)

    def __attrs_post_init__(self) -> None:
        if self.kind is EntryKind.GRANT:
            extra = {
                name: value
                for name, value in (
                    ("user_id", self.user_id),
                    ("group_id", self.group_id),
                    ("feature", self.feature),
                    ("credit_type", self.credit_type),
                    ("reverses", self.reverses),
                )
                if value is not None
            }
            if extra:
                raise ValidationError(
                    f"grant {self.entry_id!r} must not carry {', '.join(sorted(extra))}, "
                    f"got {extra!r}"
                )
            return
        for name, value in (
            ("user_id", self.user_id),
            ("feature", self.feature),
            ("credit_type", self.credit_type),
        ):
            if value is None:
                raise ValidationError(f"{self.kind} entry {self.entry_id!r} needs a {name}")
        if self.kind is EntryKind.REVERSAL and self.reverses is None:
            raise ValidationError(f"reversal {self.entry_id!r} must name the entry it reverses")
        if self.kind is EntryKind.USAGE and self.reverses is not None:
            raise ValidationError(
                f"usage {self.entry_id!r} cannot reverse another entry, got {self.reverses!r}"
            )

    @classmethod
    def trusted(
        cls,
        team_id: str,
        entry_id: str,
        kind: EntryKind,
        user_id: str | None,
        group_id: str | None,
        feature: str | None,
        credit_type: str | None,
        amount: int,
        occurred_at: datetime,
        recorded_at: datetime | None,
        reverses: str | None,
    ) -> LedgerEntry:
        """Rebuild an entry from values that were validated when it was written.

        For storage adapters reading their own rows back: it skips the
        validation of ``__init__``, which dominates the cost of streaming a
        million entries. The arguments must already have the right types
        (enums as members, datetimes aware in UTC).
        """
        entry = object.__new__(cls)
        # Each slot's own setter: a third faster than object.__setattr__ by name.
        (
            set_team_id,
            set_entry_id,
            set_kind,
            set_user_id,
            set_group_id,
            set_feature,
            set_credit_type,
            set_amount,
            set_occurred_at,
            set_recorded_at,
            set_reverses,
        ) = _ENTRY_SLOTS
        set_team_id(entry, team_id)
        set_entry_id(entry, entry_id)
        set_kind(entry, kind)
        set_user_id(entry, user_id)
        set_group_id(entry, group_id)
        set_feature(entry, feature)
        set_credit_type(entry, credit_type)
        set_amount(entry, amount)
        set_occurred_at(entry, occurred_at)
        set_recorded_at(entry, recorded_at)
        set_reverses(entry, reverses)
        return entry

    def recorded(self, at: datetime) -> LedgerEntry:
        """This entry with ``recorded_at`` set to ``at`` (an aware datetime).

        The other fields were validated when this entry was built, so only
        ``at`` is checked.
        """
        return self._stamped(require_aware("recorded_at", at))

    @classmethod
    def all_recorded(cls, entries: Iterable[LedgerEntry], at: datetime) -> list[LedgerEntry]:
        """``entries``, each without a ``recorded_at`` given ``at`` (checked once).

        What a bulk import does to every entry of a batch.
        """
        stamp = require_aware("recorded_at", at)
        return [e if e.recorded_at is not None else e._stamped(stamp) for e in entries]

    def _stamped(self, at: datetime) -> LedgerEntry:
        return LedgerEntry.trusted(
            self.team_id,
            self.entry_id,
            self.kind,
            self.user_id,
            self.group_id,
            self.feature,
            self.credit_type,
            self.amount,
            self.occurred_at,
            at,
            self.reverses,
        )

    @property
    def usage_delta(self) -> int:
        """What this entry adds to ``used``: +amount, -amount, or 0 for grants."""
        if self.kind is EntryKind.USAGE:
            return self.amount
        if self.kind is EntryKind.REVERSAL:
            return -self.amount
        return 0

    def same_payload(self, other: LedgerEntry) -> bool:
        """True when ``other`` records the same fact (``recorded_at`` aside)."""
        return (
            self.team_id == other.team_id
            and self.entry_id == other.entry_id
            and self.kind is other.kind
            and self.user_id == other.user_id
            and self.group_id == other.group_id
            and self.feature == other.feature
            and self.credit_type == other.credit_type
            and self.amount == other.amount
            and self.occurred_at == other.occurred_at
            and self.reverses == other.reverses
        )


#: The setters of :class:`LedgerEntry`'s slots, in field order (for ``trusted``).
_ENTRY_SLOTS: Final = tuple(getattr(LedgerEntry, a.name).__set__ for a in fields(LedgerEntry))


#: A ledger entry as a row of the audit export: ``(entry_id, kind, occurred_at,
#: recorded_at, user_id, group_id, feature, credit_type, amount, reverses)``,
#: ``kind`` as its value, datetimes aware (UTC), ``None`` where there is no value.
LedgerRow = tuple[
    str,
    str,
    datetime,
    datetime | None,
    str | None,
    str | None,
    str | None,
    str | None,
    int,
    str | None,
]


def ledger_row(entry: LedgerEntry) -> LedgerRow:
    """``entry`` as a :data:`LedgerRow`."""
    return (
        entry.entry_id,
        entry.kind.value,
        entry.occurred_at,
        entry.recorded_at,
        entry.user_id,
        entry.group_id,
        entry.feature,
        entry.credit_type,
        entry.amount,
        entry.reverses,
    )
