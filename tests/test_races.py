"""Racing writers, settings changed mid-write, and reads under load, on every storage.

Each call runs in one storage transaction: a write decides on the team and
member it reads under the team's lock, and a read sees one state. These
tests park a writer between its start and its transaction (the ``clock``
hook is called before the transaction begins), change the team meanwhile,
and check that the write follows the change; and they race threads to show
that no figure drifts and no snapshot is torn.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from credit_usage import (
    BillingSchedule,
    CreditUsage,
    InsufficientCreditsError,
    Member,
    PermissionDeniedError,
    Storage,
)
from tests.conftest import Clock, StorageFactory, make_team

#: The audit's reproduction: pool 100 a cycle, cycles from the 1st, and "now" in April.
APRIL = datetime(2026, 4, 20, 12, tzinfo=UTC)
#: 31 March in UTC, but 1 April in Pacific/Kiritimati (UTC+14).
LAST_OF_MARCH_UTC = datetime(2026, 3, 31, 12, tzinfo=UTC)


def _team(storage: Storage, clock: Callable[[], datetime]) -> CreditUsage:
    app = CreditUsage(storage=storage, clock=clock)
    app.create_team(
        make_team(
            credits_per_cycle=100, billing=BillingSchedule(anchor=date(2026, 1, 1)), timezone="UTC"
        )
    )
    for user_id, role in (("ada", "admin"), ("mia", "member"), ("noa", "member")):
        app.add_member(
            Member(
                team_id="acme",
                user_id=user_id,
                name=user_id.title(),
                email=f"{user_id}@acme.test",
                role=role,
            )
        )
    return app


class ParkedClock:
    """A clock that, once armed, stops the next caller until the test releases it."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.armed = False
        self.parked = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> datetime:
        if self.armed and threading.current_thread() is not threading.main_thread():
            self.armed = False
            self.parked.set()
            assert self.release.wait(timeout=30), "the test never released the writer"
        return self.now


