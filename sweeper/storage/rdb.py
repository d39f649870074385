"""Opening the study database, and the one place where driver errors become ``StorageError``.

PostgreSQL gets a small pool (2 connections per process: one for Optuna's calls, one for the
heartbeat or the claim lock), ``pool_pre_ping`` so a restarted server is survived, and heartbeats
with a retry callback so a killed worker's trial is failed and run again with the same parameters.
Tables are created only by ``launch`` (``create_tables=True``), never raced by workers.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import functools
import re
import socket
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import optuna
import sqlalchemy
import sqlalchemy.dialects.postgresql
import sqlalchemy.dialects.sqlite
import sqlalchemy.orm
from optuna.storages._rdb import models
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from sweeper.errors import NoStudyError, StorageError
from sweeper.settings import Settings
from sweeper.storage.trial_rows import CoreTrialRows

T = TypeVar("T")
MAX_RETRIES_PER_TRIAL = 3

# Heartbeats and the retry callback are "experimental" in Optuna 5.0 but are what we rely on.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
# Optuna's info lines ("A new study created in RDB ...") repeat what sweeper says; --debug shows them.
if os.environ.get("SWEEPER_DEBUG", "") in ("", "0"):
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def open_storage(
    settings: Settings, *, create_tables: bool = False, check_schema: bool = True
) -> optuna.storages.RDBStorage:
    """``check_schema=False`` is for workers: they check the versions each study was launched
    with instead, and skip Optuna's schema check (reading alembic's migration scripts) at start."""
    url = settings.storage
    parsed = _parse(url)
    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        # Several local processes share one file: wait for its lock instead of failing at once.
        engine_kwargs["connect_args"] = {"timeout": 60}
        if parsed.database:
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
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
    with storage_errors(url):
        if not create_tables and not check_schema:
            storage = ResilientRDBStorage.on_stamped_schema(settings.storage, engine_kwargs, **_heartbeat_kwargs(settings))
            # Checked on the storage's own engine: its connection serves the worker's next query.
            if _schema_stamped(storage.engine):
                return storage
            storage.engine.dispose()
        with launch_lock(url):
            return _rdb(settings, engine_kwargs, skip_table_creation=not create_tables, check_schema=check_schema)


def _schema_stamped(engine: sqlalchemy.engine.Engine) -> bool:
    """Whether launch has finished setting up the schema (alembic's version row exists)."""
    try:
        with engine.connect() as conn:
            return conn.execute(sqlalchemy.text("SELECT version_num FROM alembic_version")).first() is not None
    except (sa_exc.ProgrammingError, sa_exc.OperationalError) as exc:
        if _is_missing_table(exc):
            return False
        raise


def _heartbeat_kwargs(settings: Settings) -> dict[str, Any]:
    return {
        "heartbeat_interval": settings.heartbeat_interval,
        "grace_period": settings.grace_period,
        "heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES_PER_TRIAL),
    }


def _rdb(
    settings: Settings, engine_kwargs: dict[str, Any], *, skip_table_creation: bool, check_schema: bool = True
) -> optuna.storages.RDBStorage:
    try:
        return ResilientRDBStorage(
            settings.storage,
            engine_kwargs=engine_kwargs,
            skip_compatibility_check=not check_schema,
            skip_table_creation=skip_table_creation,
            **_heartbeat_kwargs(settings),
        )
    except (sa_exc.ProgrammingError, sa_exc.OperationalError, optuna.exceptions.StorageInternalError) as exc:
        if skip_table_creation and _is_missing_table(exc.__cause__ or exc):
            raise NoStudyError(
                f"no sweeper tables in {redact(settings.storage)} yet: run `sweeper launch TASK` first"
            ) from None
        raise


TRANSIENT = (sa_exc.OperationalError, sa_exc.InterfaceError, optuna.exceptions.StorageInternalError)


def _is_transient(exc: BaseException) -> bool:
    """A lost connection (server restart, network blip), not a bad query or a bad password."""
    if isinstance(exc, optuna.exceptions.StorageInternalError):
        return isinstance(exc.__cause__, (sa_exc.OperationalError, sa_exc.InterfaceError)) and _is_transient(exc.__cause__)
    text = str(exc).lower()
    permanent = ("password authentication failed", "does not exist", "no such table", "unable to open database")
    return not any(p in text for p in permanent)


def retry_transient(func: Callable[[], T]) -> T:
    """Call ``func``, retrying with backoff (up to RETRY_SECONDS) while the database is away."""
    delay = 0.25
    deadline = time.monotonic() + RETRY_SECONDS
    while True:
        try:
            return func()
        except TRANSIENT as exc:
            if not _is_transient(exc) or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def _retrying(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> T:
        return retry_transient(lambda: method(self, *args, **kwargs))

    return wrapper


# How long a storage call keeps retrying through a database outage (e.g. a restart).
RETRY_SECONDS = 90.0


class BudgetMet(Exception):
    """Trial creation refused: the study's budget is already complete, pruned or running."""


class ResilientRDBStorage(CoreTrialRows):
    """RDBStorage whose calls ride out a database restart: each call opens its own session, so a
    failed one is retried with backoff (the pool's pre-ping replaces dead connections). The
    heartbeat thread's calls are retried too, so an outage never makes a live trial look stale.

    Budgets are enforced where trials are created. For a study in ``budgets`` (the worker sets
    them), a new RUNNING trial is inserted, or a queued one popped, only if the study's
    complete + pruned + running trials stay within its budget; the count and the insert share one
    transaction that holds the study row's lock (Optuna takes it ``FOR UPDATE`` to number trials),
    so concurrent workers on PostgreSQL never overshoot, with no lock held across round trips.
    Otherwise ``BudgetMet`` is raised. SQLite has no row locks: workers there also take the
    ``claim_lock`` file lock, which ``on_trial_claimed`` lets them release once the trial exists.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_ours()

    def _init_ours(self) -> None:
        self.budgets: dict[int, int] = {}
        self.on_trial_claimed: Callable[[], None] | None = None
        self._just_created: FrozenTrial | None = None

    @classmethod
    def on_stamped_schema(
        cls,
        url: str,
        engine_kwargs: dict[str, Any],
        *,
        heartbeat_interval: int,
        grace_period: int,
        heartbeat_stale_trial_callback: Callable[[optuna.Study, FrozenTrial], None],
    ) -> ResilientRDBStorage:
        """A worker's storage, on a schema that launch has created and stamped: Optuna's
        constructor without its version manager, which imports alembic and checks the stamp, a
        third of a worker's start-up. It is built on first use (``optuna storage upgrade`` and
        the version getters); a test keeps these attributes in step with Optuna's constructor."""
        self = cls.__new__(cls)
        self.engine_kwargs = engine_kwargs
        self.url = self._fill_storage_url_template(url)
        self.skip_compatibility_check = True
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = grace_period
        self.heartbeat_stale_trial_callback = self.failed_trial_callback = heartbeat_stale_trial_callback
        self.engine = sqlalchemy.create_engine(url, **engine_kwargs)
        self.scoped_session = sqlalchemy.orm.scoped_session(sqlalchemy.orm.sessionmaker(bind=self.engine))
        self._init_ours()
        return self

    def __getstate__(self) -> dict[Any, Any]:
        # Optuna's drops these three by name; a worker's storage may not have built the last yet.
        state = self.__dict__.copy()
        for unpicklable in ("scoped_session", "engine", "_version_manager"):
            state.pop(unpicklable, None)
        return state

    def __getattr__(self, name: str) -> Any:
        if name != "_version_manager" or "engine" not in self.__dict__:
            raise AttributeError(name)
        from optuna.storages._rdb.storage import _VersionManager

        manager = self.__dict__[name] = _VersionManager(self.url, self.engine, self.scoped_session)
        return manager

    def _get_prepared_new_trial(self, study_id: int, template_trial: FrozenTrial | None, session: Any) -> Any:
        # Runs inside create_new_trial's transaction, after Optuna locked the study row. The
        # heartbeat callback's re-queued copies are WAITING: not a claim, never refused.
        claim = template_trial is None or template_trial.state == TrialState.RUNNING
        if claim and study_id in self.budgets and not self._room(session, study_id):
            raise BudgetMet(f"study {study_id} has no budget left")
        return super()._get_prepared_new_trial(study_id, template_trial, session)

    def _create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> FrozenTrial:
        # The method both creation paths share: a Study's trial cache calls it directly, not
        # ``create_new_trial``.
        created = super()._create_new_trial(study_id, template_trial)
        if template_trial is None:
            # Optuna reads a trial back as soon as it is asked for (``Trial.__init__``); a new one
            # is exactly what was just inserted and nobody else writes it yet.
            self._just_created = created
        if template_trial is None or template_trial.state == TrialState.RUNNING:
            self._claimed()  # after the commit: only now do other workers count it
        return created

    def set_trial_state_values(self, trial_id: int, state: TrialState, values: Sequence[float] | None = None) -> bool:
        if state == TrialState.RUNNING and self.budgets:
            return self._pop_within_budget(trial_id)
        if state.is_finished():
            return self._finish(trial_id, state, values)
        return super().set_trial_state_values(trial_id, state, values)

    def _pop_within_budget(self, trial_id: int) -> bool:
        """WAITING -> RUNNING (Optuna's queue pop), refused when the budget is claimed."""
        from optuna.storages._rdb.storage import _create_scoped_session

        with _create_scoped_session(self.scoped_session) as session:
            study_id = models.TrialModel.find_or_raise_by_id(trial_id, session).study_id
            # The study row first, as in create_new_trial, so the two never deadlock.
            models.StudyModel.find_or_raise_by_id(study_id, session, for_update=True)
            trial = models.TrialModel.find_or_raise_by_id(trial_id, session, for_update=True)
            self.check_trial_is_updatable(trial_id, trial.state)
            if trial.state != TrialState.WAITING:
                return False
            if study_id in self.budgets and not self._room(session, study_id):
                return False
            trial.state = TrialState.RUNNING
            trial.datetime_start = datetime.now()
        self._claimed()
        return True

    def _room(self, session: Any, study_id: int) -> bool:
        counts = self._state_counts(session, study_id)
        claimed = sum(counts.get(s, 0) for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING))
        return claimed < self.budgets[study_id]

    @staticmethod
    def _state_counts(session: Any, study_id: int) -> dict[TrialState, int]:
        """One aggregate query: a consistent snapshot that reads no trial rows into Python."""
        return dict(
            session.query(models.TrialModel.state, sqlalchemy.func.count(models.TrialModel.trial_id))
            .filter(models.TrialModel.study_id == study_id)
            .group_by(models.TrialModel.state)
            .all()
        )

    def _claimed(self) -> None:
        callback, self.on_trial_claimed = self.on_trial_claimed, None
        if callback is not None:
            callback()

    def get_trial(self, trial_id: int) -> FrozenTrial:
        created, self._just_created = self._just_created, None
        if created is not None and created._trial_id == trial_id:
            return created  # served once: later reads see other writers' changes
        return super().get_trial(trial_id)

    def count_trials_by_state(self, study_id: int) -> dict[TrialState, int]:
        from optuna.storages._rdb.storage import _create_scoped_session

        with _create_scoped_session(self.scoped_session) as session:
            return self._state_counts(session, study_id)


