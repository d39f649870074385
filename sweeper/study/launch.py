"""Creating one study per task: idempotent, and safe when several launches race.

The first trial of every search study is the unregularized baseline (penalty none, dropout 0),
enqueued here so that every study can be compared against it, unless ``--penalties`` leaves out
``none``: then the baseline is not in the search space and would only fail. A search then queues
one trial per type of regularization (``SearchSpace.type_starts``), so that each has a finished
trial whatever the sampler prefers; a ``grid`` sweep enqueues its grid points instead. A ``curve`` study (``sweeper.study.design``) enqueues its whole plan;
launching it again with more ``--repeats`` adds only the new repeats.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from sweeper.errors import ConfigError
from sweeper.settings import Settings
from sweeper.storage import launch_lock, open_storage
from sweeper.study.adaptive import RacePlan, runs_of
from sweeper.storage.attrs import CURVE_ROLE, REPEAT, ROLE
from sweeper.storage.requeue import GIVEN_UP
from sweeper.study.config import CONFIG_ATTR, VERSION_ATTR, SweepConfig, check_versions, current_versions
from sweeper.study.design import CurveRun, curve_runs
from sweeper.study.designs import ADD_REPEATS, GROW_BUDGET, GROW_RACE, RESUME_RACE, design_of
from sweeper.study.designs.base import SHAPE_OPTIONS


@dataclass(frozen=True)
class LaunchResult:
    study: str
    created: bool
    budget: int
    # Whether the unregularized baseline is the study's first trial.
    baseline: bool = True
    # Trials queued by this launch of an existing curve study (more repeats).
    added: int = 0
    # The budget before this launch raised it (a search launched again with more --trials).
    grown_from: int | None = None
    # The rounds a race may now run, when this launch added rounds to it (--rounds N).
    grown_rounds: int | None = None


def launch(settings: Settings, study_name: str, config: SweepConfig,
           given: Collection[str] | None = None) -> LaunchResult:
    """Create the study, or launch the stored one again with ``config``. ``given``: the shape
    options (``SHAPE_OPTIONS``) the user gave (None: all of them); a relaunch takes the stored
    study's values of the others, so that launching a race again needs no flags repeated, and a
    race launched under older defaults is not refused for them."""
    storage = open_storage(settings, create_tables=True)
    with launch_lock(settings.storage):
        try:
            study_id = storage.get_study_id_from_name(study_name)
        except KeyError:
            study_id = None
        if study_id is not None:
            attrs = storage.get_study_user_attrs(study_id)
            if CONFIG_ATTR not in attrs:
                raise ConfigError(
                    f"study {study_name!r} exists but was not created by sweeper: "
                    "launch under another name (--study-name) or delete it (optuna delete-study)"
                )
            check_versions(study_name, attrs.get(VERSION_ATTR))
            stored = SweepConfig.from_attrs(attrs[CONFIG_ATTR])
            if stored.task_fingerprint and config.task_fingerprint != stored.task_fingerprint:
                raise ConfigError(
                    f"study {study_name!r} was launched with other code for task {config.task!r} "
                    f"(fingerprint {stored.task_fingerprint}, this is {config.task_fingerprint}): its "
                    "workers refuse the new code; launch it under a new --study-name, or restore the "
                    "launched version of the task's file"
                )
            if given is not None and stored.design == config.design:
                config = dataclasses.replace(config, **{k: getattr(stored, k) for k in SHAPE_OPTIONS if k not in given})
            action = design_of(stored.design).relaunch(study_name, stored, config)
            if action == GROW_RACE:
                stored = dataclasses.replace(stored, rounds=config.rounds, planned_rounds=stored.planned_rounds or stored.rounds,
                                             rounds_grown=[*stored.rounds_grown, config.rounds])
                storage.set_study_user_attr(study_id, CONFIG_ATTR, stored.to_attrs())
            if action == ADD_REPEATS:
                return _add_repeats(storage, study_name, stored, config)
            if action in (RESUME_RACE, GROW_RACE):
                # A relaunch resumes the race: the round a worker may have left unqueued is queued.
                advanced = _advance(storage, study_name, stored)
                return LaunchResult(study_name, created=False, budget=advanced.budget, baseline=True,
                                    added=advanced.added, grown_rounds=config.rounds if action == GROW_RACE else None)
            if action == GROW_BUDGET:
                return _grow_budget(storage, study_id, study_name, stored, config)
            return LaunchResult(study_name, created=False, budget=stored.budget,
                                baseline="none" in stored.space.penalties)

        objective = config.goal
        study = optuna.create_study(study_name=study_name, storage=storage, direction=objective.direction)
        # Optuna's metric names: the dashboard and `optuna` CLI show e.g. "val_accuracy".
        study.set_metric_names([objective.log_key])
        study.set_user_attr(VERSION_ATTR, current_versions())
        study.set_user_attr("task", config.task)
        baseline = "none" in config.space.penalties
        for queued in design_of(config.design).launch_queue(config):
            study.enqueue_trial(queued.params, user_attrs=queued.user_attrs)
        # Written last: workers only take studies whose config is present.
        study.set_user_attr(CONFIG_ATTR, config.to_attrs())
    return LaunchResult(study_name, created=True, budget=config.budget, baseline=baseline)


def _grow_budget(storage: optuna.storages.BaseStorage, study_id: int, name: str, stored: SweepConfig,
                 config: SweepConfig) -> LaunchResult:
    """Launch a search again with a larger --trials (``SearchDesign.relaunch`` checked it only
    grows): store the larger budget (workers re-read it when theirs is met)."""
    storage.set_study_user_attr(study_id, CONFIG_ATTR, dataclasses.replace(stored, budget=config.budget).to_attrs())
    return LaunchResult(name, created=False, budget=config.budget, baseline="none" in stored.space.penalties,
                        grown_from=stored.budget)


def _add_repeats(storage: optuna.storages.BaseStorage, name: str, stored: SweepConfig, config: SweepConfig) -> LaunchResult:
    """Launch a curve study again with more repeats (``CurveDesign.relaunch`` checked that only
    they changed): queue the (configuration, repeat) pairs it lacks, then store the larger plan
    (its budget is read again by workers when they run out)."""
    study = optuna.load_study(study_name=name, storage=storage)
    have = {
        CurveRun(dict(t.system_attrs.get("fixed_params") or t.params), int(t.user_attrs[REPEAT]), 0).key()
        for t in study.get_trials(deepcopy=False)
        if t.user_attrs.get(ROLE) == CURVE_ROLE and t.state != TrialState.FAIL
    }
    todo = [r for r in curve_runs(config.space, config.points, config.repeats, config.seed) if r.key() not in have]
    for run in todo:
        study.enqueue_trial(run.params, user_attrs=run.user_attrs())
    # More repeats mean the verdicts will be read again: one more look to spend α on.
    study.set_user_attr(CONFIG_ATTR, dataclasses.replace(config, looks=stored.looks + 1).to_attrs())
    return LaunchResult(name, created=False, budget=config.budget, baseline="none" in config.space.penalties,
                        added=len(todo))


@dataclass(frozen=True)
class Advance:
    plan: RacePlan
    budget: int
    added: int


def advance_race(settings: Settings, study_name: str, storage: optuna.storages.BaseStorage | None = None) -> Advance:
    """Queue the next round of an adaptive study's race if its current one is over (idempotent:
    any worker that sees the budget met calls it, and so does a relaunch)."""
    storage = storage or open_storage(settings, create_tables=True)
    with launch_lock(settings.storage, retry_seconds=settings.storage_retry):  # a worker's: rides out an outage
        study_id = storage.get_study_id_from_name(study_name)
        stored = SweepConfig.from_attrs(storage.get_study_user_attrs(study_id)[CONFIG_ATTR])
        return _advance(storage, study_name, stored)


def _advance(storage: optuna.storages.BaseStorage, name: str, stored: SweepConfig) -> Advance:
    """Under the launch lock: replay the race, queue what its current stage lacks, and store the
    budget as every trial the study now holds that counts (finished, running or queued)."""
    study = optuna.load_study(study_name=name, storage=storage)
    trials = study.get_trials(deepcopy=False)
    plan = design_of(stored.design).race(stored, runs_of(trials, stored.goal))
    if plan is None:
        raise ConfigError(f"study {name!r} is a {stored.design} study: it has no race to advance")
    for run in plan.queue:
        study.enqueue_trial(run.params, user_attrs=run.user_attrs())
    if plan.stage == "done":
        return Advance(plan, stored.budget, 0)
    # Every trial that counts or will: finished, running, queued before and queued now. (A stage
    # whose last runs are still queued while the budget is met, say after a sampled replacement
    # of a failed trial took a slot, gets the room to run them.)
    counted = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
                  or GIVEN_UP in t.system_attrs for t in trials)  # a given-up planned run counts too
    budget = max(stored.budget, counted + len(plan.queue))
    if budget != stored.budget:
        # Written last, as at launch: workers re-read the budget from it when theirs is met.
        study.set_user_attr(CONFIG_ATTR, dataclasses.replace(stored, budget=budget).to_attrs())
    return Advance(plan, budget, len(plan.queue))
