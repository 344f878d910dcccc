"""The ports: what the service needs from storage and mail.

A host implements these protocols without inheriting from anything of ours,
and proves its adapter with :mod:`credit_usage.testing`. The service calls
only what is here.

**One transaction per service call.** Everything a call reads about a team
comes from one :class:`TeamReads`, handed to the call's function by
:meth:`Storage.read` or :meth:`Storage.append`, so a snapshot's totals and
its member rows come from one state, and a write decides on the team,
member, groups, stored entries and balances it reads under the team's lock.

Rules every :class:`Storage` keeps:

* Every method is scoped to one team; nothing of another team is read,
  written or returned. Reading or writing an unknown team raises
  ``NotFoundError``.
* Ids are exact strings (no case folding or trimming); "ordered by id" means
  code-point order, as Python sorts ``str``.
* Datetimes go in and come out timezone-aware (UTC is fine); dates are local
  days in the team's time zone, worked out by the domain, never by storage.
* The ledger is append-only. :meth:`Storage.append` is the only write to it,
  and it is atomic: the entries and every derived figure in the batch are
  written together or not at all, under a lock that keeps other writers of
  the same team -- :meth:`Storage.update_team` and the member and group
  writes included -- out from the first read of the transaction to the commit.
* Errors of the backend are raised as :class:`~credit_usage.errors.StorageError`
  (or a more precise :class:`~credit_usage.errors.CreditUsageError`) with the
  driver's exception as ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from datetime import date, datetime
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from attrs import frozen

from credit_usage.domain.aggregate import MemberSums, UsageCell
from credit_usage.domain.alerts import LimitAlert
from credit_usage.domain.delivery import Delivery, ScheduledReport
from credit_usage.domain.ledger import Balance, BalanceKey, Batch
from credit_usage.domain.model import CreditLimit, Group, LedgerEntry, LedgerRow, Member, Team

if TYPE_CHECKING:
    from email.message import EmailMessage

__all__ = [
    "Decision",
    "Directory",
    "Ledger",
    "LedgerTransaction",
    "Mailer",
    "Outbox",
    "Query",
    "Storage",
    "TeamReads",
    "WritePlan",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class TeamReads(Protocol):
    """What a call may read about one team, inside one transaction.

    Valid only while the function it was handed to runs; every read sees the
    same state (the team is locked when the function is a write's plan).
    """

    @property
    def team(self) -> Team:
        """The team, as stored when the transaction began."""
        ...

    def member(self, user_id: str) -> Member | None:
        """The member of the team with ``user_id``, or ``None``."""
        ...

    def members(self) -> list[Member]:
        """The team's members, deactivated ones included, ordered by ``user_id``."""
        ...

    def groups(self) -> list[Group]:
        """The team's groups, ordered by ``group_id``."""
        ...

    def limits(self, subject_ids: Collection[str] | None = None) -> list[CreditLimit]:
        """The team's credit limits, ordered by scope, subject and credit type (all types first).

        With ``subject_ids``, only the limits of those users and groups: a
        write reads the limits of the members and groups it touches, not
        every limit of the team.
        """
        ...

    def find_entries(self, entry_ids: Collection[str]) -> dict[str, LedgerEntry]:
        """The stored entries among ``entry_ids``, keyed by id (missing ids are absent)."""
        ...

    def reversed_totals(self, entry_ids: Collection[str]) -> dict[str, int]:
        """For each id, the credits already reversed from that usage entry (0 if none)."""
        ...

    def iter_entries(self, start: datetime, end: datetime) -> Iterator[LedgerEntry]:
        """Entries with ``start <= occurred_at < end``, by ``occurred_at`` then insertion order.

        Streams: memory does not grow with the number of entries. The
        iterator is valid until the transaction ends; the storage closes it
        then, whether or not it was read to the end.
        """
        ...

    def iter_ledger_rows(self, start: datetime, end: datetime) -> Iterator[LedgerRow]:
        """:meth:`iter_entries` as rows of the audit export, without building entries.

        The same entries in the same order, each as a :data:`LedgerRow`
        ``(entry_id, kind, occurred_at, recorded_at, user_id, group_id,
        feature, credit_type, amount, reverses)``: ``kind`` the kind's value,
        datetimes aware in UTC, ``None`` where the entry has no value. The
        export's hot path: a storage may decode its rows straight into these.
        """
        ...

    def usage_in_cycles(self, first: date, last: date) -> list[UsageCell]:
        """Net usage summed over the cycles starting on ``first`` to ``last`` inclusive.

        From the per-cycle counters (keyed by a cycle's first local day). One
        cell per (user, group, feature, credit type) with non-zero credits; any order.
        """
        ...

    def usage_on_days(self, first: date, last: date) -> list[UsageCell]:
        """Net usage summed over local days ``first..last`` inclusive (daily roll-ups).

        One cell per (user, group, feature, credit type) with non-zero credits; any order.
        """
        ...

    def member_sums_in_cycles(self, first: date, last: date) -> dict[str, MemberSums]:
        """:func:`~credit_usage.domain.aggregate.member_sums` of :meth:`usage_in_cycles`.

        The same figures, summed per user: what a snapshot shows. A storage
        may compute them without building the cells (the snapshot's hot path).
        """
        ...

    def member_sums_on_days(self, first: date, last: date) -> dict[str, MemberSums]:
        """:func:`~credit_usage.domain.aggregate.member_sums` of :meth:`usage_on_days`."""
        ...

    def balances(self, keys: Collection[BalanceKey]) -> dict[BalanceKey, Balance]:
        """The stored balances for ``keys`` (a key never written reads as ``Balance()``)."""
        ...

    def schedules(self) -> list[ScheduledReport]:
        """The team's report schedules, cancelled ones included, ordered by ``schedule_id``."""
        ...

    def deliveries(self, delivery_ids: Collection[str]) -> dict[str, Delivery]:
        """The stored deliveries among ``delivery_ids``, keyed by id (missing ids are absent)."""
        ...

    def alerts(self) -> list[LimitAlert]:
        """The team's limit alerts in :func:`~credit_usage.domain.alerts.alert_order`."""
        ...

    def volume(self) -> int:
        """The credits the team's ledger has moved so far: the sum of every entry's amount.

        Bounded by :data:`~credit_usage.domain.ledger.MAX_LEDGER_VOLUME`, so
        that no sum of a team's figures can overflow a 64-bit integer.
        """
        ...


#: The reads of a write's plan: a :class:`TeamReads` with the team locked.
LedgerTransaction = TeamReads


@frozen
class Decision(Generic[T_co]):
    """What a write's plan decided: what to write, and the call's answer.

    ``batch`` is appended to the ledger; ``set_limits`` are stored, each
    replacing the limit of the same scope, subject and credit type; the
    limits in ``removed_limits`` (matched on those three) are deleted;
    ``set_schedules`` and ``set_deliveries`` are stored, each replacing the
    one of the same id; ``new_alerts`` are added (an alert id already stored
    is left as it is).
    """

    batch: Batch
    result: T_co
    set_limits: tuple[CreditLimit, ...] = ()
    removed_limits: tuple[CreditLimit, ...] = ()
    set_schedules: tuple[ScheduledReport, ...] = ()
    set_deliveries: tuple[Delivery, ...] = ()
    new_alerts: tuple[LimitAlert, ...] = ()


#: A read: computes the call's answer from one consistent :class:`TeamReads`.
Query = Callable[[TeamReads], T]
#: Decides, inside the write's transaction, what to append and what to answer.
#: It raises to refuse the write, in which case nothing is written. It has no
#: effect but its return value: an adapter may run it again when it retries
#: a transaction the database aborted (a deadlock, a serialization failure).
WritePlan = Callable[[TeamReads], Decision[T]]


class Directory(Protocol):
    """Writes of teams, groups and members."""

    def add_team(self, team: Team) -> None:
        """Store a new team. Raises ``AlreadyExistsError`` if its id is taken."""
        ...

    def update_team(self, team: Team) -> None:
        """Replace a team. Raises ``NotFoundError`` if it does not exist.

        When the time zone or billing schedule changes, the daily roll-ups,
        cycle counters and balances are derived again from the ledger
        (``Batch.of(team, entries)``) in the same transaction.
        """
        ...

    def add_group(self, group: Group) -> None:
        """Store a new group. Raises ``AlreadyExistsError`` if its id is taken in the team."""
        ...

    def add_member(self, member: Member) -> None:
        """Store a new member. Raises ``AlreadyExistsError`` if the user is in the team."""
        ...

    def update_member(self, member: Member) -> None:
        """Replace a member. Raises ``NotFoundError`` if the user is not in the team."""
        ...


class Ledger(Protocol):
    """One transaction per call: reads of a team, and appends to its ledger."""

    def read(self, team_id: str, query: Query[T]) -> T:
        """Run ``query`` in one read transaction of ``team_id`` and return its answer.

        Every read of the :class:`TeamReads` it gets sees one state of the
        team; writers are not kept out. An exception of ``query`` propagates
        unchanged. Raises ``NotFoundError`` when the team does not exist.
        """
        ...

    def append(self, team_id: str, plan: WritePlan[T]) -> T:
        """Run ``plan`` with the team locked and write the batch it decides on.

        Opens a transaction that keeps other writers of ``team_id`` out, calls
        ``plan`` with a :class:`TeamReads`, then inserts ``batch.entries``,
        adds ``batch.daily``, ``batch.cycles`` and ``batch.balances`` to the
        stored figures and ``batch.volume`` to the team's volume, stores
        ``decision.set_limits`` and deletes ``decision.removed_limits``,
        commits and returns ``decision.result``. If ``plan`` raises, nothing is written and
        the exception propagates unchanged. An entry id stored twice in a
        team, or repeated within the batch, is an ``IdempotencyConflictError``
        (plans check first). An unknown team is a ``NotFoundError``.
        """
        ...


class Outbox(Protocol):
    """What the report and alert worker needs across teams."""

    def due_teams(self, now: datetime) -> list[str]:
        """The teams with work for the worker, in any order.

        A team is listed when one of its active schedules has its next
        report due at or before ``now``, or when one of its limit alerts is
        not yet finally delivered (sent or skipped). The only read of the
        library that spans teams.
        """
        ...


class Storage(Directory, Ledger, Outbox, Protocol):
    """Where teams, members and the ledger live: the union of the storage ports."""


class Mailer(Protocol):
    """Sends a composed email. Raises ``DeliveryError`` when it cannot."""

    def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` to its To recipients."""
        ...
