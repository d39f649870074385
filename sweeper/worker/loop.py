"""A worker process: takes trials from the launched studies until every budget is met.

Budget rule: a study is done when ``complete + pruned == budget``. A trial is created (or a queued
one popped) only while finished *and running* trials are below the budget: the storage checks that
in the creating transaction (the claim's ``ClaimContext``), so concurrent workers never
overshoot. While only other workers' running trials stand between the study and its budget a
worker waits for them (they may still fail and need running again), reaping stale ones meanwhile.

The studies are served least progress first. A study this machine cannot run (its task's code is
missing or differs, its data cannot be read, another sweeper version launched it) is set aside with
one log line and a note for ``sweeper status``, and the others are served. A sweep launched with
``--evaluate-seeds`` gets its evaluation queued by the worker that sees its budget met, and served.

Trials run through ``study.optimize(n_trials=1)`` so that Optuna drives the heartbeat; one trial's
execution is ``sweeper.worker.trial``. On SQLite the creation also holds the claim lock, released
as soon as the trial row is RUNNING (the claim's ``on_claimed``).
"""

from __future__ import annotations

import os
import signal
import socket
import time
import zlib
from collections.abc import Callable
from contextlib import ExitStack

import optuna

from sweeper.errors import ConfigError, DataError, NoStudyError, SweeperError, TaskError, WorkerError
from sweeper.evaluation.stages import NextStage, next_stage
from sweeper.settings import Settings
from sweeper.storage import BudgetMet, claim_lock, open_storage, studies_with_attr, study_user_attrs
from sweeper.storage.counts import TrialCounts, count_trials, reap_stale_trials
from sweeper.study.config import CONFIG_ATTR, VERSION_ATTR, SweepConfig, check_versions
from sweeper.tasks import LoadedTask, load_task
from sweeper.worker import collector
from sweeper.worker.data_cache import DataCache
from sweeper.worker.notes import note, stale_notes
from sweeper.storage.study import WorkerStudy
from sweeper.worker.trial import Shutdown, StopSignal, TrialOutcome, TrialRunner

EXIT_DONE = 0
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
POLL_SECONDS = 2.0
# A worker whose trials keep failing has a broken setup, not bad luck: stop instead of burning trials.
MAX_CONSECUTIVE_FAILURES = 5

