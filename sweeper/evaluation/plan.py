"""``sweeper evaluate``: re-train the best configuration of each penalty type, and the
unregularized baseline, with several seeds on train + validation, scored on the test split.

The runs are an Optuna study of their own, ``<study>.eval``, created like ``launch`` creates a
sweep: every run is an enqueued trial carrying its seed (``eval_seed``), so any worker can take it,
``sweeper status`` shows it, and a second ``evaluate`` enqueues only the (configuration, seed)
pairs that are not finished or queued yet. Its stored config is the parent's with
``kind="evaluate"``: workers then train on train + validation and report the test accuracy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeper.storage.counts import count_trials
from sweeper.errors import ConfigError, NoStudyError
from sweeper.study.points import best_mean_per_group, collect_points, eligible_best_per_group, params_key
from sweeper.settings import Settings
from sweeper.tasks.hyperparams import BASELINE_PARAMS
from sweeper.storage import launch_lock, load_study, open_storage
from sweeper.storage.attrs import EVAL_SEED, EVALUATION_ROLE, PENALTY_GROUP, ROLE, SOURCE_TRIAL
from sweeper.study.config import CONFIG_ATTR, VERSION_ATTR, SweepConfig, check_versions, current_versions
from sweeper.study.designs import design_of
from sweeper.evaluation.eval_study import LEFT_OUT_ATTR, eval_study_name, find_eval_study, is_eval_study, sweep_of
from sweeper.tasks.api import Objective

# A run in one of these states is not run again: done (complete; pruned = diverged, which the
# same seed would repeat), or already queued / taken by a worker.
KEPT_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)



@dataclass(frozen=True)
class EvalRun:
    """One run to do: a configuration (the params of ``source_trial``) with one seed."""

    group: str
    source_trial: int | None
    params: dict[str, Any]
    seed: int

    def key(self) -> tuple[Any, ...]:
        return (params_key(self.params), self.seed)

    def user_attrs(self) -> dict[str, Any]:
        return {EVAL_SEED: self.seed, ROLE: EVALUATION_ROLE, SOURCE_TRIAL: self.source_trial, PENALTY_GROUP: self.group}


def eval_seeds(base_seed: int, count: int) -> list[int]:
    """Seeds 0..S-1 offset by the sweep's seed; ``--seeds 5`` after ``--seeds 3`` adds two."""
    return [base_seed * 1000 + i for i in range(count)]


def plan_runs(trials: Iterable[FrozenTrial], seeds: list[int], objective: Objective = Objective(), *,
              by_mean: bool = False, chosen: dict[str, dict[str, Any]] | None = None,
              left_out: dict[str, str] | None = None) -> list[EvalRun]:
    """The best configuration of each non-baseline group, plus the unregularized baseline
    (penalty none, dropout 0, whatever the search found), each with every seed. ``by_mean``
    (a curve study, whose points are repeated): the configuration with the best mean over its
    repeats, not the luckiest single run. ``chosen``: the configuration of each group is given
    (an adaptive study's finalists). A search's choice counts pruned trials for what they showed
    before they were stopped, and leaves out a type with no finished trial or only collapsed ones,
    writing why into ``left_out``: one collapsed run must not stand for its type."""
    points = collect_points(list(trials), objective)
    if by_mean:
        best = best_mean_per_group(points, objective)
    else:
        best, why = eligible_best_per_group(points, objective)
        if left_out is not None:
            left_out.update(why)
    baseline = best.get("baseline")
    configs: list[tuple[str, int | None, dict[str, Any]]] = [
        ("baseline", baseline.number if baseline else None, dict(BASELINE_PARAMS))
    ]
    if chosen is not None:
        source = {(p.group, params_key(p.params)): p.number for p in points}
        configs += [(g, source.get((g, params_key(params))), dict(params)) for g, params in chosen.items()]
    else:
        configs += [(g, p.number, dict(p.params)) for g, p in best.items() if g != "baseline"]
    return [EvalRun(group, source, params, seed) for group, source, params in configs for seed in seeds]


def existing_keys(trials: Iterable[FrozenTrial]) -> set[tuple[Any, ...]]:
    """(params, seed) of the runs that are finished, queued or running."""
    keys = set()
    for t in trials:
        if t.state not in KEPT_STATES or EVAL_SEED not in t.user_attrs:
            continue
        # Waiting trials carry their params only as "fixed_params" until a worker takes them.
        params = t.system_attrs.get("fixed_params") or t.params
        keys.add((params_key(params), int(t.user_attrs[EVAL_SEED])))
    return keys


