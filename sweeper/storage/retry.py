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


# Transient errors of a database that is there but busy: a transaction rolled back (serialization,
# deadlock) or a SQLite file another process holds. They are retried, but they are no outage:
# every worker can still beat, so they must not restart the stale watch (``StaleWatch``).
BUSY_SQLSTATE_CLASSES = ("40",)


def is_outage(exc: BaseException) -> bool:
    """A transient error that says the database was away (not merely busy)."""
    if not is_transient(exc):
        return False
    cause = exc.__cause__ if isinstance(exc, optuna.exceptions.StorageInternalError) else exc
    orig = getattr(cause, "orig", None)
    if getattr(orig, "sqlite_errorcode", None) in TRANSIENT_SQLITE_CODES:
        return False
    sqlstate = getattr(orig, "pgcode", None)
    return not (sqlstate and sqlstate[:2] in BUSY_SQLSTATE_CLASSES)


class _OutageHeard:
    """Calls ``on_outage`` for each failed attempt that was an outage, and remembers whether any was."""

    def __init__(self, on_outage: Callable[[], None] | None) -> None:
        self.on_outage = on_outage
        self.seen = False

    def __call__(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        if exc is not None and is_outage(exc):
            self.seen = True
            if self.on_outage is not None:
                self.on_outage()


def _retrying(seconds: float, heard: _OutageHeard) -> tenacity.Retrying:
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_transient),
        wait=tenacity.wait_exponential(multiplier=0.25, max=MAX_RETRY_WAIT),
        stop=tenacity.stop_after_delay(seconds),
        before_sleep=heard,
        reraise=True,
    )


def call_with_retry(url: str, func: Callable[[], T], *, seconds: float,
                    on_outage: Callable[[], None] | None = None) -> T:
    """``func()``, retried with backoff while the database is away (up to ``seconds``); what
    still fails leaves as a one-line ``StorageError`` (``transient`` if the outage lasted).
    ``on_outage`` is called after each attempt that found the database away and once more when
    a call retried for that succeeds: the moments this process saw the database away or come
    back. A merely busy database (``is_outage``) is retried without a word to it."""
    heard = _OutageHeard(on_outage)
    try:
        result = _retrying(seconds, heard)(func)
    except DRIVER_ERRORS as exc:
        if on_outage is not None and is_outage(exc):
            on_outage()
        raise translated(url, exc, transient=is_transient(exc)) from exc
    if on_outage is not None and heard.seen:
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
