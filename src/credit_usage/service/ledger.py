"""Writing the ledger: usage, grants, reversals and bulk imports.

Each write validates its arguments, then hands a plan to
:meth:`~credit_usage.ports.Ledger.append`. The plan runs with the team
locked and reads everything it decides on there -- the team, the member,
the groups, the stored entries and balances -- so no change that commits
meanwhile (a new time zone, a deactivated member) can slip between a check
and the write. It looks up the entry id first: a retry of a stored entry
returns it whatever changed since.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import attrs

from credit_usage.domain.alerts import LimitAlert, crossings
from credit_usage.domain.ledger import (
    TEAM_SCOPE,
    Batch,
    check_reversal,
    check_team_pool,
    check_volume,
)
from credit_usage.domain.limits import check_limits
from credit_usage.domain.model import EntryKind, Feature, LedgerEntry, Member, Team
from credit_usage.domain.validation import require_credits, require_id
from credit_usage.errors import (
    IdempotencyConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from credit_usage.ports import Decision, TeamReads
from credit_usage.service.context import Context, check_same, require_instance

__all__ = ["grant_credits", "record_many", "record_usage", "reverse_usage"]


def record_usage(
    ctx: Context,
    team_id: str,
    user_id: str,
    *,
    feature: Feature | str,
    credit_type: str,
    amount: int,
    occurred_at: datetime,
    entry_id: str,
) -> LedgerEntry:
    """Record that a member spent credits; see :meth:`credit_usage.CreditUsage.record_usage`."""
    now = ctx.now()
    # The group is a snapshot taken under the lock, not part of the caller's payload.
    candidate = LedgerEntry(
        team_id=team_id,
        entry_id=entry_id,
        kind=EntryKind.USAGE,
        user_id=user_id,
        group_id=None,
        feature=feature,
        credit_type=credit_type,
        amount=amount,
        occurred_at=occurred_at,
        recorded_at=now,
    )

    def plan(tx: TeamReads) -> Decision[LedgerEntry]:
        stored = tx.find_entries([entry_id]).get(entry_id)
        if stored is not None:
            # A retry after the member moved is still the same call.
            check_same(stored, attrs.evolve(candidate, group_id=stored.group_id))
            return Decision(Batch.empty(), stored)
        team = tx.team
        member = _active_member(tx, user_id)
        team.require_feature(candidate.feature or "")
        team.require_credit_type(credit_type)
        ctx.check_not_in_future(candidate, now)
        entry = attrs.evolve(candidate, group_id=member.group_id)
        batch = Batch.of(team, [entry])
        alerts = _check(team, batch, tx, pool=True, now=now)
        return Decision(batch, entry, new_alerts=alerts)

    return ctx.storage.append(require_id("team_id", team_id), plan)


def grant_credits(
    ctx: Context, team_id: str, *, amount: int, occurred_at: datetime, entry_id: str
) -> LedgerEntry:
    """Add credits to the team's pool; see :meth:`credit_usage.CreditUsage.grant_credits`."""
    now = ctx.now()
    candidate = LedgerEntry(
        team_id=team_id,
        entry_id=entry_id,
        kind=EntryKind.GRANT,
        user_id=None,
        group_id=None,
        feature=None,
        credit_type=None,
        amount=amount,
        occurred_at=occurred_at,
        recorded_at=now,
    )

    def plan(tx: TeamReads) -> Decision[LedgerEntry]:
        stored = tx.find_entries([entry_id]).get(entry_id)
        if stored is not None:
            check_same(stored, candidate)
            return Decision(Batch.empty(), stored)
        batch = Batch.of(tx.team, [candidate])
        _check(tx.team, batch, tx, pool=False, now=now)
        return Decision(batch, candidate)

    return ctx.storage.append(team_id, plan)


