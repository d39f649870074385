"""Pure collection of what the report shows, from a study into plain dataclasses."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeper.sweep import CONFIG_ATTR


@dataclass(frozen=True)
class TrialPoint:
    number: int
    state: str  # complete | pruned | fail | running | waiting
    penalty: str
    lam: float | None
    l1_ratio: float | None
    dropout: float
    value: float | None  # final validation accuracy, or the last reported one when pruned
    train_accuracy: float | None
    sparsity: float | None
    epochs_run: int | None
    history: dict[str, list[float | None]] = field(default_factory=dict)
    reason: str | None = None

    @property
    def gap(self) -> float | None:
        if self.train_accuracy is None or self.value is None or self.state != "complete":
            return None
        return self.train_accuracy - self.value


@dataclass(frozen=True)
class ReportData:
    study: str
    task: str | None
    budget: int | None
    direction: str
    points: list[TrialPoint]

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
        """Validation accuracy of every finished unregularized trial (penalty none, dropout 0)."""
        return [p.value for p in self.by_state("complete") if p.penalty == "none" and p.dropout == 0.0 and p.value is not None]

    def best_per_penalty(self) -> dict[str, TrialPoint]:
        best: dict[str, TrialPoint] = {}
        for p in self.by_state("complete"):
            if p.value is None:
                continue
            if p.penalty not in best or p.value > (best[p.penalty].value or -math.inf):
                best[p.penalty] = p
        return best


def _state(trial: FrozenTrial) -> str:
    return {
        TrialState.COMPLETE: "complete",
        TrialState.PRUNED: "pruned",
        TrialState.FAIL: "fail",
        TrialState.RUNNING: "running",
        TrialState.WAITING: "waiting",
    }[trial.state]


def trial_point(trial: FrozenTrial) -> TrialPoint:
    params = trial.params
    attrs = trial.user_attrs
    value = trial.value
    if value is None and trial.intermediate_values:
        value = trial.intermediate_values[max(trial.intermediate_values)]
    penalty = params.get("penalty", "none")
    return TrialPoint(
        number=trial.number,
        state=_state(trial),
        penalty=penalty,
        lam=params.get("lambda") if penalty != "none" else None,
        l1_ratio=params.get("l1_ratio"),
        dropout=float(params.get("dropout", 0.0)),
        value=value,
        train_accuracy=attrs.get("train_accuracy"),
        sparsity=attrs.get("sparsity"),
        epochs_run=attrs.get("epochs_run"),
        history=attrs.get("history") or {},
        reason=attrs.get("stop_reason") or attrs.get("fail_reason"),
    )


def collect_report(study: optuna.Study) -> ReportData:
    config: dict[str, Any] = study.user_attrs.get(CONFIG_ATTR, {})
    trials = study.get_trials(deepcopy=False)
    return ReportData(
        study=study.study_name,
        task=config.get("task"),
        budget=config.get("budget"),
        direction=study.direction.name.lower(),
        points=[trial_point(t) for t in trials if t.params or t.state != TrialState.WAITING],
    )
