"""CreditUsage: the application service that wires the domain to the ports.

Every write validates first and then runs its checks inside the storage's
transaction (:meth:`~credit_usage.ports.Storage.append`), so a refused write
stores nothing. Every read names the acting ``viewer_id``; the viewer's role
and ``active`` flag are read from storage, never taken from the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Literal, TextIO

import attrs

from credit_usage.domain.access import Action, authorize
from credit_usage.domain.aggregate import UsageCell
from credit_usage.domain.cycles import Cycle, DateRange
from credit_usage.domain.ledger import (
    Balance,
    BalanceKey,
    Batch,
    check_reversal,
    check_team_pool,
    team_key,
)
from credit_usage.domain.model import (
    EntryKind,
    Feature,
    Group,
    LedgerEntry,
    Member,
    Team,
)
from credit_usage.domain.results import (
    MemberUsage,
    Report,
    Snapshot,
    build_member_usage,
    build_report_rows,
    snapshot_members,
)
from credit_usage.domain.validation import require_aware, require_credits, require_id, to_enum
from credit_usage.errors import (
    IdempotencyConflictError,
    NotFoundError,
    PermissionDeniedError,
    RangeOutsideCycleError,
    ValidationError,
)
from credit_usage.ports import LedgerTransaction, Mailer, Storage
from credit_usage.reports.csv_writer import write_ledger_csv, write_report_csv

__all__ = ["CreditUsage"]

Clock = Callable[[], datetime]

#: A check run inside a write's transaction, after the batch is derived and
#: before it is written; it raises to refuse the batch.
WriteCheck = Callable[[Team, Batch, Mapping[BalanceKey, Balance]], None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CreditUsage:
    """Track, cap and report the credits each member of a team uses.

    Args:
        storage: where teams and the ledger live (:class:`InMemoryStorage`,
            :class:`SqlStorage` or a host's adapter).
        mailer: sends scheduled reports; ``None`` when the host sends none.
        clock: returns the current aware datetime; defaults to the system clock.
        sender: the From address of report emails.
        max_recipients: the most recipients a scheduled report may have.

    Example:
        >>> from credit_usage import CreditUsage, InMemoryStorage
        >>> app = CreditUsage(storage=InMemoryStorage())
    """

    def __init__(
        self,
        storage: Storage,
        mailer: Mailer | None = None,
        clock: Clock | None = None,
        *,
        sender: str = "credit-usage@localhost",
        max_recipients: int = 5,
    ) -> None:
        self.storage = storage
        self.mailer = mailer
        self.clock: Clock = clock or _utc_now
        self.sender = sender
        self.max_recipients = max_recipients
        # Per-user and per-group limits join this list; each runs in the same
        # transaction as the write it guards.
        self._write_checks: list[WriteCheck] = [check_team_pool]

    def _now(self) -> datetime:
        return require_aware("clock()", self.clock())

    # -- setup ------------------------------------------------------------------
    def create_team(self, team: Team) -> Team:
        """Store a new team. Raises ``AlreadyExistsError`` if its id is taken."""
        _require(Team, team)
        self.storage.add_team(team)
        return team

    def update_team(self, team: Team) -> Team:
        """Replace a team's settings (plan, credits, time zone, billing, credit types).

        Changing the time zone or billing schedule re-derives the team's
        daily roll-ups and cycle counters from the ledger, so reports follow
        the new day boundaries.
        """
        _require(Team, team)
        self.storage.update_team(team)
        return team

    def get_team(self, team_id: str) -> Team:
        """The team. Raises ``NotFoundError``."""
        team = self.storage.get_team(require_id("team_id", team_id))
        if team is None:
            raise NotFoundError(f"team {team_id!r} does not exist")
        return team

    def add_group(self, group: Group) -> Group:
        """Store a new group in an existing team."""
        _require(Group, group)
        self.get_team(group.team_id)
        self.storage.add_group(group)
        return group

    def add_member(self, member: Member) -> Member:
        """Store a new member; their group, if any, must exist in the team."""
        _require(Member, member)
        self._check_member_group(member)
        self.storage.add_member(member)
        return member

    def update_member(self, member: Member) -> Member:
        """Change a member's role, group, name, email or ``active`` flag.

        Past ledger entries keep the group the member was in when they used
        the credits.
        """
        _require(Member, member)
        self._check_member_group(member)
        self.storage.update_member(member)
        return member

    def _check_member_group(self, member: Member) -> None:
        self.get_team(member.team_id)
        if member.group_id is not None and member.group_id not in self._groups(member.team_id):
            raise NotFoundError(
                f"group {member.group_id!r} does not exist in team {member.team_id!r}"
            )

    def list_members(self, team_id: str) -> list[Member]:
        """The team's members, deactivated ones included, ordered by user id."""
        self.get_team(team_id)
        return self.storage.list_members(team_id)

    def list_groups(self, team_id: str) -> list[Group]:
        """The team's groups, ordered by group id."""
        self.get_team(team_id)
        return self.storage.list_groups(team_id)

    def _groups(self, team_id: str) -> dict[str, Group]:
        return {g.group_id: g for g in self.storage.list_groups(team_id)}

    def _member(self, team_id: str, user_id: str) -> Member:
        member = self.storage.get_member(team_id, require_id("user_id", user_id))
        if member is None:
            raise NotFoundError(f"user {user_id!r} is not a member of team {team_id!r}")
        return member

    # -- writing the ledger -----------------------------------------------------
    def record_usage(
        self,
        team_id: str,
        user_id: str,
        *,
        feature: Feature | str,
        credit_type: str,
        amount: int,
        occurred_at: datetime,
        entry_id: str,
    ) -> LedgerEntry:
        """Record that ``user_id`` spent ``amount`` credits.

        Checks the team's remaining credits for the cycle of ``occurred_at``
        (and, once set, the user's and group's limits) atomically with the
        write. The entry takes the member's current group.

        Returns:
            The stored entry; on a retry with the same ``entry_id`` and
            payload, the entry stored the first time.

        Raises:
            ValidationError: bad amount, feature, credit type or datetime.
            NotFoundError: unknown team or user.
            PermissionDeniedError: the user is deactivated.
            InsufficientCreditsError: the team's pool for the cycle is too small.
            IdempotencyConflictError: ``entry_id`` was used with another payload.
        """
        team = self.get_team(team_id)
        member = self._member(team_id, user_id)
        candidate = LedgerEntry(
            team_id=team_id,
            entry_id=entry_id,
            kind=EntryKind.USAGE,
            user_id=user_id,
            group_id=member.group_id,
            feature=to_enum(Feature, feature),
            credit_type=team.require_credit_type(credit_type),
            amount=amount,
            occurred_at=occurred_at,
            recorded_at=self._now(),
        )
        if not member.active:
            raise PermissionDeniedError(
                f"user {user_id!r} is deactivated and cannot use credits in team {team_id!r}"
            )
        result: list[LedgerEntry] = []

        def plan(tx: LedgerTransaction) -> Batch:
            stored = tx.find_entries([candidate.entry_id]).get(candidate.entry_id)
            if stored is not None:
                # The group is a snapshot we take, not part of the caller's
                # payload: a retry after the member moved is still the same call.
                _check_same(stored, attrs.evolve(candidate, group_id=stored.group_id))
                result.append(stored)
                return Batch.empty()
            batch = Batch.of(team, [candidate])
            self._run_checks(team, batch, tx)
            result.append(candidate)
            return batch

        self.storage.append(team_id, plan)
        return result[0]

    def grant_credits(
        self, team_id: str, *, amount: int, occurred_at: datetime, entry_id: str
    ) -> LedgerEntry:
        """Add ``amount`` credits to the team's pool for the cycle of ``occurred_at``."""
        team = self.get_team(team_id)
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
            recorded_at=self._now(),
        )
        result: list[LedgerEntry] = []

        def plan(tx: LedgerTransaction) -> Batch:
            stored = tx.find_entries([candidate.entry_id]).get(candidate.entry_id)
            if stored is not None:
                _check_same(stored, candidate)
                result.append(stored)
                return Batch.empty()
            result.append(candidate)
            return Batch.of(team, [candidate])

        self.storage.append(team_id, plan)
        return result[0]

    def reverse_usage(
        self, team_id: str, entry_id: str, *, reversal_id: str, amount: int | None = None
    ) -> LedgerEntry:
        """Refund all (``amount=None``) or part of the usage entry ``entry_id``.

        The reversal nets out in the original's cycle, day, user, group,
        feature and credit type, however long ago that was.

        Raises:
            NotFoundError: no such entry in the team.
            ValidationError: the entry is not a usage entry, or ``amount``
                exceeds what is left to reverse.
            IdempotencyConflictError: ``reversal_id`` was used for something else.
        """
        team = self.get_team(team_id)
        require_id("entry_id", entry_id)
        require_id("reversal_id", reversal_id)
        if amount is not None:
            require_credits("amount", amount, minimum=1)
        now = self._now()
        result: list[LedgerEntry] = []

        def plan(tx: LedgerTransaction) -> Batch:
            found = tx.find_entries([entry_id, reversal_id])
            original = found.get(entry_id)
            if original is None:
                raise NotFoundError(f"entry {entry_id!r} does not exist in team {team_id!r}")
            stored = found.get(reversal_id)
            if stored is not None:
                if (
                    stored.kind is not EntryKind.REVERSAL
                    or stored.reverses != entry_id
                    or (amount is not None and stored.amount != amount)
                ):
                    raise IdempotencyConflictError(
                        f"entry id {reversal_id!r} is already used by another entry in team "
                        f"{team_id!r}"
                    )
                result.append(stored)
                return Batch.empty()
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
            result.append(reversal)
            return Batch.of(team, [reversal])

        self.storage.append(team_id, plan)
        return result[0]

    def record_many(self, entries: Iterable[LedgerEntry], *, enforce_limits: bool = True) -> int:
        """Ingest a batch of entries of one team in one transaction, all or nothing.

        Each entry is stored as given (its ``group_id`` included: imports carry
        historical groups); ``recorded_at`` is set to now where it is ``None``.
        Entries already stored with the same payload are skipped.

        Args:
            entries: ledger entries, all of the same team.
            enforce_limits: ``False`` skips every limit check, the team pool
                included (imports of history).

        Returns:
            How many entries were new.

        Raises:
            ValidationError: entries of several teams, an undeclared credit
                type, an unknown group, a reversal that does not fit its original.
            NotFoundError: unknown team or user.
            InsufficientCreditsError: with ``enforce_limits``, a cycle's pool overflows.
            IdempotencyConflictError: an id stored (or repeated in the batch)
                with another payload.
        """
        now = self._now()
        given = list(entries)
        if not given:
            return 0
        for entry in given:
            _require(LedgerEntry, entry)
        team_ids = {e.team_id for e in given}
        if len(team_ids) > 1:
            raise ValidationError(
                f"record_many takes entries of one team per call, got {sorted(team_ids)!r}"
            )
        team = self.get_team(given[0].team_id)
        unique = _dedupe(given)
        members = {m.user_id for m in self.storage.list_members(team.team_id)}
        groups = self._groups(team.team_id)
        prepared = []
        for entry in unique:
            if entry.user_id is not None and entry.user_id not in members:
                raise NotFoundError(
                    f"user {entry.user_id!r} of entry {entry.entry_id!r} is not a member of "
                    f"team {team.team_id!r}"
                )
            if entry.group_id is not None and entry.group_id not in groups:
                raise NotFoundError(
                    f"group {entry.group_id!r} of entry {entry.entry_id!r} does not exist in "
                    f"team {team.team_id!r}"
                )
            if entry.credit_type is not None:
                team.require_credit_type(entry.credit_type)
            prepared.append(entry if entry.recorded_at else entry.recorded(now))
        new_count = 0

        def plan(tx: LedgerTransaction) -> Batch:
            nonlocal new_count
            ids = [e.entry_id for e in prepared]
            stored = tx.find_entries(ids)
            fresh = []
            for entry in prepared:
                existing = stored.get(entry.entry_id)
                if existing is None:
                    fresh.append(entry)
                else:
                    _check_same(existing, entry)
            _check_reversals(fresh, tx)
            batch = Batch.of(team, fresh)
            if enforce_limits:
                self._run_checks(team, batch, tx)
            new_count = len(fresh)
            return batch

        self.storage.append(team.team_id, plan)
        return new_count

    def _run_checks(self, team: Team, batch: Batch, tx: LedgerTransaction) -> None:
        balances = tx.balances(list(batch.balances))
        for check in self._write_checks:
            check(team, batch, balances)

    # -- reading ----------------------------------------------------------------
    def _authorize(
        self, viewer_id: str, team_id: str, action: Action, *, subject: str | None = None
    ) -> Team:
        team = self.get_team(team_id)
        viewer = self.storage.get_member(team_id, require_id("viewer_id", viewer_id))
        authorize(viewer, viewer_id, team, action, subject_user_id=subject)
        return team

    def snapshot(
        self, viewer_id: str, team_id: str, *, date_range: DateRange | None = None
    ) -> Snapshot:
        """The live Analytics view of the current billing cycle.

        ``total_credits``, ``used`` and ``remaining`` cover the whole cycle;
        ``members`` covers ``date_range`` (default: the whole cycle), which
        must lie inside the cycle. Zero-usage members are included;
        deactivated members only when they used credits in the range.

        Raises:
            PermissionDeniedError: the viewer is not an active Admin or Manager of the team.
            PlanNotEligibleError: the team is on Free.
            RangeOutsideCycleError: ``date_range`` reaches outside the cycle.
        """
        team = self._authorize(viewer_id, team_id, Action.VIEW_TEAM_USAGE)
        cycle = team.cycle_at(self._now())
        if date_range is None:
            cells = self.storage.usage_in_cycles(team_id, [cycle.first_day])
        else:
            _require(DateRange, date_range)
            if date_range.first < cycle.first_day or date_range.last > cycle.last_day:
                raise RangeOutsideCycleError(
                    f"date range {date_range} is not inside the current billing cycle "
                    f"{cycle.date_range}; use usage_report() or export_csv() for other periods"
                )
            cells = self.storage.usage_on_days(team_id, date_range.first, date_range.last)
        key = team_key(cycle.first_day)
        balance = self.storage.get_balances(team_id, [key]).get(key, Balance())
        total = team.credits_per_cycle + balance.granted
        return Snapshot(
            team_id=team_id,
            cycle=cycle,
            date_range=date_range,
            total_credits=total,
            used=balance.used,
            remaining=total - balance.used,
            members=snapshot_members(team, self.storage.list_members(team_id), cells),
        )

    def member_usage(
        self,
        viewer_id: str,
        team_id: str,
        user_id: str,
        *,
        period: DateRange | Cycle | None = None,
    ) -> MemberUsage:
        """One member's usage in ``period`` (default: the current cycle).

        A Member may ask only for themselves; Admin and Manager for anyone in the team.
        """
        team = self._authorize(viewer_id, team_id, Action.VIEW_OWN_USAGE, subject=user_id)
        member = self._member(team_id, user_id)
        cells = self._usage(team, self._period(team, period))
        return build_member_usage(member, cells, team.credit_types)

    def usage_report(self, viewer_id: str, team_id: str, period: DateRange | Cycle) -> Report:
        """Usage of any period, one row per member x group at the time of use x credit type.

        Raises:
            PermissionDeniedError, PlanNotEligibleError: as for :meth:`snapshot`.
        """
        team = self._authorize(viewer_id, team_id, Action.EXPORT)
        return self._report(team, self._period(team, period))

    def export_csv(
        self,
        viewer_id: str,
        team_id: str,
        period: DateRange | Cycle,
        out: TextIO,
        *,
        layout: Literal["wide", "long"] = "wide",
        excel: bool = False,
    ) -> None:
        """Write the usage report of ``period`` to ``out`` as CSV (see docs/reports.md)."""
        if layout not in ("wide", "long"):
            raise ValidationError(f"layout must be 'wide' or 'long', got {layout!r}")
        team = self._authorize(viewer_id, team_id, Action.EXPORT)
        report = self._report(team, self._period(team, period))
        write_report_csv(report.rows if layout == "wide" else report.long_rows(), out, excel=excel)

    def export_ledger_csv(
        self, viewer_id: str, team_id: str, period: DateRange | Cycle, out: TextIO
    ) -> int:
        """Stream every ledger entry of ``period`` to ``out``, in ``occurred_at`` order.

        Returns:
            How many entries were written.
        """
        team = self._authorize(viewer_id, team_id, Action.EXPORT)
        days = self._period(team, period)
        entries = self.storage.iter_entries(team_id, days.start(team.tz), days.end(team.tz))
        return write_ledger_csv(entries, out)

    def _period(self, team: Team, period: DateRange | Cycle | None) -> DateRange:
        if period is None:
            return team.cycle_at(self._now()).date_range
        if isinstance(period, Cycle):
            return period.date_range
        if isinstance(period, DateRange):
            return period
        raise ValidationError(f"period must be a DateRange or a Cycle, got {period!r}")

    def _usage(self, team: Team, days: DateRange) -> list[UsageCell]:
        """Net usage cells of ``days``: from cycle counters when the days are whole cycles."""
        cycles = team.cycles_between(days.start(team.tz), days.end(team.tz))
        if cycles and cycles[0].first_day == days.first and cycles[-1].last_day == days.last:
            return self.storage.usage_in_cycles(team.team_id, [c.first_day for c in cycles])
        return self.storage.usage_on_days(team.team_id, days.first, days.last)

    def _report(self, team: Team, days: DateRange) -> Report:
        rows = build_report_rows(
            team,
            self.storage.list_members(team.team_id),
            self._groups(team.team_id),
            self._usage(team, days),
        )
        return Report(team_id=team.team_id, period=days, rows=rows)


def _require(cls: type[object], value: object) -> None:
    if not isinstance(value, cls):
        raise ValidationError(f"expected a {cls.__name__}, got {value!r}")


def _check_same(stored: LedgerEntry, candidate: LedgerEntry) -> None:
    if not stored.same_payload(candidate):
        raise IdempotencyConflictError(
            f"entry id {candidate.entry_id!r} was already recorded in team "
            f"{candidate.team_id!r} with another payload (stored {stored.kind} of "
            f"{stored.amount} at {stored.occurred_at.isoformat()})"
        )


def _dedupe(entries: Sequence[LedgerEntry]) -> list[LedgerEntry]:
    """Entries with repeated ids dropped; a repeat with another payload is a conflict."""
    seen: dict[str, LedgerEntry] = {}
    for entry in entries:
        first = seen.get(entry.entry_id)
        if first is None:
            seen[entry.entry_id] = entry
        else:
            _check_same(first, entry)
    return list(seen.values())


def _check_reversals(fresh: Sequence[LedgerEntry], tx: LedgerTransaction) -> None:
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
