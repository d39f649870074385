"""The default pruner of a search: a median pruner that compares a trial only with finished trials
of its own penalty group (``sweeper.study.points.group_of``: unregularized, dropout only, L1, L2,
L1+L2), and only from the middle of training on.

Why not Optuna's ``MedianPruner``: it compares every trial with every finished one at the same
epoch, and penalised or dropout models learn more slowly in the first epochs before they catch up
(or overtake). Against an unregularized median at epoch 2 they look worse and are pruned: on the
CIFAR-10 quick start 7 of 12 trials were pruned and no L1 trial finished (issue 27). Within a
group every trial carries the same kind of handicap, so the median there asks the question the
sweep is for: which strength of *this* regularizer is worth training to the end.
"""

from __future__ import annotations

import math
import statistics

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from sweeper.study.points import group_of
from sweeper.tasks.hyperparams import dropout_of, penalty_of

# Finished trials a group needs before any of its trials is pruned (a median of fewer means little).
GROUP_STARTUP_TRIALS = 3


def trial_group(trial: FrozenTrial) -> str:
    return group_of(penalty_of(trial.params), dropout_of(trial.params))


def warmup_epochs(epochs: int) -> int:
    """The first epoch after which a trial may be pruned: the middle of training (at least 1), late
    enough for a regularized model to show where it is going."""
    return max(1, epochs // 2)


class GroupMedianPruner(optuna.pruners.BasePruner):
    """Prune a trial when its best value so far is worse than the median, at the same epoch, of the
    complete trials of its own penalty group; never before ``n_warmup_steps`` epochs, and never
    while its group has fewer than ``n_startup_trials`` complete trials."""

    def __init__(self, n_startup_trials: int = GROUP_STARTUP_TRIALS, n_warmup_steps: int = 1) -> None:
        self.n_startup_trials = n_startup_trials
        self.n_warmup_steps = n_warmup_steps

    def prune(self, study: optuna.study.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step < self.n_warmup_steps:
            return False
        group = trial_group(trial)
        peers = [
            t.intermediate_values[step]
            for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if step in t.intermediate_values and trial_group(t) == group
        ]
        peers = [v for v in peers if not math.isnan(v)]
        if len(peers) < self.n_startup_trials:
            return False
        mine = [v for v in trial.intermediate_values.values() if not math.isnan(v)]
        if not mine:
            return True
        median = statistics.median(peers)
        if study.direction == StudyDirection.MAXIMIZE:
            return max(mine) < median
        return min(mine) > median
