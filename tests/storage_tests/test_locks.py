"""The launch lock, straight to PostgreSQL and through PgBouncer in transaction mode with a pool
smaller than its clients (``tests/conftest.py``): exclusive, never hung by the pool, and never
left behind by a killed holder."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
import sqlalchemy
from optuna.trial import TrialState

from sweeper.settings import Settings
from sweeper.storage import launch_lock, open_storage
from sweeper.study.config import CONFIG_ATTR
from sweeper.worker.loop import Worker
from tests.support import procs

SLEEP = "tests.support.sleep_task"


def _counter(url: str) -> sqlalchemy.engine.Engine:
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("CREATE TABLE counter (n integer)"))
        conn.execute(sqlalchemy.text("INSERT INTO counter VALUES (0)"))
    return engine


def test_the_launch_lock_is_exclusive_between_more_holders_than_server_connections(postgres_url: str) -> None:
    """Eight threads each read, pause and write a counter under the lock, each on connections of
    its own: a lock that two holders take at once loses increments; one whose waiters or
    holders pin the pool's 4 server connections hangs."""
    engine = _counter(postgres_url)
    rounds, holders, errors = 3, 8, []

    def increment() -> None:
        try:
            for _ in range(rounds):
                with launch_lock(postgres_url):
                    with engine.begin() as conn:
                        n = conn.execute(sqlalchemy.text("SELECT n FROM counter")).scalar_one()
                    time.sleep(0.02)  # another holder, if any, reads the same n meanwhile
                    with engine.begin() as conn:
                        conn.execute(sqlalchemy.text("UPDATE counter SET n = :n"), {"n": n + 1})
        except Exception as exc:  # noqa: BLE001  (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=increment, daemon=True) for _ in range(holders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "lock holders still waiting after 60 s: the pool is hung"
    assert not errors, errors
    with engine.connect() as conn:
        assert conn.execute(sqlalchemy.text("SELECT n FROM counter")).scalar_one() == rounds * holders


def test_a_killed_lock_holder_never_blocks_the_others(postgres_url: str, tmp_path: Path) -> None:
    """The holder dies with the lock held (SIGKILL: nothing of its own runs): the server rolls its
    transaction back when the connection drops, directly or through PgBouncer, which closes the
    server connection of a client that vanished mid-transaction."""
    code = (
        "import sys, time\n"
        "from sweeper.storage import launch_lock\n"
        "with launch_lock(sys.argv[1]):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(120)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, postgres_url], stdout=subprocess.PIPE, text=True,
                              env=procs.sweeper_env(postgres_url))
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        acquired = threading.Event()

        def take() -> None:
            with launch_lock(postgres_url):
                acquired.set()

        waiter = threading.Thread(target=take, daemon=True)
        waiter.start()
        assert not acquired.wait(1.5), "the lock was taken while its holder was alive"
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        assert acquired.wait(20), "the killed holder's lock was never released"
    finally:
        holder.kill()
        holder.wait(10)


@pytest.mark.slow
def test_concurrent_launches_and_evaluations_through_pgbouncer(pooled_url: str, tmp_path: Path) -> None:
    """The issue's failure: launches and evaluation queueing at once, through PgBouncer in
    transaction mode with 4 server connections. Each study is created once, each evaluation run
    queued once (two `evaluate`s that both enqueue would double them), and nothing hangs."""
    settings = Settings(storage=pooled_url)
    env = procs.sweeper_env(pooled_url)
    assert procs.run(["launch", SLEEP, "--study-name", "base", "--trials", "2", "--epochs", "1", "--pruner", "none",
                      "--option", "seconds=0"], env).returncode == 0
    assert Worker(settings, ["base"], log=lambda line: None).run() == 0

    launches = [["launch", SLEEP, "--study-name", name, "--trials", "3", "--epochs", "1", "--option", "seconds=0"]
                for name in ("a", "b", "c") for _ in range(2)]
    evaluations = [["evaluate", "base", "--seeds", "2", "--no-run"]] * 2
    started = [procs.start(args, env, tmp_path / f"p{i}.log") for i, args in enumerate(launches + evaluations)]
    deadline, codes = time.monotonic() + 120, []
    for p in started:
        try:
            codes.append(p.wait(max(0.1, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            codes.append("hung")
    for p in started:
        p.kill()
        p.wait(10)
    logs = [(tmp_path / f"p{i}.log").read_text() for i in range(len(started))]
    assert codes == [0] * len(started), list(zip(codes, logs))

    storage = open_storage(settings)
    assert sorted(s.study_name for s in storage.get_all_studies()) == ["a", "b", "base", "base.eval", "c"]
    assert "".join(logs[:len(launches)]).count(" created (task") == 3
    for name in ("a", "b", "c"):
        study = optuna.load_study(study_name=name, storage=storage)
        assert CONFIG_ATTR in study.user_attrs
        # What one launch queues (the baseline, then one trial per type), each once.
        queued = [str(t.system_attrs["fixed_params"]) for t in study.trials]
        assert {t.state for t in study.trials} == {TrialState.WAITING}
        assert len(queued) == len(set(queued)), "a launch's trials queued once"
        assert str({"penalty": "none", "dropout": 0.0}) in queued
    runs = optuna.load_study(study_name="base.eval", storage=storage).trials
    keys = [(t.user_attrs["penalty_group"], t.user_attrs["eval_seed"]) for t in runs]
    assert len(keys) == len(set(keys)) and len({seed for _, seed in keys}) == 2, keys
