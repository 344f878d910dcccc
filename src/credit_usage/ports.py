"""The ports: what the service needs from storage and mail.

A host implements these protocols without inheriting from anything of ours,
and proves its adapter with :mod:`credit_usage.testing`. The service calls
only what is here.

Rules every :class:`Storage` keeps:

* Every method is scoped to one team; nothing of another team is read,
  written or returned. Reads of an unknown team return ``None`` or nothing;
  writes to one raise ``NotFoundError``.
* Ids are exact strings (no case folding or trimming); "ordered by id" means
  code-point order, as Python sorts ``str``.
* Datetimes go in and come out timezone-aware (UTC is fine); dates are local
  days in the team's time zone, worked out by the domain, never by storage.
* The ledger is append-only. :meth:`Storage.append` is the only write to it,
  and it is atomic: the entries and every derived figure in the batch are
  written together or not at all, under a lock that keeps other writers of
  the same team out from the first read of the transaction to the commit.
* Errors of the backend are raised as :class:`~credit_usage.errors.StorageError`
  (or a more precise :class:`~credit_usage.errors.CreditUsageError`) with the
  driver's exception as ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from datetime import date, datetime
from email.message import EmailMessage
from typing import Protocol

from credit_usage.domain.aggregate import UsageCell
from credit_usage.domain.ledger import Balance, BalanceKey, Batch
from credit_usage.domain.model import Group, LedgerEntry, Member, Team

__all__ = ["LedgerTransaction", "Mailer", "Storage", "WritePlan"]


class LedgerTransaction(Protocol):
    """What a write may read inside its transaction, with the team locked."""

    def find_entries(self, entry_ids: Collection[str]) -> dict[str, LedgerEntry]:
        """The stored entries among ``entry_ids``, keyed by id (missing ids are absent)."""
        ...

    def reversed_totals(self, entry_ids: Collection[str]) -> dict[str, int]:
        """For each id, the credits already reversed from that usage entry (0 if none)."""
        ...

    def balances(self, keys: Collection[BalanceKey]) -> dict[BalanceKey, Balance]:
        """The stored balances for ``keys`` (a key never written reads as ``Balance()``)."""
        ...


#: Decides, inside the write's transaction, what to append. It raises to
#: refuse the write, in which case nothing is written.
WritePlan = Callable[[LedgerTransaction], Batch]


class Storage(Protocol):
    """Where teams, members and the ledger live.

    Reads of collections are ordered as each docstring says, so that every
    adapter returns the same thing for the same data.
    """

    # -- teams, groups, members -------------------------------------------------
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

    def get_team(self, team_id: str) -> Team | None:
        """The team, or ``None``."""
        ...

    def add_group(self, group: Group) -> None:
        """Store a new group. Raises ``AlreadyExistsError`` if its id is taken in the team."""
        ...

    def list_groups(self, team_id: str) -> list[Group]:
        """The team's groups, ordered by ``group_id``."""
        ...

    def add_member(self, member: Member) -> None:
        """Store a new member. Raises ``AlreadyExistsError`` if the user is in the team."""
        ...

    def update_member(self, member: Member) -> None:
        """Replace a member. Raises ``NotFoundError`` if the user is not in the team."""
        ...

    def get_member(self, team_id: str, user_id: str) -> Member | None:
        """The member of ``team_id`` with ``user_id``, or ``None``."""
        ...

    def list_members(self, team_id: str) -> list[Member]:
        """The team's members, deactivated ones included, ordered by ``user_id``."""
        ...

    # -- the ledger -------------------------------------------------------------
    def append(self, team_id: str, plan: WritePlan) -> None:
        """Run ``plan`` in one transaction and write the batch it returns.

        Opens a transaction that keeps other writers of ``team_id`` out, calls
        ``plan`` with a :class:`LedgerTransaction`, then inserts
        ``batch.entries`` and adds ``batch.daily``, ``batch.cycles`` and
        ``batch.balances`` to the stored figures. If ``plan`` raises, nothing
        is written and the exception propagates unchanged. ``plan`` is called
        exactly once per append (an adapter that retries a transaction must
        not call it again). An entry id stored twice in a team, or repeated
        within the batch, is an ``IdempotencyConflictError`` (plans check
        first). An unknown team is a ``NotFoundError``.
        """
        ...

    def get_entry(self, team_id: str, entry_id: str) -> LedgerEntry | None:
        """One stored entry, or ``None``."""
        ...

    def iter_entries(self, team_id: str, start: datetime, end: datetime) -> Iterator[LedgerEntry]:
        """Entries with ``start <= occurred_at < end``, by ``occurred_at`` then insertion order.

        Streams: memory does not grow with the number of entries.
        """
        ...

    def usage_in_cycles(self, team_id: str, cycles: Collection[date]) -> list[UsageCell]:
        """Net usage summed over the cycles starting on ``cycles`` (per-cycle counters).

        One cell per (user, group, feature, credit type) with non-zero credits; any order.
        """
        ...

    def usage_on_days(self, team_id: str, first: date, last: date) -> list[UsageCell]:
        """Net usage summed over local days ``first..last`` inclusive (daily roll-ups).

        One cell per (user, group, feature, credit type) with non-zero credits; any order.
        """
        ...

    def get_balances(self, team_id: str, keys: Collection[BalanceKey]) -> dict[BalanceKey, Balance]:
        """The stored balances for ``keys``; a key never written reads as ``Balance()``."""
        ...


class Mailer(Protocol):
    """Sends a composed email. Raises ``DeliveryError`` when it cannot."""

    def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` to its To recipients."""
        ...
