"""Fault tests against a real PostgreSQL: killed workers, SIGTERM, a database restart, 32 workers,
launch races. Each asserts on the stored study afterwards. Those taking ``postgres_url`` run both
straight to the server and through PgBouncer in transaction mode with 4 server connections
(``tests/conftest.py``), as a fleet on one database does."""

from __future__ import annotations

import pytest

import json
import signal
import time
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeper.settings import Settings
from sweeper.storage import open_storage
from tests.support import procs
from tests.support.postgres import ConnectionSampler, PostgresServer

# Every test here starts many processes (workers, a PostgreSQL restart).
pytestmark = pytest.mark.slow

QUICK = "tests.support.quick_task"
SLEEP = "tests.support.sleep_task"
FAST_HEARTBEAT = {"SWEEPER_HEARTBEAT_INTERVAL": "1", "SWEEPER_GRACE_PERIOD": "6", "SWEEPER_WAIT_FOR_STUDY": "120"}


def _study(url: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(Settings(storage=url)))


_wait_for = procs.wait_until


def _running_trial_of(url: str, name: str, pid: int) -> FrozenTrial | None:
    for t in _study(url, name).get_trials(states=(TrialState.RUNNING,)):
        if t.user_attrs.get("worker", "").endswith(f":{pid}") and t.intermediate_values:
            return t
    return None


def _assert_sweep_consistent(study: optuna.Study, budget: int) -> None:
    """Budget met exactly, nothing running, history on every finished trial, and every failed
    trial was re-run with the same parameters (so it is not a lost or a doubled trial)."""
    finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(finished) == budget
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))
    for t in finished:
        assert t.user_attrs["history"]["val_accuracy"], t.number
    retried = {t.system_attrs.get("failed_trial"): t for t in finished if "failed_trial" in t.system_attrs}
    for failed in study.get_trials(states=(TrialState.FAIL,)):
        original = failed.system_attrs.get("failed_trial", failed.number)
        assert original in retried, f"failed trial {failed.number} was not re-run"
        assert retried[original].params == failed.params
    # A re-run replaces its failed original: no parameter set is counted twice among finished trials.
    originals = [t.system_attrs.get("failed_trial", t.number) for t in finished]
    assert len(originals) == len(set(originals))


