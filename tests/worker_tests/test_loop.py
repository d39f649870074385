from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import sqlalchemy
from optuna.trial import TrialState

from sweeper.errors import ConfigError, NoStudyError
from sweeper.study.launch import launch
from sweeper.settings import Settings
from sweeper.study.space import SearchSpace
from sweeper.storage import open_storage
from sweeper.study.config import VERSION_ATTR, SweepConfig
from sweeper.worker.loop import Worker
from tests.support import procs

QUICK = "tests.support.quick_task"
SLEEP = "tests.support.sleep_task"


def _run(settings: Settings, studies: list[str] | None = None) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = Worker(settings, studies, sampler_seed=1, log=lines.append).run()
    return code, lines


def _study(settings: Settings, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(settings))


@pytest.mark.slow
def test_worker_meets_the_budget_exactly_and_stores_history(storage_url: str) -> None:
    settings = Settings(storage=storage_url)
    launch(settings, "quick", SweepConfig.for_task(QUICK, budget=5, epochs=3, pruner="none"))
    code, lines = _run(settings)
    assert code == 0
    study = _study(settings, "quick")
    trials = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(trials) == 5 and len(study.trials) == 5
    assert study.trials[0].params == {"penalty": "none", "dropout": 0.0}
    for t in trials:
        history = t.user_attrs["history"]
        assert len(history["val_accuracy"]) == t.user_attrs["epochs_run"] == 3
        assert t.value == pytest.approx(history["val_accuracy"][-1])
        assert 0.0 <= t.user_attrs["sparsity"] <= 1.0
        assert {"seed", "sampler_seed", "wall_time_s", "train_accuracy", "val_loss"} <= set(t.user_attrs)
        assert sorted(t.intermediate_values) == [1, 2, 3]
    assert sum("trial" in line and "complete" in line for line in lines) == 5
    assert lines[-1].endswith("exiting")


def test_a_claim_costs_one_count_of_the_study(storage_url: str) -> None:
    """A worker counts a study's trials by state in the transaction that claims a trial (the
    budget check) and carries what that count saw to its next claim, instead of counting again
    for its schedule: one count per claim, a few more at the start and at the end (before: two
    per claim). Budgets stay exact."""
    settings = Settings(storage=storage_url)
    budget = 8
    launch(settings, "s", SweepConfig.for_task(SLEEP, budget=budget, epochs=2, pruner="median", sampler="tpe",
                                               options={"seconds": 0.0}))
    counts: list[str] = []

    def count(conn, cursor, statement: str, *rest) -> None:  # type: ignore[no-untyped-def]
        if "GROUP BY trials.state" in statement:
            counts.append(statement)

    sqlalchemy.event.listen(sqlalchemy.engine.Engine, "before_cursor_execute", count)
    try:
        code, lines = _run(settings)
    finally:
        sqlalchemy.event.remove(sqlalchemy.engine.Engine, "before_cursor_execute", count)
    assert code == 0, lines
    study = _study(settings, "s")
    assert len(study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) == budget == len(study.trials)
    # The start: the first round, and again after the task's data loaded. The end: the round that
    # finds the budget met, and what comes next (``next_stage``) counting it.
    assert budget <= len(counts) <= budget + 3, len(counts)


def test_a_second_worker_on_a_finished_study_exits_at_once(tmp_path: Path) -> None:
    settings = Settings(storage=f"sqlite:///{tmp_path / 's.db'}")
    launch(settings, "quick", SweepConfig.for_task(QUICK, budget=1, epochs=1))
    assert _run(settings)[0] == 0
    code, lines = _run(settings)
    assert code == 0 and "all budgets met" in lines[-1]
    assert len(_study(settings, "quick").trials) == 1


