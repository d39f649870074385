from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState, create_trial

from sweeper.study.config import SweepConfig
from sweeper.study.pruning import GroupMedianPruner, trial_group

DISTRIBUTIONS = {
    "penalty": CategoricalDistribution(["none", "l1", "l2", "l1_l2"]),
    "lambda": FloatDistribution(1e-6, 1e-1, log=True),
    "dropout": FloatDistribution(0.0, 0.6),
}


def _trial(params: dict, curve: list[float], state: TrialState = TrialState.COMPLETE) -> optuna.trial.FrozenTrial:
    """A trial whose validation accuracy after epoch k (step k) is curve[k - 1]."""
    return create_trial(
        params=params, distributions={k: DISTRIBUTIONS[k] for k in params},
        value=curve[-1] if state == TrialState.COMPLETE else None,
        intermediate_values={k + 1: v for k, v in enumerate(curve)}, state=state,
    )


def _study(*trials: optuna.trial.FrozenTrial) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    for t in trials:
        study.add_trial(t)
    return study


UNREGULARIZED = [({"penalty": "none", "dropout": 0.0}, [0.50, 0.55, 0.58, 0.60, 0.60, 0.60]),
                 ({"penalty": "none", "dropout": 0.0}, [0.48, 0.54, 0.57, 0.59, 0.60, 0.61]),
                 ({"penalty": "none", "dropout": 0.0}, [0.49, 0.55, 0.58, 0.59, 0.60, 0.60])]
# An L2 model lags for its first epochs, then overtakes the unregularized ones.
LAGGING_L2 = ({"penalty": "l2", "lambda": 1e-3, "dropout": 0.0}, [0.30, 0.40, 0.50])


def test_the_default_pruner_never_prunes_a_lagging_penalty_against_unregularized_trials() -> None:
    """Issue 27: the default median pruner compared an L2 trial at epoch 3 with unregularized ones
    (0.58 there) and pruned it, though penalised models catch up later."""
    study = _study(*(_trial(p, c) for p, c in UNREGULARIZED))
    running = _trial(*LAGGING_L2, state=TrialState.RUNNING)
    pruner = SweepConfig.for_task("cifar10", budget=12, epochs=6).make_pruner()
    assert not pruner.prune(study, running)
    # The same comparison by a median over every kind of model prunes it.
    assert optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2).prune(study, running)


def test_a_trial_is_pruned_against_the_median_of_its_own_group_from_the_middle_of_training() -> None:
    l2 = [({"penalty": "l2", "lambda": lam, "dropout": 0.0}, [0.40, 0.50, 0.60, 0.62, 0.65, 0.66])
          for lam in (1e-5, 1e-4, 1e-3)]
    study = _study(*(_trial(p, c) for p, c in UNREGULARIZED + l2))
    pruner = SweepConfig.for_task("cifar10", budget=12, epochs=6).make_pruner()
    assert isinstance(pruner, GroupMedianPruner) and pruner.n_warmup_steps == 3
    # Worse than every finished L2 trial, but not pruned before the middle of training.
    assert not pruner.prune(study, _trial(LAGGING_L2[0], [0.30, 0.40], state=TrialState.RUNNING))
    assert pruner.prune(study, _trial(*LAGGING_L2, state=TrialState.RUNNING))
    # As good as its group: kept.
    assert not pruner.prune(study, _trial(LAGGING_L2[0], [0.40, 0.50, 0.61], state=TrialState.RUNNING))


def test_a_group_with_fewer_than_three_finished_trials_prunes_nothing() -> None:
    l1 = [({"penalty": "l1", "lambda": lam, "dropout": 0.0}, [0.5, 0.6, 0.7]) for lam in (1e-5, 1e-4)]
    study = _study(*(_trial(p, c) for p, c in UNREGULARIZED + l1))
    pruner = GroupMedianPruner(n_warmup_steps=1)
    assert not pruner.prune(study, _trial({"penalty": "l1", "lambda": 1e-2, "dropout": 0.0}, [0.1, 0.1, 0.1],
                                          state=TrialState.RUNNING))


def test_dropout_alone_is_its_own_group_and_a_minimized_objective_prunes_the_larger_values() -> None:
    study = optuna.create_study(direction="minimize")
    for dropout in (0.1, 0.2, 0.3):
        study.add_trial(_trial({"penalty": "none", "dropout": dropout}, [1.0, 0.8, 0.7]))
    for _ in range(3):
        study.add_trial(_trial({"penalty": "none", "dropout": 0.0}, [0.5, 0.4, 0.3]))
    pruner = GroupMedianPruner(n_warmup_steps=2)
    assert trial_group(_trial({"penalty": "none", "dropout": 0.4}, [1.0])) == "dropout"
    assert not pruner.prune(study, _trial({"penalty": "none", "dropout": 0.4}, [1.1, 0.8], state=TrialState.RUNNING))
    assert pruner.prune(study, _trial({"penalty": "none", "dropout": 0.4}, [1.1, 0.9], state=TrialState.RUNNING))


@pytest.mark.parametrize(("pruner", "kind"), [("hyperband", optuna.pruners.HyperbandPruner),
                                              ("none", optuna.pruners.NopPruner)])
def test_the_other_pruners_are_optunas(pruner: str, kind: type) -> None:
    assert isinstance(SweepConfig.for_task("cifar10", budget=12, epochs=6, pruner=pruner).make_pruner(), kind)
