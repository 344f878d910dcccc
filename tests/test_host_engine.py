"""A good guest in the host's database: the host's engine as it was, the host's transaction.

A host passes its own ``Engine`` and keeps using it through its ORM; or binds
the storage to a ``Connection`` inside its own transaction, so that its rows
and the credits they cost commit or roll back together.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import NullPool

from credit_usage import (
    CreditUsage,
    IdempotencyConflictError,
    InsufficientCreditsError,
    SqlStorage,
    ValidationError,
)
from credit_usage.testing.builders import make_member, reads
from tests.conftest import NOW, Clock, make_team
from tests.databases import server_url

_prefixes = itertools.count(1)


class Base(DeclarativeBase):
    pass


class Order(Base):
    """A host's own table: an order whose credits the host records with it."""

    __tablename__ = "host_orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    note: Mapped[str] = mapped_column(sa.String(50))


def _host_engine(kind: str, request: pytest.FixtureRequest) -> sa.Engine:
    """An engine as a host makes it: the driver's defaults, nothing of ours."""
    if kind == "sqlite":
        return sa.create_engine(f"sqlite:///{request.getfixturevalue('tmp_path') / 'host.db'}")
    return sa.create_engine(server_url(kind, request))


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def host(request: pytest.FixtureRequest) -> Iterator[tuple[sa.Engine, SqlStorage]]:
    """The host's engine with its own table, and a storage on it with a fresh prefix."""
    engine = _host_engine(request.param, request)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    storage = SqlStorage(engine, table_prefix=f"h{next(_prefixes)}_")
    storage.create_schema()
    yield engine, storage
    storage.drop_schema()
    Base.metadata.drop_all(engine)
    engine.dispose()


def _seed(storage: SqlStorage, credits: int = 100) -> CreditUsage:
    app = CreditUsage(storage, clock=Clock(NOW))
    app.create_team(make_team(credits_per_cycle=credits))
    app.add_member(make_member("ada", role="admin"))
    app.add_member(make_member("mia"))
    return app


def _spend(app: CreditUsage, entry_id: str, amount: int = 5) -> None:
    app.record_usage(
        "acme", "mia", feature="api", credit_type="email", amount=amount,
        occurred_at=NOW, entry_id=entry_id,
    )  # fmt: skip


def _settings(engine: sa.Engine) -> dict[str, Any]:
    """What a host observes of a connection of its engine."""
    with engine.connect() as conn:
        found: dict[str, Any] = {"isolation": conn.get_isolation_level()}
        name = engine.dialect.name
        if name == "sqlite":
            for pragma in ("journal_mode", "busy_timeout", "foreign_keys"):
                found[pragma] = conn.exec_driver_sql(f"PRAGMA {pragma}").scalar()
        elif name == "postgresql":
            found["level"] = conn.exec_driver_sql("SHOW transaction_isolation").scalar()
        else:
            found["sql_mode"] = conn.exec_driver_sql("SELECT @@SESSION.sql_mode").scalar()
            found["level"] = conn.exec_driver_sql("SELECT @@SESSION.tx_isolation").scalar()
        dbapi = conn.connection.dbapi_connection
        found["autocommit"] = getattr(dbapi, "isolation_level", getattr(dbapi, "autocommit", None))
    return found


def _orders(engine: sa.Engine) -> list[str]:
    with Session(engine) as session:
        return sorted(o.note for o in session.scalars(sa.select(Order)))


class TestTheHostsEngineStaysAsItWas:
    """Passing a host's Engine changes nothing the host observes on it."""

    def test_settings_rollback_commit_and_isolation_are_the_hosts(
        self, host: tuple[sa.Engine, SqlStorage]
    ) -> None:
        """After the library wrote and read, the host's ORM session behaves as before."""
        engine, storage = host
        before = _settings(engine)
        app = _seed(storage)
        _spend(app, "e1")
        assert app.snapshot("ada", "acme").used == 5
        assert _settings(engine) == before

        with Session(engine) as session:
            session.add(Order(note="rolled back"))
            session.flush()
            session.rollback()
            session.add(Order(note="committed"))
            session.commit()
            assert session.connection().get_isolation_level() == before["isolation"]
        assert _orders(engine) == ["committed"]
        assert _settings(engine) == before


