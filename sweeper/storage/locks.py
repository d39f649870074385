"""Locks between processes that share one database: table and study creation (``launch_lock``),
and, on SQLite only, the creation of a trial (``claim_lock``).

On SQLite a lock is a lock file next to the database (filelock). On PostgreSQL it is a
transaction-level advisory lock, held by a transaction that stays open on a connection of its own
while the work is done (on other connections). A session-level lock would not do: through a pooler
in transaction mode (PgBouncer, the pooler of managed PostgreSQL services) the server connection
that holds it goes back to the pool when its transaction ends, so the next client handed that
connection takes the "same" lock again, and an unlock lands on whichever server connection is free.
A transaction pins its server connection until it ends, under any pooler, and ending it (commit,
rollback, or the connection dropping when the holder is killed) releases the lock. Waiters do not
block in the server: each try (``pg_try_advisory_xact_lock``) is a short transaction, rolled back
when the lock is taken, so waiting processes never hold the pool's server connections that the
holder's work needs. A lock fails at once when the server is unreachable, so that a command's
error is reported without delay, unless its caller gives a ``retry_seconds`` window: a worker
queueing a race's next round or an evaluation rides out an outage as its other calls do. (What
the lock cannot do: if the outage drops the holder's connection while it works, the server
releases the lock and another process may take it before the holder has finished.)
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock
import optuna
import sqlalchemy
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from sweeper.storage.errors import driver_errors
from sweeper.storage.retry import call_with_retry


@contextmanager
def launch_lock(url: str, retry_seconds: float = 0.0) -> Iterator[None]:
    """Serialises table creation and study creation between concurrent launches; taking it is
    retried through an outage for ``retry_seconds`` (0: it fails at once)."""
    with _named_lock(url, "launch", retry_seconds):
        yield


@contextmanager
def claim_lock(storage: optuna.storages.RDBStorage, study_name: str) -> Iterator[None]:
    """SQLite only: held while a worker creates its next trial, because SQLite has no row lock
    to make the storage's budget check and insert atomic between processes. Elsewhere the
    storage's transactional budget check is enough, and this lock is a no-op."""
    if storage.engine.name != "sqlite":
        yield
        return
    with _named_lock(storage.url, f"claim:{study_name}"):
        yield


def lock_file(database: str, name: str) -> Path:
    """The lock file of ``name`` beside a SQLite database file."""
    path = Path(database).expanduser()
    return path.with_name(path.name + f".{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.lock")


@contextmanager
def _named_lock(url: str, name: str, retry_seconds: float = 0.0) -> Iterator[None]:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        with _advisory_lock(url, _lock_key(name), retry_seconds):
            yield
    elif backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        path = lock_file(parsed.database, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with filelock.FileLock(path):
            yield
    else:
        yield


# Waiting for a busy lock: the first retry after about this long, then twice as long each time
# up to the cap (jittered so that waiters started together do not retry together). A launch holds
# the lock for well under a second; the cap bounds how late a waiter notices its release.
_FIRST_RETRY_SECONDS = 0.01
_MAX_RETRY_SECONDS = 0.25


@contextmanager
def _advisory_lock(url: str, key: int, retry_seconds: float = 0.0) -> Iterator[None]:
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)

    def take() -> sqlalchemy.engine.Connection:
        conn = engine.connect()
        try:
            _take(conn, key)
        except BaseException:
            conn.close()
            raise
        return conn

    try:
        if retry_seconds > 0:
            conn = call_with_retry(url, take, seconds=retry_seconds)
        else:
            with driver_errors(url):
                conn = take()
        try:
            yield
        finally:
            try:
                conn.rollback()  # ends the transaction, which releases the lock
            except sa_exc.DBAPIError:
                # The connection died (server restart): the server already rolled back.
                conn.invalidate()
            finally:
                conn.close()
    finally:
        engine.dispose()


def _take(conn: sqlalchemy.engine.Connection, key: int) -> None:
    """Returns inside the transaction that holds the lock."""
    delay = _FIRST_RETRY_SECONDS
    while not conn.execute(sqlalchemy.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar_one():
        conn.rollback()  # wait outside a transaction: no server connection is held meanwhile
        time.sleep(delay * random.uniform(0.5, 1.0))
        delay = min(delay * 2, _MAX_RETRY_SECONDS)


def _lock_key(name: str) -> int:
    digest = hashlib.sha256(f"sweeper:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
