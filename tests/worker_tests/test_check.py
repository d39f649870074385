"""`sweeper check`: the dry run of the examples, read from its output, and its warnings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sweeper.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.slow
def test_check_of_the_digits_example_reports_what_a_sweep_needs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(EXAMPLES / "digits.py"), "--epochs", "3"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^task digits \(file: .*digits.py, fingerprint [0-9a-f]{16}\)$", out, re.M), out
    assert re.search(r"^data loaded in [\d.]+ s, 10 classes$", out, re.M), out
    assert re.search(r"train +x \(\d+, 64\) float32, y \(\d+,\) int32", out)
    for penalty in ("none", "l1", "l2", "l1_l2"):
        line = next(line for line in out.splitlines() if line.strip().startswith(f"penalty={penalty} "))
        assert "params 85,002" in line and re.search(r"step \d+\.\d ms", line)
        assert ("penalised kernels 0/3" if penalty == "none" else "penalised kernels 3/3") in line
        assert "dropout 0.2,0.2" in line
    estimate = re.search(r"estimated epoch: \d+ steps x [\d.]+ ms \+ validation \d+ x [\d.]+ ms \+ \d+ ms per epoch = "
                         r"([\d.]+) s; a trial of 3 epochs = ([\d.]+) s \(with ([\d.]+) s to build and trace the model and "
                         r"[\d.]+ s to re-score the training split\) for one worker using all \d+ cores of this machine", out)
    assert estimate, out
    # Issue 27: this read "a trial of 3 epochs = 0 s"; a trial also builds and traces its model.
    epoch, trial, setup = (float(v) for v in estimate.groups())
    assert setup > 0 and trial >= setup + 3 * epoch - 0.1
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


# The degenerate data of issue 27: a tiny data set, string labels, one-hot labels, a model at chance.
TINY = '''
from sweeper import Splits, Task, TaskDefaults

class Tiny(Task):
    name = "tiny"
    defaults = TaskDefaults(epochs=1, batch_size=16, learning_rate={lr})

    def load_data(self, request):
        import numpy as np
        from sklearn.datasets import load_digits
        x, y = load_digits(return_X_y=True)
        x, y = x[:{n}] / {divide}, y[:{n}]
        y = {labels}
        return Splits.split(x.astype("float32"), y, request)

    def build_model(self, hp, splits, learning_rate):
        import keras
        dense = lambda n, act: keras.layers.Dense(n, activation=act, kernel_regularizer=hp.kernel_regularizer())
        model = keras.Sequential([keras.Input((64,)), dense(32, "relu"), keras.layers.Dropout(hp.dropout),
                                  dense(splits.num_classes, "softmax")])
        model.compile(keras.optimizers.{optimizer}(learning_rate), "{loss}", metrics=["accuracy"])
        return model
'''


def _tiny(tmp_path: Path, variant: str, *, n: int = 1797, labels: str = "y", loss: str = "sparse_categorical_crossentropy",
          lr: float = 1e-2, optimizer: str = "Adam", divide: float = 16.0) -> str:
    path = tmp_path / f"tiny_{variant}.py"
    path.write_text(TINY.format(n=n, labels=labels, loss=loss, lr=lr, optimizer=optimizer, divide=divide))
    return str(path)


@pytest.mark.slow
def test_a_validation_split_too_small_for_the_margin_is_a_warning_with_numbers(tmp_path: Path,
                                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 27: 30 samples (an 18/6/6 split) got "ok: ready to launch"; one validation image was 16.7 pp."""
    assert main(["check", _tiny(tmp_path, "small", n=30), "--penalties", "none", "l2"]) == 0
    out = capsys.readouterr().out
    found = re.search(r"warning: the validation split has (\d+) samples: one sample is worth ([\d.]+) pp of accuracy, "
                      r"more than the 1 pp margin, so trials are ranked by single samples; give the sweep at least 100 "
                      r"validation samples", out)
    assert found, out
    assert float(found[2]) == pytest.approx(100 / int(found[1]), abs=0.05)
    assert "ok with" in out and "Traceback" not in out


@pytest.mark.slow
def test_string_labels_are_encoded_and_the_names_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 27: "cat"/"dog" made check exit 2 with TensorFlow's "UnimplementedError: Graph execution error"."""
    labels = 'np.where(y % 2 == 0, "dog", "cat")'
    assert main(["check", _tiny(tmp_path, "str", labels=labels), "--penalties", "none", "l2"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^data loaded in [\d.]+ s, 2 classes$", out, re.M), out
    assert "class names encoded as numbers (in splits.meta['classes']): 0 = 'cat', 1 = 'dog'" in out
    assert out.rstrip().endswith("ok: ready to launch"), out


@pytest.mark.slow
def test_one_hot_labels_are_recognised_and_refused_for_a_sparse_loss_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 27: one-hot labels were "a continuous target", split without stratification, and failed
    with Keras's raw rank message."""
    labels = "np.eye(10, dtype='float32')[y]"
    assert main(["check", _tiny(tmp_path, "sparse", labels=labels), "--penalties", "none"]) == 2
    err = _error_line(capsys)
    assert re.search(r"the labels are one-hot \(shape \(\d+, 10\)\) but the model's loss sparse_categorical_crossentropy "
                     r"takes class numbers: pass y.argmax\(axis=1\) to Splits.split, or compile with categorical_crossentropy",
                     err), err
    assert main(["check", _tiny(tmp_path, "onehot", labels=labels, loss="categorical_crossentropy"),
                 "--penalties", "none"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^data loaded in [\d.]+ s, one-hot labels of 10 classes$", out, re.M), out


@pytest.mark.slow
def test_probes_that_stay_at_chance_are_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 27: unscaled digits at learning rate 50 finish every trial at chance (0.10), unwarned."""
    assert main(["check", _tiny(tmp_path, "chance", lr=50.0, optimizer="SGD", divide=1.0),
                 "--penalties", "none", "l2"]) == 0
    out = capsys.readouterr().out
    found = re.search(r"warning: every probe model stays at chance: accuracy ([\d.]+) on validation, no better than "
                      r"always answering the most common class \(([\d.]+)\), and the training loss did not fall", out)
    assert found, out
    assert float(found[1]) <= float(found[2]) < 0.2
