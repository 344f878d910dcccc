"""The reference workload of the benchmarks, generated deterministically.

Ten teams share one database. The measured team has 1,000 members in 20
groups and the size's number of usage events in its current billing cycle
(4 features x 4 credit types); the nine other teams (100 members in 5 groups
each) have as many events between them. The ``tiny`` size, for the test
suite, has fewer members and groups (:data:`SHAPES`). For the member
scaling of ``snapshot()``, more teams of 1,000 to 10,000 members (120 and
1,200 at ``tiny``) get a few events in every member x feature x credit type
cell (:data:`MEMBER_SCALES`); they are loaded last. Every event is
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
    Feature,
    Group,
    LedgerEntry,
    Member,
    Plan,
    Role,
    Team,
)

# The shared builders need no pytest.
from credit_usage.testing.builders import make_group, make_member, make_team, usage

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
#: ``snapshot()`` is timed when the measured team has this many tenths of its events.
CHECKPOINTS = 10


@dataclass(frozen=True)
class MemberScale:
    """The teams of the snapshot-against-members series, loaded after everything else.

    Each has ``members`` members (groups in the measured team's proportion)
    and exactly ``per_cell`` events in every member x feature x credit type
    cell of its current cycle, so every counter of its snapshot exists. The
    first team is the reference the last is compared with.
    """

    members: tuple[int, ...]
    per_cell: int


#: The member series per size: the row compares the last team with the first.
MEMBER_SCALES = {
    "tiny": MemberScale(members=(120, 1_200), per_cell=1),
    "small": MemberScale(members=(1_000, 10_000), per_cell=1),
    "medium": MemberScale(members=(1_000, 2_500, 5_000, 10_000), per_cell=2),
    "full": MemberScale(members=(1_000, 2_500, 5_000, 10_000), per_cell=3),
}


@dataclass(frozen=True)
class Shape:
    """Members and groups of the measured team, and of each of the nine other teams."""

    members: int = 1_000
    groups: int = 20
    other_members: int = 100
    other_groups: int = 5


#: The reference shape at every size but ``tiny``, which
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


#: One event as drawn: user_id, group_id, feature, credit_type, amount, occurred_at (µs).
Draw = tuple[str, str | None, Feature, str, int, int]


@dataclass
class Workload:
    """The teams and their events for one ``--size``; iterate :meth:`loads` to get them."""

    size: str
    seed: int = 20261128
    teams: list[TeamSetup] = field(init=False)
    #: The teams of the snapshot-against-members series (:data:`MEMBER_SCALES`).
    member_teams: list[TeamSetup] = field(init=False)

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
        scale = self.member_scale
        self.member_teams = [
            _team(
                f"team-m{members:05d}",
                f"{members:,} members",
                members=members,
                groups=max(1, members * shape.groups // shape.members),
                events=members * len(FEATURES) * len(CREDIT_TYPES) * scale.per_cell,
            )
            for members in scale.members
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
    def member_scale(self) -> MemberScale:
        return MEMBER_SCALES[self.size]

    @property
    def checkpoints(self) -> list[int]:
        """The measured team's event counts at which ``snapshot()`` is timed: every tenth."""
        events = self.measured.events
        return sorted({events * k // CHECKPOINTS for k in range(1, CHECKPOINTS + 1)} - {0})

    @property
    def checkpoint(self) -> int:
        """The first checkpoint (1/10 of the events): where snapshot flatness is judged from."""
        return self.checkpoints[0]

    def measured_entries(self) -> Iterator[LedgerEntry]:
        """The measured team's entries again, in load order (for the in-memory sections)."""
        for load in _team_loads(self.measured, self.seed, splits=self.checkpoints):
            yield from load.entries

    def member_loads(self, setup: TeamSetup) -> Iterator[Load]:
        """The batches of one team of :attr:`member_teams`: every cell ``per_cell`` times."""
        return _batches(
            setup.team.team_id, _cover_draws(setup, self.seed, self.member_scale.per_cell)
        )

    def loads(self) -> Iterator[Load]:
        """Every batch, the measured team's interleaved with the other teams' in turn.

        The measured team's batches are split so that one ends exactly at
        each of :attr:`checkpoints` (at ``small``, whose tenths are 5,000
        events, its batches are 5,000 events; at other sizes the tenths are
        whole batches).
        """
        measured = _team_loads(self.measured, self.seed, splits=self.checkpoints)
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


def _team_loads(setup: TeamSetup, seed: int, *, splits: list[int] | None = None) -> Iterator[Load]:
    """The team's events, drawn at random, in batches that also end at each of ``splits``."""
    return _batches(setup.team.team_id, _random_draws(setup, seed), splits=splits)


def _random_draws(setup: TeamSetup, seed: int) -> Iterator[Draw]:
    """``setup.events`` events by random members, features, types, amounts and instants."""
    rng = random.Random(f"{seed}/{setup.team.team_id}")
    users = [(m.user_id, m.group_id) for m in setup.members]
    start, end = micros(CYCLE_START), micros(NOW)
    for _ in range(setup.events):
        user_id, group_id = users[rng.randrange(len(users))]
        feature = FEATURES[rng.randrange(4)]
        credit_type = CREDIT_TYPES[rng.randrange(4)]
        amount = rng.randint(1, 20)
        yield user_id, group_id, feature, credit_type, amount, rng.randrange(start, end)


def _cover_draws(setup: TeamSetup, seed: int, per_cell: int) -> Iterator[Draw]:
    """``per_cell`` events in every member x feature x credit type cell, in random order."""
    rng = random.Random(f"{seed}/{setup.team.team_id}")
    cells = [
        (m.user_id, m.group_id, feature, credit_type)
        for m in setup.members
        for feature in FEATURES
        for credit_type in CREDIT_TYPES
    ]
    start, end = micros(CYCLE_START), micros(NOW)
    for _ in range(per_cell):
        rng.shuffle(cells)
        for user_id, group_id, feature, credit_type in cells:
            yield (
                user_id,
                group_id,
                feature,
                credit_type,
                rng.randint(1, 20),
                rng.randrange(start, end),
            )


def _batches(
    team_id: str, draws: Iterator[Draw], *, splits: list[int] | None = None
) -> Iterator[Load]:
    """Batches of up to :data:`BATCH` events, one also ending at each of ``splits``."""
    ends = set(splits or ())
    entries: list[LedgerEntry] = []
    rows: list[Row] = []
    for n, (user_id, group_id, feature, credit_type, amount, at) in enumerate(draws):
        entry_id = f"{team_id}-e{n:07d}"
        entries.append(
            usage(
                entry_id,
                team_id=team_id,
                user_id=user_id,
                group_id=group_id,
                feature=feature,
                credit_type=credit_type,
                amount=amount,
                occurred_at=from_micros(at),
                recorded_at=None,
            )
        )
        rows.append((team_id, entry_id, user_id, group_id, feature.value, credit_type, amount, at))
        if len(rows) == BATCH or n + 1 in ends:
            yield Load(team_id, entries, rows)
            entries, rows = [], []
    if rows:
        yield Load(team_id, entries, rows)