for _name in (
    "create_new_study", "get_study_id_from_name", "get_study_name_from_id", "get_study_directions",
    "get_study_user_attrs", "get_study_system_attrs", "set_study_user_attr", "set_study_system_attr",
    "get_all_studies", "create_new_trial", "set_trial_param", "set_trial_state_values",
    "set_trial_intermediate_value", "set_trial_user_attr", "set_trial_system_attr", "get_trial",
    "get_all_trials", "get_n_trials", "get_best_trial", "get_trial_id_from_study_id_trial_number",
    "get_trial_params", "get_trial_user_attrs", "get_trial_system_attrs", "record_heartbeat",
    "_get_stale_trial_ids", "set_trial_user_attrs", "_get_trials", "count_trials_by_state", "_set_trial_param",
):
    setattr(ResilientRDBStorage, _name, _retrying(getattr(ResilientRDBStorage, _name)))


def _is_missing_table(exc: BaseException) -> bool:
    text = str(exc).lower()
    return ("relation" in text and "does not exist" in text) or "no such table" in text


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


def redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa_exc.ArgumentError:
        return re.sub(r":[^:@/]*@", ":***@", url)


@contextmanager
def storage_errors(url: str) -> Iterator[None]:
    """Translate driver and Optuna storage errors into one-line ``StorageError``s."""
    try:
        yield
    except (sa_exc.SQLAlchemyError, optuna.exceptions.StorageInternalError) as exc:
        raise StorageError(describe_failure(url, exc)) from exc


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


