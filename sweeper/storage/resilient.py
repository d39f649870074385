"""The storage workers, launch and the report use: Optuna's RDBStorage, with its calls riding out a
database outage, budgets enforced where trials are created, and a trial's reads and writes in
SQLAlchemy Core (``sweeper.storage.trial_rows``)."""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import optuna
import sqlalchemy
import sqlalchemy.orm
from optuna.trial import FrozenTrial, TrialState

from sweeper.errors import StorageError
from sweeper.settings import Settings
from sweeper.storage import optuna_private
from sweeper.storage.claim import BudgetMet, ClaimContext
from sweeper.storage.optuna_private import fill_url_template, models, scoped_session, version_manager
from sweeper.storage.requeue import GIVEN_UP
from sweeper.storage.retry import MAX_RETRY_WAIT, call_with_retry, retried
from sweeper.storage.stale import StaleWatch
from sweeper.storage.trial_rows import CoreTrialRows

# A worker's claims scan a study for stale trials at most this often (seconds of its clock).
STALE_SCAN_S = 10.0


class ResilientRDBStorage(CoreTrialRows):
    """RDBStorage whose calls ride out a database restart: each call opens its own session, so a
    failed one is retried with backoff (a dead connection is dropped from the pool) for
    ``retry_seconds``. The heartbeat thread's calls are retried too and never end the thread, and
    a trial is judged stale only once this process has watched its heartbeat stand still since
    the database was last away (``sweeper.storage.stale``): an outage never makes a live trial
    look stale.

    Budgets are enforced where trials are created. Inside ``claiming(context)`` (a worker's
    claim, ``sweeper.storage.claim.ClaimContext``), a new RUNNING trial of the context's study is
    inserted, or a queued one popped, only if the study's complete + pruned + running trials stay
    within its budget; the count and the insert share one transaction that holds the study row's
    lock (Optuna takes it ``FOR UPDATE`` to number trials), so concurrent workers on PostgreSQL
    never overshoot, with no lock held across round trips. Otherwise ``BudgetMet`` is raised.
    SQLite has no row locks: workers there also take the ``claim_lock`` file lock, which the
    context's ``on_claimed`` lets them release once the trial exists.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_ours()

    def _init_ours(self) -> None:
        self._claim: ClaimContext | None = None
        self._just_created: FrozenTrial | None = None
        self._stale_scanned: dict[int, float] = {}  # study id -> when a claim last scanned it
        self.retry_seconds = Settings.storage_retry  # open_storage sets the settings' window
        interval = self.heartbeat_interval or 0
        grace = self.grace_period if self.grace_period is not None else 2 * interval
        # Longer than a live heartbeat thread takes to beat once the database is back.
        self.stale_watch = StaleWatch(grace=grace, confirm=interval + 2 * MAX_RETRY_WAIT)

    def note_outage(self) -> None:
        """A call of this process found the database away, or reached it after retries."""
        self.stale_watch.note_outage()

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
        self.url = fill_url_template(url)
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
        manager = self.__dict__[name] = version_manager(self)
        return manager

    @contextmanager
    def claiming(self, context: ClaimContext) -> Iterator[None]:
        """Trials created or popped inside are claims within ``context``'s budget."""
        if self._claim is not None:
            raise RuntimeError("a claim is already under way on this storage")
        self._claim = context
        try:
            yield
        finally:
            self._claim = None

    def _get_prepared_new_trial(self, study_id: int, template_trial: FrozenTrial | None, session: Any) -> Any:
        # Runs inside create_new_trial's transaction, after Optuna locked the study row. The
        # heartbeat callback's re-queued copies are WAITING: not a claim, never refused.
        claim = template_trial is None or template_trial.state == TrialState.RUNNING
        if claim and not self._room(session, study_id, new=True):
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
        if state == TrialState.RUNNING and self._claim is not None:
            return self._pop_within_budget(trial_id)
        if state.is_finished():
            return self._finish(trial_id, state, values)
        return super().set_trial_state_values(trial_id, state, values)

    def _pop_within_budget(self, trial_id: int) -> bool:
        """WAITING -> RUNNING (Optuna's queue pop), refused when the budget is claimed."""
        with scoped_session(self) as session:
            study_id = models.TrialModel.find_or_raise_by_id(trial_id, session).study_id
            # The study row first, as in create_new_trial, so the two never deadlock.
            models.StudyModel.find_or_raise_by_id(study_id, session, for_update=True)
            trial = models.TrialModel.find_or_raise_by_id(trial_id, session, for_update=True)
            self.check_trial_is_updatable(trial_id, trial.state)
            if trial.state != TrialState.WAITING:
                return False
            if not self._room(session, study_id):
                return False
            trial.state = TrialState.RUNNING
            trial.datetime_start = datetime.now()
        self._claimed()
        return True

    def _room(self, session: Any, study_id: int, *, new: bool = False) -> bool:
        """Whether the current claim leaves room for one more trial of ``study_id`` (always,
        outside a claim or for another study). A ``new`` (sampled) trial also leaves room for
        every queued one: a crashed trial's copy, queued a moment after a worker counted, keeps
        the slot its original freed instead of being stranded by a fresh sample."""
        if self._claim is None or self._claim.study_id != study_id:
            return True
        counts = self._state_counts(session, study_id)
        self._claim.seen, self._claim.popped = counts, not new
        states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING) + ((TrialState.WAITING,) if new else ())
        return sum(counts.get(s, 0) for s in states) < self._claim.budget

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
        if self._claim is not None:
            self._claim.claimed()

    def get_trial(self, trial_id: int) -> FrozenTrial:
        created, self._just_created = self._just_created, None
        if created is not None and optuna_private.trial_id(created) == trial_id:
            # Served once, and only before any write through this storage; a copy, so the
            # caller's changes to it are its own. Later reads see other writers' changes.
            return copy.deepcopy(created)
        return super().get_trial(trial_id)

    def _wrote(self) -> None:
        """A write through this storage: the snapshot of a just-created trial is no longer it."""
        self._just_created = None

    @contextmanager
    def retrying_for(self, seconds: float) -> Iterator[None]:
        """Calls inside retry through an outage for ``seconds`` at most (a stopping worker's)."""
        kept, self.retry_seconds = self.retry_seconds, min(seconds, self.retry_seconds)
        try:
            yield
        finally:
            self.retry_seconds = kept

    def record_heartbeat(self, trial_id: int) -> None:
        # Retried briefly, then left to the next beat: Optuna's heartbeat thread ends at its first
        # exception (the trial would then be reaped while it runs on), and joining it (when the
        # trial ends or a stop arrives) waits for the beat under way.
        try:
            call_with_retry(self.url, lambda: super(ResilientRDBStorage, self).record_heartbeat(trial_id),
                            seconds=MAX_RETRY_WAIT, on_outage=self.note_outage)
        except StorageError as exc:
            if not exc.transient:
                raise

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        """Running trials past the grace period whose heartbeat this process watched stand still
        (``StaleWatch``); one query, the heartbeat's age by the database's clock. A trial with no
        heartbeat yet counts from its start: its worker died between claiming it and starting
        the heartbeat thread (Optuna's ``ask``, with the sampler's work, lies between), and
        Optuna's own query, an inner join on heartbeats, would leave it RUNNING for ever."""
        if self._claim is not None:
            # Optuna scans before every claim; a worker's claims look every STALE_SCAN_S at most
            # (a reap needs the watch's confirm time anyway). Other callers always scan.
            last = self._stale_scanned.get(study_id)
            if last is not None and time.monotonic() - last < STALE_SCAN_S:
                return []
            self._stale_scanned[study_id] = time.monotonic()
        trials, beats = models.TrialModel.__table__, models.TrialHeartbeatModel.__table__
        now = sqlalchemy.func.now()
        beat = sqlalchemy.func.coalesce(beats.c.heartbeat, trials.c.datetime_start)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sqlalchemy.select(trials.c.trial_id, beat.label("heartbeat"), now.label("now"))
                .select_from(trials.outerjoin(beats, trials.c.trial_id == beats.c.trial_id))
                .where(trials.c.study_id == study_id, trials.c.state == TrialState.RUNNING)
            ).all()
        return self.stale_watch.stale(study_id, [(r.trial_id, r.heartbeat, _age_s(r.now, r.heartbeat)) for r in rows])

    def count_trials_by_state(self, study_id: int) -> dict[TrialState, int]:
        with scoped_session(self) as session:
            return self._state_counts(session, study_id)

    def count_trials_and_given_up(self, study_id: int) -> tuple[dict[TrialState, int], int]:
        """``count_trials_by_state``, and of the failed trials the planned runs not run again
        (``sweeper.storage.requeue.GIVEN_UP``): one transaction, the second query only when a
        trial failed."""
        trials, attrs = models.TrialModel.__table__, models.TrialSystemAttributeModel.__table__
        with scoped_session(self) as session:
            states = self._state_counts(session, study_id)
            if not states.get(TrialState.FAIL):
                return states, 0
            return states, int(session.execute(
                sqlalchemy.select(sqlalchemy.func.count())
                .select_from(trials.join(attrs, attrs.c.trial_id == trials.c.trial_id))
                .where(trials.c.study_id == study_id, trials.c.state == TrialState.FAIL, attrs.c.key == GIVEN_UP)
            ).scalar_one())


