"""What `sweeper run` and `sweeper report` say when trials do not produce results, seen from real
processes: a study whose every trial diverged, a penalty type whose every trial raised, Ctrl-C in
the middle of a trial (issue #20: one line per problem, no traceback, every study reported)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from sweeper.cli import main
from tests.report_tests.known import known_study
from tests.support import procs

# Unscaled inputs and a learning rate of 10: every model diverges in its first epoch, the
# unregularized one too.
DIVERGING = '''
from sweeper import Objective, Splits, Task, TaskDefaults

class Diverging(Task):
    name = "diverging"
    defaults = TaskDefaults(epochs=2, batch_size=32, learning_rate=10.0)
    objective = Objective("mae", "minimize")

    def load_data(self, request):
        from sklearn.datasets import load_diabetes
        x, y = load_diabetes(return_X_y=True)
        return Splits.split(x.astype("float32") * 100, y.astype("float32"), request)

    def build_model(self, hp, splits, learning_rate):
        import keras
        dense = lambda n, act=None: keras.layers.Dense(n, activation=act, kernel_regularizer=hp.kernel_regularizer())
        model = keras.Sequential([keras.Input((10,)), dense(16, "relu"), keras.layers.Dropout(hp.dropout), dense(1)])
        model.compile(keras.optimizers.SGD(learning_rate), "mse", metrics=["mae"])
        return model
'''

# A classifier whose build_model raises for every L1 configuration (the probe of `sweeper run`
# builds L1+L2, which works).
NO_L1 = '''
from sweeper import Objective, Splits, Task, TaskDefaults

class NoL1(Task):
    name = "nol1"
    defaults = TaskDefaults(epochs=1, batch_size=64, learning_rate=1e-2)
    objective = Objective("auc")

    def load_data(self, request):
        from sklearn.datasets import load_breast_cancer
        x, y = load_breast_cancer(return_X_y=True)
        x = (x - x.mean(0)) / x.std(0)
        return Splits.split(x.astype("float32"), y.astype("float32"), request)

    def build_model(self, hp, splits, learning_rate):
        import keras
        if hp.penalty == "l1":
            raise ValueError("no L1 in this model")
        model = keras.Sequential([keras.Input((30,)), keras.layers.Dropout(hp.dropout),
                                  keras.layers.Dense(1, "sigmoid", kernel_regularizer=hp.kernel_regularizer())])
        model.compile(keras.optimizers.Adam(learning_rate), "binary_crossentropy", metrics=[keras.metrics.AUC(name="auc")])
        return model
'''


def _no_traceback(output: str) -> None:
    assert "Traceback" not in output and "Shutdown" not in output, output
    assert not re.search(r"^\[W \d{4}", output, re.M), output  # Optuna's "[W ...] Trial N failed"


@pytest.mark.slow
def test_a_study_whose_every_trial_diverged_is_reported_and_never_blocks_the_others(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: `run` printed "3/3 finished", then exited 7 with "study has no finished trials yet
    ... run `sweeper worker`"; `sweeper report` then wrote nothing for the healthy studies."""
    (tmp_path / "diverging.py").write_text(DIVERGING)
    storage = f"sqlite:///{tmp_path / 'sweeper.db'}"
    env = procs.sweeper_env(storage)
    done = procs.run(["run", "diverging.py", "--trials", "3", "--workers", "1"], env, timeout=300, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    _no_traceback(output)
    assert "note: Every trial diverged (a NaN or infinite loss), all 3 of them, the unregularized baseline" in done.stdout
    assert "look at the learning rate" in done.stdout.lower() or "Look at the learning rate" in done.stdout
    # The closing progress line once, not twice.
    assert len(re.findall(r"^\[diverging\] 3/3 finished .*done$", done.stdout, re.M)) == 1, done.stdout
    page = (tmp_path / "reports" / "diverging.html").read_text()
    assert "Every trial diverged" in page and "diverged: non-finite loss at epoch 1" in page

    # A healthy study beside it, and a third launched but not started: `report` writes the two.
    known_study("healthy", optuna.storages.RDBStorage(storage))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SWEEPER_STORAGE", storage)
    assert main(["launch", "diverging.py", "--study-name", "waiting", "--trials", "2"]) == 0
    capsys.readouterr()
    assert main(["report", "--out", "all"]) == 0
    captured = capsys.readouterr()
    assert {p.name for p in (tmp_path / "all").glob("*.html")} == {"diverging.html", "healthy.html", "index.html"}
    assert "skipped waiting: no ended trials yet" in captured.err
    index = (tmp_path / "all" / "index.html").read_text()
    assert 'href="diverging.html"' in index and 'href="healthy.html"' in index and "Every trial diverged" in index

    # Reporting one study again keeps the other's entry in the index (item 7).
    assert main(["report", "healthy", "--out", "all"]) == 0
    index = (tmp_path / "all" / "index.html").read_text()
    assert 'href="diverging.html"' in index and "Every trial diverged" in index and 'href="healthy.html"' in index


@pytest.mark.slow
def test_trials_that_raise_are_one_line_each_and_a_penalty_type_without_results_is_named(tmp_path: Path) -> None:
    """Before: Optuna printed a traceback and "[W ...] Trial N failed" for each such trial, and
    nothing at the end said that L1 had produced no result at all."""
    (tmp_path / "nol1.py").write_text(NO_L1)
    storage = f"sqlite:///{tmp_path / 'sweeper.db'}"
    env = procs.sweeper_env(storage)
    launched = procs.run(["launch", "nol1.py", "--trials", "4"], env, cwd=tmp_path)
    assert launched.returncode == 0, launched.stderr
    study = optuna.load_study(study_name="nol1", storage=storage)
    # After the queued baseline: two L1 configurations, then an L2 one, which ends the run of
    # failures (a worker stops after 5 failures in a row: only sampled L1s could make them 5).
    for penalty, dropout in (("l1", 0.1), ("l1", 0.2), ("l2", 0.1)):
        study.enqueue_trial({"penalty": penalty, "lambda": 1e-3, "dropout": dropout})
    done = procs.run(["run", "nol1.py", "--trials", "4", "--workers", "1"], env, timeout=300, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    _no_traceback(output)
    failed = re.findall(r"^\[worker 0\] nol1 trial \d+ fail penalty=l1 .*\(ValueError: no L1 in this model\)$",
                        done.stdout, re.M)
    assert len(failed) >= 2, done.stdout
    assert re.search(rf"^note: L1: none of its {len(failed)} trials produced a result \({len(failed)} failed, all "
                     r"with ValueError: no L1 in this model\), so this report says nothing about it$", done.stdout, re.M), done.stdout
    assert "L1: none of its" in (tmp_path / "reports" / "nol1.html").read_text()


@pytest.mark.slow
def test_ctrl_c_mid_trial_is_one_line_per_worker(tmp_path: Path) -> None:
    """SIGINT to the process group of `sweeper run`, as a terminal's Ctrl-C sends it. Before, each
    worker printed Optuna's traceback ending in `sweeper.worker.trial.Shutdown: SIGINT`."""
    storage = f"sqlite:///{tmp_path / 'sweeper.db'}"
    env = procs.sweeper_env(storage)
    log = tmp_path / "run.log"
    with open(log, "wb") as handle:
        proc = subprocess.Popen([sys.executable, "-m", "sweeper", "run", "tests.support.sleep_task", "--trials", "4",
                                 "--workers", "2", "--option", "seconds=30"], env=env, stdout=handle,
                                stderr=subprocess.STDOUT, cwd=procs.REPO, start_new_session=True)
    try:
        procs.wait_until(lambda: re.search(r"\| 2 running \|", log.read_text()), 120, "two trials running")
        time.sleep(1)
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    output = log.read_text()
    _no_traceback(output)
    assert len(re.findall(r"^\[worker [01]\] stopped by SIGINT; trial \d+ failed and re-queued$", output, re.M)) == 2, output
