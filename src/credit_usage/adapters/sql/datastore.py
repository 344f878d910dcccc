"""Connections, transactions and errors of the SQL storage.

Every storage call is one transaction run by :meth:`Datastore.transaction`:
it checks out one connection, begins (the dialect's way: a write locks, a
read sees one snapshot), runs the call's function, and commits. A
transaction the database aborted to break a deadlock or a serialization
conflict is run again, a bounded number of times; nothing of it was written.
Backend errors arrive as :class:`~credit_usage.errors.StorageError` with the
driver's exception as the cause and every credential of the URL hidden.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Final, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from credit_usage.adapters.credentials import mask_url, redact, url_secrets
from credit_usage.adapters.sql.dialect import SqlDialect
from credit_usage.errors import StorageError, ValidationError

__all__ = ["MAX_ATTEMPTS", "BoundDatastore", "Datastore", "driver_error"]

T = TypeVar("T")

#: How many times a transaction runs before a deadlock or serialization
#: failure is reported: each retry waits a little longer, with jitter, so
#: two transactions that collided do not collide again in step.
MAX_ATTEMPTS: Final = 8
_BACKOFF_SECONDS: Final = 0.005
#: Where a transaction run again is reported (at WARNING: a host watching for
#: contention wants to see deadlocks even though no call failed).
log = logging.getLogger("credit_usage.sql")


def driver_error(exc: SQLAlchemyError) -> BaseException:
    """The driver's own exception behind a SQLAlchemy one, as the ports ask for."""
    if isinstance(exc, DBAPIError) and isinstance(exc.orig, BaseException):
        return exc.orig
    return exc


class Datastore:
    """One engine, its dialect, and the way the storage talks to it."""

    def __init__(self, engine: Engine, dialect: SqlDialect) -> None:
        self.engine = engine
        self.dialect = dialect
        url = engine.url.render_as_string(hide_password=False)
        #: The database URL as messages and ``repr`` show it: no credentials.
        self.shown_url = mask_url(url)
        self._secrets = url_secrets(url)
        # One shared in-memory SQLite connection cannot run two transactions
        # at once; calls take turns. Every other pool gives each call its own.
        self._turns: AbstractContextManager[object] = (
            threading.RLock() if isinstance(engine.pool, StaticPool) else nullcontext()
        )

    def hide(self, secrets: tuple[str, ...]) -> None:
        """Hide ``secrets`` too in every message (those of the URL a host typed, say)."""
        self._secrets = tuple(dict.fromkeys(self._secrets + secrets))

    @property
    def secrets(self) -> tuple[str, ...]:
        """The credentials every message hides."""
        return self._secrets

    def reason(self, exc: BaseException) -> str:
        """The driver's message for ``exc`` on one line, credentials hidden."""
        cause = driver_error(exc) if isinstance(exc, SQLAlchemyError) else exc
        text = " ".join(str(cause).split()) or type(cause).__name__
        return redact(text, self._secrets)

    def failure(self, doing: str, exc: SQLAlchemyError) -> StorageError:
        """A :class:`StorageError` for ``exc`` raised while ``doing`` (raise it from the cause)."""
        return StorageError(
            f"could not {doing} in the database at {self.shown_url}: {self.reason(exc)}",
            operation=doing,
        )

    def scrubbed(self, cause: BaseException) -> BaseException:
        """``cause`` with every credential removed from its arguments, so a logged
        traceback does not print them (a raw ``@`` in a password makes the
        drivers name the rest of it as the host)."""
        text = str(cause)
        if redact(text, self._secrets) != text:
            cause.args = tuple(
                redact(arg, self._secrets) if isinstance(arg, str) else arg for arg in cause.args
            )
        return cause

    @contextmanager
    def failures(self, doing: str) -> Iterator[None]:
        """Raise backend errors while ``doing`` as :class:`StorageError`."""
        try:
            yield
        except SQLAlchemyError as exc:
            raise self.failure(doing, exc) from self.scrubbed(driver_error(exc))

    def connect(self) -> Connection:
        """A connection from the engine's pool."""
        try:
            return self.engine.connect()
        except SQLAlchemyError as exc:
            raise StorageError(
                f"cannot connect to the database at {self.shown_url}: {self.reason(exc)}",
                operation="connect",
            ) from self.scrubbed(driver_error(exc))

    def transaction(
        self, doing: str, work: Callable[[Connection], T], *, write: bool, retry: bool = True
    ) -> T:
        """Run ``work`` in one transaction and commit.

        A write the database aborted to break a deadlock or a serialization
        conflict is run again, up to :data:`MAX_ATTEMPTS` times in all; a read
        is not (its work may have streamed rows out already). Exceptions of
        ``work`` that are not database errors roll the transaction back and
        propagate unchanged.

        Raises:
            StorageError: the database failed while ``doing``.
        """
        attempts = MAX_ATTEMPTS if write and retry else 1
        for attempt in range(1, attempts + 1):
            try:
                with self._turns, self.connect() as conn:
                    try:
                        with conn.begin():
                            self.dialect.begin(conn, write=write)
                            return work(conn)
                    finally:
                        self.dialect.finish(conn)
            except DBAPIError as exc:
                if attempt == attempts or not self.dialect.retryable(driver_error(exc)):
                    raise self.failure(doing, exc) from self.scrubbed(driver_error(exc))
                log.warning(
                    "the database aborted the transaction to %s (attempt %d of %d): %s; "
                    "running it again",
                    doing,
                    attempt,
                    attempts,
                    self.reason(exc),
                )
            except SQLAlchemyError as exc:
                raise self.failure(doing, exc) from self.scrubbed(driver_error(exc))
            time.sleep(random.uniform(0, _BACKOFF_SECONDS * 2**attempt))
        raise AssertionError("unreachable: the last attempt returns or raises")


class BoundDatastore(Datastore):
    """A host's open connection: every call runs inside the host's transaction.

    Each call is a savepoint (``SAVEPOINT`` ... ``RELEASE``) of the host's
    transaction, so the host's rows and the library's commit or roll back
    together, while a call the library refuses (a limit, a conflict) rolls
    back only its own savepoint and leaves the host's transaction usable.
    Nothing is retried (the host's transaction is the host's to run again),
    the isolation level is the host's, and row locks taken by a write -- the
    team's row -- are held until the host commits or rolls back.
    """

    def __init__(self, connection: Connection, dialect: SqlDialect, secrets: tuple[str, ...]):
        super().__init__(connection.engine, dialect)
        self.hide(secrets)
        self.connection = connection
        self._turns = nullcontext()

    def usable(self) -> Connection:
        """The host's connection, if it is open and inside a transaction.

        Raises:
            ValidationError: the connection is closed or has no transaction.
        """
        conn = self.connection
        if conn.closed or conn.invalidated:
            raise ValidationError(
                "the connection bound to the storage is closed; bind an open connection "
                "inside a transaction (with engine.begin() as connection: ...)",
                field="connection",
            )
        if not conn.in_transaction():
            raise ValidationError(
                "the connection bound to the storage has no transaction; begin one "
                "(connection.begin()) so the library's writes commit with yours",
                field="connection",
            )
        return conn

    def transaction(
        self, doing: str, work: Callable[[Connection], T], *, write: bool, retry: bool = True
    ) -> T:
        conn = self.usable()
        try:
            self.dialect.join(conn, write=write)
            with conn.begin_nested():
                return work(conn)
        except SQLAlchemyError as exc:
            raise self.failure(doing, exc) from self.scrubbed(driver_error(exc))
