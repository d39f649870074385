"""What a database failure means to a user: one line naming the host and what to fix.

``StorageError`` is raised by the storage itself (``sweeper.storage.resilient``, ``engine``,
``locks``, ``queries``): callers never see a driver exception, and no caller translates one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import optuna
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from sweeper.errors import StorageError

DRIVER_ERRORS = (sa_exc.SQLAlchemyError, optuna.exceptions.StorageInternalError)


def translated(url: str, exc: BaseException, *, transient: bool = False) -> StorageError:
    error = StorageError(describe_failure(url, exc))
    error.transient = transient
    return error


@contextmanager
def driver_errors(url: str) -> Iterator[None]:
    """Around a storage's own use of its engine: a driver error leaves as a ``StorageError``."""
    try:
        yield
    except DRIVER_ERRORS as exc:
        raise translated(url, exc) from exc


def describe_failure(url: str, exc: BaseException) -> str:
    root: BaseException = exc
    while root.__cause__ is not None or getattr(root, "orig", None) is not None:
        root = getattr(root, "orig", None) or root.__cause__  # type: ignore[assignment]
    text = " ".join(str(root).split())
    try:
        parsed = make_url(url)
        where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
        user = parsed.username
    except sa_exc.ArgumentError:
        where, user = redact(url), None
    lowered = text.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return f"password authentication failed for user {user!r} at {where}: fix the password in SWEEPER_STORAGE"
    if "could not translate host name" in lowered or "name or service not known" in lowered:
        return f"cannot resolve database host {where}: check the host name in SWEEPER_STORAGE"
    if "connection refused" in lowered or "timeout expired" in lowered or "could not connect" in lowered:
        return f"cannot reach the database at {where} ({_first_clause(text)}): is the server running and SWEEPER_STORAGE right?"
    if "database" in lowered and "does not exist" in lowered:
        return f"{_first_clause(text)} at {where}: create it (createdb) or fix SWEEPER_STORAGE"
    if "unable to open database file" in lowered:
        return f"cannot open the SQLite file of {redact(url)}: check that its folder exists and is writable"
    return f"storage error on {redact(url)}: {_first_clause(text)}"


def _first_clause(text: str) -> str:
    text = text.split("\n")[0]
    text = re.sub(r"^\(\S+\)\s*", "", text)
    return text[:200].rstrip(". ")


def redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa_exc.ArgumentError:
        return re.sub(r":[^:@/]*@", ":***@", url)


def is_missing_table(exc: BaseException) -> bool:
    text = str(exc).lower()
    return ("relation" in text and "does not exist" in text) or "no such table" in text