def _age_s(now: Any, beat: Any) -> float:
    if isinstance(now, str):  # SQLite returns CURRENT_TIMESTAMP as text
        now = datetime.fromisoformat(now)
    if isinstance(beat, str):
        beat = datetime.fromisoformat(beat)
    return (now.replace(tzinfo=None) - beat.replace(tzinfo=None)).total_seconds()


# Every call Optuna and sweeper make on a storage (but the heartbeat, retried briefly above): each
# is retried through an outage and leaves as a StorageError when it cannot be done
# (sweeper.storage.retry), so no caller handles a driver error. Internal ones are listed because
# Optuna's trial cache and stale-trial check call them directly.
RETRIED_METHODS = (
    "create_new_study", "get_study_id_from_name", "get_study_name_from_id", "get_study_directions",
    "get_study_user_attrs", "get_study_system_attrs", "set_study_user_attr", "set_study_system_attr",
    "get_all_studies", "create_new_trial", "_create_new_trial", "set_trial_param", "set_trial_state_values",
    "set_trial_intermediate_value", "set_trial_user_attr", "set_trial_system_attr", "get_trial",
    "get_all_trials", "get_n_trials", "get_best_trial", "get_trial_id_from_study_id_trial_number",
    "get_trial_params", "get_trial_user_attrs", "get_trial_system_attrs",
    "_get_stale_trial_ids", "set_trial_user_attrs", "_get_trials", "count_trials_by_state", "count_trials_and_given_up", "_set_trial_param", "_set_trial_params",
    "delete_study",
)
# Every write of a trial, which makes a kept snapshot of it (``_just_created``) out of date.
TRIAL_WRITES = (
    "set_trial_param", "_set_trial_param", "_set_trial_params", "set_trial_state_values", "set_trial_intermediate_value",
    "set_trial_user_attr", "set_trial_user_attrs", "set_trial_system_attr",
)


def _forgetting_snapshot(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: ResilientRDBStorage, *args: Any, **kwargs: Any) -> Any:
        self._wrote()
        return method(self, *args, **kwargs)

    return wrapper


for _name in TRIAL_WRITES:
    setattr(ResilientRDBStorage, _name, _forgetting_snapshot(getattr(ResilientRDBStorage, _name)))
for _name in RETRIED_METHODS:
    setattr(ResilientRDBStorage, _name, retried(getattr(ResilientRDBStorage, _name)))