def reverse_usage(
    ctx: Context, team_id: str, entry_id: str, *, reversal_id: str, amount: int | None = None
) -> LedgerEntry:
    """Refund a usage entry; see :meth:`credit_usage.CreditUsage.reverse_usage`."""
    require_id("team_id", team_id)
    require_id("entry_id", entry_id)
    require_id("reversal_id", reversal_id)
    if amount is not None:
        require_credits("amount", amount, minimum=1)
    now = ctx.now()

    def plan(tx: TeamReads) -> Decision[LedgerEntry]:
        found = tx.find_entries([entry_id, reversal_id])
        stored = found.get(reversal_id)
        if stored is not None:
            if (
                stored.kind is not EntryKind.REVERSAL
                or stored.reverses != entry_id
                or (amount is not None and stored.amount != amount)
            ):
                raise IdempotencyConflictError(
                    f"entry id {reversal_id!r} is already used by another entry in team "
                    f"{team_id!r}",
                    team_id=team_id,
                    entry_id=reversal_id,
                )
            return Decision(Batch.empty(), stored)
        original = found.get(entry_id)
        if original is None:
            raise NotFoundError(
                f"entry {entry_id!r} does not exist in team {team_id!r}",
                team_id=team_id,
                resource="entry",
                resource_id=entry_id,
            )
        if original.kind is not EntryKind.USAGE:
            raise ValidationError(
                f"entry {entry_id!r} is a {original.kind} entry; only usage can be reversed"
            )
        so_far = tx.reversed_totals([entry_id]).get(entry_id, 0)
        remainder = original.amount - so_far
        if remainder == 0:
            raise ValidationError(f"entry {entry_id!r} is already fully reversed")
        reversal = LedgerEntry(
            team_id=team_id,
            entry_id=reversal_id,
            kind=EntryKind.REVERSAL,
            user_id=original.user_id,
            group_id=original.group_id,
            feature=original.feature,
            credit_type=original.credit_type,
            amount=remainder if amount is None else amount,
            occurred_at=original.occurred_at,
            recorded_at=now,
            reverses=entry_id,
        )
        check_reversal(reversal, original, so_far)
        batch = Batch.of(tx.team, [reversal])
        _check(tx.team, batch, tx, pool=False, now=now)
        return Decision(batch, reversal)

    return ctx.storage.append(team_id, plan)


def record_many(ctx: Context, entries: Iterable[LedgerEntry], *, enforce_limits: bool) -> int:
    """Ingest a batch of one team's entries; see :meth:`credit_usage.CreditUsage.record_many`."""
    now = ctx.now()
    given = list(entries)
    if not given:
        return 0
    for entry in given:
        if type(entry) is not LedgerEntry:
            require_instance(LedgerEntry, entry)
    team_ids = {e.team_id for e in given}
    if len(team_ids) > 1:
        raise ValidationError(
            f"record_many takes entries of one team per call, got {sorted(team_ids)!r}",
            field="team_id",
        )
    team_id = given[0].team_id
    prepared = LedgerEntry.all_recorded(_dedupe(given), now)

    def plan(tx: TeamReads) -> Decision[int]:
        stored = tx.find_entries([e.entry_id for e in prepared])
        fresh = prepared
        if stored:
            fresh = []
            for entry in prepared:
                existing = stored.get(entry.entry_id)
                if existing is None:
                    fresh.append(entry)
                else:
                    check_same(existing, entry)
            if not fresh:
                return Decision(Batch.empty(), 0)
        team = tx.team
        _check_references(team, tx, fresh)
        usage, too_late = EntryKind.USAGE, now + ctx.future_tolerance
        late = [e for e in fresh if e.occurred_at > too_late and e.kind is usage]
        if late:
            ctx.check_not_in_future(max(late, key=lambda e: e.occurred_at), now)
        _check_reversals(fresh, tx)
        batch = Batch.of(team, fresh)
        alerts = _check(team, batch, tx, pool=enforce_limits, now=now)
        return Decision(batch, len(fresh), new_alerts=alerts)

    return ctx.storage.append(team_id, plan)


