"""Shared fixtures: storages to run against, a controllable clock, a seeded team.

The ``storage`` fixture is parametrized over every storage the project ships.
SQL storages are added by ``tests/databases.py``; PostgreSQL and MariaDB skip
with a reason when their server is unreachable, and fail instead when
``CREDIT_USAGE_REQUIRE_DATABASES=1`` (set by ``.ci/run``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings

from credit_usage import CreditUsage, InMemoryStorage, Storage, Team

# The builders of the storage contract kit: ``make_team(**overrides)`` is imported
# from here by the tests ("acme", "Acme", Pro, billed from 2025-01-15, 10,000
# credits, UTC, credit types email and phone).
from credit_usage.testing.builders import make_group, make_member, make_team

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

StorageFactory = Callable[[], Storage]

#: Every storage kind the service suite runs on, in order.
STORAGE_KINDS = ["memory", "sqlite", "postgres", "mariadb"]


def _storage_factories(request: pytest.FixtureRequest) -> Iterator[StorageFactory]:
    kind = request.param
    if kind == "memory":
        yield InMemoryStorage
        return
    from tests.databases import sql_storage_factory

    yield from sql_storage_factory(kind, request)


@pytest.fixture(params=STORAGE_KINDS)
def make_storage(request: pytest.FixtureRequest) -> Iterator[StorageFactory]:
    """A factory of empty storages of one kind; each call gives a fresh one."""
    yield from _storage_factories(request)


@pytest.fixture
def storage(make_storage: StorageFactory) -> Storage:
    return make_storage()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


#: "Today" in the tests: inside the cycle that starts 2026-11-15.
NOW = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def app(storage: Storage, clock: Clock) -> CreditUsage:
    return CreditUsage(storage=storage, clock=clock)


@pytest.fixture
def team(app: CreditUsage) -> Team:
    """Team "acme" on Pro: admin Ada, manager Max, members Mia (Sales) and Noa (Support)."""
    team = app.create_team(make_team())
    app.add_group(make_group("sales", name="Sales EMEA"))
    app.add_group(make_group("support"))
    for user_id, role, group in (
        ("ada", "admin", None),
        ("max", "manager", None),
        ("mia", "member", "sales"),
        ("noa", "member", "support"),
    ):
        app.add_member(make_member(user_id, role=role, group_id=group))
    return team
