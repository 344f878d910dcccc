"""What the contract's groups share: the ``storage`` fixture they declare and their helpers."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from credit_usage.domain.ledger import Batch
from credit_usage.domain.model import Team
from credit_usage.ports import Decision, Storage, TeamReads
from credit_usage.testing.builders import (
    append_entries,
    grant,
    make_team,
    reversal,
    seed_team,
    usage,
)


def _in_transaction(storage: Storage, team_id: str, read: Callable[[TeamReads], None]) -> None:
    """Run ``read`` inside an append that writes nothing."""

    def plan(tx: TeamReads) -> Decision[None]:
        read(tx)
        return Decision(Batch.empty(), None)

    storage.append(team_id, plan)


def _run_concurrently(workers: int, work: Callable[[int], None]) -> None:
    """Run ``work(i)`` on ``workers`` threads released together; re-raise the first failure."""
    barrier = threading.Barrier(workers)
    failures: list[BaseException] = []

    def run(worker: int) -> None:
        try:
            barrier.wait(timeout=30)
            work(worker)
        except BaseException as exc:  # Handed to the test's thread below.
            failures.append(exc)

    threads = [
        threading.Thread(target=run, args=(i,), name=f"writer-{i}", daemon=True)
        for i in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"writers still running after 60 s (deadlock?): {stuck}"
    if failures:
        raise failures[0]


class _NeedsStorage:
    """Declares the one fixture a host overrides."""

    @pytest.fixture
    def storage(self) -> Storage:
        """A fresh, empty storage; subclasses must override this fixture."""
        raise NotImplementedError(
            f"{type(self).__name__} must override the `storage` fixture to return a fresh, "
            "empty storage, e.g.\n\n"
            "    @pytest.fixture\n"
            "    def storage(self) -> Storage:\n"
            "        return MyStorage()\n"
        )


def _seed_two_teams(storage: Storage) -> tuple[Team, Team]:
    """Teams acme and globex with the same user, group and entry ids but other amounts."""
    acme = seed_team(storage, make_team("acme"))
    globex = seed_team(storage, make_team("globex", name="Globex"))
    acme_use = usage("e1", amount=10)
    append_entries(storage, acme, acme_use, grant("g1", amount=100))
    append_entries(storage, acme, reversal("r1", acme_use, amount=3))
    append_entries(
        storage,
        globex,
        usage("e1", amount=20, team_id="globex"),
        grant("g1", amount=50, team_id="globex"),
    )
    return acme, globex
