"""Credit limits: caps on what a user or a group may spend per billing cycle.

A :class:`~credit_usage.domain.model.CreditLimit` caps a user (``scope="user"``)
or a group (``scope="group"``: a cap shared by its members) in every cycle,
for one credit type or for all types together (``credit_type=None``). A write
is checked against the limits inside its transaction, with the team locked,
using the per-cycle balances the ledger keeps for every user and group
(:class:`~credit_usage.domain.ledger.Batch` derives them): so no two racing
writers can both take the last credits under a cap. A reversal lowers the
balances it counted against, freeing room under every limit it touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from credit_usage.domain.ledger import ALL_TYPES, Balance, BalanceKey, Batch
from credit_usage.domain.model import CreditLimit, LimitScope, Team
from credit_usage.domain.results import LimitState
from credit_usage.errors import CreditLimitExceededError, NotFoundError, ValidationError

__all__ = [
    "LimitKey",
    "balance_key",
    "check_limits",
    "limit_key",
    "limit_states",
    "require_limit_fits",
    "user_limit_keys",
]

#: What identifies a limit in a team: scope, subject and credit type ("" for all types).
LimitKey = tuple[str, str, str]


def limit_key(limit: CreditLimit) -> LimitKey:
    """The key of ``limit``: a team has at most one limit per key."""
    return (limit.scope.value, limit.subject_id, limit.credit_type or ALL_TYPES)


def balance_key(limit: CreditLimit, cycle: date) -> BalanceKey:
    """The balance ``limit`` caps in the cycle starting on ``cycle``."""
    return BalanceKey(cycle, limit.scope.value, limit.subject_id, limit.credit_type or ALL_TYPES)


def user_limit_keys(limits: Iterable[CreditLimit], cycle: date) -> list[BalanceKey]:
    """The balances of the cycle starting on ``cycle`` that the user limits cap.

    Always the user's all-types balance too, so every user with a limit has
    their usage in the cycle.
    """
    keys: dict[BalanceKey, None] = {}
    for limit in limits:
        if limit.scope is LimitScope.USER:
            keys[BalanceKey(cycle, limit.scope.value, limit.subject_id, ALL_TYPES)] = None
            keys[balance_key(limit, cycle)] = None
    return list(keys)


def limit_states(
    limits: Iterable[CreditLimit], cycle: date, balances: Mapping[BalanceKey, Balance]
) -> dict[str, LimitState]:
    """Each limited user's limits and usage in the cycle starting on ``cycle``, by user id.

    ``balances`` holds (at least) the balances of :func:`user_limit_keys`.
    """
    by_user: dict[str, list[CreditLimit]] = {}
    for limit in limits:
        if limit.scope is LimitScope.USER:
            by_user.setdefault(limit.subject_id, []).append(limit)
    states = {}
    for user_id, own in by_user.items():

        def used(credit_type: str, user_id: str = user_id) -> int:
            return balances.get(BalanceKey(cycle, "user", user_id, credit_type), Balance()).used

        all_types = next((limit.credits for limit in own if limit.credit_type is None), None)
        by_type = {limit.credit_type: limit.credits for limit in own if limit.credit_type}
        states[user_id] = LimitState(
            limit=all_types,
            used=used(ALL_TYPES),
            limits_by_credit_type=by_type,
            used_by_credit_type={credit_type: used(credit_type) for credit_type in by_type},
        )
    return states


def check_limits(
    team: Team,
    batch: Batch,
    balances: Mapping[BalanceKey, Balance],
    limits: Iterable[CreditLimit],
) -> None:
    """Refuse a batch that would take a user or group past one of its limits in any cycle.

    ``balances`` are the stored balances before the batch, read inside the
    write's transaction; only balances the batch adds usage to are checked, so
    a reversal (which lowers them) is never refused, even under a limit
    lowered below what was used.

    Raises:
        CreditLimitExceededError: naming the scope, subject, credit type,
            cycle, limit, what was used and what was requested.
    """
    by_key = {limit_key(limit): limit for limit in limits}
    if not by_key:
        return
    for key, delta in sorted(batch.balances.items()):
        if delta.used <= 0:
            continue
        limit = by_key.get((key.scope, key.subject_id, key.credit_type))
        if limit is None:
            continue
        used = balances.get(key, Balance()).used
        if used + delta.used > limit.credits:
            kind = f"{limit.credit_type} credits" if limit.credit_type else "credits"
            raise CreditLimitExceededError(
                f"{limit.scope} {limit.subject_id!r} of team {team.team_id!r} may use "
                f"{limit.credits} {kind} in the cycle starting {key.cycle.isoformat()}; "
                f"{used} are used and {delta.used} more were requested",
                team_id=team.team_id,
                scope=limit.scope.value,
                subject_id=limit.subject_id,
                credit_type=limit.credit_type,
                cycle=key.cycle,
                limit=limit.credits,
                used=used,
                requested=delta.used,
            )


def require_limit_fits(
    team: Team, limit: CreditLimit, users: Sequence[str], groups: Sequence[str]
) -> CreditLimit:
    """``limit`` if its subject is a user or group of ``team`` and its credit type declared.

    Raises:
        NotFoundError: no such user or group in the team.
        ValidationError: the credit type is not declared by the team.
    """
    if not isinstance(limit, CreditLimit):
        raise ValidationError(f"expected a CreditLimit, got {limit!r}", field="limit")
    if limit.scope is LimitScope.USER and limit.subject_id not in users:
        raise NotFoundError.user(team.team_id, limit.subject_id)
    if limit.scope is LimitScope.GROUP and limit.subject_id not in groups:
        raise NotFoundError.group(team.team_id, limit.subject_id)
    if limit.credit_type is not None:
        team.require_credit_type(limit.credit_type)
    return limit
