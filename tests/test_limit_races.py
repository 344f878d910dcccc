"""Racing spenders never take a credit more than a limit or the pool allows.

16 threads, each with its own storage object on the same database (one shared
object in memory), try 20 one-credit spends each against a cap of 100: exactly
100 land and 220 are refused, with no other exception, and the figures agree
with the ledger afterwards. The same with 4 processes on SQLite and PostgreSQL.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import date

import pytest

from credit_usage import (
    BillingSchedule,
    CreditLimit,
    CreditLimitExceededError,
    CreditUsage,
    InsufficientCreditsError,
    SqlStorage,
    Storage,
)
from credit_usage.testing.builders import make_group, make_member, make_team
from tests.conftest import NOW, Clock, StorageFactory
from tests.databases import sibling_storages

THREADS = 16
SPENDS = 20
CAP = 100


def _setup(storage: Storage, *, pool: int = 1_000_000) -> CreditUsage:
    app = CreditUsage(storage, clock=Clock(NOW))
    app.create_team(
        make_team(credits_per_cycle=pool, billing=BillingSchedule(anchor=date(2026, 11, 1)))
    )
    app.add_group(make_group("sales"))
    app.add_member(make_member("ada", role="admin"))
    app.add_member(make_member("mia", group_id="sales"))
    app.add_member(make_member("zoe", group_id="sales"))
    return app


def race(
    storage: Storage,
    users: Callable[[int], str],
    refusal: type[Exception],
    *,
    spends: int = SPENDS,
) -> Counter[str]:
    """Run THREADS threads of ``spends`` one-credit spends each; count what happened.

    Each thread has its own storage object on the storage's database.
    """
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)
    with sibling_storages(storage, THREADS) as storages:

        def work(worker: int) -> None:
            app = CreditUsage(storages[worker], clock=Clock(NOW))
            barrier.wait(timeout=30)
            for i in range(spends):
                try:
                    app.record_usage(
                        "acme", users(worker), feature="api", credit_type="email", amount=1,
                        occurred_at=NOW, entry_id=f"w{worker}-{i}",
                    )  # fmt: skip
                    outcome = "accepted"
                except refusal:
                    outcome = "refused"
                except Exception as exc:  # Counted, so the test names it.
                    outcome = f"{type(exc).__name__}: {exc}"
                with lock:
                    outcomes[outcome] += 1

        threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert not any(t.is_alive() for t in threads), "a spender is stuck (deadlock?)"
    return outcomes


def _verify(storage: Storage) -> list[str]:
    verify = getattr(storage, "verify")  # noqa: B009 - every shipped storage has one
    problems: list[str] = verify("acme")
    return problems


class TestRacingThreads:
    """16 threads, 20 spends each, a cap of 100: exactly 100 land."""

    def test_a_user_limit(self, make_storage: StorageFactory) -> None:
        """Mia's 100-credit limit, spent from 16 threads at once."""
        storage = make_storage()
        app = _setup(storage)
        app.set_credit_limit(
            "ada", "acme", CreditLimit(scope="user", subject_id="mia", credits=CAP)
        )
        outcomes = race(storage, lambda _: "mia", CreditLimitExceededError)
        assert outcomes == {"accepted": CAP, "refused": THREADS * SPENDS - CAP}
        assert app.member_usage("ada", "acme", "mia").used == CAP
        assert _verify(storage) == []

    def test_a_group_limit_shared_by_two_members(self, make_storage: StorageFactory) -> None:
        """Sales' 100 credits, spent by Mia's and Zoe's threads at once."""
        storage = make_storage()
        app = _setup(storage)
        app.set_credit_limit(
            "ada", "acme", CreditLimit(scope="group", subject_id="sales", credits=CAP)
        )
        outcomes = race(
            storage, lambda worker: ("mia", "zoe")[worker % 2], CreditLimitExceededError
        )
        assert outcomes == {"accepted": CAP, "refused": THREADS * SPENDS - CAP}
        report = app.usage_report("ada", "acme", app.snapshot("ada", "acme").cycle)
        assert {g.group_id: g.total for g in report.by_group()}["sales"] == CAP
        assert _verify(storage) == []

    def test_the_team_pool(self, make_storage: StorageFactory) -> None:
        """A pool of 100 credits, spent from 16 threads at once."""
        storage = make_storage()
        app = _setup(storage, pool=CAP)
        outcomes = race(storage, lambda _: "mia", InsufficientCreditsError)
        assert outcomes == {"accepted": CAP, "refused": THREADS * SPENDS - CAP}
        assert app.snapshot("ada", "acme").remaining == 0
        assert _verify(storage) == []


PROCESSES = 4
PROCESS_SPENDS = 50


def _spend_in_a_process(url: str, prefix: str, worker: int) -> Counter[str]:
    """One process: its own storage, PROCESS_SPENDS one-credit spends of Mia."""
    storage = SqlStorage.from_url(url, table_prefix=prefix)
    app = CreditUsage(storage, clock=Clock(NOW))
    outcomes: Counter[str] = Counter()
    try:
        for i in range(PROCESS_SPENDS):
            try:
                app.record_usage(
                    "acme", "mia", feature="api", credit_type="email", amount=1,
                    occurred_at=NOW, entry_id=f"p{worker}-{i}",
                )  # fmt: skip
                outcomes["accepted"] += 1
            except CreditLimitExceededError:
                outcomes["refused"] += 1
            except Exception as exc:  # Counted, so the test names it.
                outcomes[f"{type(exc).__name__}: {exc}"] += 1
    finally:
        storage.engine.dispose()
    return outcomes


class TestRacingProcesses:
    """4 processes, each with its own storage, against one user limit."""

    @pytest.mark.parametrize(
        "kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
    )
    def test_a_user_limit(self, kind: str, request: pytest.FixtureRequest) -> None:
        """200 spends of one credit against 100: exactly 100 land."""
        from tests.databases import sql_storage_factory

        factory = sql_storage_factory(kind, request)
        storage = next(factory)()
        app = _setup(storage)
        app.set_credit_limit(
            "ada", "acme", CreditLimit(scope="user", subject_id="mia", credits=CAP)
        )
        url = storage.engine.url.render_as_string(hide_password=False)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(PROCESSES, mp_context=context) as pool:
            results = pool.map(
                _spend_in_a_process,
                [url] * PROCESSES,
                [storage.table_prefix] * PROCESSES,
                range(PROCESSES),
            )
            outcomes = sum(results, Counter())
        assert outcomes == {"accepted": CAP, "refused": PROCESSES * PROCESS_SPENDS - CAP}
        assert app.member_usage("ada", "acme", "mia").used == CAP
        assert storage.verify("acme") == []
        next(factory, None)
