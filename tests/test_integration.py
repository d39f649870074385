"""Two real worker processes against one PostgreSQL study."""

from __future__ import annotations

import pytest

import json
from pathlib import Path

import optuna
from optuna.trial import TrialState

from sweeper.settings import Settings
from sweeper.storage import open_storage
from tests.support import procs

QUICK = "tests.support.quick_task"


@pytest.mark.slow
def test_two_workers_meet_the_budget_exactly_without_running_a_trial_twice(pg_url: str, tmp_path: Path) -> None:
    env = procs.sweeper_env(pg_url, SWEEPER_WAIT_FOR_STUDY="60")
    launched = procs.run(["launch", QUICK, "--study-name", "quick", "--trials", "8", "--epochs", "3", "--pruner", "none"], env)
    assert launched.returncode == 0, launched.stderr
    workers = [procs.start(["worker", "--threads", "1"], env, tmp_path / f"w{i}.log") for i in range(2)]
    codes = [w.wait(timeout=300) for w in workers]
    logs = [(tmp_path / f"w{i}.log").read_text() for i in range(2)]
    assert codes == [0, 0], logs

    study = optuna.load_study(study_name="quick", storage=open_storage(Settings(storage=pg_url)))
    finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(finished) == 8 and len(study.trials) == 8
    assert len({t.user_attrs["worker"] for t in finished}) == 2, "both workers took trials"
    assert all(len(t.user_attrs["history"]["val_accuracy"]) == 3 for t in finished)
    assert len({t.number for t in finished}) == 8
    assert len({t.user_attrs["sampler_seed"] for t in finished}) == 2

    status = procs.run(["status", "--json"], env)
    (row,) = json.loads(status.stdout)
    assert row["study"] == "quick" and row["budget"] == 8
    assert row["complete"] + row["pruned"] == 8 and row["running"] == 0 and row["waiting"] == 0
    assert row["best_value"] == max(t.value for t in study.get_trials(states=(TrialState.COMPLETE,)))
    assert {"task", "fail", "best_params"} <= set(row)


@pytest.mark.slow
def test_workers_run_an_adaptive_race_round_by_round_each_round_queued_once(pg_url: str, tmp_path: Path) -> None:
    """Three workers, no coordinator: whichever sees a round finish queues the next one, under the
    launch lock, and every (configuration, seed) of the race runs exactly once."""
    env = procs.sweeper_env(pg_url, SWEEPER_WAIT_FOR_STUDY="60")
    launched = procs.run(["launch", "tests.support.sleep_task", "--study-name", "race", "--option", "seconds=0.05",
                          "--design", "adaptive", "--points", "2", "--repeats", "2", "--rounds", "2",
                          "--lambda-range", "1e-4", "1e-2", "--evaluate-seeds", "2"], env)
    assert launched.returncode == 0, launched.stderr
    workers = [procs.start(["worker", "--threads", "1"], env, tmp_path / f"w{i}.log") for i in range(3)]
    codes = [w.wait(timeout=300) for w in workers]
    logs = "\n".join((tmp_path / f"w{i}.log").read_text() for i in range(3))
    assert codes == [0, 0, 0], logs

    study = optuna.load_study(study_name="race", storage=open_storage(Settings(storage=pg_url)))
    trials = study.trials
    assert all(t.state == TrialState.COMPLETE for t in trials), [t.state for t in trials]
    # Only planned runs, each once: no sampled replacement, no round queued twice.
    keys = [(json.dumps(t.params, sort_keys=True), t.user_attrs["repeat"]) for t in trials]
    assert len(keys) == len(set(keys))
    assert {t.user_attrs["stage"] for t in trials} == {"screen", "confirm"}
    assert logs.count("queued") >= 2, logs  # the screen round and at least one confirmation round
    status = procs.run(["status"], env)
    assert "race: race finished" in status.stdout, status.stdout
    (row,) = [r for r in json.loads(procs.run(["status", "--json"], env).stdout) if r["study"] == "race"]
    assert row["budget"] == len(trials)
    evaluation = optuna.load_study(study_name="race.eval", storage=open_storage(Settings(storage=pg_url)))
    assert len(evaluation.get_trials(states=(TrialState.COMPLETE,))) == 2 * (1 + 4)  # baseline + 4 finalists