# Optuna logs a traceback for every failed trial (and for each worker stopped by Ctrl-C); the
# worker prints one line per trial with its reason instead. --debug shows Optuna's warnings.
optuna.logging.set_verbosity(
    optuna.logging.WARNING if os.environ.get("SWEEPER_DEBUG", "") not in ("", "0") else optuna.logging.ERROR)


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
        self.settings = settings
        self.wanted = list(studies or [])
        self.index = index
        self.threads = threads
        self.log = log
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        # Distinct per process so that parallel TPE samplers don't propose the same points.
        self.sampler_seed = (
            sampler_seed
            if sampler_seed is not None
            else zlib.crc32(f"{self.name}:{index}:{time.time_ns()}".encode()) % (2**31 - 1)
        )
        self.data = DataCache(settings)
        self.stop = StopSignal()
        self.storage: optuna.storages.RDBStorage | None = None
        self.runner: TrialRunner | None = None
        self._backend_ready = False
        self._studies: dict[str, tuple[WorkerStudy, SweepConfig]] = {}
        self._tasks: dict[str, LoadedTask] = {}
        # Studies this worker cannot run (task code missing or different, data unreadable), why.
        self._set_aside: dict[str, SweeperError] = {}
        # Notes of this host's exited workers that could not run a study: cleared once this one can.
        self._stale_notes: dict[str, list[str]] = {}
        # Sweeps whose evaluation this worker has queued (or found queued).
        self._evaluated: set[str] = set()
        # Adaptive studies whose race is over: never replayed again (a race does not reopen).
        self._raced: set[str] = set()
        self._consecutive_failures = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def run(self) -> int:
        previous = {s: signal.signal(s, self.stop.handle) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            return self._run()
        except Shutdown as stop:
            return _exit_code(stop.signum)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    @property
    def _trained(self) -> bool:
        return self.runner is not None and self.runner.trained

    def _run(self) -> int:
        names = self._wait_for_studies()
        while not self.stop.received:
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
                    if counts.finished >= config.budget:
                        # What comes next (a race's next round, the evaluation) is launch work.
                        step = next_stage(self.settings, self.storage, study, config, counts,
                                          raced=name in self._raced, evaluated=name in self._evaluated)
                        self._take(name, step)
                        config, counts = step.config, step.counts
                        if step.evaluation and step.evaluation not in names:
                            names.append(step.evaluation)  # served like any other study, from the next round
                            added = True
                if counts.finished < config.budget:
                    open_.append((counts.finished / config.budget, name, counts))
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
                if self._run_one(name, counts, stale_counts) == "ran":
                    progressed = True
                    break
            if not progressed:
                self._sleep(POLL_SECONDS)
        return _exit_code(self.stop.signum)

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
        """Say once why this worker leaves a study alone, and note it in the study for status."""
        self._set_aside[name] = exc
        self.log(f"[worker {self.index}] cannot serve study {name}: {exc}; leaving its trials to workers that can")
        assert self.storage is not None
        self.storage.set_study_user_attr(self.storage.get_study_id_from_name(name), *note(self.name, str(exc)))

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stop.received and time.monotonic() < end:
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
                    self.runner = TrialRunner(self.storage, self.stop, self.name, self.sampler_seed, self.log, self.index)
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
            if time.monotonic() > deadline or self.stop.received:
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

    def _study(self, name: str) -> tuple[WorkerStudy, SweepConfig]:
        if name not in self._studies:
            assert self.storage is not None
            attrs = study_user_attrs(self.storage, name)
            check_versions(name, attrs.get(VERSION_ATTR))
            config = SweepConfig.from_attrs(attrs[CONFIG_ATTR])
            study = WorkerStudy(
                study_name=name,
                storage=self.storage,
                sampler=config.make_sampler(self.sampler_seed),
                pruner=config.make_pruner(),
            )
            self._studies[name] = (study, config)
            self._stale_notes[name] = stale_notes(attrs, self.name)
        return self._studies[name]

    def _reload(self, name: str) -> tuple[WorkerStudy, SweepConfig]:
        """The study with its stored config read again (its budget may have grown)."""
        assert self.storage is not None
        attrs = study_user_attrs(self.storage, name)
        study, config = self._studies[name]
        fresh = SweepConfig.from_attrs(attrs[CONFIG_ATTR])
        if fresh != config:
            self._studies[name] = (study, fresh)
        return self._studies[name]

    def _take(self, name: str, step: NextStage) -> None:
        """What came after a met budget: the study's stored config, and what not to do again."""
        if step.raced:
            self._raced.add(name)
        if step.evaluated:
            self._evaluated.add(name)
        study, config = self._studies[name]
        if step.config != config:
            self._studies[name] = (study, step.config)
        for line in step.notes:
            self.log(f"[worker {self.index}] {line}")

    def _task(self, name: str, config: SweepConfig) -> LoadedTask:
        """The study's task, loaded once; ``TaskError`` when this machine lacks its code or has
        other code than the study was launched with."""
        if name not in self._tasks:
            loaded = load_task(config.task, self.settings.task_dirs)
            if config.task_fingerprint and loaded.fingerprint != config.task_fingerprint:
                raise TaskError(
                    f"{loaded.where} differs from the code study {name} was launched with (fingerprint "
                    f"{loaded.fingerprint}, launched {config.task_fingerprint}): deploy the launched "
                    "version of the task to this machine, or launch the new code under a new --study-name"
                )
            self._tasks[name] = loaded
            study, _ = self._studies[name]
            assert self.storage is not None
            for key in self._stale_notes.pop(name, []):
                study.set_user_attr(key, None)
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
        self.stop.raise_if_received()  # stopped while loading data: claim nothing
        study, config = self._study(name)
        assert self.storage is not None and self.runner is not None
        outcome = TrialOutcome()
        with ExitStack() as claim:
            claim.enter_context(claim_lock(self.storage, name))
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
                splits = self.data.for_config(self._tasks[name], config)
                objective = self.runner.objective(self._tasks[name], splits, config, outcome)
                # The lock is released as soon as the trial row is RUNNING (created or popped).
                study.run_one(objective, budget=config.budget, queued=counts.waiting > 0, on_claimed=claim.close)
            except BudgetMet:
                # Another worker claimed the last free slot between the count above and the insert.
                return "wait"
            except Shutdown as stop:
                self.runner.requeue(study, outcome.trial_id, f"stopped by {stop}")
                raise
        if outcome.lost_database is not None:
            self.runner.requeue(study, outcome.trial_id, "lost the database")
        if outcome.trial_id is not None:
            self._count(*self.runner.ended(study, config, outcome))
        return "ran"

    def _count(self, state: optuna.trial.TrialState, attrs: dict[str, object]) -> None:
        failed = state == optuna.trial.TrialState.FAIL
        self._consecutive_failures = self._consecutive_failures + 1 if failed else 0
        if self._consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
            raise WorkerError(
                f"{self._consecutive_failures} trials in a row failed in this worker, the last with "
                f"{attrs.get('fail_reason', 'an unknown error')}: fix the cause and start the worker again"
            )


def _exit_code(signum: int | None) -> int:
    if signum == signal.SIGTERM:
        return EXIT_SIGTERM
    if signum == signal.SIGINT:
        return EXIT_SIGINT
    return EXIT_DONE


def run_worker(settings: Settings, studies: list[str] | None, *, index: int = 0,
               threads: int | None = None, log: Callable[[str], None] = print,
               sampler_seed: int | None = None) -> int:
    # The Keras backend is configured lazily, before the first Keras task's data is loaded.
    return Worker(settings, studies, index=index, sampler_seed=sampler_seed, threads=threads, log=log).run()
