"""A worker process: takes trials from the launched studies until every budget is met.

Each round it counts every study it serves and tries the open ones least progress first
(``sweeper.worker.schedule``); what comes after a met budget is launch work
(``sweeper.evaluation.stages``). What it knows of each study, and the studies it sets aside, are
in ``sweeper.worker.studies``; its signals, exit codes and failure streak in
``sweeper.worker.lifecycle``; one trial's execution in ``sweeper.worker.trial``.

Budget rule: a study is done when ``complete + pruned == budget``. A trial is created (or a queued
one popped) only while finished *and running* trials are below the budget: the storage checks that
in the creating transaction (the claim's ``ClaimContext``), so concurrent workers never overshoot.
While only other workers' running trials stand between the study and its budget a worker waits for
them (they may still fail and need running again), reaping stale ones meanwhile.

Trials run through ``study.optimize(n_trials=1)`` so that Optuna drives the heartbeat. On SQLite
the creation also holds the claim lock, released as soon as the trial row is RUNNING (the claim's
``on_claimed``).
"""

from __future__ import annotations

import os
import socket
import time
import zlib
from collections.abc import Callable
from contextlib import ExitStack

import optuna

from sweeper.errors import ConfigError, DataError
from sweeper.settings import Settings
from sweeper.storage import RETRY_SECONDS, BudgetMet, claim_lock, launch_lock, open_storage, studies_with_attr
from sweeper.storage.counts import TrialCounts, after_claim, count_trials, reap_stale_trials
from sweeper.storage.requeue import requeue_orphans
from sweeper.study.config import CONFIG_ATTR
from sweeper.worker import collector
from sweeper.worker.data_cache import DataCache
from sweeper.worker.lifecycle import (
    POLL_SECONDS,
    FailureStreak,
    Shutdown,
    StopSignal,
    exit_code,
    finish,
    handling_stops,
    wait_for_studies,
)
from sweeper.worker.schedule import next_round, planned_design
from sweeper.worker.studies import ServedStudies
from sweeper.worker.trial import TrialOutcome, TrialReaped, TrialRunner


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
        # Optuna logs a traceback for every failed trial (and for each worker stopped by Ctrl-C);
        # the worker prints one line per trial with its reason instead. --debug shows its warnings.
        optuna.logging.set_verbosity(optuna.logging.WARNING if settings.debug else optuna.logging.ERROR)
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
        self.studies: ServedStudies | None = None
        self._backend_ready = False
        self._failures = FailureStreak()

    def _say(self, line: str) -> None:
        self.log(f"[worker {self.index}] {line}")

    def run(self) -> int:
        with handling_stops(self.stop):
            try:
                return self._run()
            except Shutdown as stop:
                return exit_code(stop.signum)

    @property
    def _trained(self) -> bool:
        return self.runner is not None and self.runner.trained

    def _run(self) -> int:
        names = wait_for_studies(self.wanted, self._ready_studies, self.settings.wait_for_study, self.stop, self._say)
        assert self.studies is not None
        while not self.stop.received:
            round_ = next_round(names, self.studies)
            names += round_.joined  # served like any other study, from the next round
            if not round_.open:
                if round_.joined:
                    continue
                return finish(names, self.studies.set_aside, self._trained, self._say)
            progressed = False
            for name, counts in round_.open:
                try:
                    stale_counts = self._prepare(name)
                except (ConfigError, DataError) as exc:
                    # This machine cannot run the study (its task's code is missing or differs, its
                    # data cannot be read): nothing was claimed; other workers may serve it.
                    self.studies.put_aside(name, exc)
                    continue
                if self._run_one(name, counts, stale_counts) in ("ran", "recount"):
                    progressed = True  # (a refused estimate: the next round counts at once)
                    break
            if not progressed:
                self.stop.sleep(POLL_SECONDS)
        return exit_code(self.stop.signum)

    def _ready_studies(self) -> list[str]:
        """The launched studies (launch stores a study's config last: a study without it is still
        being made); opens the storage on first success (``NoStudyError`` before launch)."""
        if self.storage is None:
            self.storage = open_storage(self.settings, check_schema=False, wait_for_database=True)
            self.runner = TrialRunner(self.storage, self.stop, self.name, self.sampler_seed, self.log, self.index)
            self.studies = ServedStudies(self.settings, self.storage, self.name, self.sampler_seed, self._say)
        return studies_with_attr(self.storage, CONFIG_ATTR)

    def _prepare(self, name: str) -> bool:
        """Load the task, configure the backend and load the data before claiming a trial: a
        study this machine cannot run is set aside without touching it; a finished study never
        loads anything. True when something had to be loaded (which can take minutes)."""
        assert self.studies is not None
        task = self.studies.task(name)
        config = self.studies.get(name).config
        loaded = False
        if task.task.uses_keras and not self._backend_ready:
            from sweeper.worker import backend

            with collector.long_lived():  # imports Keras and its backend
                backend.configure(self.threads, self.settings.debug)
            self._backend_ready = loaded = True
        if not self.data.has(config):
            self.data.for_config(task, config)
            if not self._trained:
                # Only before the first trial: later, what is alive may be a trial's leftovers
                # (a model, its GPU memory) that a freeze would keep for good.
                collector.freeze_survivors()
            loaded = True
        return loaded

    def _run_one(self, name: str, counts: TrialCounts, stale_counts: bool) -> str:
        """Run one trial of ``name`` if its budget has room: 'ran', 'wait', 'done', or 'recount'
        (estimated counts left room, the claim found none). ``counts`` were just read by the
        caller (stale when it then loaded data), or are what the worker knew from its last claim
        (``counts.estimated``: then they leave room); the storage re-checks the budget when it
        creates the trial, counting in the same transaction: in a steady state that is the one
        count a claim costs."""
        self.stop.raise_if_received()  # stopped while loading data: claim nothing
        assert self.storage is not None and self.runner is not None and self.studies is not None
        served = self.studies.get(name)
        study, config, task = served.study, served.config, self.studies.task(name)
        served.counts = None  # known again only after a claim that ends well
        outcome = TrialOutcome()
        with ExitStack() as claim:
            claim.enter_context(claim_lock(self.storage, name))
            try:
                if stale_counts:
                    counts = count_trials(study)
                if counts.finished < config.budget <= counts.finished + counts.running:
                    # Only running trials stand in the way: some may be stale (their worker died).
                    # (study.optimize reaps too, but only after this count.)
                    reap_stale_trials([study])
                    counts = count_trials(study)
                if counts.finished >= config.budget:
                    return "done"
                if counts.finished + counts.running >= config.budget:
                    return "wait"
                if planned_design(config) and not counts.waiting:
                    # A planned design's trials are all queued: a free slot is a planned run's
                    # copy on its way (a reaper queues it just after failing the run), never one
                    # for a sampled trial. Running trials may be stale (their copies to come);
                    # with none left, a copy was lost.
                    if counts.running:
                        reap_stale_trials([study])
                    else:
                        self._requeue_orphans(study)
                    return "wait"
                splits = self.data.for_config(task, config)
                objective = self.runner.objective(task, splits, config, outcome)
                # The lock is released as soon as the trial row is RUNNING (created or popped).
                claimed = study.run_one(objective, budget=config.budget, queued=counts.waiting > 0,
                                        on_claimed=claim.close)
            except BudgetMet:
                # Another worker claimed the last free slot between the count above and the insert
                # (or, with estimated counts, since this worker's last claim).
                return "recount" if counts.estimated else "wait"
            except Shutdown as stop:
                # Within the pod's termination grace period, even through an outage.
                with self.storage.retrying_for(RETRY_SECONDS):  # type: ignore[attr-defined]
                    self.runner.requeue(study, outcome.trial_id, f"stopped by {stop}")
                raise
            except TrialReaped:
                self.runner.abandon(study, outcome.trial_id)
                return "ran"
            except ValueError:
                # Optuna's tell refuses a trial another process failed after the objective's last
                # write and before the tell: abandoned like any reaped trial.
                if not self.runner.abandon(study, outcome.trial_id):
                    raise
                return "ran"
        if outcome.lost_database is not None:
            self.runner.requeue(study, outcome.trial_id, "lost the database")
        if outcome.trial_id is not None:
            state, attrs = self.runner.ended(study, config, outcome)
            self._failures.add(state == optuna.trial.TrialState.FAIL, attrs)
        if outcome.ended is not None and claimed.seen is not None and not planned_design(config):
            served.counts = after_claim(counts, claimed.seen, popped=claimed.popped, ended=outcome.ended[1])
        return "ran"

    def _requeue_orphans(self, study: optuna.Study) -> None:
        """Queue the planned runs whose copy a dying reaper never queued (``requeue_orphans``)."""
        with launch_lock(self.settings.storage, retry_seconds=self.settings.storage_retry):
            if count_trials(study).waiting:
                return
            queued = requeue_orphans(study)
        if queued:
            self._say(f"{study.study_name}: re-queued {queued} failed planned run(s) whose copy was lost")


def run_worker(settings: Settings, studies: list[str] | None, *, index: int = 0,
               threads: int | None = None, log: Callable[[str], None] = print,
               sampler_seed: int | None = None) -> int:
    # The Keras backend is configured lazily, before the first Keras task's data is loaded.
    return Worker(settings, studies, index=index, sampler_seed=sampler_seed, threads=threads, log=log).run()