@dataclass(frozen=True)
class EvalPlan:
    study: str
    eval_study: str
    created: bool
    enqueued: list[EvalRun]
    kept: int  # runs already finished, queued or running
    budget: int
    groups: list[str]

    def describe(self) -> str:
        verb = "created" if self.created else "resumed"
        return (
            f"evaluation study {self.eval_study} {verb}: {len(self.enqueued)} runs enqueued, "
            f"{self.kept} already done or queued (groups: {', '.join(self.groups)}; budget {self.budget})"
        )


def prepare(settings: Settings, study_name: str, seeds: int,
            storage: optuna.storages.BaseStorage | None = None) -> EvalPlan:
    """Create or resume ``<study>.eval`` and enqueue the missing runs (idempotent). A worker
    passes its own ``storage``, so that it opens no second connection pool."""
    if seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {seeds}")
    if is_eval_study(study_name):
        raise ConfigError(f"{study_name!r} is already an evaluation study: pass the sweep's name, "
                          f"e.g. sweeper evaluate {sweep_of(study_name)}")
    storage = storage or open_storage(settings, create_tables=True)
    with launch_lock(settings.storage, retry_seconds=settings.storage_retry):  # rides out an outage
        parent = load_study(storage, study_name)
        attrs = parent.user_attrs
        if CONFIG_ATTR not in attrs:
            raise ConfigError(f"study {study_name!r} was not created by sweeper: evaluate a study made by `sweeper launch`")
        check_versions(study_name, attrs.get(VERSION_ATTR))
        config = SweepConfig.from_attrs(attrs[CONFIG_ATTR])
        if config.kind != "search":
            raise ConfigError(f"study {study_name!r} is an evaluation study: pass the sweep it evaluates")
        trials = parent.get_trials(deepcopy=False)
        if not any(t.state == TrialState.COMPLETE for t in trials):
            raise NoStudyError(
                f"study {study_name!r} has no complete trials to evaluate yet: run `sweeper worker` "
                f"(or `sweeper run {config.task}`) first"
            )
        left_out: dict[str, str] = {}
        design = design_of(config.design)
        runs = plan_runs(trials, eval_seeds(config.seed, seeds), config.goal, by_mean=design.ranks_by_mean,
                         chosen=design.put_forward(config, trials), left_out=left_out)
        name = eval_study_name(study_name)
        study, created = _open_eval_study(storage, study_name, config)
        have = existing_keys(study.get_trials(deepcopy=False))
        todo = [r for r in runs if r.key() not in have]
        # Each evaluate that adds seeds to a finished evaluation is one more look at the test
        # split: its verdicts spend α over the looks (sweeper.evaluation.results).
        before = study.user_attrs.get(CONFIG_ATTR)
        looks = 1 if created or not before else int(before.get("looks", 1)) + (1 if todo else 0)
        for run in todo:
            study.enqueue_trial(run.params, user_attrs=run.user_attrs())
        counts = count_trials(study)
        budget = max(1, counts.finished + counts.running + counts.waiting)
        # The types the search could not put forward, and why: the verdict names them.
        study.set_user_attr(LEFT_OUT_ATTR, left_out)
        eval_config = dataclasses.replace(config, kind="evaluate", parent=study_name, pruner="none", budget=budget,
                                          design="search", points=0, repeats=1, rounds=0, evaluate_seeds=0,
                                          looks=looks)
        # Written last (as in launch): workers take a study only once its config is present, and
        # re-read the budget from it whenever they load the study.
        study.set_user_attr(CONFIG_ATTR, eval_config.to_attrs())
    groups = list(dict.fromkeys(r.group for r in runs))
    return EvalPlan(study_name, name, created, todo, len(runs) - len(todo), budget, groups)


def _open_eval_study(storage: optuna.storages.BaseStorage, sweep: str, config: SweepConfig) -> tuple[optuna.Study, bool]:
    study = find_eval_study(storage, sweep)
    if study is None:
        objective = config.goal
        study = optuna.create_study(study_name=eval_study_name(sweep), storage=storage, direction=objective.direction)
        study.set_metric_names([f"test_{objective.metric}"])
        study.set_user_attr(VERSION_ATTR, current_versions())
        study.set_user_attr("task", config.task)
        return study, True
    check_versions(study.study_name, study.user_attrs.get(VERSION_ATTR))
    return study, False
