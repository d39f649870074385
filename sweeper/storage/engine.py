"""Opening the study database.

PostgreSQL gets a small pool (2 connections per process: one for Optuna's calls, one for the
heartbeat or the claim lock) without ``pool_pre_ping``: every use of the storage's engine is
retried (``sweeper.storage.retry``), so a connection a restart killed costs one failed attempt
after the outage instead of a ``SELECT 1`` in every transaction. Heartbeats come with a retry
callback so a killed worker's trial is failed and run again with the same parameters
(``sweeper.storage.requeue``).
Tables are created only by ``launch`` (``create_tables=True``), never raced by workers; commands
that only read (``read_only=True``) create nothing, not even an empty SQLite file or a lock file.
"""

from __future__ import annotations

import os
import socket
import warnings
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from sweeper.errors import NoStudyError, StorageError
from sweeper.settings import Settings
from sweeper.storage.errors import DRIVER_ERRORS, driver_errors, is_missing_table, redact, translated
from sweeper.storage.locks import launch_lock
from sweeper.storage.requeue import MAX_RETRIES_PER_TRIAL, RequeueCrashedTrial
from sweeper.storage.resilient import ResilientRDBStorage
from sweeper.storage.retry import call_with_retry

# Heartbeats and the retry callback are "experimental" in Optuna 5.0 but are what we rely on.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def open_storage(
    settings: Settings, *, create_tables: bool = False, check_schema: bool = True, read_only: bool = False,
    wait_for_database: bool = False,
) -> ResilientRDBStorage:
    """``check_schema=False`` is for workers: they check the versions each study was launched
    with instead, and skip Optuna's schema check (reading alembic's migration scripts) at start.
    ``read_only`` is for status, report and dashboard: a database that does not exist yet is a
    ``NoStudyError``, and nothing is created. ``wait_for_database`` (a worker starting or
    restarted during an outage) waits up to ``settings.storage_retry`` for an unreachable
    database; otherwise (a command a person typed) it is a one-line error at once."""
    if not settings.debug:
        # Optuna's info lines ("A new study created in RDB ...") repeat what sweeper says; --debug
        # shows them. (Never lowers a quieter level a worker set.)
        optuna.logging.set_verbosity(max(optuna.logging.get_verbosity(), optuna.logging.WARNING))
    url = settings.storage
    parsed = _parse(url)
    engine_kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        # Several local processes share one file: wait for its lock instead of failing at once.
        engine_kwargs["connect_args"] = {"timeout": 60}
        if parsed.database and parsed.database != ":memory:":
            path = Path(parsed.database).expanduser()
            if read_only and not path.is_file():
                raise NoStudyError(f"no database at {path} yet: run `sweeper launch TASK` first")
            path.parent.mkdir(parents=True, exist_ok=True)
    else:
        engine_kwargs.update(pool_size=2, max_overflow=0, pool_timeout=60, pool_recycle=1800)
        if parsed.get_backend_name() == "postgresql":
            # application_name lets an operator (and the load test) count connections per process.
            engine_kwargs["connect_args"] = {
                "connect_timeout": 10,
                "application_name": f"sweeper:{socket.gethostname()}:{os.getpid()}"[:63],
            }
    # Opening stamps alembic's version table when it is empty: done under the launch lock, so a
    # worker never races a launch that is still creating the schema. Once the schema is stamped
    # opening only reads, and workers starting together skip the lock instead of queueing on it.
    if read_only or (not create_tables and not check_schema):
        storage = ResilientRDBStorage.on_stamped_schema(url, engine_kwargs, **_heartbeat_kwargs(settings))
        storage.retry_seconds = settings.storage_retry
        # Checked on the storage's own engine: its connection serves the next query. A worker
        # starting (or restarted) while the database or the pooler is away waits for it.
        if call_with_retry(url, lambda: _schema_stamped(storage.engine),
                           seconds=settings.storage_retry if wait_for_database else 0.0,
                           on_outage=storage.note_outage):
            return storage
        storage.engine.dispose()
        if read_only:
            raise NoStudyError(f"no sweeper tables in {redact(url)} yet: run `sweeper launch TASK` first")
    with launch_lock(url):
        storage = _rdb(settings, engine_kwargs, skip_table_creation=not create_tables, check_schema=check_schema)
    storage.retry_seconds = settings.storage_retry
    return storage


def _schema_stamped(engine: sqlalchemy.engine.Engine) -> bool:
    """Whether launch has finished setting up the schema (alembic's version row exists)."""
    try:
        with engine.connect() as conn:
            return conn.execute(sqlalchemy.text("SELECT version_num FROM alembic_version")).first() is not None
    except (sa_exc.ProgrammingError, sa_exc.OperationalError) as exc:
        if is_missing_table(exc):
            return False
        raise


def _heartbeat_kwargs(settings: Settings) -> dict[str, Any]:
    return {
        "heartbeat_interval": settings.heartbeat_interval,
        "grace_period": settings.grace_period,
        "heartbeat_stale_trial_callback": RequeueCrashedTrial(MAX_RETRIES_PER_TRIAL),
    }


def _rdb(
    settings: Settings, engine_kwargs: dict[str, Any], *, skip_table_creation: bool, check_schema: bool = True
) -> ResilientRDBStorage:
    try:
        return ResilientRDBStorage(
            settings.storage,
            engine_kwargs=engine_kwargs,
            skip_compatibility_check=not check_schema,
            skip_table_creation=skip_table_creation,
            **_heartbeat_kwargs(settings),
        )
    except DRIVER_ERRORS as exc:
        if skip_table_creation and is_missing_table(exc.__cause__ or exc):
            raise NoStudyError(
                f"no sweeper tables in {redact(settings.storage)} yet: run `sweeper launch TASK` first"
            ) from None
        raise translated(settings.storage, exc) from exc


def _parse(url: str) -> sqlalchemy.engine.URL:
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError:
        raise StorageError(
            f"storage {url!r} is not a database URL: use e.g. sqlite:///sweeper.db or "
            "postgresql+psycopg2://USER:PASSWORD@HOST:5432/DB (SWEEPER_STORAGE or --storage)"
        ) from None
    try:
        parsed.get_dialect()
    except (sa_exc.NoSuchModuleError, ImportError):
        raise StorageError(
            f"storage {redact(url)} uses an unknown database driver {parsed.drivername!r}: "
            "use sqlite:/// or postgresql+psycopg2://"
        ) from None
    return parsed


__all__ = ["MAX_RETRIES_PER_TRIAL", "driver_errors", "open_storage"]
