"""Counting a study's trials by state: the budget arithmetic shared by workers, status and run."""

from __future__ import annotations

from dataclasses import dataclass

import optuna
from optuna.trial import TrialState


@dataclass(frozen=True)
class TrialCounts:
    complete: int = 0
    pruned: int = 0
    fail: int = 0
    running: int = 0
    waiting: int = 0

    @property
    def finished(self) -> int:
        """Trials that count towards the budget (failed ones are run again instead)."""
        return self.complete + self.pruned


def count_trials(study: optuna.Study) -> TrialCounts:
    storage, study_id = study._storage, study._study_id
    return TrialCounts(
        complete=storage.get_n_trials(study_id, TrialState.COMPLETE),
        pruned=storage.get_n_trials(study_id, TrialState.PRUNED),
        fail=storage.get_n_trials(study_id, TrialState.FAIL),
        running=storage.get_n_trials(study_id, TrialState.RUNNING),
        waiting=storage.get_n_trials(study_id, TrialState.WAITING),
    )


def reap_stale_trials(study: optuna.Study) -> None:
    """Fail trials whose worker stopped beating, re-queueing them (the storage's callback)."""
    optuna.storages.fail_stale_trials(study)
