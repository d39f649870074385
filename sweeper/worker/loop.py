"""A worker process: takes trials from the launched studies until every budget is met.

Budget rule: a study is done when ``complete + pruned == budget``. A trial is created (or a queued
one popped) only while finished *and running* trials are below the budget: the storage checks that
in the creating transaction (``ResilientRDBStorage.budgets``), so concurrent workers never
overshoot. While only other workers' running trials stand between the study and its budget a
worker waits for them (they may still fail and need running again), reaping stale ones meanwhile.

Trials run through ``study.optimize(n_trials=1)`` so that Optuna drives the heartbeat. On SQLite the
creation also holds the claim lock, released as soon as the trial row is RUNNING (the storage's
``on_trial_claimed`` hook).
"""

from __future__ import annotations

import math
import os
import signal
import socket
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import FrameType
from typing import Any

import optuna
from optuna.trial import TrialState

from sweeper.worker import collector
from sweeper.storage.counts import TrialCounts, count_trials, reap_stale_trials
from sweeper.errors import ConfigError, DataError, NoStudyError, SweeperError, TaskError, TrialDiverged, WorkerError
from sweeper.tasks.results import TrainingResult
from sweeper.settings import Settings
from sweeper.study.space import Hyperparams
from sweeper.storage.rdb import (
    TRANSIENT,
    BudgetMet,
    claim_lock,
    open_storage,
    storage_errors,
    studies_with_attr,
    study_user_attrs,
)
from sweeper.study.config import CONFIG_ATTR, PROBLEM_PREFIX, VERSION_ATTR, SweepConfig, check_versions, problem_attr
from sweeper.tasks import DataRequest, LoadedTask, Splits, TrainingRun, load_task
from sweeper.tasks.invoke import load_splits
from sweeper.worker.study import WorkerStudy

EXIT_DONE = 0
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
POLL_SECONDS = 2.0
# A worker whose trials keep failing has a broken setup, not bad luck: stop instead of burning trials.
MAX_CONSECUTIVE_FAILURES = 5

optuna.logging.set_verbosity(optuna.logging.WARNING)


