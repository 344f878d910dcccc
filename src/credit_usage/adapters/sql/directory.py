"""The directory recorder: teams, groups and members.

Every change of a team's directory is a write transaction that first locks
the team's row, as a ledger write does: a member deactivated, a group added
or a time zone changed commits wholly before or wholly after any write of
the team, never between a write's checks and its commit.
"""

from __future__ import annotations

import copy

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from credit_usage.adapters.sql import rows
from credit_usage.adapters.sql.datastore import Datastore, driver_error
from credit_usage.adapters.sql.ledger import LedgerRecorder
from credit_usage.adapters.sql.schema import Tables
from credit_usage.domain.model import Group, Member, Team
from credit_usage.errors import AlreadyExistsError, NotFoundError

__all__ = ["DirectoryRecorder"]


class DirectoryRecorder:
    """Writes of teams, groups and members."""

    def __init__(self, store: Datastore, tables: Tables, ledger: LedgerRecorder) -> None:
        self._store = store
        self._ledger = ledger
        teams, members = tables.teams, tables.members
        self._insert_team = teams.insert()
        self._update_team = (
            teams.update()
            .where(teams.c.team_id == sa.bindparam("key_team"))
            .values(
                {
                    c.name: sa.bindparam(f"new_{c.name}")
                    for c in teams.columns
                    # The ledger's position and volume are the ledger recorder's.
                    if c.name not in ("team_id", "ledger_seq", "ledger_volume")
                }
            )
        )
        self._insert_group = tables.groups.insert()
        self._insert_member = members.insert()
        self._update_member = (
            members.update()
            .where(
                members.c.team_id == sa.bindparam("key_team"),
                members.c.user_id == sa.bindparam("key_user"),
            )
            .values(
                {
                    c.name: sa.bindparam(f"new_{c.name}")
                    for c in members.columns
                    if c.name != "team_id"
                }
            )
        )

    def using(self, store: Datastore, ledger: LedgerRecorder) -> DirectoryRecorder:
        """This recorder on another datastore of the same dialect, sharing its statements."""
        recorder = copy.copy(self)
        recorder._store, recorder._ledger = store, ledger
        return recorder

    def add_team(self, team: Team) -> None:
        def work(conn: Connection) -> None:
            try:
                conn.execute(self._insert_team, rows.team_values(team))
            except IntegrityError as exc:
                raise AlreadyExistsError.team(team.team_id) from driver_error(exc)

        self._store.transaction(f"add team {team.team_id!r}", work, write=True)

    def update_team(self, team: Team) -> None:
        """Replace a team; a new time zone or billing schedule re-derives its figures.

        Daily roll-ups are keyed by local day and counters and balances by
        cycle, so both depend on the time zone and the billing schedule. When
        either changes, the team's roll-ups, counters and balances are deleted
        and derived again from the ledger in the same transaction, under the
        team's lock, rather than refusing the change: the ledger is the source
        of truth. It costs one pass over the team's ledger.
        """

        def work(conn: Connection) -> None:
            old = self._ledger.locked(conn, team.team_id).team
            values = {f"new_{k}": v for k, v in rows.team_values(team).items() if k != "team_id"}
            conn.execute(self._update_team, {"key_team": team.team_id, **values})
            if (old.timezone, old.billing) != (team.timezone, team.billing):
                self._ledger.derive_again(conn, team)

        self._store.transaction(f"update team {team.team_id!r}", work, write=True)

    def add_group(self, group: Group) -> None:
        values = {"team_id": group.team_id, "group_id": group.group_id, "name": group.name}

        def work(conn: Connection) -> None:
            self._ledger.locked(conn, group.team_id)
            try:
                conn.execute(self._insert_group, values)
            except IntegrityError as exc:
                raise AlreadyExistsError.group(group.team_id, group.group_id) from driver_error(exc)

        self._store.transaction(f"add group {group.group_id!r}", work, write=True)

    def add_member(self, member: Member) -> None:
        def work(conn: Connection) -> None:
            self._ledger.locked(conn, member.team_id)
            try:
                conn.execute(self._insert_member, rows.member_values(member))
            except IntegrityError as exc:
                raise AlreadyExistsError.member(member.team_id, member.user_id) from driver_error(
                    exc
                )

        self._store.transaction(f"add member {member.user_id!r}", work, write=True)

    def update_member(self, member: Member) -> None:
        values = {f"new_{k}": v for k, v in rows.member_values(member).items() if k != "team_id"}
        params = {"key_team": member.team_id, "key_user": member.user_id, **values}

        def work(conn: Connection) -> None:
            self._ledger.locked(conn, member.team_id)
            if conn.execute(self._update_member, params).rowcount == 0:
                raise NotFoundError.user(member.team_id, member.user_id)

        self._store.transaction(f"update member {member.user_id!r}", work, write=True)
