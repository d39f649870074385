"""Workers riding out a database or pooler outage longer than the grace period: no live trial is
reaped for it (by a reaper reading the moment the database is back, or by ``sweeper status``), no
worker crashes, nothing stored is lost. And a trial reaped while only its worker was cut off (a
network partition) is abandoned by that worker, which goes on, with the reap not counted as a retry.

The harness shortens what it can (a 1 s heartbeat, a 6 s grace period, trials of a few seconds)
and keeps each outage longer than the grace period; the 5-minute one is also longer than the
storage's retry window before issue 28 (90 s)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from sweeper.settings import Settings
from sweeper.storage import open_storage
from tests.support import pgbouncer, procs
from tests.support.postgres import PostgresServer

pytestmark = [pytest.mark.slow, pytest.mark.outage]

SLEEP = "tests.support.sleep_task"
GRACE_S = 6
OUTAGE_ENV = {"SWEEPER_HEARTBEAT_INTERVAL": "1", "SWEEPER_GRACE_PERIOD": str(GRACE_S),
              "SWEEPER_WAIT_FOR_STUDY": "120"}


def _study(url: str) -> optuna.Study:
    return optuna.load_study(study_name="s", storage=open_storage(Settings(storage=url)))


def _running(url: str) -> list[optuna.trial.FrozenTrial]:
    return [t for t in _study(url).get_trials(states=(TrialState.RUNNING,)) if t.intermediate_values]


def _ride_out(url: str, tmp_path: Path, outage_s: float, stop: Callable[[], None], start: Callable[[], None]) -> None:
    """Two workers mid-trial, an outage of ``outage_s``, ``sweeper status`` as soon as it ends:
    nothing failed, the sweep finishes exactly, both workers exit 0."""
    env = procs.sweeper_env(url, **OUTAGE_ENV)
    assert procs.run(["launch", SLEEP, "--study-name", "s", "--trials", "8", "--epochs", "4", "--pruner", "none",
                      "--option", "seconds=0.7"], env).returncode == 0
    workers = [procs.start(["worker"], env, tmp_path / f"w{i}.log") for i in range(2)]
    procs.wait_until(lambda: len(_running(url)) == 2, 120, "both workers to be mid-trial")
    live = {t.number for t in _running(url)}
    # A reaper already up when the database returns reads at once, before any worker's heartbeat
    # thread, still backing off, beats again: every live trial is past the grace period then.
    reaper = optuna.load_study(study_name="s", storage=open_storage(
        Settings(storage=url, heartbeat_interval=1, grace_period=GRACE_S)))
    stop()
    time.sleep(outage_s)
    start()
    optuna.storages.fail_stale_trials(reaper)  # what a worker does before it claims
    status = procs.run(["status", "--json"], env, timeout=120)
    assert status.returncode == 0, status.stderr
    (row,) = json.loads(status.stdout)
    # No live trial reaped by status (a search also queues its type starts at launch, which may
    # still wait: a reaped trial would show as failed, and its copy carries ``failed_trial``).
    assert row["fail"] == 0, row
    codes = [w.wait(300) for w in workers]
    logs = [(tmp_path / f"w{i}.log").read_text() for i in range(2)]
    assert codes == [0, 0], [log[-3000:] for log in logs]
    assert not any("Traceback" in log for log in logs), logs
    study = _study(url)
    assert not study.get_trials(states=(TrialState.FAIL, TrialState.RUNNING, TrialState.WAITING))
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 8
    assert all(study.trials[n].state == TrialState.COMPLETE for n in live)
    assert all(len(t.intermediate_values) == 4 for t in study.trials)
    assert not any("failed_trial" in t.system_attrs for t in study.trials)  # nothing was run again


def test_workers_ride_out_a_postgres_outage_longer_than_the_grace_period(
    postgres_url: str, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    # The case: PostgreSQL away for the grace period and 15 s more (directly, and
    # behind PgBouncer).
    _ride_out(postgres_url, tmp_path, GRACE_S + 15, postgres_server.stop, postgres_server.start)


def test_workers_ride_out_a_five_minute_postgres_outage(pg_url: str, postgres_server: PostgresServer,
                                                        tmp_path: Path) -> None:
    _ride_out(pg_url, tmp_path, 300, postgres_server.stop, postgres_server.start)


def test_workers_ride_out_a_five_minute_pooler_outage(pooled_url: str, pooler: pgbouncer.PgBouncer,
                                                      tmp_path: Path) -> None:
    _ride_out(pooled_url, tmp_path, 300, lambda: pgbouncer.halt(pooler), lambda: pgbouncer.relaunch(pooler))


def test_a_trial_reaped_while_only_its_worker_is_cut_off_is_abandoned_and_not_counted(
    pooled_url: str, postgres_server: PostgresServer, pooler: pgbouncer.PgBouncer, tmp_path: Path
) -> None:
    # The worker reaches the database through the pooler, status straight: with the pooler away
    # the worker is cut off as by a network partition, and status sees a trial that stopped beating.
    direct_url = postgres_server.url(pooled_url.rsplit("/", 1)[1])
    env = procs.sweeper_env(pooled_url, **OUTAGE_ENV)
    assert procs.run(["launch", SLEEP, "--study-name", "s", "--trials", "3", "--epochs", "6", "--pruner", "none",
                      "--option", "seconds=1"], env).returncode == 0
    worker = procs.start(["worker"], env, tmp_path / "w.log")
    procs.wait_until(lambda: len(_running(direct_url)) == 1, 120, "the worker to be mid-trial")
    (cut_off,) = _running(direct_url)
    pgbouncer.halt(pooler)
    try:
        time.sleep(GRACE_S + 1)
        status = procs.run(["status", "--json"], procs.sweeper_env(direct_url, **OUTAGE_ENV), timeout=120)
        (row,) = json.loads(status.stdout)
        assert row["fail"] == 1, row  # reaped: its worker looks dead from here
        # ... and queued again (beside the type starts a search's launch queues).
        assert [t.state for t in _study(direct_url).trials
                if t.system_attrs.get("failed_trial") == cut_off.number] == [TrialState.WAITING]
    finally:
        pgbouncer.relaunch(pooler)
    assert worker.wait(300) == 0, (tmp_path / "w.log").read_text()[-3000:]
    log = (tmp_path / "w.log").read_text()
    assert f"trial {cut_off.number} was failed by another process while it ran" in log
    assert "Traceback" not in log
    study = _study(direct_url)
    (rerun,) = [t for t in study.trials if t.system_attrs.get("failed_trial") == cut_off.number]
    assert rerun.state == TrialState.COMPLETE and rerun.params == cut_off.params
    assert rerun.system_attrs["retry_history"] == []  # the reap is not counted against its retries
    assert rerun.user_attrs["seed"] == cut_off.user_attrs["seed"]
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 3
    assert [t.number for t in study.get_trials(states=(TrialState.FAIL,))] == [cut_off.number]
