"""``sweeper status``: per study its task, budget, trial counts by state and best result.

``study_status`` is pure over a loaded study; reading the storage (and reaping trials whose worker
died, so a sweep with no live worker still moves on) happens in ``collect``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import optuna

from sweeper.storage.counts import count_trials, reap_stale_trials
from sweeper.study.config import CONFIG_ATTR, PROBLEM_PREFIX
from sweeper.tasks.api import Objective


@dataclass(frozen=True)
class StudyStatus:
    study: str
    task: str | None
    budget: int | None
    complete: int
    pruned: int
    fail: int
    running: int
    waiting: int
    best_value: float | None
    best_params: dict[str, Any] | None
    best_trial: int | None
    # "search" (values are the objective on validation) or "evaluate" (on test, single runs).
    kind: str = "search"
    # The objective's name in Keras' logs, e.g. val_accuracy, and whether higher is better.
    objective: str = "val_accuracy"
    direction: str = "maximize"
    # Workers (host:pid) that cannot run this study, with why (task code missing or different,
    # data unreadable): the reason a study may not progress.
    cannot_run: dict[str, str] = dataclasses.field(default_factory=dict)
    # An adaptive study's race: its stage, the points still racing and the trials left at most.
    race: str | None = None
    # An adaptive study's finished trials at most once its race is over (its budget grows to it
    # round by round): the finished ones plus RacePlan.trials_left.
    race_bound: int | None = None
    # Of the failed: planned runs not run again (their own fault), counted as finished.
    given_up: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def finished(self) -> int:
        return self.complete + self.pruned + self.given_up

    @property
    def done(self) -> bool:
        return self.budget is not None and self.finished >= self.budget


def study_status(study: optuna.Study) -> StudyStatus:
    counts = count_trials(study)
    attrs = study.user_attrs
    config = attrs.get(CONFIG_ATTR, {})
    objective = Objective.from_dict(config.get("objective"))
    try:
        best = study.best_trial
    except ValueError:
        best = None
    race, race_bound = _race(config, study, counts.complete + counts.pruned) if config.get("design") == "adaptive" \
        else (None, None)
    return StudyStatus(
        study=study.study_name,
        task=config.get("task") or study.user_attrs.get("task"),
        budget=config.get("budget"),
        complete=counts.complete,
        pruned=counts.pruned,
        fail=counts.fail,
        running=counts.running,
        waiting=counts.waiting,
        best_value=best.value if best else None,
        best_params=dict(best.params) if best else None,
        best_trial=best.number if best else None,
        kind=config.get("kind", "search"),
        objective=f"test_{objective.metric}" if config.get("kind") == "evaluate" else objective.log_key,
        direction=objective.direction,
        cannot_run={
            key[len(PROBLEM_PREFIX):]: f"{note['reason']} ({note['at']})"
            for key, note in attrs.items() if key.startswith(PROBLEM_PREFIX) and note
        },
        race=race,
        race_bound=race_bound,
        given_up=counts.given_up,
    )


def _race(config: dict[str, Any], study: optuna.Study, finished: int) -> tuple[str, int]:
    """Where the race stands (``RacePlan.describe``), and the finished trials it ends with at most."""
    from sweeper.study.adaptive import race, runs_of
    from sweeper.study.config import SweepConfig

    stored = SweepConfig.from_attrs(config)
    plan = race(stored, runs_of(study.get_trials(deepcopy=False), stored.goal))
    return plan.describe(stored.repeats), finished + plan.trials_left(stored.repeats)


def collect(storage: optuna.storages.BaseStorage, names: list[str] | None = None) -> list[StudyStatus]:
    studies = [optuna.load_study(study_name=summary.study_name, storage=storage)
               for summary in storage.get_all_studies() if not names or summary.study_name in names]
    # A trial past the grace period is reaped only once its heartbeat has been seen standing
    # still: status then takes a heartbeat interval and some seconds more.
    reap_stale_trials(studies, wait=True)
    return [study_status(study) for study in studies]


def format_table(rows: list[StudyStatus]) -> str:
    sw = max([14, *(len(r.study) for r in rows)])
    tw = max([12, *(len(str(r.task)) for r in rows)])
    header = f"{'study':<{sw}} {'task':<{tw}} {'budget':>6} {'done':>5} {'compl':>5} {'pruned':>6} {'fail':>4} {'run':>4} {'wait':>4}  best"
    lines = [header]
    for r in rows:
        best = "-" if r.best_value is None else f"{r.best_value:.4f} (trial {r.best_trial}: {_params(r.best_params)})"
        lines.append(
            f"{r.study:<{sw}} {str(r.task):<{tw}} {str(r.budget or '-'):>6} {r.finished:>5} {r.complete:>5} "
            f"{r.pruned:>6} {r.fail:>4} {r.running:>4} {r.waiting:>4}  {best}"
        )
    if not rows:
        lines.append("(no studies: run `sweeper launch TASK`)")
    for r in rows:
        if r.best_value is not None and r.objective != "val_accuracy":
            lines.append(f"{r.study}: values are {r.objective} ({r.direction})")
        if r.race:
            lines.append(f"{r.study}: race: {r.race}")
        for worker, why in r.cannot_run.items():
            stuck = "" if r.done else " (no trial of it runs there)"
            lines.append(f"{r.study}: worker {worker} cannot run it{stuck}: {why}")
    return "\n".join(lines)


def _params(params: dict[str, Any] | None) -> str:
    if not params:
        return ""
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
