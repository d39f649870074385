from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from sweeper.settings import Settings
from sweeper.study.space import SearchSpace
from sweeper.storage import open_storage
from sweeper.storage.study import WorkerStudy


def _study(tmp_path: Path) -> tuple[WorkerStudy, list[int]]:
    """A WorkerStudy with the sampler a worker uses; ``reads`` counts the storage's trial reads."""
    storage = open_storage(Settings(storage=f"sqlite:///{tmp_path / 'w.db'}"), create_tables=True)
    optuna.create_study(study_name="s", storage=storage)
    sampler = optuna.samplers.TPESampler(seed=1, multivariate=True, group=True, n_startup_trials=3)
    study = WorkerStudy(study_name="s", storage=storage, sampler=sampler)
    reads: list[int] = []
    original = storage._get_trials

    def counted(*args: object, **kwargs: object) -> object:
        reads.append(1)
        return original(*args, **kwargs)

    storage._get_trials = counted  # type: ignore[method-assign]
    return study, reads


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_sampling_a_trial_reads_the_study_once_in_a_snapshot(tmp_path: Path) -> None:
    study, reads = _study(tmp_path)
    space = SearchSpace()
    per_trial: dict[str, list[int]] = {"snapshot": [], "plain": []}

    def objective(trial: optuna.Trial) -> float:
        mode = "snapshot" if trial.number % 2 else "plain"
        before = len(reads)
        if mode == "snapshot":
            with study.one_snapshot():
                hp = space.suggest(trial)
        else:
            hp = space.suggest(trial)
        per_trial[mode].append(len(reads) - before)
        return hp.dropout

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective, n_trials=12)
    # Past TPE's start-up trials, plain sampling re-reads the study for every step of TPE.
    assert max(per_trial["plain"][2:]) > 1
    assert per_trial["snapshot"][2:] and all(n <= 1 for n in per_trial["snapshot"])


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_queued_trials_are_still_popped_first(tmp_path: Path) -> None:
    study, reads = _study(tmp_path)
    study.enqueue_trial({"penalty": "l2", "lambda": 1e-3, "dropout": 0.1})
    before = len(reads)
    with pytest.warns(UserWarning, match="Heartbeat"):  # ask outside optimize: fine here
        trial = study.ask()
    assert trial.number == 0 and len(reads) > before  # looked in the queue, and took it
    assert SearchSpace().suggest(trial).lam == pytest.approx(1e-3)
    study.tell(trial, 0.5)
    before = len(reads)
    with pytest.warns(UserWarning, match="Heartbeat"):
        nothing_queued = study.ask()
    assert len(reads) == before  # the count said the queue is empty: no read
    assert study._storage.get_trial(nothing_queued._trial_id).state == TrialState.RUNNING


def test_a_pruner_reads_the_finished_trials_once_per_trial_not_each_epoch(tmp_path: Path) -> None:
    study, reads = _study(tmp_path)
    for value in (0.1, 0.2, 0.3):
        study.add_trial(optuna.trial.create_trial(value=value, intermediate_values={1: value, 2: value}))
    pruner = optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0)
    seen: list[int] = []

    def objective(trial: optuna.Trial) -> float:
        before = len(reads)
        for step in (1, 2):
            trial.report(0.05, step)
            assert not pruner.prune(study, optuna_private_frozen(trial))  # better than the median
            if step == 1 and not seen:  # a trial finishing meanwhile: seen by the next trial
                study.add_trial(optuna.trial.create_trial(value=0.9, intermediate_values={1: 0.9, 2: 0.9}))
        seen.append(len(reads) - before)
        return 0.05

    for _ in range(2):
        study.run_one(objective, budget=10, queued=False)
    assert seen == [1, 1]  # one read per trial, for its two epochs
    # As read when the second trial started: the 3, the one added during the first run, the first.
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 5


def optuna_private_frozen(trial: optuna.Trial) -> optuna.trial.FrozenTrial:
    from sweeper.storage.optuna_private import frozen

    return frozen(trial)
