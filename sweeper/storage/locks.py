"""Locks between processes that share one database: table and study creation (``launch_lock``),
and, on SQLite only, the creation of a trial (``claim_lock``).

On PostgreSQL a lock is an advisory lock on a connection of its own; on SQLite a lock file next to
the database (filelock). A lock fails at once when the server is unreachable, so that error is
reported without delay.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock
import optuna
import sqlalchemy
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from sweeper.storage.errors import driver_errors


@contextmanager
def launch_lock(url: str) -> Iterator[None]:
    """Serialises table creation and study creation between concurrent launches."""
    with _named_lock(url, "launch"):
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
def _named_lock(url: str, name: str) -> Iterator[None]:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        with _advisory_lock(url, _lock_key(name)):
            yield
    elif backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        path = lock_file(parsed.database, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with filelock.FileLock(path):
            yield
    else:
        yield


@contextmanager
def _advisory_lock(url: str, key: int) -> Iterator[None]:
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with driver_errors(url):
            conn = engine.connect()
            try:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
                conn.commit()
            except BaseException:
                conn.close()
                raise
        try:
            yield
        finally:
            try:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
            except sa_exc.DBAPIError:
                # The connection died (server restart): the server already dropped the lock.
                conn.invalidate()
            finally:
                conn.close()
    finally:
        engine.dispose()


def _lock_key(name: str) -> int:
    digest = hashlib.sha256(f"sweeper:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
