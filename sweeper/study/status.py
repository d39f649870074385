"""``sweeper status``: per study its task, budget, trial counts by state, the compute they took in
full-trial equivalents, and its best result.

``study_status`` is pure over a loaded study; reading the storage (and reaping trials whose worker
died, so a sweep with no live worker still moves on) happens in ``collect``. Counting trials says
little of the cost when trials differ in length (a pruned trial stops half-way, a diverged one at
its first non-finite loss): ``full_trial_equivalents`` counts the epochs they ran, in full trials,
for any page that counts trials for the user."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from sweeper.storage.counts import count_trials, reap_stale_trials
from sweeper.study.config import CONFIG_ATTR, PROBLEM_PREFIX
from sweeper.tasks.api import Objective
from sweeper.tasks.results import EPOCHS_RUN


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
    # The compute its trials took: epochs run ÷ epochs of a full trial (``full_trial_equivalents``);
    # None when not worked out (``study_status(..., compute=False)``) or the config has no epochs.
    full_trials: float | None = None
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


def epochs_run(trial: FrozenTrial) -> int:
    """The epochs a trial trained: the count its worker stored with the result, else (a trial
    still running, or failed by a crash before it stored one) the epochs it reported."""
    stored = trial.user_attrs.get(EPOCHS_RUN)
    if isinstance(stored, int) and not isinstance(stored, bool):
        return stored
    return len(trial.intermediate_values)


def full_trial_equivalents(trials: Iterable[FrozenTrial], epochs: int) -> float:
    """The compute ``trials`` took, in full trials: the epochs they ran ÷ ``epochs``, the epochs of
    a full trial. Every trial that trained counts for what it ran, whatever its state (complete,
    pruned, failed, running), since each took that compute; a queued one counts 0. Beside the
    count of trials wherever trials are counted for the user (``sweeper status``, a report)."""
    if epochs <= 0:
        raise ValueError(f"a full trial has at least one epoch, got {epochs}")
    return sum(epochs_run(t) for t in trials) / epochs


def study_status(study: optuna.Study, *, compute: bool = False) -> StudyStatus:
    """The study's status; with ``compute``, also its full-trial equivalents (reads every trial:
    ``sweeper status`` asks for it, a live progress line polling every few seconds does not)."""
    counts = count_trials(study)
    attrs = study.user_attrs
    config = attrs.get(CONFIG_ATTR, {})
    objective = Objective.from_dict(config.get("objective"))
    try:
        best = study.best_trial
    except ValueError:
        best = None
    race, race_bound = _race(config, study, counts.complete + counts.pruned) if config else (None, None)
    epochs = config.get("epochs")
    full = (full_trial_equivalents(study.get_trials(deepcopy=False), int(epochs))
            if compute and isinstance(epochs, int) and epochs > 0 else None)
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
        full_trials=full,
        given_up=counts.given_up,
    )


def _race(config: dict[str, Any], study: optuna.Study, finished: int) -> tuple[str | None, int | None]:
    """Where the race stands (``RacePlan.describe``), and the finished trials it ends with at most;
    None and None for a design without a race."""
    from sweeper.study.adaptive import runs_of
    from sweeper.study.config import SweepConfig
    from sweeper.study.designs import design_of

    if not design_of(config.get("design", "search")).races:
        return None, None
    stored = SweepConfig.from_attrs(config)
    plan = design_of(stored.design).race(stored, runs_of(study.get_trials(deepcopy=False), stored.goal))
    if plan is None:
        return None, None
    described = plan.describe(stored.repeats) + (f"; {plan.reach}" if plan.reach and plan.stage != "done" else "")
    return described, finished + plan.trials_left(stored.repeats)


def collect(storage: optuna.storages.BaseStorage, names: list[str] | None = None) -> list[StudyStatus]:
    studies = [optuna.load_study(study_name=summary.study_name, storage=storage)
               for summary in storage.get_all_studies() if not names or summary.study_name in names]
    # A trial past the grace period is reaped only once its heartbeat has been seen standing
    # still: status then takes a heartbeat interval and some seconds more.
    reap_stale_trials(studies, wait=True)
    return [study_status(study, compute=True) for study in studies]


def format_table(rows: list[StudyStatus]) -> str:
    sw = max([14, *(len(r.study) for r in rows)])
    tw = max([12, *(len(str(r.task)) for r in rows)])
    header = (f"{'study':<{sw}} {'task':<{tw}} {'budget':>6} {'done':>5} {'full-eq':>7} {'compl':>5} {'pruned':>6} "
              f"{'fail':>4} {'run':>4} {'wait':>4}  best")
    lines = [header]
    for r in rows:
        best = "-" if r.best_value is None else f"{r.best_value:.4f} (trial {r.best_trial}: {_params(r.best_params)})"
        full = "-" if r.full_trials is None else f"{r.full_trials:.1f}"
        lines.append(
            f"{r.study:<{sw}} {str(r.task):<{tw}} {str(r.budget or '-'):>6} {r.finished:>5} {full:>7} {r.complete:>5} "
            f"{r.pruned:>6} {r.fail:>4} {r.running:>4} {r.waiting:>4}  {best}"
        )
    if not rows:
        lines.append("(no studies: run `sweeper launch TASK`)")
    elif any(r.full_trials is not None for r in rows):
        lines.append("full-eq: the compute the trials took, in full trials (epochs run ÷ epochs of a full trial; "
                     "pruned, diverged and failed trials count for the epochs they ran)")
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