@pytest.mark.slow
def test_two_workers_on_one_sqlite_file_run_trials_side_by_side(tmp_path: Path) -> None:
    """The SQLite claim lock is held only while a trial is created, not while it runs: a second
    worker started while the first one's trial runs claims and starts a trial before it ends."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    env = procs.sweeper_env(url)
    procs.run(["launch", SLEEP, "--study-name", "s", "--trials", "2", "--epochs", "1", "--pruner", "none",
               "--sampler", "random", "--option", "seconds=20"], env)
    first = procs.start(["worker"], env, tmp_path / "w0.log")
    study = _study(Settings(storage=url), "s")
    procs.wait_until(lambda: study.get_trials(states=(TrialState.RUNNING,)) or first.poll() is not None, 120,
                     "the first worker's trial to run")
    assert first.poll() is None, (tmp_path / "w0.log").read_text()
    second = procs.start(["worker"], env, tmp_path / "w1.log")
    assert [w.wait(180) for w in (first, second)] == [0, 0], (tmp_path / "w1.log").read_text()[-2000:]
    a, b = sorted(study.get_trials(states=(TrialState.COMPLETE,)), key=lambda t: t.datetime_start)
    assert a.user_attrs["worker"].endswith(f":{first.pid}") and b.user_attrs["worker"].endswith(f":{second.pid}")
    assert b.datetime_start < a.datetime_complete, (a.datetime_start, a.datetime_complete, b.datetime_start)


@pytest.mark.parametrize("mode", ["replace", "swallow"])
def test_a_stop_signal_mishandled_by_training_code_still_requeues_the_trial(tmp_path: Path, mode: str) -> None:
    """SIGTERM's Shutdown replaced by another error, or swallowed with an early return, inside
    the training code: the trial is failed as stopped and queued again, never failed for good or
    completed on a fraction of its epochs."""
    settings = Settings(storage=f"sqlite:///{tmp_path / 's.db'}")
    launch(settings, "s", SweepConfig.for_task("tests.support.stop_task", budget=3, pruner="none", options={"mode": mode}))
    code, lines = _run(settings)
    assert code == 143, lines
    study = _study(settings, "s")
    (stopped,) = study.get_trials(states=(TrialState.FAIL,))
    assert stopped.user_attrs["fail_reason"] == "worker stopped by SIGTERM"
    # Besides the trials queued at launch (one per type), the stopped trial's copy.
    (queued,) = [t for t in study.get_trials(states=(TrialState.WAITING,)) if "failed_trial" in t.system_attrs]
    assert queued.system_attrs["failed_trial"] == stopped.number
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED))
    assert any("stopped by SIGTERM; trial 0 failed and re-queued" in line for line in lines), lines


def test_stops_never_use_up_a_configuration_s_retries(tmp_path: Path) -> None:
    """Preempted again and again (more often than the crash-retry limit of 3), a configuration
    is queued again every time, with its seed and planned attrs and none of the old results."""
    settings = Settings(storage=f"sqlite:///{tmp_path / 's.db'}")
    launch(settings, "s", SweepConfig.for_task("tests.support.stop_task", budget=1, pruner="none", options={"mode": "swallow"}))
    for stop in range(5):
        code, lines = _run(settings)
        assert code == 143, lines
        study = _study(settings, "s")
        (queued,) = study.get_trials(states=(TrialState.WAITING,))
        assert len(study.get_trials(states=(TrialState.FAIL,))) == stop + 1
    assert queued.system_attrs["failed_trial"] == 0 and queued.system_attrs["retry_history"] == []
    assert queued.params == {"penalty": "none", "dropout": 0.0}
    assert set(queued.user_attrs) <= {"role"} and "fail_reason" not in queued.user_attrs


@pytest.mark.slow
def test_diverging_trial_is_pruned_with_its_reason_and_the_worker_goes_on(tmp_path: Path) -> None:
    settings = Settings(storage=f"sqlite:///{tmp_path / 's.db'}")
    config = SweepConfig.for_task(
        QUICK, budget=3, epochs=4, learning_rate=1.0, pruner="none", options={"optimizer": "sgd"},
        space=SearchSpace(lambda_low=50.0, lambda_high=100.0, penalties=("l2",)),
    )
    launch(settings, "quick", config)
    code, _ = _run(settings)
    assert code == 0
    study = _study(settings, "quick")
    diverged = [t for t in study.trials if "diverged" in t.user_attrs.get("stop_reason", "")]
    assert diverged, [t.user_attrs for t in study.trials]
    assert all(t.state == TrialState.PRUNED for t in diverged)
    assert "non-finite loss at epoch" in diverged[0].user_attrs["stop_reason"]
    assert len(study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) == 3


@pytest.mark.slow
def test_medians_prune_poor_trials(tmp_path: Path) -> None:
    settings = Settings(storage=f"sqlite:///{tmp_path / 's.db'}")
    config = SweepConfig.for_task(QUICK, budget=10, epochs=6, pruner="median", sampler="random",
                                  space=SearchSpace(lambda_low=1e-5, lambda_high=3.0))
    launch(settings, "quick", config)
    assert _run(settings)[0] == 0
    study = _study(settings, "quick")
    pruned = study.get_trials(states=(TrialState.PRUNED,))
    assert len(study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) == 10
    for t in pruned:
        assert "pruned by the median pruner" in t.user_attrs["stop_reason"]
        assert t.user_attrs["epochs_run"] < 6


def test_worker_refuses_a_study_of_another_version(tmp_path: Path) -> None:
    settings = Settings(storage=f"sqlite:///{tmp_path / 's.db'}")
    launch(settings, "quick", SweepConfig.for_task(QUICK, budget=1, epochs=1))
    study = _study(settings, "quick")
    study.set_user_attr(VERSION_ATTR, {"sweeper": "9.9.0", "optuna": "4.1.0"})
    with pytest.raises(ConfigError, match="launched by sweeper 9.9.0 with optuna 4.1.0"):
        _run(settings)
    assert study.trials[0].state == TrialState.WAITING  # nothing was touched


def test_worker_waits_for_a_study_then_gives_up_naming_it(tmp_path: Path) -> None:
    settings = Settings(storage=f"sqlite:///{tmp_path / 's.db'}", wait_for_study=1.0)
    with pytest.raises(NoStudyError, match="waiting for cifar10 to be launched"):
        _run(settings, ["cifar10"])


USER_TASK = '''
import time
import numpy as np
from sweeper import Splits, Task, TaskDefaults

class Mine(Task):
    name = "mine"
    uses_keras = False
    defaults = TaskDefaults(epochs=1, batch_size=1, learning_rate=None)

    def load_data(self, request):
        z = np.zeros(2)
        return Splits(z, z, z, z, z, z)

    def train(self, hp, splits, run):
        time.sleep(0.3)
        logs = {"loss": 0.5, "val_loss": 0.5, "accuracy": 0.5, "val_accuracy": 0.5 + hp.dropout / 10}
        run.result.record_epoch(0, logs, tuple(logs))
        run.report(0, logs)
        run.result.final = {"train_accuracy": 0.5, "val_accuracy": logs["val_accuracy"]}
        return run.result
'''


@pytest.mark.slow
def test_a_worker_without_a_study_s_code_leaves_it_to_one_that_has_it(tmp_path: Path) -> None:
    """Two workers on one database; only the first has the user's task file. The second says so
    once, serves the other study, and fails nothing; the first finishes the user's study."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    env = procs.sweeper_env(url)
    with_code, without = tmp_path / "has-code", tmp_path / "no-code"
    with_code.mkdir()
    without.mkdir()
    (with_code / "my_task.py").write_text(USER_TASK)
    assert procs.run(["launch", "my_task.py", "--trials", "6", "--pruner", "none", "--sampler", "random"], env,
                     cwd=with_code).returncode == 0
    assert procs.run(["launch", SLEEP, "--study-name", "other", "--trials", "8", "--epochs", "1", "--pruner", "none",
                      "--sampler", "random", "--option", "seconds=0.5"], env, cwd=with_code).returncode == 0
    second = procs.start(["worker"], env, tmp_path / "second.log", cwd=without)
    first = procs.start(["worker", "--study", "mine"], env, tmp_path / "first.log", cwd=with_code)
    assert second.wait(120) == 0, (tmp_path / "second.log").read_text()
    assert first.wait(120) == 0, (tmp_path / "first.log").read_text()
    log = (tmp_path / "second.log").read_text()
    assert log.count("cannot serve study mine") == 1, log
    assert "task file my_task.py not found" in log and "leaving its trials to workers that can" in log
    settings = Settings(storage=url)
    mine, other = _study(settings, "mine"), _study(settings, "other")
    assert [t.state for t in mine.trials] == [TrialState.COMPLETE] * 6  # nothing failed on the other machine
    assert {t.user_attrs["worker"] for t in mine.trials} == {f"{__import__('socket').gethostname()}:{first.pid}"}
    assert len(other.get_trials(states=(TrialState.COMPLETE,))) == 8
    assert any(t.user_attrs["worker"].endswith(f":{second.pid}") for t in other.trials)
    status = procs.run(["status"], env, cwd=with_code).stdout
    assert f"worker {__import__('socket').gethostname()}:{second.pid} cannot run it: task file my_task.py not found" in status