def test_sigkilled_worker_trial_is_failed_and_rerun_by_a_survivor(postgres_url: str, tmp_path: Path) -> None:
    env = procs.sweeper_env(postgres_url, **FAST_HEARTBEAT)
    assert procs.run(["launch", QUICK, "--study-name", "q", "--trials", "5", "--epochs", "4", "--pruner", "none",
                      "--option", "epoch_sleep=0.7"], env).returncode == 0
    victim = procs.start(["worker", "--threads", "1"], env, tmp_path / "victim.log")
    survivor = procs.start(["worker", "--threads", "1"], env, tmp_path / "survivor.log")
    _wait_for(lambda: _running_trial_of(postgres_url, "q", victim.pid) is not None, 120, "the victim to be mid-trial")
    killed = _running_trial_of(postgres_url, "q", victim.pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    assert survivor.wait(240) == 0, (tmp_path / "survivor.log").read_text()

    study = _study(postgres_url, "q")
    assert study.trials[killed.number].state == TrialState.FAIL
    rerun = [t for t in study.trials if t.system_attrs.get("failed_trial") == killed.number]
    assert len(rerun) == 1 and rerun[0].params == killed.params
    assert rerun[0].user_attrs["seed"] == killed.user_attrs["seed"]
    _assert_sweep_consistent(study, 5)


def test_with_no_survivor_status_reaps_the_stale_trial_and_the_next_worker_finishes(pg_url: str, tmp_path: Path) -> None:
    env = procs.sweeper_env(pg_url, **FAST_HEARTBEAT)
    procs.run(["launch", QUICK, "--study-name", "q", "--trials", "3", "--epochs", "3", "--pruner", "none",
               "--option", "epoch_sleep=0.7"], env)
    victim = procs.start(["worker", "--threads", "1"], env, tmp_path / "victim.log")
    _wait_for(lambda: _running_trial_of(pg_url, "q", victim.pid) is not None, 120, "the victim to be mid-trial")
    killed = _running_trial_of(pg_url, "q", victim.pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    time.sleep(7)  # past the grace period
    status = json.loads(procs.run(["status", "--json"], env).stdout)[0]
    # Waiting: the killed first trial's copy, and the two trials of other types queued at launch.
    assert status["running"] == 0 and status["fail"] == 1 and status["waiting"] == 3
    assert _study(pg_url, "q").trials[killed.number].state == TrialState.FAIL
    assert procs.run(["worker", "--threads", "1"], env, timeout=240).returncode == 0
    _assert_sweep_consistent(_study(pg_url, "q"), 3)


def test_sigterm_fails_and_requeues_the_running_trial_at_once(postgres_url: str, tmp_path: Path) -> None:
    env = procs.sweeper_env(postgres_url, SWEEPER_HEARTBEAT_INTERVAL="5", SWEEPER_GRACE_PERIOD="300")
    procs.run(["launch", QUICK, "--study-name", "q", "--trials", "3", "--epochs", "4", "--pruner", "none",
               "--option", "epoch_sleep=1.0"], env)
    worker = procs.start(["worker", "--threads", "1"], env, tmp_path / "w.log")
    _wait_for(lambda: _running_trial_of(postgres_url, "q", worker.pid) is not None, 120, "the worker to be mid-trial")
    stopped = _running_trial_of(postgres_url, "q", worker.pid)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(60) == 143
    # Re-queued by the worker itself (its own log line), not by the heartbeat's 300 s grace period.
    assert f"stopped by SIGTERM; trial {stopped.number} failed and re-queued" in (tmp_path / "w.log").read_text()
    study = _study(postgres_url, "q")
    assert study.trials[stopped.number].state == TrialState.FAIL
    assert "worker stopped by SIGTERM" in study.trials[stopped.number].user_attrs["fail_reason"]
    assert not study.get_trials(states=(TrialState.RUNNING,))
    # Besides the trials queued at launch (one per type), the stopped trial's copy.
    (queued,) = [t for t in study.get_trials(states=(TrialState.WAITING,)) if "failed_trial" in t.system_attrs]
    assert queued.system_attrs["failed_trial"] == stopped.number
    assert procs.run(["worker", "--threads", "1"], env, timeout=240).returncode == 0
    _assert_sweep_consistent(_study(postgres_url, "q"), 3)


def test_workers_ride_out_a_postgres_restart(postgres_url: str, postgres_server: PostgresServer, tmp_path: Path) -> None:
    env = procs.sweeper_env(postgres_url, **FAST_HEARTBEAT)
    procs.run(["launch", SLEEP, "--study-name", "s", "--trials", "16", "--epochs", "2", "--option", "seconds=0.5"], env)
    workers = [procs.start(["worker"], env, tmp_path / f"w{i}.log") for i in range(2)]
    _wait_for(lambda: len(_study(postgres_url, "s").get_trials(states=(TrialState.COMPLETE,))) >= 3, 120, "3 trials")
    before = {t.number: t.value for t in _study(postgres_url, "s").get_trials(states=(TrialState.COMPLETE,))}
    postgres_server.restart()
    codes = [w.wait(240) for w in workers]
    assert codes == [0, 0], [(tmp_path / f"w{i}.log").read_text()[-3000:] for i in range(2)]
    study = _study(postgres_url, "s")
    after = {t.number: t.value for t in study.trials}
    assert all(after[n] == v for n, v in before.items()), "a stored trial was lost or changed"
    _assert_sweep_consistent(study, 16)


def test_32_workers_share_one_postgres_within_two_connections_each(pg_url: str, postgres_server: PostgresServer, tmp_path: Path) -> None:
    env = procs.sweeper_env(pg_url, SWEEPER_WAIT_FOR_STUDY="120")
    procs.run(["launch", SLEEP, "--study-name", "s", "--trials", "64", "--epochs", "1", "--pruner", "none", "--option", "seconds=2"], env)
    workers = [procs.start(["worker"], env, tmp_path / f"w{i}.log") for i in range(32)]
    with ConnectionSampler(postgres_server) as connections:
        codes = [w.wait(300) for w in workers]
    peak = connections.peak
    logs = "".join((tmp_path / f"w{i}.log").read_text() for i in range(32))
    assert codes == [0] * 32, logs[-3000:]
    assert "Traceback" not in logs and "sweeper: error" not in logs, logs[-3000:]
    assert len(peak) >= 32 and max(peak.values()) <= 2, peak
    study = _study(pg_url, "s")
    # The trials were shared (by how many of the 32 depends on start-up times on this machine),
    # and only by the workers started here.
    ran = {t.user_attrs["worker"].rsplit(":", 1)[1] for t in study.trials}
    assert len(ran) >= 2 and ran <= {str(w.pid) for w in workers}, ran
    _assert_sweep_consistent(study, 64)


def test_launch_race_on_an_empty_database(pg_url: str, tmp_path: Path) -> None:
    env = procs.sweeper_env(pg_url, SWEEPER_WAIT_FOR_STUDY="120")
    launch_args = ["launch", QUICK, SLEEP, "--trials", "4", "--epochs", "1", "--option", "seconds=0.2"]
    # Each task takes the options it declares: `seconds` goes to the sleep task only.
    launches = [procs.start(launch_args, env, tmp_path / f"l{i}.log") for i in range(2)]
    workers = [procs.start(["worker", "--threads", "1"], env, tmp_path / f"w{i}.log") for i in range(4)]
    assert [p.wait(120) for p in launches] == [0, 0], [(tmp_path / f"l{i}.log").read_text() for i in range(2)]
    codes = [w.wait(300) for w in workers]
    logs = [(tmp_path / f"w{i}.log").read_text() for i in range(4)]
    assert codes == [0] * 4, logs
    storage = open_storage(Settings(storage=pg_url))
    assert sorted(s.study_name for s in storage.get_all_studies()) == ["quick", "sleep"]
    for name in ("quick", "sleep"):
        _assert_sweep_consistent(_study(pg_url, name), 4)
    assert not any("Traceback" in log for log in logs)
    launch_out = "".join((tmp_path / f"l{i}.log").read_text() for i in range(2))
    assert launch_out.count(" created (task") == 2 and launch_out.count("already launched") == 2


