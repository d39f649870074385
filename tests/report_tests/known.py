"""Studies with known trials, built in memory (or in a given storage) with ``optuna.create_trial``:
the attrs a worker writes, in every trial state the report must show for what it is."""

from __future__ import annotations

from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState

from sweeper.study.space import SearchSpace
from sweeper.tasks.hyperparams import PENALTIES
from sweeper.study.config import CONFIG_ATTR, VERSION_ATTR, SweepConfig, current_versions

DISTRIBUTIONS = {
    "penalty": CategoricalDistribution(list(PENALTIES)),
    "lambda": FloatDistribution(1e-6, 1e-1, log=True),
    "l1_ratio": FloatDistribution(0.05, 0.95),
    "dropout": FloatDistribution(0.0, 0.6),
}


def params(penalty: str, lam: float | None = None, dropout: float = 0.0, l1_ratio: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"penalty": penalty}
    if lam is not None:
        out["lambda"] = lam
    if l1_ratio is not None:
        out["l1_ratio"] = l1_ratio
    out["dropout"] = dropout
    return out


def history(final_val: float, epochs: int = 4, train_gap: float = 0.05) -> dict[str, list[float]]:
    val = [final_val - 0.03 * (epochs - 1 - e) for e in range(epochs)]
    return {
        "loss": [1.5 - 0.1 * e for e in range(epochs)],
        "accuracy": [v + train_gap for v in val],
        "val_loss": [1.6 - 0.08 * e for e in range(epochs)],
        "val_accuracy": val,
    }


def trial(
    state: TrialState,
    p: dict[str, Any],
    value: float | None = None,
    *,
    train_accuracy: float | None = None,
    sparsity: float | None = None,
    intermediate: dict[int, float] | None = None,
    attrs: dict[str, Any] | None = None,
) -> optuna.trial.FrozenTrial:
    user_attrs: dict[str, Any] = dict(attrs or {})
    if state == TrialState.COMPLETE:
        assert value is not None
        user_attrs.update(
            history=history(value), val_accuracy=value, val_loss=1.0, train_loss=0.8,
            train_accuracy=train_accuracy if train_accuracy is not None else value + 0.1,
            sparsity=sparsity if sparsity is not None else 0.01, epochs_run=4, wall_time_s=3.0, seed=1,
        )
    return optuna.trial.create_trial(
        state=state,
        params=p,
        distributions={k: DISTRIBUTIONS[k] for k in p},
        value=value if state == TrialState.COMPLETE else None,
        intermediate_values=intermediate or {},
        user_attrs=user_attrs,
    )


# (state, params, value, extra): the known study. Groups: baseline (#0, #1), dropout (#2),
# l1 (#3, #4 best), l2 (#5 best, #6), l1_l2 (#7); pruned #8, #9; failed #10; running #11.
KNOWN: list[tuple[TrialState, dict[str, Any], float | None, dict[str, Any]]] = [
    (TrialState.COMPLETE, params("none"), 0.60, {"train_accuracy": 0.80, "attrs": {"role": "baseline"}}),
    (TrialState.COMPLETE, params("none"), 0.62, {"train_accuracy": 0.84}),
    (TrialState.COMPLETE, params("none", dropout=0.3), 0.64, {"train_accuracy": 0.70}),
    (TrialState.COMPLETE, params("l1", 1e-5, 0.1), 0.61, {"train_accuracy": 0.75, "sparsity": 0.30}),
    (TrialState.COMPLETE, params("l1", 1e-3, 0.0), 0.65, {"train_accuracy": 0.70, "sparsity": 0.80}),
    (TrialState.COMPLETE, params("l2", 3e-4, 0.2), 0.70, {"train_accuracy": 0.72, "sparsity": 0.02}),
    (TrialState.COMPLETE, params("l2", 1e-2, 0.0), 0.55, {"train_accuracy": 0.56, "sparsity": 0.03}),
    (TrialState.COMPLETE, params("l1_l2", 1e-4, 0.1, 0.4), 0.66, {"train_accuracy": 0.71, "sparsity": 0.40}),
    (TrialState.PRUNED, params("l2", 5e-2, 0.5), None, {"intermediate": {1: 0.2, 2: 0.25}, "attrs": {"stop_reason": "pruned by the median pruner after epoch 2"}}),
    (TrialState.PRUNED, params("l1", 1e-1, 0.0), None, {"intermediate": {1: 0.1}, "attrs": {"stop_reason": "diverged: non-finite loss at epoch 1"}}),
    (TrialState.FAIL, params("l1_l2", 1e-2, 0.2, 0.5), None, {"attrs": {"fail_reason": "ResourceExhaustedError: OOM"}}),
    (TrialState.RUNNING, params("l2", 1e-5, 0.4), None, {}),
]


