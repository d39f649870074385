"""Which failed trials are queued again: the crash callback's limit for sampled trials and none for
planned runs, and the planned runs whose copy was lost."""

from __future__ import annotations

import datetime
from pathlib import Path

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import FrozenTrial, TrialState

from sweeper.settings import Settings
from sweeper.storage import open_storage
from sweeper.storage.counts import count_trials
from sweeper.storage.optuna_private import study_storage, trial_id
from sweeper.storage.requeue import GIVEN_UP, MAX_RETRIES_PER_TRIAL, RequeueCrashedTrial, orphaned_runs

PLANNED = {"role": "curve", "repeat": 0, "fixed_seed": 7}
DIST = {"dropout": FloatDistribution(0.0, 0.6)}


def _failed(study: optuna.Study, user_attrs: dict, **system_attrs: object) -> FrozenTrial:
    study.add_trial(optuna.trial.create_trial(state=TrialState.FAIL, params={"dropout": 0.3}, distributions=DIST,
                                              user_attrs=user_attrs, system_attrs=dict(system_attrs)))
    return study.get_trials(deepcopy=False)[-1]


def _crash_series(study: optuna.Study, user_attrs: dict, crashes: int) -> list[FrozenTrial]:
    """Fail a trial and each copy the callback queued, ``crashes`` times: the copies left queued."""
    callback = RequeueCrashedTrial()
    trial = _failed(study, user_attrs)
    for crash in range(crashes):
        callback(study, trial)
        waiting = study.get_trials(states=(TrialState.WAITING,), deepcopy=False)
        if not waiting or crash == crashes - 1:
            return waiting
        copy = waiting[-1]
        storage, copy_id = study_storage(study), trial_id(copy)
        storage.set_trial_state_values(copy_id, TrialState.RUNNING)
        storage.set_trial_state_values(copy_id, TrialState.FAIL)
        trial = storage.get_trial(copy_id)
    return []


def test_a_sampled_trial_is_rerun_after_at_most_the_retry_limit_of_crashes() -> None:
    study = optuna.create_study()
    assert _crash_series(study, {}, MAX_RETRIES_PER_TRIAL + 1) == []
    assert len(study.trials) == MAX_RETRIES_PER_TRIAL + 1


def test_a_planned_run_is_rerun_after_every_crash_with_its_planned_attrs_and_seed() -> None:
    study = optuna.create_study()
    crashes = MAX_RETRIES_PER_TRIAL + 3
    (copy,) = _crash_series(study, {**PLANNED, "seed": 7, "history": {"x": [1]}}, crashes)
    assert copy.user_attrs == PLANNED  # the old results are not carried over
    assert copy.params == {"dropout": 0.3}
    assert copy.system_attrs["failed_trial"] == 0
    assert copy.system_attrs["retry_history"] == list(range(crashes))


def test_a_given_up_planned_run_is_not_rerun_when_its_worker_dies_after_giving_it_up() -> None:
    study = optuna.create_study()
    RequeueCrashedTrial()(study, _failed(study, PLANNED, **{GIVEN_UP: "RuntimeError: boom"}))
    assert len(study.trials) == 1


def _at(trial: FrozenTrial, seconds_ago: float, now: datetime.datetime) -> FrozenTrial:
    trial.datetime_complete = now - datetime.timedelta(seconds=seconds_ago)
    return trial


def test_orphaned_runs_are_planned_failures_whose_key_nothing_else_holds_after_a_while() -> None:
    now = datetime.datetime.now()
    study = optuna.create_study()
    old = _at(_failed(study, PLANNED), 120, now)
    assert orphaned_runs([old], now) == [old]
    # Failed a moment ago: its reaper may be queueing the copy right now.
    assert orphaned_runs([_at(_failed(study, PLANNED), 5, now)], now) == []
    # A sampled trial is no one's orphan; a given-up run is not run again.
    assert orphaned_runs([_at(_failed(study, {}), 120, now)], now) == []
    given_up = _at(_failed(study, PLANNED, **{GIVEN_UP: "RuntimeError"}), 120, now)
    assert orphaned_runs([old, given_up], now) == []
    # A copy queued (or finished) holds the key; another repeat is another key.
    study.enqueue_trial({"dropout": 0.3}, user_attrs=PLANNED)
    assert orphaned_runs([old, *study.get_trials(states=(TrialState.WAITING,))], now) == []
    other = _at(_failed(study, {**PLANNED, "repeat": 1, "fixed_seed": 8}), 120, now)
    assert orphaned_runs([old, other], now) == [old, other]


def test_given_up_runs_count_as_finished_on_sqlite(tmp_path: Path) -> None:
    storage = open_storage(Settings(storage=f"sqlite:///{tmp_path / 's.db'}"), create_tables=True)
    study = optuna.create_study(study_name="s", storage=storage)
    _failed(study, PLANNED, **{GIVEN_UP: "RuntimeError: boom"})
    _failed(study, PLANNED)
    study.add_trial(optuna.trial.create_trial(state=TrialState.COMPLETE, value=1.0, params={"dropout": 0.1},
                                              distributions=DIST))
    counts = count_trials(study)
    assert (counts.fail, counts.given_up, counts.complete, counts.finished) == (2, 1, 1, 2)