class Shutdown(KeyboardInterrupt):
    """Raised in the main thread by SIGTERM/SIGINT while a trial trains."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass
class DataCache:
    """Each data set is loaded once per process and reused by every trial."""

    settings: Settings
    loaded: dict[tuple[str, DataRequest], Splits] = field(default_factory=dict)

    def has(self, config: SweepConfig) -> bool:
        return (config.task, config.data_request()) in self.loaded

    def for_config(self, task: LoadedTask, config: SweepConfig) -> Splits:
        key = (config.task, config.data_request())
        if key not in self.loaded:
            self.loaded[key] = load_splits(task, self.settings, key[1])
        splits = self.loaded[key]
        return splits.for_evaluation() if config.kind == "evaluate" else splits


def stale_notes(attrs: dict[str, Any], worker: str) -> list[str]:
    """Keys of the "cannot run" notes left by workers of this host (``host:pid``) whose process is
    gone: their reason may no longer hold. Notes of live processes and other hosts are kept."""
    host = worker.rsplit(":", 1)[0]
    keys = []
    for key, note in attrs.items():
        if not key.startswith(PROBLEM_PREFIX) or not note:
            continue
        noted_host, _, pid = key[len(PROBLEM_PREFIX):].rpartition(":")
        if noted_host == host and pid.isdigit() and not _alive(int(pid)):
            keys.append(key)
    return keys


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


# What a queued trial was planned with; a re-queued copy keeps these and none of the old results.
PLANNED_ATTRS = ("role", "repeat", "fixed_seed", "eval_seed", "source_trial", "penalty_group")


def requeue_uncounted(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """Queue a copy of a trial that a stop signal or a lost database ended: like Optuna's retry
    callback (same parameters; ``failed_trial`` keeps the seed), but not counted in its
    ``retry_history``, so a fleet that preempts a configuration again and again never drops it.
    Only crashes (no heartbeat: an out-of-memory kill, say) count towards the retry limit."""
    system_attrs = {"failed_trial": trial.number, "retry_history": [], **trial.system_attrs}
    study.add_trial(optuna.trial.create_trial(
        state=TrialState.WAITING,
        params=trial.params,
        distributions=trial.distributions,
        user_attrs={k: v for k, v in trial.user_attrs.items() if k in PLANNED_ATTRS},
        system_attrs=system_attrs,
    ))


def trial_seed(base_seed: int, trial: optuna.Trial) -> int:
    """A retried trial keeps the seed of the trial it repeats; a planned run (a repeat of a curve
    study, an evaluation run) uses the seed it was queued with."""
    for key in ("fixed_seed", "eval_seed"):
        if key in trial.user_attrs:
            return int(trial.user_attrs[key])
    # The trial's frozen copy, read when the trial was created, saves a query per trial.
    system_attrs = trial._cached_frozen_trial.system_attrs
    original = system_attrs.get("failed_trial", trial.number)
    return (base_seed * 1_000_003 + int(original)) % (2**31 - 1)


class Worker:
    def __init__(
        self,
        settings: Settings,
        studies: list[str] | None = None,
        *,
        index: int = 0,
        sampler_seed: int | None = None,
        threads: int | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        self.threads = threads
        self._backend_ready = False
        self.settings = settings
        self.wanted = list(studies or [])
        self.index = index
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        # Distinct per process so that parallel TPE samplers don't propose the same points.
        self.sampler_seed = (
            sampler_seed
            if sampler_seed is not None
            else zlib.crc32(f"{self.name}:{index}:{time.time_ns()}".encode()) % (2**31 - 1)
        )
        self.log = log
        self.data = DataCache(settings)
        self.storage: optuna.storages.RDBStorage | None = None
        self._in_trial = False
        self._stop_signal: int | None = None
        self._studies: dict[str, tuple[optuna.Study, SweepConfig]] = {}
        self._tasks: dict[str, LoadedTask] = {}
        # Studies this worker cannot run (task code missing or different, data unreadable), why.
        self._set_aside: dict[str, SweeperError] = {}
        # Notes left in a study by workers of this host that have since exited, saying they could
        # not run it: cleared once this worker can.
        self._stale_notes: dict[str, list[str]] = {}
        # Sweeps whose evaluation this worker has queued (or found queued).
        self._evaluated: set[str] = set()
        self._consecutive_failures = 0
        self._trained = False  # whether a trial has started training in this process

    # -- lifecycle ---------------------------------------------------------------------------
    def run(self) -> int:
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            return self._run()
        except Shutdown as stop:
            return self._exit_code(stop.signum)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stop_signal = signum
        if self._in_trial:
            raise Shutdown(signum)

    def _exit_code(self, signum: int | None) -> int:
        if signum == signal.SIGTERM:
            return EXIT_SIGTERM
        if signum == signal.SIGINT:
            return EXIT_SIGINT
        return EXIT_DONE

    def _run(self) -> int:
        names = self._wait_for_studies()
        while self._stop_signal is None:
            open_ = []
            added = False
            for name in list(names):
                if name in self._set_aside:
                    continue
                try:
                    study, config = self._study(name)
                except ConfigError as exc:  # launched by another sweeper/Optuna version
                    self._put_aside(name, exc)
                    continue
                counts = count_trials(study)
                if counts.finished >= config.budget:
                    # A launch may have planned more since (a curve study's new repeats).
                    study, config = self._reload(name)
                if counts.finished < config.budget:
                    open_.append((counts.finished / config.budget, name, counts))
                elif config.evaluate_seeds and config.kind == "search" and name not in self._evaluated:
                    evaluation = self._queue_evaluation(name, config)
                    if evaluation and evaluation not in names:
                        names.append(evaluation)  # served like any other study, from the next round
                        added = True
            if not open_:
                if added:
                    continue
                return self._finish(names)
            progressed = False
            for _, name, counts in sorted(open_, key=lambda o: o[:2]):  # least progress first
                try:
                    stale_counts = self._prepare(name)
                except (ConfigError, DataError) as exc:
                    # This machine cannot run the study (its task's code is missing or differs, its
                    # data cannot be read): nothing was claimed; other workers may serve it.
                    self._put_aside(name, exc)
                    continue
                outcome = self._run_one(name, counts, stale_counts)
                if outcome == "ran":
                    progressed = True
                    break
            if not progressed:
                self._sleep(POLL_SECONDS)
        return self._exit_code(self._stop_signal)

    def _finish(self, names: list[str]) -> int:
        """No study left that this worker can serve: done, unless it could serve none at all."""
        if not self._set_aside:
            self.log(f"[worker {self.index}] all budgets met ({', '.join(names)}); exiting")
            return EXIT_DONE
        if not self._trained:
            # Nothing here can run on this machine: a setup error, with the first reason.
            raise next(iter(self._set_aside.values()))
        served = [n for n in names if n not in self._set_aside]
        self.log(f"[worker {self.index}] all budgets met ({', '.join(served)}); "
                 f"left to workers that can run them: {', '.join(self._set_aside)}; exiting")
        return EXIT_DONE

    def _put_aside(self, name: str, exc: SweeperError) -> None:
        """Say once why this worker leaves a study alone, and note it in the study for
        ``sweeper status`` (one attr per worker process, so workers never overwrite each other's)."""
        self._set_aside[name] = exc
        self.log(f"[worker {self.index}] cannot serve study {name}: {exc}; leaving its trials to workers that can")
        assert self.storage is not None
        with storage_errors(self.settings.storage):
            study_id = self.storage.get_study_id_from_name(name)
            note = {"reason": str(exc), "worker": self.name, "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
            self.storage.set_study_user_attr(study_id, problem_attr(self.name), note)

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while self._stop_signal is None and time.monotonic() < end:
            time.sleep(min(0.2, end - time.monotonic()))

    # -- studies -----------------------------------------------------------------------------
    def _wait_for_studies(self) -> list[str]:
        """Studies to serve; waits (bounded) for ``launch`` to create them."""
        deadline = time.monotonic() + self.settings.wait_for_study
        announced = False
        while True:
            try:
                if self.storage is None:
                    self.storage = open_storage(self.settings, check_schema=False)
                with storage_errors(self.settings.storage):
                    # launch stores a study's config last: a study without it is still being made.
                    ready = studies_with_attr(self.storage, CONFIG_ATTR)
                if self.wanted:
                    missing = [n for n in self.wanted if n not in ready]
                    if not missing:
                        return list(self.wanted)
                elif ready:
                    return ready
                else:
                    missing = ["any study"]
            except NoStudyError:
                missing = self.wanted or ["any study"]
            if time.monotonic() > deadline or self._stop_signal is not None:
                raise NoStudyError(
                    f"gave up after {self.settings.wait_for_study:.0f} s waiting for "
                    f"{', '.join(missing)} to be launched: run `sweeper launch TASK` first"
                )
            if not announced:
                self.log(
                    f"[worker {self.index}] waiting up to {self.settings.wait_for_study:.0f} s "
                    f"for {', '.join(missing)} to be launched"
                )
                announced = True
            self._sleep(POLL_SECONDS)

    def _study(self, name: str) -> tuple[optuna.Study, SweepConfig]:
        if name not in self._studies:
            assert self.storage is not None
            with storage_errors(self.settings.storage):
                attrs = study_user_attrs(self.storage, name)
            check_versions(name, attrs.get(VERSION_ATTR))
            config = SweepConfig.from_attrs(attrs[CONFIG_ATTR])
            study = WorkerStudy(
                study_name=name,
                storage=self.storage,
                sampler=config.make_sampler(self.sampler_seed),
                pruner=config.make_pruner(),
            )
            self.storage.budgets[study._study_id] = config.budget
            self._studies[name] = (study, config)
            self._stale_notes[name] = stale_notes(attrs, self.name)
        return self._studies[name]

    def _reload(self, name: str) -> tuple[optuna.Study, SweepConfig]:
        """The study with its stored config read again (its budget may have grown)."""
        assert self.storage is not None
        with storage_errors(self.settings.storage):
            attrs = study_user_attrs(self.storage, name)
        study, config = self._studies[name]
        fresh = SweepConfig.from_attrs(attrs[CONFIG_ATTR])
        if fresh != config:
            self.storage.budgets[study._study_id] = fresh.budget
            self._studies[name] = (study, fresh)
        return self._studies[name]

    def _queue_evaluation(self, name: str, config: SweepConfig) -> str | None:
        """The sweep's budget is met and it asks for evaluation: queue the test-split re-training
        of its best configurations (idempotent: every worker that sees the budget met may call
        it), and return the evaluation study's name to serve it too."""
        from sweeper.evaluation.plan import prepare

        self._evaluated.add(name)
        try:
            plan = prepare(self.settings, name, config.evaluate_seeds, self.storage)
        except NoStudyError as exc:  # no complete trial to evaluate (all pruned or diverged)
            self.log(f"[worker {self.index}] no evaluation of {name}: {exc}")
            return None
        if plan.enqueued:
            self.log(f"[worker {self.index}] {name} finished its budget: {plan.describe()}")
        return plan.eval_study

    def _task(self, name: str, config: SweepConfig) -> LoadedTask:
        """The study's task, loaded once; ``TaskError`` when this machine lacks its code or has
        other code than the study was launched with."""
        if name not in self._tasks:
            loaded = load_task(config.task, self.settings.task_dirs)
            if config.task_fingerprint and loaded.fingerprint != config.task_fingerprint:
                raise TaskError(
                    f"{loaded.where} differs from the code study {name} was launched with (fingerprint "
                    f"{loaded.fingerprint}, launched {config.task_fingerprint}): deploy the launched "
                    "version of the task to this machine"
                )
            self._tasks[name] = loaded
            # Earlier workers on this host could not run it; this one can.
            study, _ = self._studies[name]
            assert self.storage is not None
            for key in self._stale_notes.pop(name, []):
                self.storage.set_study_user_attr(study._study_id, key, None)
        return self._tasks[name]

    def _prepare(self, name: str) -> bool:
        """Load the task, configure the backend and load the data before claiming a trial: a
        study this machine cannot run is set aside without touching it; a finished study never
        loads anything. True when something had to be loaded (which can take minutes)."""
        _, config = self._studies[name]
        task = self._task(name, config)
        loaded = False
        if task.task.uses_keras and not self._backend_ready:
            from sweeper.worker import backend

            with collector.long_lived():  # imports Keras and its backend
                backend.configure(self.threads)
            self._backend_ready = loaded = True
        if not self.data.has(config):
            self.data.for_config(task, config)
            if not self._trained:
                # Only before the first trial: later, what is alive may be a trial's leftovers
                # (a model, its GPU memory) that a freeze would keep for good.
                collector.freeze_survivors()
            loaded = True
        return loaded

    # -- one trial ---------------------------------------------------------------------------
    def _run_one(self, name: str, counts: TrialCounts, stale_counts: bool) -> str:
        """Run one trial of ``name`` if its budget has room: 'ran', 'wait' or 'done'. ``counts``
        were just read by the caller (stale when it then loaded data); the storage re-checks the
        budget when it creates the trial."""
        study, config = self._study(name)
        assert self.storage is not None
        lock = claim_lock(self.storage, name)
        lock.__enter__()
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                lock.__exit__(None, None, None)

        trial_ref: dict[str, Any] = {}
        try:
            if stale_counts:
                counts = count_trials(study)
            if counts.finished < config.budget <= counts.finished + counts.running:
                # Only running trials stand in the way: some may be stale (their worker died).
                # (study.optimize reaps too, but only after this count.)
                reap_stale_trials(study)
                counts = count_trials(study)
            if counts.finished >= config.budget:
                return "done"
            if counts.finished + counts.running >= config.budget:
                return "wait"
            objective = self._objective(name, config, trial_ref)
            # Released as soon as the trial row is RUNNING (created or popped from the queue).
            self.storage.on_trial_claimed = release
            study.queue_hint = counts.waiting > 0
            study.optimize(objective, n_trials=1, catch=(Exception,))
        except BudgetMet:
            # Another worker claimed the last free slot between the count above and the insert.
            return "wait"
        except Shutdown as stop:
            self._requeue(study, trial_ref.get("id"), f"stopped by {stop}")
            raise
        finally:
            self.storage.on_trial_claimed = None
            release()
        if "storage_error" in trial_ref:
            self._requeue(study, trial_ref.get("id"), f"lost the database ({type(trial_ref['storage_error']).__name__})")
        self._log_trial(study, config, trial_ref)
        return "ran"

    def _objective(
        self, name: str, config: SweepConfig, ref: dict[str, Any]
    ) -> Callable[[optuna.Trial], float]:
        task = self._tasks[name]
        splits = self.data.for_config(task, config)

        def objective(trial: optuna.Trial) -> float:
            ref["id"] = trial._trial_id
            try:
                value = run(trial)
            except optuna.TrialPruned:
                ref["ended"] = (trial, TrialState.PRUNED, None)
                raise
            except TRANSIENT as exc:
                # The database was away for longer than the storage retries: not the
                # configuration's fault, so the trial is queued again like a stale one.
                ref["storage_error"] = exc
                raise
            if math.isfinite(value):  # what Optuna's tell stores as COMPLETE
                ref["ended"] = (trial, TrialState.COMPLETE, value)
            return value

        def run(trial: optuna.Trial) -> float:
            with trial.study.one_snapshot():  # type: ignore[attr-defined]
                hp = config.space.suggest(trial)
            seed = trial_seed(config.seed, trial)
            self._set_attrs(trial, {"seed": seed, "sampler_seed": self.sampler_seed, "worker": self.name})
            ref["hp"] = hp
            return self._train(trial, task, splits, config, hp, seed)

        return objective

    def _train(
        self,
        trial: optuna.Trial,
        loaded: LoadedTask,
        splits: Splits,
        config: SweepConfig,
        hp: Hyperparams,
        seed: int,
    ) -> float:
        objective = config.goal
        if loaded.task.uses_keras:
            import keras

            keras.backend.clear_session()
            keras.utils.set_random_seed(seed)

        def report(epoch: int, logs: dict[str, float]) -> None:
            if self._stop_signal is not None:
                # The signal's Shutdown was lost inside library code and training went on: an
                # epoch boundary is the next safe point to stop.
                raise Shutdown(self._stop_signal)
            trial.report(logs[objective.log_key], step=epoch + 1)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned by the {config.pruner} pruner after epoch {epoch + 1}")

        result = TrainingResult()
        run = TrainingRun(epochs=config.epochs, batch_size=config.batch_size, learning_rate=config.learning_rate,
                          objective=objective, report=report, result=result)
        self._in_trial = self._trained = True
        try:
            if self._stop_signal is not None:
                raise Shutdown(self._stop_signal)
            try:
                loaded.task.train(hp, splits, run)
            except TaskError as exc:  # the task's model is unusable: say where it comes from
                raise TaskError(f"{loaded.where}: {exc}") from None
            if self._stop_signal is not None and result.epochs_run < config.epochs:
                # The signal's Shutdown was swallowed by library code that then returned early.
                raise Shutdown(self._stop_signal)
        except TrialDiverged as exc:
            self._in_trial = False
            self._store(trial, result, stop_reason=f"diverged: {exc}")
            raise optuna.TrialPruned(f"diverged: {exc}") from None
        except optuna.TrialPruned as exc:
            self._in_trial = False
            self._store(trial, result, stop_reason=str(exc))
            raise
        except Shutdown as exc:
            self._in_trial = False
            self._store(trial, result, fail_reason=f"worker stopped by {exc}")
            raise
        except Exception as exc:
            self._in_trial = False
            if self._stop_signal is not None:
                # The signal's Shutdown was raised inside library code (TensorFlow's graph
                # contexts) whose clean-up replaced it with an error of its own ("Nesting violated
                # for default stack"): the stop is what ended this trial, so it is re-queued.
                stop = Shutdown(self._stop_signal)
                self._store(trial, result, fail_reason=f"worker stopped by {stop}")
                raise stop from exc
            self._store(trial, result, fail_reason=f"{type(exc).__name__}: {str(exc)[:300]}")
            raise
        self._in_trial = False
        self._store(trial, result)
        if objective.log_key not in result.final:
            raise TaskError(f"{loaded.where}: train() left no final {objective.log_key} in its result")
        return float(result.final[objective.log_key])

    def _store(self, trial: optuna.Trial, result: TrainingResult, *, stop_reason: str | None = None,
               fail_reason: str | None = None) -> None:
        attrs = result.as_attrs()
        if stop_reason:
            attrs["stop_reason"] = stop_reason
        if fail_reason:
            attrs["fail_reason"] = fail_reason
        self._set_attrs(trial, attrs)

    def _set_attrs(self, trial: optuna.Trial, attrs: dict[str, Any]) -> None:
        assert self.storage is not None
        self.storage.set_trial_user_attrs(trial._trial_id, attrs)
        trial._cached_frozen_trial.user_attrs.update(attrs)  # as Trial.set_user_attr does

    def _requeue(self, study: optuna.Study, trial_id: int | None, why: str) -> None:
        """A trial interrupted by SIGTERM/Ctrl-C, or one that lost the database, is failed now and
        queued again with the same parameters, instead of waiting for the heartbeat grace period."""
        if trial_id is None or self.storage is None:
            return
        frozen = self.storage.get_trial(trial_id)
        if frozen.state == TrialState.RUNNING:
            self.storage.set_trial_state_values(trial_id, TrialState.FAIL)
            frozen = self.storage.get_trial(trial_id)
        if frozen.state == TrialState.FAIL:
            requeue_uncounted(study, frozen)
        self.log(f"[worker {self.index}] {why}; trial {frozen.number} failed and re-queued")

    def _log_trial(self, study: optuna.Study, config: SweepConfig, ref: dict[str, Any]) -> None:
        if ref.get("id") is None or self.storage is None:
            return
        if "ended" in ref:  # completed or pruned: everything to log is in hand
            trial, state, value = ref["ended"]
            number, params, attrs = trial.number, trial.params, trial.user_attrs
        else:  # failed, or ended in a way only the stored trial tells
            t = self.storage.get_trial(ref["id"])
            number, params, attrs, state, value = t.number, t.params, t.user_attrs, t.state, t.value
        self._consecutive_failures = self._consecutive_failures + 1 if state == TrialState.FAIL else 0
        if self._consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
            raise WorkerError(
                f"{self._consecutive_failures} trials in a row failed in this worker, the last with "
                f"{attrs.get('fail_reason', 'an unknown error')}: fix the cause and start the worker again"
            )
        hp = Hyperparams.from_params(params)
        key = f"test_{config.goal.metric}" if config.kind == "evaluate" else config.goal.log_key
        shown = f"{key}={value:.4f}" if value is not None else f"{key}=-"
        reason = attrs.get("stop_reason") or attrs.get("fail_reason") or ""
        self.log(
            f"[worker {self.index}] {study.study_name} trial {number} {state.name.lower()} "
            f"{hp.describe()} {shown} epochs={attrs.get('epochs_run', 0)} "
            f"time={attrs.get('wall_time_s', 0):.1f}s{(' (' + reason + ')') if reason else ''}"
        )

def run_worker(settings: Settings, studies: list[str] | None, *, index: int = 0,
               threads: int | None = None, log: Callable[[str], None] = print,
               sampler_seed: int | None = None) -> int:
    # The Keras backend is configured lazily, before the first Keras task's data is loaded.
    return Worker(settings, studies, index=index, sampler_seed=sampler_seed, threads=threads, log=log).run()
