"""A planned design's runs under faults: each (configuration, seed) is run to completion exactly
once, re-run with its seed however often its worker dies, and never replaced by a sampled trial."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import FrozenTrial, TrialState

from sweeper.settings import Settings
from sweeper.storage import MAX_RETRIES_PER_TRIAL, open_storage
from sweeper.storage.requeue import GIVEN_UP
from tests.support import procs

pytestmark = pytest.mark.slow

SLEEP = "tests.support.sleep_task"
FAST_HEARTBEAT = {"SWEEPER_HEARTBEAT_INTERVAL": "1", "SWEEPER_GRACE_PERIOD": "6", "SWEEPER_WAIT_FOR_STUDY": "120"}


def _study(url: str) -> optuna.Study:
    return optuna.load_study(study_name="c", storage=open_storage(Settings(storage=url)))


def _key(t: FrozenTrial) -> str:
    return json.dumps([t.system_attrs.get("fixed_params") or t.params, t.user_attrs.get("repeat")], sort_keys=True)


def _running_of(url: str, pid: int) -> FrozenTrial | None:
    for t in _study(url).get_trials(states=(TrialState.RUNNING,)):
        if t.user_attrs.get("worker", "").endswith(f":{pid}") and t.intermediate_values:
            return t
    return None


def test_a_planned_run_killed_past_the_retry_limit_is_rerun_with_its_seed_not_replaced(pg_url: str, tmp_path: Path) -> None:
    env = procs.sweeper_env(pg_url, **FAST_HEARTBEAT)
    launched = procs.run(["launch", SLEEP, "--study-name", "c", "--design", "curve", "--penalties", "none", "l2",
                          "--points", "2", "--repeats", "1", "--epochs", "3", "--option", "seconds=1"], env)
    assert launched.returncode == 0, launched.stderr
    planned = {_key(t) for t in _study(pg_url).trials}
    target, seeds = None, set()
    kills = MAX_RETRIES_PER_TRIAL + 1  # one more than a sampled trial is re-run after
    for k in range(kills):
        worker = procs.start(["worker", "--threads", "1"], env, tmp_path / f"w{k}.log")

        seen: list[FrozenTrial] = []

        def on_target() -> bool:
            t = _running_of(pg_url, worker.pid)
            if t is not None and (target is None or _key(t) == target):
                seen.append(t)
            return bool(seen)

        procs.wait_until(on_target, 120, f"worker {k} to be mid-way through the killed run")
        worker.send_signal(signal.SIGKILL)  # 2 epochs of 1 s left, so it dies mid-trial
        victim = seen[0]
        assert len(victim.intermediate_values) < 3
        target = _key(victim)
        seeds.add(victim.user_attrs["seed"])
        worker.wait(10)
        time.sleep(7)  # past the grace period; status watches the heartbeat, then reaps
        status = json.loads(procs.run(["status", "--json"], env).stdout)[0]
        assert status["running"] == 0 and status["fail"] == k + 1, status

    final = procs.run(["worker", "--threads", "1"], env, timeout=240)
    assert final.returncode == 0, final.stdout[-3000:] + final.stderr[-3000:]
    study = _study(pg_url)
    finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    # Every planned run once, none sampled in the killed run's place, the budget exact.
    assert sorted(_key(t) for t in finished) == sorted(planned)
    assert all("repeat" in t.user_attrs for t in study.trials)
    assert len(finished) == len(planned) == study.user_attrs["sweeper_config"]["budget"]
    (rerun,) = [t for t in finished if _key(t) == target]
    assert len(rerun.system_attrs["retry_history"]) == kills
    assert seeds == {rerun.user_attrs["seed"]}
    assert [t for t in study.trials if t.state == TrialState.FAIL and _key(t) != target] == []
    assert not any(GIVEN_UP in t.system_attrs for t in study.trials)


def test_a_planned_run_that_raises_is_given_up_counted_and_not_replaced(tmp_path: Path) -> None:
    """The task's own fault, which its fixed seed would repeat: failed once, not run again, not
    replaced by a sampled trial, and the study still ends (the run counts as finished)."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    env = procs.sweeper_env(url)
    # The sleep task raises for dropout above its option `fail_above`.
    launched = procs.run(["launch", SLEEP, "--study-name", "c", "--design", "curve", "--penalties", "none",
                          "--points", "2", "--repeats", "1", "--epochs", "1", "--option", "seconds=0",
                          "--option", "fail_above=0.4"], env)
    assert launched.returncode == 0, launched.stderr
    worker = procs.run(["worker", "--threads", "1"], env, timeout=240)
    assert worker.returncode == 0, worker.stdout[-3000:] + worker.stderr[-3000:]
    study = optuna.load_study(study_name="c", storage=open_storage(Settings(storage=url)))
    (failed,) = study.get_trials(states=(TrialState.FAIL,))
    assert failed.params["dropout"] > 0.4 and "fail_above" in failed.system_attrs[GIVEN_UP]
    assert all("repeat" in t.user_attrs for t in study.trials)
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == len(study.trials) - 1
    status = json.loads(procs.run(["status", "--json"], env).stdout)[0]
    assert status["given_up"] == 1 and status["fail"] == 1