def config(task: str = "cifar10", budget: int = 12, **given: Any) -> SweepConfig:
    return SweepConfig(task=task, budget=budget, epochs=4, batch_size=32, learning_rate=1e-3, train_size=None,
                       val_fraction=0.2, space=SearchSpace(), **given)


def add_known(study: optuna.Study, rows: list[tuple[TrialState, dict[str, Any], float | None, dict[str, Any]]] = KNOWN) -> None:
    for state, p, value, extra in rows:
        study.add_trial(trial(state, p, value, **extra))


def known_study(name: str = "known", storage: Any = None, rows: Any = KNOWN) -> optuna.Study:
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    study.set_user_attr(VERSION_ATTR, current_versions())
    study.set_user_attr(CONFIG_ATTR, config().to_attrs())
    add_known(study, rows)
    return study


def eval_study(parent: str, storage: Any, values: dict[tuple[str, int | None], list[float]],
               group_params: dict[str, dict[str, Any]]) -> optuna.Study:
    """An evaluation study with complete runs: ``values[(group, source_trial)]`` per seed."""
    study = optuna.create_study(study_name=parent + ".eval", storage=storage, direction="maximize")
    study.set_user_attr(VERSION_ATTR, current_versions())
    n = sum(len(v) for v in values.values())
    study.set_user_attr(CONFIG_ATTR, config(budget=n, kind="evaluate", parent=parent, pruner="none").to_attrs())
    for (group, source), accs in values.items():
        for seed, acc in enumerate(accs):
            study.add_trial(trial(TrialState.COMPLETE, group_params[group], acc, attrs={
                "eval_seed": seed, "role": "evaluation", "source_trial": source, "penalty_group": group}))
    return study


# A curve study (3 repeats per point) with differences to the baseline chosen so that every
# interval is known by hand: each point's values are the baseline's plus the listed offsets, one per
# repeat, and the sample standard deviation of every offset triple is 0.01 (or 0), so the paired
# 95% interval is the mean offset ± t(0.975, 2) · 0.01 / √3 = ± 0.0248414.
CURVE_BASELINE = [0.60, 0.62, 0.61]
CURVE_OFFSETS: dict[tuple[str, float], list[float]] = {
    ("l2", 1e-4): [0.02, 0.03, 0.04],  # helps: +3.0 pp, CI +0.5 to +5.5
    ("l2", 1e-3): [0.03, 0.04, 0.05],  # helps most: +4.0 pp, CI +1.5 to +6.5
    ("l2", 1e-2): [-0.01, 0.00, 0.01],  # noise: +0.0 pp, CI -2.5 to +2.5
    ("l1", 1e-4): [0.01, 0.00, -0.01],  # noise
    ("l1", 1e-3): [-0.04, -0.05, -0.06],  # hurts: -5.0 pp
    ("l1", 1e-2): [-0.10, -0.11, -0.12],  # hurts most: -11.0 pp
    ("dropout", 0.2): [0.00, 0.01, 0.02],  # noise: +1.0 pp, CI -1.5 to +3.5
    ("dropout", 0.4): [-0.03, -0.02, -0.01],  # noise: -2.0 pp, CI -4.5 to +0.5
}


def curve_study(name: str = "curve", storage: Any = None, best_epoch_bonus: float = 0.0) -> optuna.Study:
    """``best_epoch_bonus``: how much better than its last epoch the baseline was at its best one."""
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    study.set_user_attr(VERSION_ATTR, current_versions())
    study.set_user_attr(CONFIG_ATTR, config(budget=27, design="curve", points=3, repeats=3, pruner="none",
                                            sampler="random").to_attrs())
    for repeat, base in enumerate(CURVE_BASELINE):
        p = params("none")
        t = trial(TrialState.COMPLETE, p, base, attrs={"role": "curve", "repeat": repeat})
        hist = dict(t.user_attrs["history"])
        hist["val_accuracy"] = [base - 0.1, base + best_epoch_bonus, base]
        t.set_user_attr("history", hist)
        study.add_trial(t)
        for (group, x), offsets in CURVE_OFFSETS.items():
            p = params("none", dropout=x) if group == "dropout" else params(group, x)
            study.add_trial(trial(TrialState.COMPLETE, p, round(base + offsets[repeat], 6),
                                  attrs={"role": "curve", "repeat": repeat}))
    return study


# An evaluation study's runs for ``eval_study``, per (group, source trial), and their groups' params.
EVALUATED = {("baseline", 1): [0.600, 0.610, 0.620], ("l2", 5): [0.650, 0.660, 0.655], ("l1", 4): [0.600, 0.630, 0.615]}
GROUP_PARAMS = {"baseline": params("none"), "l2": params("l2", 3e-4, 0.2), "l1": params("l1", 1e-3)}
