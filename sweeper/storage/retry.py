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
# A storage call keeps retrying through an outage (a restart, a failover, a pooler moved by a node
# drain: 30 s to minutes) for its storage's window, ``Settings.storage_retry`` (600 s by default).
# A stopping worker's calls (its trial's re-queue after SIGTERM) retry for this long only, so a
# pod's termination grace period outlasts them; a trial left running is reaped later instead.
RETRY_SECONDS = 90.0
# The longest wait between two attempts: once the database is back, every caller reaches it
# within this many seconds. A heartbeat retries for this long, then at its next beat.
MAX_RETRY_WAIT = 5.0
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


def _retrying(seconds: float, on_outage: Callable[[], None] | None) -> tenacity.Retrying:
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_transient),
        wait=tenacity.wait_exponential(multiplier=0.25, max=MAX_RETRY_WAIT),
        stop=tenacity.stop_after_delay(seconds),
        before_sleep=(lambda _state: on_outage()) if on_outage else None,
        reraise=True,
    )


def call_with_retry(url: str, func: Callable[[], T], *, seconds: float,
                    on_outage: Callable[[], None] | None = None) -> T:
    """``func()``, retried with backoff while the database is away (up to ``seconds``); what
    still fails leaves as a one-line ``StorageError`` (``transient`` if the outage lasted).
    ``on_outage`` is called after each failed attempt and once more when a retried call
    succeeds: the moments this process saw the database away or come back."""
    retrying = _retrying(seconds, on_outage)
    try:
        result = retrying(func)
    except DRIVER_ERRORS as exc:
        if on_outage is not None and is_transient(exc):
            on_outage()
        raise translated(url, exc, transient=is_transient(exc)) from exc
    if on_outage is not None and retrying.statistics.get("attempt_number", 1) > 1:
        on_outage()
    return result


def retried(method: Callable[..., T]) -> Callable[..., T]:
    """A storage method that rides out outages (``self.url`` names the database, its
    ``retry_seconds`` the window; ``note_outage``, when it has one, hears of outages)."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> T:
        return call_with_retry(self.url, lambda: method(self, *args, **kwargs),
                               seconds=self.retry_seconds,
                               on_outage=getattr(self, "note_outage", None))

    return wrapper
