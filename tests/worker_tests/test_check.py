"""`sweeper check`: the dry run of the examples, read from its output, and its warnings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sweeper.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.slow
def test_check_of_the_digits_example_reports_what_a_sweep_needs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(EXAMPLES / "digits.py")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^task digits \(file: .*digits.py, fingerprint [0-9a-f]{16}\)$", out, re.M), out
    assert re.search(r"train +x \(\d+, 64\) float32, y \(\d+,\) int32", out)
    for penalty in ("none", "l1", "l2", "l1_l2"):
        line = next(line for line in out.splitlines() if line.strip().startswith(f"penalty={penalty} "))
        assert "params 85,002" in line and re.search(r"step \d+\.\d ms", line)
        assert ("penalised kernels 0/3" if penalty == "none" else "penalised kernels 3/3") in line
        assert "dropout 0.2,0.2" in line
    assert re.search(r"estimated epoch: \d+ steps x [\d.]+ ms \+ validation \d+ x [\d.]+ ms \+ \d+ ms per epoch = [\d.]+ s; "
                     r"a trial of 40 epochs = [\d.]+ (s|min) for one worker using all \d+ cores of this machine", out)
    assert out.rstrip().endswith("ok: ready to launch")


@pytest.mark.slow
def test_check_of_an_existing_model_sees_the_penalty_and_dropout_put_on_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(EXAMPLES / "digits_existing_model.py"), "--dropout-range", "0.1", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "learning rate the optimizer’s own" in out
    l2 = next(line for line in out.splitlines() if line.strip().startswith("penalty=l2 "))
    assert "penalised kernels 3/3" in l2 and "dropout 0.2,0.2" in l2  # the model's own 0.5 replaced
    assert "warning" not in out


@pytest.mark.slow
def test_a_model_without_dropout_gets_a_warning_not_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "nodrop.py").write_text((EXAMPLES / "digits.py").read_text().replace(
        "layers.Dropout(hp.dropout),", ""))
    assert main(["check", "nodrop.py", "--train-size", "100", "--penalties", "none", "l2"]) == 0
    out = capsys.readouterr().out
    assert "warning: no Dropout layer has the sampled rate 0.2 (rates: no Dropout layers)" in out
    assert "--dropout-range 0 0" in out and "ok with 1 warning(s)" in out


# A newcomer's tasks on scikit-learn's bundled data, and broken variants of them (issue #20).
CANCER = '''
from sweeper import Objective, Splits, Task, TaskDefaults

class Cancer(Task):
    name = "cancer"
    defaults = TaskDefaults(epochs=2, batch_size=32, learning_rate={lr})
    objective = Objective("auc")

    def load_data(self, request):
        import numpy as np
        from sklearn.datasets import load_breast_cancer
        x, y = load_breast_cancer(return_X_y=True)
        x = ((x - x.mean(0)) / x.std(0)) * {scale}
        x[{nan_rows}, 3] = np.nan
        return Splits.split(x.astype("float32"), y.astype("float32"), request)

    def build_model(self, hp, splits, learning_rate):
        import keras
        dense = lambda n, act: keras.layers.Dense(n, activation=act, kernel_regularizer=hp.kernel_regularizer())
        model = keras.Sequential([keras.Input((30,)), dense(32, "relu"), keras.layers.Dropout(hp.dropout), dense(1, "{act}")])
        model.compile(keras.optimizers.SGD(learning_rate), "{loss}", metrics=[keras.metrics.AUC(name="auc")])
        return model
'''


def _cancer(tmp_path: Path, variant: str, *, lr: float = 1e-2, scale: float = 1.0, nan_rows: str = "[]",
            act: str = "sigmoid", loss: str = "binary_crossentropy") -> str:
    path = tmp_path / f"cancer_{variant}.py"  # a file per variant: a loaded file is kept per process
    path.write_text(CANCER.format(lr=lr, scale=scale, nan_rows=nan_rows, act=act, loss=loss))
    return str(path)


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("sweeper: error: ") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.mark.slow
def test_check_refuses_what_cannot_train_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before, check printed "loss nan" for three probes, or nothing at all for losses of 1e6 to
    1e13, and still said "ok: ready to launch"."""
    assert main(["check", _cancer(tmp_path, "nan", nan_rows="[3, 50, 200]")]) == 2
    assert re.search(r"load_data returned unusable splits: NaN or infinite values in x_(train|val|test) \(\d\)",
                     _error_line(capsys))

    # Unscaled inputs and a huge learning rate: NaN within steps.
    assert main(["check", _cancer(tmp_path, "lr", lr=1e6, scale=1e3)]) == 2
    err = _error_line(capsys)
    assert re.search(r"the model built for penalty=none dropout=0.20 reached a non-finite training loss \(nan\) "
                     r"within 6 steps: every trial would diverge; lower the learning rate", err), err

    # Unscaled inputs through a linear output with mean squared error: finite but absurd.
    assert main(["check", _cancer(tmp_path, "mse", lr=1e-12, scale=1e4, act="linear", loss="mse"),
                 "--penalties", "none"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"warning: the training loss of penalty=none dropout=0.20 is [\d.]+e\+\d+ after 6 steps", out), out
    assert "ok with 1 warning(s)" in out


DIGITS_SHIFTED = '''
from sweeper import Splits, Task, TaskDefaults

class Shifted(Task):
    name = "shifted"
    defaults = TaskDefaults(epochs=1, batch_size=32)

    def load_data(self, request):
        from sklearn.datasets import load_digits
        x, y = load_digits(return_X_y=True)
        return Splits.split((x / 16).astype("float32"), y + 5, request)   # labels 5..14

    def build_model(self, hp, splits, learning_rate):
        import keras
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, activation="softmax",
                                  kernel_regularizer=hp.kernel_regularizer())])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model
'''


@pytest.mark.slow
def test_labels_beyond_the_output_units_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: TensorFlow's "Graph execution error: Detected at node compile_loss/...", cut before the cause."""
    (tmp_path / "shifted.py").write_text(DIGITS_SHIFTED)
    for command in ("check", "run"):
        assert main([command, str(tmp_path / "shifted.py"), "--storage", f"sqlite:///{tmp_path}/s.db"]) == 2
        assert "labels run from 5 to 14 but the model has 10 output units" in _error_line(capsys)
    assert not (tmp_path / "s.db").exists()  # nothing stored


@pytest.mark.slow
def test_check_of_a_regression_task_in_its_own_process_is_quiet(tmp_path: Path) -> None:
    """The four probes' short batches made TensorFlow print "triggered tf.function retracing"
    warnings between the lines of `sweeper check`."""
    import os
    import subprocess
    import sys

    (tmp_path / "diabetes.py").write_text(DIABETES)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("SWEEPER_DEBUG", None)
    done = subprocess.run([sys.executable, "-m", "sweeper", "check", "diabetes.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "retracing" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert "a continuous target" in done.stdout and "y (283,) float32" in done.stdout
    assert done.stdout.rstrip().endswith("ok: ready to launch"), done.stdout


DIABETES = '''
from sweeper import Objective, Splits, Task, TaskDefaults

class Diabetes(Task):
    name = "diabetes"
    defaults = TaskDefaults(epochs=2, batch_size=32, learning_rate=1e-2)
    objective = Objective("mae", "minimize")

    def load_data(self, request):
        from sklearn.datasets import load_diabetes
        x, y = load_diabetes(return_X_y=True)
        return Splits.split(x.astype("float32"), (y / 100).astype("float32"), request)

    def build_model(self, hp, splits, learning_rate):
        import keras
        dense = lambda n, act=None: keras.layers.Dense(n, activation=act, kernel_regularizer=hp.kernel_regularizer())
        model = keras.Sequential([keras.Input((10,)), dense(32, "relu"), keras.layers.Dropout(hp.dropout), dense(1)])
        model.compile(keras.optimizers.Adam(learning_rate), "mse", metrics=["mae"])
        return model
'''