def _park_writer(clock: ParkedClock, write: Callable[[], object]) -> tuple[threading.Thread, list]:
    """Start ``write`` on a thread and return once it is parked in the clock."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(write())
        except Exception as exc:  # Handed to the test's thread.
            outcome.append(exc)

    clock.armed = True
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert clock.parked.wait(timeout=30), "the writer never reached the clock"
    return thread, outcome


def _verify(storage: Storage) -> list[str]:
    verify = getattr(storage, "verify")  # noqa: B009 - every shipped storage has one
    problems: list[str] = verify("acme")
    return problems


class TestAWriteFollowsChangesMadeBeforeItsTransaction:
    """What a write decides on is read inside its transaction, not before it."""

    def test_a_time_zone_change_moves_the_write_into_the_full_cycle(self, storage: Storage) -> None:
        """The audit's case: refused in April's full pool, not written into an empty March."""
        clock = ParkedClock(APRIL)
        app = _team(storage, clock)
        app.record_usage(
            "acme", "noa", feature="api", credit_type="email", amount=100,
            occurred_at=datetime(2026, 4, 10, tzinfo=UTC), entry_id="april",
        )  # fmt: skip

        thread, outcome = _park_writer(
            clock,
            lambda: app.record_usage(
                "acme",
                "mia",
                feature="api",
                credit_type="email",
                amount=50,
                occurred_at=LAST_OF_MARCH_UTC,
                entry_id="late",
            ),
        )
        app.update_team(
            make_team(
                credits_per_cycle=100,
                billing=BillingSchedule(anchor=date(2026, 1, 1)),
                timezone="Pacific/Kiritimati",
            )
        )
        clock.release.set()
        thread.join(timeout=30)

        assert len(outcome) == 1
        assert isinstance(outcome[0], InsufficientCreditsError)
        assert _verify(storage) == []
        assert app.snapshot("ada", "acme").used == 100

    def test_a_member_deactivated_meanwhile_cannot_spend(self, storage: Storage) -> None:
        """A member deactivated while their write waits to begin is refused, and nothing lands."""
        clock = ParkedClock(APRIL)
        app = _team(storage, clock)
        thread, outcome = _park_writer(
            clock,
            lambda: app.record_usage(
                "acme",
                "mia",
                feature="api",
                credit_type="email",
                amount=5,
                occurred_at=APRIL,
                entry_id="parked",
            ),
        )
        app.update_member(
            Member(
                team_id="acme", user_id="mia", name="Mia", email="mia@acme.test",
                role="member", active=False,
            )
        )  # fmt: skip
        clock.release.set()
        thread.join(timeout=30)

        assert len(outcome) == 1
        assert isinstance(outcome[0], PermissionDeniedError)
        assert app.snapshot("ada", "acme").used == 0


class TestRacingThreads:
    """Threads changing the team while others write leave no drift; snapshots are never torn."""

    def test_writers_racing_time_zone_changes_leave_no_drift(self, storage: Storage) -> None:
        """Two writers and a thread flipping the time zone: verify() finds nothing afterwards."""
        app = _team(storage, Clock(APRIL))
        app.update_team(
            make_team(credits_per_cycle=10_000, billing=BillingSchedule(anchor=date(2026, 1, 1)))
        )
        stop = threading.Event()
        errors: list[BaseException] = []

        def flip() -> None:
            for i in range(30):
                app.update_team(
                    make_team(
                        credits_per_cycle=10_000,
                        billing=BillingSchedule(anchor=date(2026, 1, 1)),
                        timezone=("Pacific/Kiritimati", "Etc/GMT+12", "UTC")[i % 3],
                    )
                )

        def write(user_id: str) -> None:
            # On after the last flip: a write that decided with a stale time zone
            # would leave figures no later re-derivation repairs.
            i = 0
            while not stop.is_set() or i < 40:
                app.record_usage(
                    "acme", user_id, feature="api", credit_type="email", amount=1,
                    occurred_at=LAST_OF_MARCH_UTC + timedelta(seconds=i), entry_id=f"{user_id}-{i}",
                )  # fmt: skip
                i += 1

        _run(errors, stop, [lambda: write("mia"), lambda: write("noa")], [flip])

        assert errors == []
        assert _verify(storage) == []

    def test_every_snapshot_under_concurrent_writes_is_self_consistent(
        self, make_storage: StorageFactory
    ) -> None:
        """8 writers and a reader: each of 1,000 snapshots' used equals the sum of its rows."""
        storage = make_storage()
        app = _team(storage, Clock(APRIL))
        app.update_team(
            make_team(credits_per_cycle=10**9, billing=BillingSchedule(anchor=date(2026, 1, 1)))
        )
        stop = threading.Event()
        errors: list[BaseException] = []
        torn: list[tuple[int, int]] = []

        def read() -> None:
            for _ in range(1_000):
                snapshot = app.snapshot("ada", "acme")
                rows = sum(member.used for member in snapshot.members)
                if rows != snapshot.used:
                    torn.append((snapshot.used, rows))

        def write(worker: int) -> None:
            i = 0
            while not stop.is_set():
                app.record_usage(
                    "acme", ("mia", "noa")[worker % 2], feature="api", credit_type="email",
                    amount=1 + worker, occurred_at=APRIL, entry_id=f"w{worker}-{i}",
                )  # fmt: skip
                i += 1

        writers = [lambda w=w: write(w) for w in range(8)]  # type: ignore[misc]
        _run(errors, stop, writers, [read])

        assert errors == []
        assert torn == []


def _run(
    errors: list[BaseException],
    stop: threading.Event,
    background: list[Callable[[], None]],
    foreground: list[Callable[[], None]],
) -> None:
    """Run ``background`` until every ``foreground`` function is done; collect exceptions."""

    def guarded(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # Handed to the test's thread.
                errors.append(exc)

        return run

    behind = [threading.Thread(target=guarded(w), daemon=True) for w in background]
    ahead = [threading.Thread(target=guarded(w), daemon=True) for w in foreground]
    for thread in behind + ahead:
        thread.start()
    for thread in ahead:
        thread.join(timeout=120)
    stop.set()
    for thread in behind:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in behind + ahead), "a thread is stuck (deadlock?)"
