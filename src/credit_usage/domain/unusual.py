"""Unusual usage: findings that let an Admin spot heavy spending before the credits run out.

:func:`find_unusual` applies four pure rules to what a team's members used in a
period and returns one :class:`Finding` per thing worth a look:

* ``over_limit`` / ``near_limit``: a user or group limit used up, or nearly.
* ``peer_outlier``: a member far above the team's median, by a robust z-score.
* ``above_own_history``: a member on pace for far more than their own
  previous cycles.

Every comparison is made in exact rational arithmetic (:class:`fractions.Fraction`).
A float parameter is read as the decimal it prints as (``0.8`` is 4/5, not
the binary float just above it), so a value exactly on a threshold meets it:
80 of a 100-credit limit is 80%, so ``near_limit=0.8`` reports it. The
``baseline`` and ``ratio`` of a finding are floats, for display and sorting.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from fractions import Fraction

from attrs import field, frozen

from credit_usage.domain.model import LimitScope
from credit_usage.domain.validation import require_credits, require_id, require_slug, to_enum
from credit_usage.errors import ValidationError

__all__ = ["MAD_SCALE", "Finding", "FindingKind", "LimitUsage", "find_unusual"]

#: Scales a median absolute deviation to a standard deviation's units
#: (0.6745 ≈ the 75th percentile of the standard normal distribution), so a
#: robust z-score reads like an ordinary one on normally spread usage.
MAD_SCALE = Fraction("0.6745")


class FindingKind(StrEnum):
    """What a finding is about; :func:`find_unusual` lists them in this order."""

    OVER_LIMIT = "over_limit"
    NEAR_LIMIT = "near_limit"
    PEER_OUTLIER = "peer_outlier"
    ABOVE_OWN_HISTORY = "above_own_history"


_RANK = {kind: rank for rank, kind in enumerate(FindingKind)}


@frozen(kw_only=True)
class Finding:
    """One unusual thing about a member's (or a group's) usage, with the numbers behind it.

    ``used`` is the credits behind the finding: the member's usage in the
    period, or for a limit what was counted against it in the cycle.
    ``baseline`` is what it is compared with: the team's median
    (``peer_outlier``), the mean of the previous cycles (``above_own_history``)
    or the limit (``near_limit``, ``over_limit``). ``ratio`` is the robust
    z-score, the pace over that mean, or used over the limit (infinite for a
    limit of 0). ``message`` is one line an Admin reads, stating these numbers.
    A group-scope limit finding has ``user_id=None`` and the ``group_id``;
    ``credit_type`` is the credit type of a per-type limit (``None`` otherwise).
    """

    user_id: str | None
    kind: FindingKind
    used: int
    baseline: float
    ratio: float
    message: str
    group_id: str | None = None
    credit_type: str | None = None


def _scope(value: LimitScope | str) -> LimitScope:
    return to_enum(LimitScope, value)


def _subject_id(value: str) -> str:
    return require_id("subject_id", value)


def _optional_credit_type(value: str | None) -> str | None:
    return None if value is None else require_slug("credit type", value)


def _limit(value: int) -> int:
    return require_credits("limit", value, minimum=0)


def _used(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"used must be an integer, got {value!r}", field="used")
    return value


@frozen(kw_only=True)
class LimitUsage:
    """A credit limit and what was used against it in the current cycle.

    ``used`` may exceed ``limit`` (a limit lowered below what was used) and
    may be negative (reversals of usage from an earlier cycle).
    """

    scope: LimitScope = field(converter=_scope)
    subject_id: str = field(converter=_subject_id)
    credit_type: str | None = field(default=None, converter=_optional_credit_type)
    limit: int = field(converter=_limit)
    used: int = field(converter=_used)


# A finding and the key that orders it: kind, exact ratio descending, subject.
_Ranked = tuple[tuple[object, ...], Finding]


def find_unusual(
    usage: Mapping[str, int],
    *,
    names: Mapping[str, str] | None = None,
    history: Mapping[str, Sequence[int]] | None = None,
    elapsed: float = 1.0,
    limits: Sequence[LimitUsage] = (),
    z_threshold: float = 3.5,
    history_ratio: float = 2.0,
    history_cycles: int = 3,
    near_limit: float = 0.75,
    min_members: int = 5,
    min_elapsed: float = 0.1,
) -> list[Finding]:
    """The unusual usage of a team's members in a period, most urgent first.

    Args:
        usage: every member considered -> net credits used in the period
            (zeros included; negative when reversals outweigh usage).
        names: user id -> display name for the messages (the id when absent).
        history: user id -> net usage of whole previous cycles, oldest first.
        elapsed: the share of the current cycle elapsed, 0 < elapsed <= 1
            (1 for a whole past period).
        limits: the limits in force and what was used against each this cycle.
        z_threshold: the robust z-score from which a member is a peer outlier.
        history_ratio: how many times the mean of the previous cycles a
            member's pace must reach to be above their own history.
        history_cycles: how many previous cycles that mean covers.
        near_limit: the share of a limit from which usage is near it.
        min_members: how many members must use something other than the
            team's median before peer statistics are made.
        min_elapsed: the share of the cycle before which no pace is extrapolated.

    The rules:

    * ``over_limit``: ``used >= limit`` and ``used > 0``. A limit of 0 with
      nothing used is no finding; with anything used it is over (ratio ``inf``).
      ``near_limit``: ``near_limit * limit <= used < limit``. At most one
      finding per limit, over before near. A user-scope limit gives
      ``user_id=subject_id``, a group-scope one ``user_id=None`` and
      ``group_id=subject_id``.
    * ``peer_outlier``: with ``m`` the median of every member's usage and
      ``MAD`` the median of ``|x - m|`` over the members whose usage ``x``
      differs from ``m``, a member with ``0.6745 * (x - m) >= z_threshold * MAD``
      (high spenders only). Members whose usage equals the median are left out
      of the MAD, and of the count: at least ``min_members`` members must differ
      from the median (then ``MAD > 0``), else no member is a peer outlier -- a
      team too small for statistics gets no finding rather than a false one.
      So multiplying everyone's usage by a positive constant changes no
      peer outlier, and adding a member who used exactly the median changes
      nothing at all: neither the median, the MAD nor the count moves.
    * ``above_own_history``: ``used / elapsed >= history_ratio * mean`` where
      ``mean`` is the mean of the last ``history_cycles`` values of the member's
      history. None for a member with fewer cycles of history or a mean
      ``<= 0``, nor for anyone while ``elapsed < min_elapsed``.

    Findings are ordered by kind (over_limit, near_limit, peer_outlier,
    above_own_history), then by ratio descending, then by user id (user
    findings first), group id and credit type: the same input always gives
    the same list.

    Raises:
        ValidationError: a parameter out of range or of the wrong type, naming it
            (``field``): thresholds must be > 0, ``0 < near_limit <= 1``,
            ``0 < elapsed <= 1``, ``0 < min_elapsed <= 1``,
            ``history_cycles >= 1``, ``min_members >= 2``; usage and history
            values must be integers.
    """
    z = _number("z_threshold", z_threshold)
    times = _number("history_ratio", history_ratio)
    near = _number("near_limit", near_limit, at_most_one=True)
    share = _number("elapsed", elapsed, at_most_one=True)
    earliest = _number("min_elapsed", min_elapsed, at_most_one=True)
    cycles = _count("history_cycles", history_cycles, minimum=1)
    fewest = _count("min_members", min_members, minimum=2)
    used = _usage(usage)
    shown = _names(names)
    past = _history(history)
    caps = _limits(limits)

    ranked: list[_Ranked] = [
        *_limit_findings(caps, near, shown),
        *_peer_outliers(used, z, fewest, shown),
    ]
    if share >= earliest:
        ranked.extend(_above_history(used, past, share, times, cycles, shown))
    ranked.sort(key=lambda pair: pair[0])
    return [finding for _, finding in ranked]


# --- the rules ----------------------------------------------------------------


def _limit_findings(
    caps: Sequence[LimitUsage], near: Fraction, shown: Mapping[str, str]
) -> list[_Ranked]:
    found: list[_Ranked] = []
    for cap in caps:
        if cap.used > 0 and cap.used >= cap.limit:
            kind = FindingKind.OVER_LIMIT
        elif cap.limit > 0 and near * cap.limit <= cap.used < cap.limit:
            kind = FindingKind.NEAR_LIMIT
        else:
            continue
        ratio = Fraction(cap.used, cap.limit) if cap.limit else None
        if cap.scope is LimitScope.USER:
            user_id, group_id = cap.subject_id, None
            who = _name(cap.subject_id, shown)
        else:
            user_id, group_id = None, cap.subject_id
            who = f"Group {_one_line(cap.subject_id) or repr(cap.subject_id)}"
        finding = Finding(
            user_id=user_id,
            kind=kind,
            used=cap.used,
            baseline=float(cap.limit),
            ratio=math.inf if ratio is None else float(ratio),
            message=_limit_message(who, cap, ratio),
            group_id=group_id,
            credit_type=cap.credit_type,
        )
        found.append((_key(finding, ratio), finding))
    return found


def _peer_outliers(
    used: Mapping[str, int], z: Fraction, fewest: int, shown: Mapping[str, str]
) -> list[_Ranked]:
    if not used:
        return []
    center = _median([Fraction(x) for x in used.values()])
    deviations = [abs(x - center) for x in used.values() if x != center]
    if len(deviations) < fewest:
        return []
    mad = _median(deviations)  # > 0: every deviation in it is
    found: list[_Ranked] = []
    for user_id, x in used.items():
        if x <= center:
            continue
        score = MAD_SCALE * (x - center) / mad
        if score < z:
            continue
        finding = Finding(
            user_id=user_id,
            kind=FindingKind.PEER_OUTLIER,
            used=x,
            baseline=float(center),
            ratio=float(score),
            message=(
                f"{_name(user_id, shown)} used {_credits(x)} this period, "
                f"{float(score):,.1f} robust z-scores above the team's median of "
                f"{_amount(center)}"
            ),
        )
        found.append((_key(finding, score), finding))
    return found


def _above_history(
    used: Mapping[str, int],
    past: Mapping[str, Sequence[int]],
    share: Fraction,
    times: Fraction,
    cycles: int,
    shown: Mapping[str, str],
) -> list[_Ranked]:
    found: list[_Ranked] = []
    for user_id, x in used.items():
        previous = past.get(user_id, ())
        if len(previous) < cycles:
            continue
        mean = Fraction(sum(previous[-cycles:]), cycles)
        if mean <= 0:
            continue
        pace = x / share
        if pace < times * mean:
            continue
        ratio = pace / mean
        finding = Finding(
            user_id=user_id,
            kind=FindingKind.ABOVE_OWN_HISTORY,
            used=x,
            baseline=float(mean),
            ratio=float(ratio),
            message=_history_message(_name(user_id, shown), x, share, pace, ratio, mean, cycles),
        )
        found.append((_key(finding, ratio), finding))
    return found


def _median(values: Sequence[Fraction]) -> Fraction:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _key(finding: Finding, ratio: Fraction | None) -> tuple[object, ...]:
    """Kind, ratio descending (an infinite ratio first), user, group, credit type, the rest."""
    return (
        _RANK[finding.kind],
        ratio is not None,
        -ratio if ratio is not None else 0,
        finding.user_id is None,
        finding.user_id or "",
        finding.group_id or "",
        finding.credit_type is not None,
        finding.credit_type or "",
        finding.used,
        finding.baseline,
        finding.message,
    )


# --- messages -----------------------------------------------------------------


def _limit_message(who: str, cap: LimitUsage, ratio: Fraction | None) -> str:
    on = f" on {cap.credit_type}" if cap.credit_type is not None else ""
    if ratio is None:
        return (
            f"{who} has used {_credits(cap.used)} against a 0-credit limit{on}, which allows none"
        )
    text = (
        f"{who} has used {cap.used:,} of a {cap.limit:,}-credit limit{on} "
        f"({math.floor(ratio * 100):,}%)"
    )
    if cap.used > cap.limit:
        text += f", {_credits(cap.used - cap.limit)} over it"
    return text


def _history_message(
    who: str, used: int, share: Fraction, pace: Fraction, ratio: Fraction, mean: Fraction, n: int
) -> str:
    versus = (
        f"the {_credits(mean)} of the previous cycle"
        if n == 1
        else f"the average of {_credits(mean)} over the previous {n} cycles"
    )
    if share == 1:
        return f"{who} used {_credits(used)} this cycle, {float(ratio):,.1f} times {versus}"
    return (
        f"{who} has used {_credits(used)} with {math.floor(share * 100)}% of the cycle "
        f"elapsed, on pace for {_credits(round(pace))}: {float(ratio):,.1f} times {versus}"
    )


def _amount(value: Fraction) -> str:
    """Credits with thousands separators; a fraction of a credit to one decimal."""
    if value.denominator == 1:
        return f"{value.numerator:,}"
    return f"{float(value):,.1f}"


def _credits(value: Fraction | int) -> str:
    """Credits with their unit: "1 credit", "1,200 credits", "2.5 credits"."""
    return f"{_amount(Fraction(value))} credit{'' if value == 1 else 's'}"


def _one_line(text: str) -> str:
    """``text`` with every run of white space (line breaks included) made one space."""
    return " ".join(text.split())


def _name(user_id: str, shown: Mapping[str, str]) -> str:
    return _one_line(shown.get(user_id, "")) or _one_line(user_id) or repr(user_id)


# --- parameters ---------------------------------------------------------------


def _number(what: str, value: object, *, at_most_one: bool = False) -> Fraction:
    """A number > 0 (and <= 1 when ``at_most_one``) as an exact fraction.

    A float is read as the decimal it prints as: ``0.1`` is 1/10.
    """
    bound = "in (0, 1]" if at_most_one else "greater than 0"
    if isinstance(value, bool) or not isinstance(value, int | float | Fraction):
        raise ValidationError(f"{what} must be a number {bound}, got {value!r}", field=what)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"{what} must be a number {bound}, got {value!r}", field=what)
        exact = Fraction(repr(value))
    else:
        exact = Fraction(value)
    if exact <= 0 or (at_most_one and exact > 1):
        raise ValidationError(f"{what} must be a number {bound}, got {value!r}", field=what)
    return exact


def _count(what: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationError(
            f"{what} must be an integer of at least {minimum}, got {value!r}", field=what
        )
    return value


def _integer(what: str, key: object, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{what} must hold integers, got {value!r} for {key!r}", field=what)
    return value


def _mapping(what: str, value: object) -> Mapping[object, object]:
    if not isinstance(value, Mapping):
        raise ValidationError(f"{what} must be a mapping by user id, got {value!r}", field=what)
    for key in value:
        if not isinstance(key, str):
            raise ValidationError(f"{what} must be keyed by user id, got {key!r}", field=what)
    return value


def _usage(value: object) -> dict[str, int]:
    return {str(k): _integer("usage", k, v) for k, v in _mapping("usage", value).items()}


def _names(value: object) -> dict[str, str]:
    if value is None:
        return {}
    names: dict[str, str] = {}
    for key, name in _mapping("names", value).items():
        if not isinstance(name, str):
            raise ValidationError(f"names must hold text, got {name!r} for {key!r}", field="names")
        names[str(key)] = name
    return names


def _history(value: object) -> dict[str, tuple[int, ...]]:
    if value is None:
        return {}
    history: dict[str, tuple[int, ...]] = {}
    for key, cycles in _mapping("history", value).items():
        if isinstance(cycles, str | bytes) or not isinstance(cycles, Sequence):
            raise ValidationError(
                f"history must hold sequences of integers, got {cycles!r} for {key!r}",
                field="history",
            )
        history[str(key)] = tuple(_integer("history", key, x) for x in cycles)
    return history


def _limits(value: object) -> tuple[LimitUsage, ...]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise ValidationError(
            f"limits must be a sequence of LimitUsage, got {value!r}", field="limits"
        )
    caps = tuple(value)
    for cap in caps:
        if not isinstance(cap, LimitUsage):
            raise ValidationError(
                f"limits must hold LimitUsage values, got {cap!r}", field="limits"
            )
    return caps