def _active_member(tx: TeamReads, user_id: str) -> Member:
    team_id = tx.team.team_id
    member = tx.member(user_id)
    if member is None:
        raise NotFoundError(
            f"user {user_id!r} is not a member of team {team_id!r}",
            team_id=team_id,
            resource="user",
            resource_id=user_id,
        )
    if not member.active:
        raise PermissionDeniedError(
            f"user {user_id!r} is deactivated and cannot use credits in team {team_id!r}",
            team_id=team_id,
            viewer_id=user_id,
            action="record_usage",
        )
    return member


def _check(
    team: Team, batch: Batch, tx: TeamReads, *, pool: bool, now: datetime
) -> tuple[LimitAlert, ...]:
    """The checks every write runs on its batch inside the transaction; the alerts it raises.

    The volume bound always holds; the user and group limits and the team
    pool only where the call enforces limits. All of them read the balances
    of this transaction, with the team locked: no racing writer can take the
    same last credits, and exactly one write crosses each alert threshold.
    """
    check_volume(team, batch, tx.volume())
    if not pool:
        return ()
    balances = tx.balances(list(batch.balances))
    limits = tx.limits({key.subject_id for key in batch.balances if key.scope != TEAM_SCOPE})
    check_limits(team, batch, balances, limits)
    check_team_pool(team, batch, balances)
    return tuple(crossings(team, batch, balances, limits, now))


def _check_references(team: Team, tx: TeamReads, fresh: Sequence[LedgerEntry]) -> None:
    """Every user, group, feature and credit type a batch names exists in the team now.

    The batch's distinct values are checked, not each entry: a bulk import of
    10,000 entries names a few hundred users and a handful of the rest.
    """
    users = {e.user_id for e in fresh if e.user_id is not None}
    groups = {e.group_id for e in fresh if e.group_id is not None}
    missing_users = users - {m.user_id for m in tx.members()} if users else set()
    missing_groups = groups - {g.group_id for g in tx.groups()} if groups else set()
    for entry in fresh if missing_users or missing_groups else ():
        if entry.user_id in missing_users:
            raise NotFoundError(
                f"user {entry.user_id!r} of entry {entry.entry_id!r} is not a member of "
                f"team {team.team_id!r}",
                team_id=team.team_id,
                resource="user",
                resource_id=entry.user_id,
            )
        if entry.group_id in missing_groups:
            raise NotFoundError(
                f"group {entry.group_id!r} of entry {entry.entry_id!r} does not exist in "
                f"team {team.team_id!r}",
                team_id=team.team_id,
                resource="group",
                resource_id=entry.group_id,
            )
    for credit_type in sorted({e.credit_type for e in fresh if e.credit_type is not None}):
        team.require_credit_type(credit_type)
    for feature in sorted({e.feature for e in fresh if e.feature is not None}):
        team.require_feature(feature)


def _dedupe(entries: Sequence[LedgerEntry]) -> list[LedgerEntry]:
    """Entries with repeated ids dropped; a repeat with another payload is a conflict."""
    if len({e.entry_id for e in entries}) == len(entries):
        return list(entries)
    seen: dict[str, LedgerEntry] = {}
    for entry in entries:
        first = seen.get(entry.entry_id)
        if first is None:
            seen[entry.entry_id] = entry
        else:
            check_same(first, entry)
    return list(seen.values())


def _check_reversals(fresh: Sequence[LedgerEntry], tx: TeamReads) -> None:
    """Check reversals in a batch against their originals, stored or earlier in the batch."""
    reversals = [e for e in fresh if e.kind is EntryKind.REVERSAL]
    if not reversals:
        return
    targets = {e.reverses for e in reversals if e.reverses is not None}
    originals = tx.find_entries(targets)
    so_far = tx.reversed_totals(targets)
    for entry in fresh:
        if entry.kind is EntryKind.USAGE and entry.entry_id in targets:
            originals.setdefault(entry.entry_id, entry)
        elif entry.kind is EntryKind.REVERSAL and entry.reverses is not None:
            check_reversal(entry, originals.get(entry.reverses), so_far.get(entry.reverses, 0))
            so_far[entry.reverses] = so_far.get(entry.reverses, 0) + entry.amount
