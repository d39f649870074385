"""Creating one study per task: idempotent, and safe when several launches race.

The first trial of every study is the unregularized baseline (penalty none, dropout 0), enqueued
here so that every study can be compared against it, unless ``--penalties`` leaves out ``none``:
then the baseline is not in the search space and would only fail. A ``grid`` sweep enqueues its
grid points too.
"""

from __future__ import annotations

from dataclasses import dataclass

import optuna

from sweeper.errors import ConfigError
from sweeper.settings import Settings
from sweeper.space import BASELINE_PARAMS, spread
from sweeper.storage import launch_lock, open_storage, storage_errors
from sweeper.sweep import CONFIG_ATTR, VERSION_ATTR, SweepConfig, check_versions, current_versions


@dataclass(frozen=True)
class LaunchResult:
    study: str
    created: bool
    budget: int
    # Whether the unregularized baseline is the study's first trial.
    baseline: bool = True


def launch(settings: Settings, study_name: str, config: SweepConfig) -> LaunchResult:
    storage = open_storage(settings, create_tables=True)
    with storage_errors(settings.storage), launch_lock(settings.storage):
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
            diffs = config.differences(stored)
            if diffs:
                raise ConfigError(
                    f"study {study_name!r} was launched with other settings ({'; '.join(diffs)}): "
                    "launch again with the stored settings, or pick a new --study-name"
                )
            return LaunchResult(study_name, created=False, budget=stored.budget,
                                baseline="none" in stored.space.penalties)

        objective = config.goal
        study = optuna.create_study(study_name=study_name, storage=storage, direction=objective.direction)
        # Optuna's metric names: the dashboard and `optuna` CLI show e.g. "val_accuracy".
        study.set_metric_names([objective.log_key])
        study.set_user_attr(VERSION_ATTR, current_versions())
        study.set_user_attr("task", config.task)
        baseline = "none" in config.space.penalties
        if baseline:
            study.enqueue_trial(dict(BASELINE_PARAMS), user_attrs={"role": "baseline"})
        if config.sampler == "grid":
            points = [p for p in config.space.grid() if p != BASELINE_PARAMS]
            for point in spread(points, config.budget - 1):
                study.enqueue_trial(point, user_attrs={"role": "grid"})
        # Written last: workers only take studies whose config is present.
        study.set_user_attr(CONFIG_ATTR, config.to_attrs())
    return LaunchResult(study_name, created=True, budget=config.budget, baseline=baseline)
