"""The plain view of a study's trials that the report and the evaluation share: one
``TrialPoint`` per trial, and the groups trials are compared in: ``baseline`` (penalty none,
dropout 0), ``dropout`` (penalty none, dropout > 0) and one group per weight penalty."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from sweeper.study.design import repeat_of
from sweeper.tasks.api import Objective
from sweeper.tasks.hyperparams import dropout_of, l1_ratio_of, lambda_of, penalty_of
from sweeper.tasks.results import StoredResult

GROUPS = ("baseline", "dropout", "l1", "l2", "l1_l2")
GROUP_LABELS = {"baseline": "unregularized", "dropout": "dropout only", "l1": "L1", "l2": "L2", "l1_l2": "L1+L2"}
STATE_NAMES = {
    TrialState.COMPLETE: "complete",
    TrialState.PRUNED: "pruned",
    TrialState.FAIL: "fail",
    TrialState.RUNNING: "running",
    TrialState.WAITING: "waiting",
}


def group_of(penalty: str, dropout: float) -> str:
    if penalty == "none":
        return "baseline" if dropout == 0.0 else "dropout"
    return penalty


@dataclass(frozen=True)
class TrialPoint:
    number: int
    state: str  # complete | pruned | fail | running | waiting
    penalty: str
    lam: float | None
    l1_ratio: float | None
    dropout: float
    value: float | None  # the objective on validation, or the last reported one when pruned
    train_value: float | None  # the objective on train, re-measured without dropout
    sparsity: float | None
    epochs_run: int | None
    history: dict[str, list[float | None]] = field(default_factory=dict)
    reason: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    train_loss: float | None = None
    val_loss: float | None = None
    # +1 when higher values are better, -1 when lower are (the study's direction).
    sign: int = 1
    # A curve study's repeat of this configuration (its seed index), else None.
    repeat: int | None = None
    wall_time_s: float | None = None  # how long it trained

    @property
    def group(self) -> str:
        return group_of(self.penalty, self.dropout)

    @property
    def gap(self) -> float | None:
        """How much better the model does on train than on validation (train − validation for
        a maximized objective, validation − train for a minimized one)."""
        if self.train_value is None or self.value is None or self.state != "complete":
            return None
        return self.sign * (self.train_value - self.value)


def params_key(params: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """A hashable, float-rounding identity of a configuration (for matching runs to configs)."""
    return tuple(sorted((k, round(float(v), 12) if isinstance(v, (int, float)) else v) for k, v in params.items()))


def best_per_group(points: list[TrialPoint], objective: Objective = Objective()) -> dict[str, TrialPoint]:
    """The best complete trial of each group, in ``GROUPS`` order (first one wins a tie)."""
    best: dict[str, TrialPoint] = {}
    for p in points:
        if p.state != "complete" or p.value is None:
            continue
        if p.group not in best or objective.better(p.value, best[p.group].value):  # type: ignore[arg-type]
            best[p.group] = p
    return {g: best[g] for g in GROUPS if g in best}


# A type whose best finished trial lost more than this share of the baseline's best value (a
# quarter: 0.85 -> below 0.64 accuracy; a loss 25% higher) collapsed on every trial it finished: a
# test-split run of it would speak for the type from a wreck. A pruned trial stopped at an early
# epoch lags the baseline's last epoch by a few points, never by a quarter of its accuracy.
COLLAPSED_SHARE = 0.25


def finished_value(p: TrialPoint) -> float | None:
    """What a finished trial shows: a complete one its final value, a pruned one the last value
    it reported before it was stopped (it was doing that well then); None for a diverged trial
    or one with nothing to show."""
    if p.value is None or (p.reason or "").startswith("diverged"):
        return None
    return p.value if p.state in ("complete", "pruned") else None


def eligible_best_per_group(points: list[TrialPoint], objective: Objective = Objective()
                            ) -> tuple[dict[str, TrialPoint], dict[str, str]]:
    """Per group, the trial whose finished value (``finished_value``: pruned trials count for what
    they showed) is best, and the groups left out with the reason: no finished trial (every one
    diverged, failed or is unfinished), or every finished trial collapsed against the baseline's
    best. In ``GROUPS`` order."""
    finished: dict[str, list[TrialPoint]] = {}
    seen: dict[str, int] = {}
    for p in points:
        seen[p.group] = seen.get(p.group, 0) + 1
        if finished_value(p) is not None:
            finished.setdefault(p.group, []).append(p)
    best: dict[str, TrialPoint] = {}
    left_out: dict[str, str] = {}
    for group, runs in finished.items():
        best[group] = runs[0]
        for p in runs[1:]:
            if objective.better(finished_value(p), finished_value(best[group])):  # type: ignore[arg-type]
                best[group] = p
    base = best.get("baseline")
    base_value = finished_value(base) if base is not None else None
    for group in GROUPS:
        if group == "baseline":
            continue
        if group not in best:
            if seen.get(group):
                states = [p for p in points if p.group == group]
                div = sum((p.reason or "").startswith("diverged") for p in states)
                left_out[group] = (f"no finished trial to choose from ({len(states)} tried"
                                   + (f", {div} diverged" if div else "") + ")")
            continue
        value = finished_value(best[group])
        if base_value is not None and value is not None:
            lost = base_value - value if objective.direction == "maximize" else value - base_value
            if lost > COLLAPSED_SHARE * abs(base_value):
                left_out[group] = (f"every one of its {len(finished[group])} finished trials collapsed (best "
                                   f"{value:.3g} against the baseline's {base_value:.3g})")
                del best[group]
    return {g: best[g] for g in GROUPS if g in best}, left_out


def best_mean_per_group(points: list[TrialPoint], objective: Objective = Objective()) -> dict[str, TrialPoint]:
    """Per group, a trial of the configuration whose complete repeats have the best mean (a
    curve study's points are repeated with several seeds), in ``GROUPS`` order."""
    by_config: dict[tuple[str, Any], list[TrialPoint]] = {}
    for p in points:
        if p.state == "complete" and p.value is not None:
            by_config.setdefault((p.group, params_key(p.params)), []).append(p)
    best: dict[str, tuple[float, TrialPoint]] = {}
    for (group, _), runs in by_config.items():
        mean = sum(r.value for r in runs) / len(runs)  # type: ignore[misc]
        if group not in best or objective.better(mean, best[group][0]):
            best[group] = (mean, runs[0])
    return {g: best[g][1] for g in GROUPS if g in best}


def collect_points(trials: list[FrozenTrial], objective: Objective = Objective()) -> list[TrialPoint]:
    """Every trial except queued ones that no worker has taken yet."""
    return [trial_point(t, objective) for t in trials if t.params or t.state != TrialState.WAITING]


def trial_point(trial: FrozenTrial, objective: Objective = Objective()) -> TrialPoint:
    params = trial.params
    result = StoredResult.from_attrs(trial.user_attrs)
    value = trial.value
    if value is None and trial.intermediate_values:
        value = trial.intermediate_values[max(trial.intermediate_values)]
    return TrialPoint(
        number=trial.number,
        state=STATE_NAMES[trial.state],
        penalty=penalty_of(params),
        lam=lambda_of(params),
        l1_ratio=l1_ratio_of(params),
        dropout=dropout_of(params),
        value=value,
        train_value=result.train(objective.metric),
        sparsity=result.sparsity,
        epochs_run=result.epochs_run,
        history=result.history,
        reason=result.reason,
        params=dict(params),
        train_loss=result.train("loss"),
        val_loss=result.val("loss"),
        sign=1 if objective.direction == "maximize" else -1,
        repeat=repeat_of(trial.user_attrs),
        wall_time_s=result.wall_time_s,
    )
