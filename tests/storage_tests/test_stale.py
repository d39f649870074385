"""Judging stale trials so that an outage never makes a live one look dead (sweeper.storage.stale),
and the storage's use of it on a real database."""

from __future__ import annotations

import time

import optuna
from optuna.trial import TrialState

from sweeper.settings import Settings
from sweeper.storage import open_storage
from sweeper.storage.stale import StaleWatch


class Clock:
    """This process's monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_trial_past_the_grace_period_is_stale_only_after_its_beat_stood_still_for_the_confirm_time() -> None:
    clock = Clock()
    watch = StaleWatch(grace=40, confirm=20, clock=clock)
    assert watch.stale(1, [(7, "beat-a", 41.0), (8, "beat-b", 5.0)]) == []  # 7 suspected, 8 fresh
    assert watch.wait_s() == 20
    clock.now += 19
    assert watch.stale(1, [(7, "beat-a", 60.0)]) == []
    clock.now += 1
    assert watch.stale(1, [(7, "beat-a", 61.0)]) == [7]
    assert watch.wait_s() is None  # judged: no longer watched


def test_a_beat_after_the_outage_clears_the_suspicion() -> None:
    clock = Clock()
    watch = StaleWatch(grace=40, confirm=20, clock=clock)
    watch.stale(1, [(7, "before the outage", 300.0)])
    clock.now += 3
    assert watch.stale(1, [(7, "after the outage", 1.0)]) == []  # its worker beat again
    clock.now += 30
    assert watch.stale(1, [(7, "after the outage", 2.0)]) == []
    assert watch.wait_s() is None


def test_an_outage_this_process_saw_restarts_the_watch() -> None:
    clock = Clock()
    watch = StaleWatch(grace=40, confirm=20, clock=clock)
    watch.stale(1, [(7, "b", 41.0)])
    clock.now += 10
    watch.note_outage()  # this process found the database away: nobody could beat meanwhile
    clock.now += 15
    assert watch.stale(1, [(7, "b", 66.0)]) == []
    assert watch.wait_s() == 5
    clock.now += 5
    assert watch.stale(1, [(7, "b", 71.0)]) == [7]


def test_studies_are_watched_apart() -> None:
    clock = Clock()
    watch = StaleWatch(grace=40, confirm=20, clock=clock)
    watch.stale(1, [(7, "b", 41.0)])
    watch.stale(2, [(9, "c", 41.0)])
    clock.now += 20
    assert watch.stale(2, [(9, "c", 61.0)]) == [9]
    assert watch.stale(1, [(7, "b", 61.0)]) == [7]


def _reaped_within(seconds: float, storage, study: optuna.Study, trial) -> bool:  # type: ignore[no-untyped-def]
    """Whether a reaper's reads (``fail_stale_trials`` every 0.5 s) fail ``trial`` within ``seconds``."""
    deadline = time.monotonic() + seconds
    while storage.get_trial(trial._trial_id).state != TrialState.FAIL and time.monotonic() < deadline:
        time.sleep(0.5)
        optuna.storages.fail_stale_trials(study)
    return storage.get_trial(trial._trial_id).state == TrialState.FAIL


def test_the_storage_reaps_a_silent_trial_only_after_watching_it(storage_url: str) -> None:
    storage = open_storage(Settings(storage=storage_url, heartbeat_interval=1, grace_period=2), create_tables=True)
    storage.stale_watch.confirm = 1.0  # the test's own confirm time: the default is 11 s here
    study = optuna.create_study(study_name="s", storage=storage)
    trial = study.ask()
    storage.record_heartbeat(trial._trial_id)
    time.sleep(2.5)  # past the grace period: its worker is gone
    optuna.storages.fail_stale_trials(study)
    assert storage.get_trial(trial._trial_id).state == TrialState.RUNNING  # suspected, not yet reaped
    # Reaped once the watch has seen the heartbeat stand still for the confirm time (1 s). Polled:
    # a read that finds the database away restarts the watch (a busy SQLite file no longer does,
    # tests/storage_tests/test_retry.py), and a loaded machine may be slow to get there.
    assert _reaped_within(8, storage, study, trial)
    (copy,) = study.get_trials(states=(TrialState.WAITING,))
    assert copy.system_attrs["retry_history"] == [trial.number]


def test_a_trial_whose_worker_died_before_its_first_heartbeat_is_reaped_too(storage_url: str) -> None:
    """Killed between claiming the trial (Optuna's ask, with the sampler's work) and starting the
    heartbeat thread: no heartbeat row, so it is judged by its start; Optuna's query skips it."""
    storage = open_storage(Settings(storage=storage_url, heartbeat_interval=1, grace_period=2), create_tables=True)
    storage.stale_watch.confirm = 1.0
    study = optuna.create_study(study_name="s", storage=storage)
    trial = study.ask()  # no heartbeat ever recorded
    time.sleep(2.5)
    optuna.storages.fail_stale_trials(study)
    assert storage.get_trial(trial._trial_id).state == TrialState.RUNNING  # suspected, not yet reaped
    assert _reaped_within(8, storage, study, trial)
    assert len(study.get_trials(states=(TrialState.WAITING,))) == 1


def test_the_retry_window_is_a_setting(tmp_path) -> None:
    settings = Settings.resolve({}, environ={"SWEEPER_STORAGE_RETRY": "420", "SWEEPER_STORAGE": f"sqlite:///{tmp_path}/s.db"})
    assert open_storage(settings, create_tables=True).retry_seconds == 420