class TestTheHostsOwnTransaction:
    """A storage bound to a host's connection writes inside the host's transaction."""

    def test_the_hosts_row_and_the_usage_commit_together(
        self, host: tuple[sa.Engine, SqlStorage]
    ) -> None:
        """One commit: the order and its credits are both there."""
        engine, storage = host
        _seed(storage)
        with Session(engine) as session, session.begin():
            session.add(Order(note="paid with credits"))
            session.flush()
            _spend(CreditUsage(storage.bind(session.connection()), clock=Clock(NOW)), "e1")
        assert _orders(engine) == ["paid with credits"]
        assert reads(storage).entry("e1") is not None

    def test_the_hosts_row_and_the_usage_roll_back_together(
        self, host: tuple[sa.Engine, SqlStorage]
    ) -> None:
        """The host rolls back: neither the order nor its credits remain."""
        engine, storage = host
        app = _seed(storage)
        with engine.connect() as conn:
            transaction = conn.begin()
            conn.execute(sa.insert(Order), {"note": "abandoned"})
            _spend(CreditUsage(storage.bind(conn), clock=Clock(NOW)), "e1")
            transaction.rollback()
        assert _orders(engine) == []
        assert reads(storage).entry("e1") is None
        assert app.snapshot("ada", "acme").used == 0

    def test_a_refused_write_leaves_the_hosts_transaction_usable(
        self, host: tuple[sa.Engine, SqlStorage]
    ) -> None:
        """Out of credits, or an id reused: only the library's step is undone."""
        engine, storage = host
        app = _seed(storage, credits=10)
        _spend(app, "taken", 1)
        with engine.begin() as conn:
            conn.execute(sa.insert(Order), {"note": "first"})
            bound = CreditUsage(storage.bind(conn), clock=Clock(NOW))
            with pytest.raises(InsufficientCreditsError):
                _spend(bound, "too-much", 50)
            with pytest.raises(IdempotencyConflictError):
                _spend(bound, "taken", 2)
            conn.execute(sa.insert(Order), {"note": "second"})
            _spend(bound, "fits", 3)
        assert _orders(engine) == ["first", "second"]
        assert app.snapshot("ada", "acme").used == 4
        assert reads(storage).entry("too-much") is None

    def test_a_bound_storage_reads_what_the_transaction_wrote(
        self, host: tuple[sa.Engine, SqlStorage]
    ) -> None:
        """A member added in the host's transaction may spend in it, before the commit."""
        engine, storage = host
        _seed(storage)
        with engine.begin() as conn:
            bound = CreditUsage(storage.bind(conn), clock=Clock(NOW))
            bound.add_member(make_member("noa"))
            bound.record_usage(
                "acme", "noa", feature="api", credit_type="email", amount=2,
                occurred_at=NOW, entry_id="n1",
            )  # fmt: skip
            assert bound.snapshot("ada", "acme").used == 2
        assert reads(storage).member("noa") is not None


class TestBindingBadConnections:
    """A connection that cannot hold the library's step is refused, nothing written."""

    def test_a_closed_connection_is_refused(self, host: tuple[sa.Engine, SqlStorage]) -> None:
        """A call on a storage bound to a closed connection is a ValidationError."""
        engine, storage = host
        app = _seed(storage)
        conn = engine.connect()
        bound = CreditUsage(storage.bind(conn), clock=Clock(NOW))
        conn.close()
        with pytest.raises(ValidationError, match="closed"):
            _spend(bound, "e1")
        assert app.snapshot("ada", "acme").used == 0

    def test_a_connection_without_a_transaction_is_refused(
        self, host: tuple[sa.Engine, SqlStorage]
    ) -> None:
        """Outside a transaction the library's write would commit alone: refused."""
        engine, storage = host
        app = _seed(storage)
        with engine.connect() as conn, pytest.raises(ValidationError, match="no transaction"):
            _spend(CreditUsage(storage.bind(conn), clock=Clock(NOW)), "e1")
        assert app.snapshot("ada", "acme").used == 0

    @pytest.mark.parametrize("value", [None, "sqlite://", object()])
    def test_something_that_is_no_connection_is_refused(
        self, host: tuple[sa.Engine, SqlStorage], value: object
    ) -> None:
        """bind() takes a SQLAlchemy Connection."""
        _, storage = host
        with pytest.raises(ValidationError, match="Connection"):
            storage.bind(value)  # type: ignore[arg-type]

    @pytest.mark.mariadb
    def test_a_connection_of_another_family_is_refused(
        self, tmp_path: Any, request: pytest.FixtureRequest
    ) -> None:
        """Tables made for SQLite and PostgreSQL do not fit MariaDB's, and the reverse."""
        storage = SqlStorage.from_url(f"sqlite:///{tmp_path / 'a.db'}")
        mariadb = sa.create_engine(server_url("mariadb", request), poolclass=NullPool)
        try:
            with mariadb.begin() as conn, pytest.raises(ValidationError, match="mysql"):
                storage.bind(conn)
        finally:
            storage.engine.dispose()
            mariadb.dispose()
