"""The reference workload of DESIGN.md section 9, generated deterministically.

Ten teams share one database. The measured team has 1,000 members in 20
groups and the size's number of usage events in its current billing cycle
(4 features x 4 credit types); the nine other teams (100 members in 5 groups
each) have as many events between them. The ``tiny`` size, for the test
suite, has fewer members and groups (:data:`SHAPES`). Every event is
produced twice from the same random draw: as a :class:`~credit_usage.LedgerEntry`
for the library and as a plain tuple for the raw baseline table, so both
sides load identical rows.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from credit_usage import (
    BillingSchedule,
    EntryKind,
    Feature,
    Group,
    LedgerEntry,
    Member,
    Plan,
    Role,
    Team,
)

# The shared builders need no pytest.
from credit_usage.testing.builders import make_group, make_member, make_team

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The benchmark's "now": late in the cycle 2026-11-01..2026-11-30 (UTC).
NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
CYCLE_START = datetime(2026, 11, 1, tzinfo=UTC)
CYCLE_END = datetime(2026, 12, 1, tzinfo=UTC)
CREDIT_TYPES = ("standard", "email", "phone", "export")
FEATURES = tuple(Feature)
BATCH = 10_000
MEASURED = "team-00"
VIEWER = "u0000"

#: Events of the measured team's cycle (and of the other nine teams together) per size.
SIZES = {"tiny": 2_000, "small": 50_000, "medium": 200_000, "full": 1_000_000}


@dataclass(frozen=True)
class Shape:
    """Members and groups of the measured team, and of each of the nine other teams."""

    members: int = 1_000
    groups: int = 20
    other_members: int = 100
    other_groups: int = 5


#: The reference shape (DESIGN.md section 9) at every size but ``tiny``, which
#: only checks that the benchmark runs (the test suite's size): fewer members
#: to add one by one, so a run takes seconds.
SHAPES = {"tiny": Shape(members=120, groups=6, other_members=20, other_groups=2)}
#: Members ``u0000``..``u0004`` are the Admin and the Managers; the spenders of
#: ``record_usage`` are the plain members after them (at most this many).
SPENDERS = 100


def micros(instant: datetime) -> int:
    """Microseconds since the Unix epoch: how the raw baseline stores instants."""
    return (instant - EPOCH) // timedelta(microseconds=1)


def from_micros(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def clock() -> datetime:
    """The fixed clock handed to ``CreditUsage``."""
    return NOW


#: A baseline row: team_id, entry_id, user_id, group_id, feature, credit_type, amount,
#: occurred_at (microseconds since the epoch).
Row = tuple[str, str, str, str | None, str, str, int, int]


@dataclass(frozen=True)
class TeamSetup:
    team: Team
    groups: list[Group]
    members: list[Member]
    events: int


@dataclass(frozen=True)
class Load:
    """One batch of one team, as library entries and as baseline rows."""

    team_id: str
    entries: list[LedgerEntry]
    rows: list[Row]


@dataclass
class Workload:
    """The teams and their events for one ``--size``; iterate :meth:`loads` to get them."""

    size: str
    seed: int = 20261128
    teams: list[TeamSetup] = field(init=False)

    def __post_init__(self) -> None:
        events = SIZES[self.size]
        shape = self.shape
        others = [events // 9 + (1 if i < events % 9 else 0) for i in range(9)]
        self.teams = [
            _team(
                MEASURED,
                "Measured team",
                members=shape.members,
                groups=shape.groups,
                events=events,
            )
        ]
        self.teams += [
            _team(
                f"team-{i:02d}",
                f"Team {i}",
                members=shape.other_members,
                groups=shape.other_groups,
                events=others[i - 1],
            )
            for i in range(1, 10)
        ]

    @property
    def shape(self) -> Shape:
        return SHAPES.get(self.size, Shape())

    @property
    def measured(self) -> TeamSetup:
        return self.teams[0]

    @property
    def spenders(self) -> list[Member]:
        """The measured team's members that ``record_usage`` writes for (plain members)."""
        return self.measured.members[5 : 5 + SPENDERS]

    @property
    def checkpoint(self) -> int:
        """The measured team's event count at which snapshot flatness is first timed."""
        return self.measured.events // 10

    def measured_entries(self) -> Iterator[LedgerEntry]:
        """The measured team's entries again, in load order (for the pure ``aggregate()``)."""
        for load in _team_loads(self.measured, self.seed, split_at=self.checkpoint):
            yield from load.entries

    def loads(self) -> Iterator[Load]:
        """Every batch, the measured team's interleaved with the other teams' in turn.

        The measured team's batches are split so that one ends exactly at
        :attr:`checkpoint` events.
        """
        measured = _team_loads(self.measured, self.seed, split_at=self.checkpoint)
        others = [_team_loads(t, self.seed) for t in self.teams[1:]]
        turn = 0
        while measured is not None or others:
            if measured is not None:
                load = next(measured, None)
                if load is None:
                    measured = None
                else:
                    yield load
            while others:
                load = next(others[turn % len(others)], None)
                if load is None:
                    others.pop(turn % len(others))
                    continue
                turn += 1
                yield load
                break


def _team(team_id: str, name: str, *, members: int, groups: int, events: int) -> TeamSetup:
    team = make_team(
        team_id,
        name=name,
        plan=Plan.SCALE,
        billing=BillingSchedule(anchor=date(2026, 1, 1)),
        # Imports skip the pool check, but record_usage runs it: never the bottleneck.
        credits_per_cycle=10**15,
        timezone="UTC",
        credit_types=CREDIT_TYPES,
    )
    group_list = [
        make_group(f"g{g:02d}", team_id=team_id, name=f"Group {g:02d}") for g in range(groups)
    ]
    member_list = [
        make_member(
            f"u{u:04d}",
            team_id=team_id,
            name=f"Member {u:04d}",
            email=f"u{u:04d}@{team_id}.example",
            role=Role.ADMIN if u == 0 else Role.MANAGER if u < 5 else Role.MEMBER,
            group_id=group_list[u % groups].group_id,
        )
        for u in range(members)
    ]
    return TeamSetup(team, group_list, member_list, events)


def _team_loads(setup: TeamSetup, seed: int, *, split_at: int = 0) -> Iterator[Load]:
    rng = random.Random(f"{seed}/{setup.team.team_id}")
    team_id = setup.team.team_id
    users = [(m.user_id, m.group_id) for m in setup.members]
    start, end = micros(CYCLE_START), micros(NOW)
    done = 0
    while done < setup.events:
        size = min(BATCH, setup.events - done)
        if done < split_at < done + size:
            size = split_at - done
        entries, rows = [], []
        for n in range(done, done + size):
            user_id, group_id = users[rng.randrange(len(users))]
            feature = FEATURES[rng.randrange(4)]
            credit_type = CREDIT_TYPES[rng.randrange(4)]
            amount = rng.randint(1, 20)
            at = rng.randrange(start, end)
            entry_id = f"{team_id}-e{n:07d}"
            entries.append(
                LedgerEntry(
                    team_id=team_id,
                    entry_id=entry_id,
                    kind=EntryKind.USAGE,
                    user_id=user_id,
                    group_id=group_id,
                    feature=feature,
                    credit_type=credit_type,
                    amount=amount,
                    occurred_at=from_micros(at),
                )
            )
            rows.append(
                (team_id, entry_id, user_id, group_id, feature.value, credit_type, amount, at)
            )
        done += size
        yield Load(team_id, entries, rows)