def _lock_key(url: str, name: str) -> int:
    digest = hashlib.sha256(f"sweeper:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


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


@contextmanager
def _named_lock(url: str, name: str) -> Iterator[None]:
    """A PostgreSQL advisory lock on a connection of its own, or an flock file next to a SQLite
    database. It fails at once when the server is unreachable, so that error is reported without
    delay."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
        key = _lock_key(url, name)
        try:
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
    elif backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        lock_path = Path(parsed.database).expanduser().with_name(
            Path(parsed.database).name + f".{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.lock"
        )
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
    else:
        yield


def study_names(storage: optuna.storages.RDBStorage) -> list[str]:
    return [s.study_name for s in storage.get_all_studies()]


def studies_with_attr(storage: optuna.storages.RDBStorage, key: str) -> list[str]:
    """Names of the studies that have the user attr ``key`` (launch sets its config last), in
    the order they were created: one query, where Optuna's calls take two per study."""
    studies, attrs = models.StudyModel.__table__, models.StudyUserAttributeModel.__table__
    query = (
        sqlalchemy.select(studies.c.study_name)
        .join(attrs, attrs.c.study_id == studies.c.study_id)
        .where(attrs.c.key == key)
        .order_by(studies.c.study_id)
    )
    with storage.engine.connect() as conn:
        return list(conn.execute(query).scalars())


def load_study(storage: optuna.storages.RDBStorage, name: str) -> optuna.Study:
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise _no_study(storage, name) from None


def study_user_attrs(storage: optuna.storages.RDBStorage, name: str) -> dict[str, Any]:
    """A study's user attrs without building a Study (which reads its id and directions)."""
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        raise _no_study(storage, name) from None
    return storage.get_study_user_attrs(study_id)


def _no_study(storage: optuna.storages.RDBStorage, name: str) -> NoStudyError:
    known = ", ".join(study_names(storage)) or "none"
    return NoStudyError(
        f"no study named {name!r} in {redact(storage.url)} (studies: {known}): run `sweeper launch {name}` first"
    )
