"""``sweeper status``'s numbers (sweeper/study/status.py): the compute a study's trials took in
full-trial equivalents, beside the count of trials."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from sweeper.settings import Settings
from sweeper.storage import open_storage
from sweeper.study.config import CONFIG_ATTR, SweepConfig
from sweeper.study.status import collect, epochs_run, format_table, full_trial_equivalents, study_status
from sweeper.tasks.results import EPOCHS_RUN

DIST = {"penalty": CategoricalDistribution(["none", "l2"])}


def _trial(state: TrialState, *, ran: int | None = None, reported: int = 0) -> optuna.trial.FrozenTrial:
    """A trial that trained ``ran`` epochs by its stored result (None: no result stored) and
    reported ``reported`` epochs' values."""
    attrs = {} if ran is None else {EPOCHS_RUN: ran}
    values = {e + 1: 0.5 for e in range(reported)}
    value = 0.6 if state == TrialState.COMPLETE else None
    return optuna.trial.create_trial(state=state, params={"penalty": "l2"}, distributions=DIST, value=value,
                                     user_attrs=attrs, intermediate_values=values)


def test_full_trial_equivalents_count_the_epochs_every_trial_ran() -> None:
    trials = [
        _trial(TrialState.COMPLETE, ran=20, reported=20),
        _trial(TrialState.PRUNED, ran=10, reported=10),  # pruned at the middle of training
        _trial(TrialState.PRUNED, ran=3, reported=2),  # diverged at epoch 3: no value reported for it
        _trial(TrialState.FAIL, ran=5, reported=5),  # its task raised after 5 epochs
        _trial(TrialState.FAIL, reported=7),  # crashed (no result stored): what it reported
        _trial(TrialState.RUNNING, reported=4),
        optuna.trial.create_trial(state=TrialState.WAITING),
    ]
    assert [epochs_run(t) for t in trials] == [20, 10, 3, 5, 7, 4, 0]
    assert full_trial_equivalents(trials, 20) == pytest.approx(49 / 20)
    assert full_trial_equivalents([], 20) == 0
    with pytest.raises(ValueError, match="at least one epoch"):
        full_trial_equivalents(trials, 0)


def test_status_shows_full_trial_equivalents_beside_the_trials(tmp_path) -> None:
    settings = Settings(storage=f"sqlite:///{tmp_path / 's.db'}")
    storage = open_storage(settings, create_tables=True)
    study = optuna.create_study(study_name="s", storage=storage)
    config = SweepConfig.for_task("cifar10", budget=4, epochs=10)
    study.set_user_attr(CONFIG_ATTR, config.to_attrs())
    for t in (_trial(TrialState.COMPLETE, ran=10, reported=10), _trial(TrialState.PRUNED, ran=5, reported=5),
              _trial(TrialState.PRUNED, ran=5, reported=5), _trial(TrialState.COMPLETE, ran=10, reported=10)):
        study.add_trial(t)
    assert study_status(study).full_trials is None  # not asked for: a progress line polls without it
    (row,) = collect(storage, ["s"])
    assert row.finished == 4 and row.full_trials == pytest.approx(3.0)
    table = format_table([row])
    header, line = table.splitlines()[:2]
    assert header.split()[3:5] == ["done", "full-eq"] and line.split()[3:5] == ["4", "3.0"]
    assert "full-eq: the compute the trials took, in full trials" in table
