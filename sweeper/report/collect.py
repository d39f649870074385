"""Pure collection of what the report shows, from a study into plain dataclasses (the trials as
``sweeper.study.points.TrialPoint``, grouped the way the evaluation compares them)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeper.study.config import CONFIG_ATTR
from sweeper.study.status import full_trial_equivalents
from sweeper.study.points import TrialPoint, best_per_group, collect_points
from sweeper.tasks.api import Objective

# Fewer complete trials than this give parameter importances that mean nothing.
MIN_TRIALS_FOR_IMPORTANCE = 5
# Below this many, importances are shown but flagged as a rough indication.
FEW_TRIALS_FOR_IMPORTANCE = 30


@dataclass(frozen=True)
class ReportData:
    study: str
    task: str | None
    budget: int | None
    direction: str
    points: list[TrialPoint]
    objective: Objective = Objective()
    # "search", "curve" (sweeper.study.design) or "adaptive" (sweeper.study.adaptive): the two
    # planned designs' reports draw curves with bands.
    design: str = "search"
    # Parameter importances (PED-ANOVA over complete trials) or None, with why not.
    importances: dict[str, float] | None = None
    importance_note: str = ""
    # Filled from the study's "<name>.eval" study by ``sweeper.evaluation.results``.
    evaluation: Any = None
    # The stored sweep config (``SweepConfig.to_attrs``): an adaptive study's verdicts replay its race.
    config: dict[str, Any] | None = None
    # The compute the study's trials took, in full-trial equivalents (epochs run ÷ epochs of a
    # full trial, ``sweeper.study.status``); None when the config names no epochs.
    full_trials: float | None = None

    def by_state(self, state: str) -> list[TrialPoint]:
        return [p for p in self.points if p.state == state]

    @property
    def finished(self) -> list[TrialPoint]:
        return [p for p in self.points if p.state in ("complete", "pruned") and p.value is not None]

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in ("complete", "pruned", "fail", "running", "waiting")}
        for p in self.points:
            out[p.state] = out.get(p.state, 0) + 1
        return out

    def baseline_values(self) -> list[float]:
        """The objective of every complete unregularized trial (penalty none, dropout 0)."""
        return [p.value for p in self.by_state("complete") if p.penalty == "none" and p.dropout == 0.0 and p.value is not None]

    def best_per_group(self) -> dict[str, TrialPoint]:
        return best_per_group(self.points, self.objective)


def collect_report(study: optuna.Study, evaluation: Any = None) -> ReportData:
    config: dict[str, Any] = study.user_attrs.get(CONFIG_ATTR, {})
    objective = Objective.from_dict(config.get("objective"))
    trials = study.get_trials(deepcopy=False)
    importances, note = param_importances(study, trials)
    epochs = config.get("epochs")
    return ReportData(
        study=study.study_name,
        task=config.get("task"),
        budget=config.get("budget"),
        direction=study.direction.name.lower(),
        points=collect_points(trials, objective),
        objective=objective,
        design=config.get("design", "search"),
        importances=importances,
        importance_note=note,
        evaluation=evaluation,
        config=config,
        full_trials=full_trial_equivalents(trials, epochs) if isinstance(epochs, int) and epochs > 0 else None,
    )


def param_importances(study: optuna.Study, trials: list[FrozenTrial]) -> tuple[dict[str, float] | None, str]:
    """PED-ANOVA importances (Optuna's default; it handles the conditional lambda/l1_ratio)."""
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    if len(complete) < MIN_TRIALS_FOR_IMPORTANCE:
        return None, (
            f"parameter importances need at least {MIN_TRIALS_FOR_IMPORTANCE} complete trials; "
            f"this study has {len(complete)}"
        )
    if len({t.value for t in complete}) < 2:
        return None, "every complete trial has the same value: no parameter explains a difference"
    try:
        with warnings.catch_warnings():
            # "some regimes have less than 2 trials": said once, in the note below.
            warnings.simplefilter("ignore", UserWarning)
            found = optuna.importance.get_param_importances(study)
    except (ValueError, RuntimeError, ImportError) as exc:
        return None, f"parameter importances could not be computed: {exc}"
    note = f"PED-ANOVA (Optuna's default evaluator) over {len(complete)} complete trials"
    if len(complete) < FEW_TRIALS_FOR_IMPORTANCE:
        note += ": few trials, a rough indication only"
    return {k: float(v) for k, v in found.items()}, note