def test_a_worker_refuses_a_study_launched_with_other_task_code(tmp_path: Path) -> None:
    (tmp_path / "my_task.py").write_text(USER_TASK)
    settings = Settings(storage=f"sqlite:///{tmp_path / 's.db'}")
    launch(settings, "mine", SweepConfig.for_task("my_task.py", budget=2))
    (tmp_path / "my_task.py").write_text(USER_TASK.replace("0.3", "0.2"))  # the code changed since
    __import__("sweeper.tasks.loading", fromlist=["_LOADED"])._LOADED.clear()
    with pytest.raises(ConfigError, match=r"my_task.py differs from the code study mine was launched with \(fingerprint"):
        _run(settings)
    assert [t.state for t in _study(settings, "mine").trials] == [TrialState.WAITING] * 2  # as launched


def test_a_worker_stopped_while_loading_data_claims_no_trial(tmp_path: Path) -> None:
    """Ctrl-C arrives while the worker loads its data: it used to claim a trial anyway and fail it
    at once ("worker stopped by SIGINT"); now it stops with nothing claimed."""
    settings = Settings(storage=f"sqlite:///{tmp_path / 's.db'}")
    launch(settings, "s", SweepConfig.for_task("tests.support.interrupt_task", budget=2, pruner="none"))
    code, lines = _run(settings)
    assert code == 130, lines
    study = _study(settings, "s")
    # The queued baseline and first L1 trial (budget 2), untouched.
    assert [t.state for t in study.get_trials()] == [TrialState.WAITING] * 2, lines
