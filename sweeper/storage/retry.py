"""Riding out a database outage (a restart, a network blip): which errors are transient, and the
retry with backoff (tenacity) that every storage call goes through."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import optuna
import tenacity
from sqlalchemy import exc as sa_exc

from sweeper.storage.errors import DRIVER_ERRORS, translated

T = TypeVar("T")
# How long a storage call keeps retrying through a database outage (e.g. a restart).
RETRY_SECONDS = 90.0
# PostgreSQL SQLSTATE classes of a lost or busy server: connection exception, transaction
# rollback (serialization, deadlock), insufficient resources (too many connections), operator
# intervention (shutdown, crash, cannot connect now).
TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57")
# SQLite's busy and locked result codes: another process holds the file.
TRANSIENT_SQLITE_CODES = (5, 6)
# libpq reports failures at connection time without a SQLSTATE, so for those only its message
# tells a bad password or a missing database (permanent) from a server that is away.
PERMANENT_CONNECT_FAILURES = ("password authentication failed", "does not exist", "no password supplied")


def is_transient(exc: BaseException) -> bool:
    """A lost connection or a busy database, not a bad query, password or database name."""
    if isinstance(exc, optuna.exceptions.StorageInternalError):
        return exc.__cause__ is not None and is_transient(exc.__cause__)
    if not isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return False
    if exc.connection_invalidated:  # SQLAlchemy's dialect recognised a disconnect
        return True
    orig = exc.orig
    sqlstate = getattr(orig, "pgcode", None)
    if sqlstate:
        return sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    if sqlite_code is not None:
        return sqlite_code in TRANSIENT_SQLITE_CODES
    text = str(orig).lower()
    return not any(p in text for p in PERMANENT_CONNECT_FAILURES)


def _retrying() -> tenacity.Retrying:
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_transient),
        wait=tenacity.wait_exponential(multiplier=0.25, max=5.0),
        stop=tenacity.stop_after_delay(RETRY_SECONDS),
        reraise=True,
    )


def call_with_retry(url: str, func: Callable[[], T]) -> T:
    """``func()``, retried with backoff while the database is away (up to ``RETRY_SECONDS``);
    what still fails leaves as a one-line ``StorageError`` (``transient`` if the outage lasted)."""
    try:
        return _retrying()(func)
    except DRIVER_ERRORS as exc:
        raise translated(url, exc, transient=is_transient(exc)) from exc


def retried(method: Callable[..., T]) -> Callable[..., T]:
    """A storage method that rides out outages (``self.url`` names the database)."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> T:
        return call_with_retry(self.url, lambda: method(self, *args, **kwargs))

    return wrapper
