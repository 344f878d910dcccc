"""CreditUsage: the one facade a host calls; each method routes to a use case.

The use cases live in :mod:`~credit_usage.service.directory` (setup),
:mod:`~credit_usage.service.ledger` (writes) and
:mod:`~credit_usage.service.reads`; they share a
:class:`~credit_usage.service.context.Context`. Every call runs in one
storage transaction; every read names the acting ``viewer_id``, whose role
and ``active`` flag are read from storage, never taken from the caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, TextIO

from credit_usage.domain.access import DEFAULT_ELIGIBLE_PLANS
from credit_usage.domain.access import eligible_plans as eligible_plans_of
from credit_usage.domain.cycles import Cycle, DateRange
from credit_usage.domain.delivery import DEFAULT_LEASE
from credit_usage.domain.model import (
    CreditLimit,
    Feature,
    Frequency,
    Group,
    LedgerEntry,
    Member,
    Team,
)
from credit_usage.domain.results import MemberUsage, Report, Snapshot
from credit_usage.errors import ValidationError
from credit_usage.ports import Mailer, Storage
from credit_usage.service import directory, ledger, limits, reads
from credit_usage.service.context import Clock, Context, utc_now

if TYPE_CHECKING:
    from credit_usage.domain.alerts import LimitAlert
    from credit_usage.domain.schedules import DeliveryResult, ReportSchedule
    from credit_usage.domain.unusual import Finding

# The use cases of reports, alerts and unusual usage (and the domain modules
# they need) are imported by the methods that run them, on first use, which
# keeps ``import credit_usage`` fast for a host that only records usage.

__all__ = ["CreditUsage"]

#: How far ahead of the clock usage may be dated by default.
DEFAULT_FUTURE_TOLERANCE = timedelta(minutes=5)


class CreditUsage:
    """Track, cap and report the credits each member of a team uses.

    Args:
        storage: where teams and the ledger live (:class:`InMemoryStorage`,
            :class:`SqlStorage` or a host's adapter).
        mailer: sends scheduled reports; ``None`` when the host sends none.
        clock: returns the current aware datetime; defaults to the system clock.
        sender: the From address of report emails.
        max_recipients: the most recipients a scheduled report may have.
        future_tolerance: usage dated further ahead of the clock is refused
            (clocks of hosts and their workers differ a little); past
            instants are always accepted.
        eligible_plans: the plans (slugs, ``Team.plan``) whose teams get team
            usage views and exports; on any other plan every read raises
            ``PlanNotEligibleError``. Recording usage works on every plan.

    Attributes:
        storage, mailer, clock: the ports it was built with.
        eligible_plans: the eligible plans, as a frozenset of slugs.

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
        future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
        eligible_plans: Iterable[str] = DEFAULT_ELIGIBLE_PLANS,
    ) -> None:
        if not isinstance(future_tolerance, timedelta) or future_tolerance < timedelta(0):
            raise ValidationError(
                f"future_tolerance must be a timedelta of zero or more, got {future_tolerance!r}"
            )
        from credit_usage.domain.schedules import MAX_RECIPIENTS, require_sender

        if (
            isinstance(max_recipients, bool)
            or not isinstance(max_recipients, int)
            or not 1 <= max_recipients <= MAX_RECIPIENTS
        ):
            raise ValidationError(
                f"max_recipients must be an integer from 1 to {MAX_RECIPIENTS}, "
                f"got {max_recipients!r}",
                field="max_recipients",
            )
        self.sender = require_sender(sender)
        self.storage = storage
        self.mailer = mailer
        self.clock: Clock = clock or utc_now
        self.max_recipients = max_recipients
        self.future_tolerance = future_tolerance
        self.eligible_plans = eligible_plans_of(eligible_plans)
        self._context = Context(
            storage=storage,
            mailer=mailer,
            clock=self.clock,
            future_tolerance=future_tolerance,
            eligible_plans=self.eligible_plans,
            sender=self.sender,
            max_recipients=max_recipients,
        )

    # -- setup (host-level: no viewer) --------------------------------------------
    def create_team(self, team: Team) -> Team:
        """Store a new team. Raises ``AlreadyExistsError`` if its id is taken."""
        return directory.create_team(self._context, team)

    def update_team(self, team: Team) -> Team:
        """Replace a team's settings (plan, credits, time zone, billing, credit types).

        Changing the time zone or billing schedule re-derives the team's
        daily roll-ups and cycle counters from the ledger, so reports follow
        the new day boundaries.
        """
        return directory.update_team(self._context, team)

    def get_team(self, team_id: str) -> Team:
        """The team. Raises ``NotFoundError``."""
        return directory.get_team(self._context, team_id)

    def add_group(self, group: Group) -> Group:
        """Store a new group in an existing team."""
        return directory.add_group(self._context, group)

    def add_member(self, member: Member) -> Member:
        """Store a new member; their group, if any, must exist in the team."""
        return directory.add_member(self._context, member)

    def update_member(self, member: Member) -> Member:
        """Change a member's role, group, name, email or ``active`` flag.

        Past ledger entries keep the group the member was in when they used
        the credits.
        """
        return directory.update_member(self._context, member)

    def list_members(self, team_id: str) -> list[Member]:
        """The team's members, deactivated ones included, ordered by user id."""
        return directory.list_members(self._context, team_id)

    def list_groups(self, team_id: str) -> list[Group]:
        """The team's groups, ordered by group id."""
        return directory.list_groups(self._context, team_id)

    # -- writing the ledger -------------------------------------------------------
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
        write, reading the team and the member under the team's lock. The
        entry takes the member's current group.

        Returns:
            The stored entry; on a retry with the same ``entry_id`` and
            payload, the entry stored the first time -- whatever changed
            since (the member deactivated, the credit type withdrawn).

        Raises:
            ValidationError: bad amount, feature, credit type or datetime, or
                ``occurred_at`` further ahead of the clock than ``future_tolerance``.
            NotFoundError: unknown team or user.
            PermissionDeniedError: the user is deactivated.
            InsufficientCreditsError: the team's pool for the cycle is too small.
            IdempotencyConflictError: ``entry_id`` was used with another payload.
        """
        return ledger.record_usage(
            self._context,
            team_id,
            user_id,
            feature=feature,
            credit_type=credit_type,
            amount=amount,
            occurred_at=occurred_at,
            entry_id=entry_id,
        )

    def grant_credits(
        self, team_id: str, *, amount: int, occurred_at: datetime, entry_id: str
    ) -> LedgerEntry:
        """Add ``amount`` credits to the team's pool for the cycle of ``occurred_at``.

        Idempotent per ``entry_id``, like :meth:`record_usage`.
        """
        return ledger.grant_credits(
            self._context, team_id, amount=amount, occurred_at=occurred_at, entry_id=entry_id
        )

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
        return ledger.reverse_usage(
            self._context, team_id, entry_id, reversal_id=reversal_id, amount=amount
        )

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
                type, a reversal that does not fit its original, usage dated
                in the future.
            NotFoundError: unknown team, user or group.
            InsufficientCreditsError: with ``enforce_limits``, a cycle's pool overflows.
            IdempotencyConflictError: an id stored (or repeated in the batch)
                with another payload.
        """
        return ledger.record_many(self._context, entries, enforce_limits=enforce_limits)

    # -- reading ------------------------------------------------------------------
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
        return reads.snapshot(self._context, viewer_id, team_id, date_range=date_range)

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
        return reads.member_usage(self._context, viewer_id, team_id, user_id, period=period)

    def usage_report(self, viewer_id: str, team_id: str, period: DateRange | Cycle) -> Report:
        """Usage of any period, one row per member x group at the time of use x credit type.

        Raises:
            PermissionDeniedError, PlanNotEligibleError: as for :meth:`snapshot`.
        """
        return reads.usage_report(self._context, viewer_id, team_id, period)

    def export_csv(
        self,
        viewer_id: str,
        team_id: str,
        period: DateRange | Cycle,
        out: TextIO,
        *,
        layout: Literal["wide", "long"] = "wide",
        excel: bool = False,
    ) -> int:
        """Write the usage report of ``period`` to ``out`` as CSV (see ``docs/concepts.md``).

        Returns:
            How many data rows were written.
        """
        return reads.export_csv(
            self._context, viewer_id, team_id, period, out, layout=layout, excel=excel
        )

    def export_ledger_csv(
        self, viewer_id: str, team_id: str, period: DateRange | Cycle, out: TextIO
    ) -> int:
        """Stream every ledger entry of ``period`` to ``out``, in ``occurred_at`` order.

        Returns:
            How many entries were written.
        """
        return reads.export_ledger_csv(self._context, viewer_id, team_id, period, out)

    # -- credit limits ------------------------------------------------------------
    def set_credit_limit(self, viewer_id: str, team_id: str, limit: CreditLimit) -> CreditLimit:
        """Cap what a user or group may spend per billing cycle (Admin only).

        Creates the limit, or replaces the one of the same scope, subject and
        credit type (``None``: all types together). A group limit is shared
        by the group's members. A limit may be set below what was already
        used in the cycle: further spending is refused.

        Raises:
            PermissionDeniedError: the viewer is not an active Admin of the team.
            PlanNotEligibleError: the team's plan is not eligible.
            NotFoundError: no such user or group in the team.
            ValidationError: the credit type is not declared by the team.
        """
        return limits.set_credit_limit(self._context, viewer_id, team_id, limit)

    def remove_credit_limit(self, viewer_id: str, team_id: str, limit: CreditLimit) -> CreditLimit:
        """Remove the limit of ``limit``'s scope, subject and credit type; return it (Admin only).

        Raises:
            NotFoundError: there is no such limit.
            PermissionDeniedError, PlanNotEligibleError: as for :meth:`set_credit_limit`.
        """
        return limits.remove_credit_limit(self._context, viewer_id, team_id, limit)

    def list_credit_limits(self, viewer_id: str, team_id: str) -> list[CreditLimit]:
        """The team's limits, groups before users, all types before one type (Admin only)."""
        return limits.list_credit_limits(self._context, viewer_id, team_id)

    # -- unusual usage --------------------------------------------------------------
    def unusual_usage(
        self,
        viewer_id: str,
        team_id: str,
        *,
        period: DateRange | Cycle | None = None,
        z_threshold: float = 3.5,
        history_ratio: float = 2.0,
        near_limit: float = 0.75,
    ) -> list[Finding]:
        """What an Admin or Manager should look at: members spending unusually, limits nearly gone.

        For ``period`` (default: the current cycle), findings of four kinds,
        most urgent first, each with the numbers behind it and a one-line
        ``message``:

        * ``over_limit`` / ``near_limit``: a user or group has used all of a
          limit, or at least ``near_limit`` of it, in the current cycle;
        * ``peer_outlier``: a member's usage is far above the team's median,
          by a robust z-score on the median absolute deviation of at least
          ``z_threshold``;
        * ``above_own_history``: a member's pace in the cycle, prorated to the
          share elapsed, is at least ``history_ratio`` times their mean over
          the previous three cycles.

        A member with too little history, or a team with too little variation
        for statistics, gets no statistical finding rather than a false one
        (docs/unusual-usage.md explains the statistics).

        Raises:
            PermissionDeniedError, PlanNotEligibleError: as for :meth:`snapshot`.
            ValidationError: a threshold out of range, or a bad period.
        """
        from credit_usage.service import unusual

        return unusual.unusual_usage(
            self._context,
            viewer_id,
            team_id,
            period=period,
            z_threshold=z_threshold,
            history_ratio=history_ratio,
            near_limit=near_limit,
        )

    # -- automated reports and alerts ---------------------------------------------
    def schedule_report(
        self,
        viewer_id: str,
        team_id: str,
        *,
        frequency: Frequency | str,
        recipients: Iterable[str],
    ) -> ReportSchedule:
        """Email the team's usage report every week or every billing cycle (Admin or Manager).

        Weekly reports cover Monday 00:00 to Monday 00:00 in the team's time
        zone; monthly ones a billing cycle. Each is due at its period's end,
        the first covering the period in which the schedule is created.

        Args:
            frequency: ``"weekly"`` or ``"monthly"``.
            recipients: 1 to ``max_recipients`` email addresses; repeats
                (compared case-insensitively) are dropped.

        Raises:
            ValidationError: an unknown frequency, no or too many recipients,
                a malformed address or one with a line break or control character.
            PermissionDeniedError, PlanNotEligibleError: as for :meth:`snapshot`.
        """
        from credit_usage.service import reports

        return reports.schedule_report(
            self._context, viewer_id, team_id, frequency=frequency, recipients=recipients
        )

    def cancel_report(self, viewer_id: str, team_id: str, schedule_id: str) -> ReportSchedule:
        """Stop a schedule (Admin or Manager); its reports already sent stay sent.

        Raises:
            NotFoundError: the team has no such active schedule.
        """
        from credit_usage.service import reports

        return reports.cancel_report(self._context, viewer_id, team_id, schedule_id)

    def list_reports(self, viewer_id: str, team_id: str) -> list[ReportSchedule]:
        """The team's active schedules, by id (Admin or Manager)."""
        from credit_usage.service import reports

        return reports.list_reports(self._context, viewer_id, team_id)

    def run_due_reports(self, *, lease: timedelta = DEFAULT_LEASE) -> list[DeliveryResult]:
        """Send every report that is due and not yet delivered, then the limit alerts.

        For every active schedule of every team, every due period not yet
        sent -- all the periods missed after an outage, oldest first -- is
        sent once: claimed in storage before sending and marked after. A
        claim not marked within ``lease`` (a crashed worker) is taken as
        abandoned and sent again with the same ``Message-ID``. A failed send
        is recorded and retried by the next run, and never stops the other
        schedules. A period is ``skipped`` -- recorded with the reason, for
        good -- while the team's plan is not eligible or the schedule's
        creator is no longer an active Admin or Manager. Two workers may run
        this at once: each report is sent by one of them.

        Returns:
            One result per (schedule, period) sent, failed or skipped in
            this run; periods delivered before are not listed.

        Raises:
            ValidationError: the service has no mailer.
        """
        from credit_usage.service import alerts, reports

        results = reports.run_due_reports(self._context, lease=lease)
        alerts.deliver_alerts(self._context, lease=lease)
        return results

    def deliver_alerts(self, *, lease: timedelta = DEFAULT_LEASE) -> int:
        """Email every limit alert not yet delivered to its team's active Admins; how many.

        An alert is recorded when a write takes a member, a group or the
        team's pool past 75 % or 100 % of its limit in a cycle, once per
        threshold; delivery follows the claim-and-mark rules of
        :meth:`run_due_reports`, which also runs this. Without a mailer it
        sends nothing.
        """
        from credit_usage.service import alerts

        return alerts.deliver_alerts(self._context, lease=lease)

    def list_alerts(self, viewer_id: str, team_id: str) -> list[LimitAlert]:
        """The team's limit alerts, oldest first (Admin or Manager), to show or forward."""
        from credit_usage.service import alerts

        return alerts.list_alerts(self._context, viewer_id, team_id)
