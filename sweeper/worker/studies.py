"""The studies a worker serves, each as it knows it: the Optuna study it drives, the config as last
read, the task once loaded, and what it no longer needs to ask (a race over, an evaluation asked
for). A study this machine cannot run is set aside, with one log line and a note for ``sweeper
status``.

Refusals: a study launched by another sweeper or Optuna version (``check_versions``, when it is
first read), and a study whose task's code here differs from the code it was launched with (its
fingerprint, when the task is first loaded). Both are refused before any trial is claimed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import optuna

from sweeper.errors import SweeperError, TaskError
from sweeper.evaluation.stages import NextStage
from sweeper.settings import Settings
from sweeper.storage import study_user_attrs
from sweeper.storage.counts import TrialCounts
from sweeper.storage.study import WorkerStudy
from sweeper.study.config import CONFIG_ATTR, VERSION_ATTR, SweepConfig, check_versions
from sweeper.tasks import LoadedTask, load_task
from sweeper.worker.notes import note, stale_notes


@dataclass
class ServedStudy:
    study: WorkerStudy
    config: SweepConfig
    # Notes of this host's exited workers that could not run the study: cleared once this one can.
    stale_notes: list[str] = field(default_factory=list)
    task: LoadedTask | None = None
    raced: bool = False  # an adaptive study whose race is over: never replayed again
    # What the worker last knew of the study's counts without counting again: the round's count,
    # or its own claim's (``sweeper.storage.counts.after_claim``); used once (``schedule.known_counts``).
    counts: TrialCounts | None = None
    evaluated: bool = False  # a sweep whose evaluation this worker has queued (or found queued)


class ServedStudies:
    """The studies of one worker process, each read from the database once."""

    def __init__(self, settings: Settings, storage: optuna.storages.RDBStorage, worker: str, sampler_seed: int,
                 say: Callable[[str], None]) -> None:
        self.settings = settings
        self.storage = storage
        self.worker = worker
        self.sampler_seed = sampler_seed
        self.say = say
        self._served: dict[str, ServedStudy] = {}
        # Studies this worker cannot run (another version, task code missing or different, data
        # unreadable), with why.
        self.set_aside: dict[str, SweeperError] = {}

    def get(self, name: str) -> ServedStudy:
        """The study, read once; ``ConfigError`` when another sweeper/Optuna version launched it."""
        if name not in self._served:
            attrs = study_user_attrs(self.storage, name)
            check_versions(name, attrs.get(VERSION_ATTR))
            config = SweepConfig.from_attrs(attrs[CONFIG_ATTR])
            study = WorkerStudy(
                study_name=name,
                storage=self.storage,
                sampler=config.make_sampler(self.sampler_seed),
                pruner=config.make_pruner(),
            )
            self._served[name] = ServedStudy(study, config, stale_notes(attrs, self.worker))
        return self._served[name]

    def reload(self, name: str) -> ServedStudy:
        """The study with its stored config read again (its budget may have grown)."""
        served = self._served[name]
        fresh = SweepConfig.from_attrs(study_user_attrs(self.storage, name)[CONFIG_ATTR])
        if fresh != served.config:
            served.config = fresh
        return served

    def take(self, name: str, step: NextStage) -> ServedStudy:
        """What came after a met budget: the study's stored config, and what not to do again."""
        served = self._served[name]
        served.raced = served.raced or step.raced
        served.evaluated = served.evaluated or step.evaluated
        if step.config != served.config:
            served.config = step.config
        for line in step.notes:
            self.say(line)
        return served

    def task(self, name: str) -> LoadedTask:
        """The study's task, loaded once; ``TaskError`` when this machine lacks its code or has
        other code than the study was launched with."""
        served = self._served[name]
        if served.task is None:
            config = served.config
            loaded = load_task(config.task, self.settings.task_dirs)
            if config.task_fingerprint and loaded.fingerprint != config.task_fingerprint:
                raise TaskError(
                    f"{loaded.where} differs from the code study {name} was launched with (fingerprint "
                    f"{loaded.fingerprint}, launched {config.task_fingerprint}): deploy the launched "
                    "version of the task to this machine, or launch the new code under a new --study-name"
                )
            served.task = loaded
            notes, served.stale_notes = served.stale_notes, []
            for key in notes:
                served.study.set_user_attr(key, None)
        return served.task

    def put_aside(self, name: str, exc: SweeperError) -> None:
        """Say once why this worker leaves a study alone, and note it in the study for status."""
        self.set_aside[name] = exc
        self.say(f"cannot serve study {name}: {exc}; leaving its trials to workers that can")
        self.storage.set_study_user_attr(self.storage.get_study_id_from_name(name), *note(self.worker, str(exc)))
