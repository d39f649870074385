"""A user's broken task at the command line: one line naming the problem and the file, exit 2,
and nothing stored (the database is not even created, or is left as it was)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sweeper.cli import main

HEADER = '''
import numpy as np
from sweeper import DataRequest, Hyperparams, Splits, Task, TaskDefaults

def blobs(n, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n).astype("int32")
    return (rng.normal(size=(n, 4)) + y[:, None]).astype("float32"), y

class Bad(Task):
    name = "bad"
    defaults = TaskDefaults(epochs=1, batch_size=16)

    def load_data(self, request):
        x, y = blobs(120)
        return Splits.split(x, y, request)

    def build_model(self, hp, splits, learning_rate):
        import keras
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax",
                                  kernel_regularizer=hp.kernel_regularizer()), keras.layers.Dropout(hp.dropout)])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model
'''

# (file name, what replaces or follows the good task, message, commands that must refuse it)
CASES = [
    ("syntax.py", "def broken(:\n", r"syntax.py has a syntax error at line \d+", ("launch", "run", "check")),
    ("no_build.py", "Bad.build_model = Task.build_model\n",
     r"no_build.py: Bad has no build_model: define build_model\(self, hp, splits, learning_rate\)", ("launch", "run", "check")),
    ("not_a_model.py", "Bad.build_model = lambda self, hp, splits, lr: 'a model'\n",
     r"not_a_model.py: build_model returned str, not a keras.Model", ("run", "check")),
    ("uncompiled.py", "Bad.build_model = lambda self, hp, splits, lr: __import__('keras').Sequential([__import__('keras').Input((4,)), __import__('keras').layers.Dense(3)])\n",
     r"uncompiled.py: build_model returned an uncompiled model", ("run", "check")),
    ("no_metric.py", textwrap.dedent('''
        _build = Bad.build_model
        def build(self, hp, splits, lr):
            model = _build(self, hp, splits, lr)
            model.compile("adam", "sparse_categorical_crossentropy", metrics=["sparse_top_k_categorical_accuracy"])
            return model
        Bad.build_model = build
        '''), r"no_metric.py: the model does not compute the objective metric 'accuracy'", ("run", "check")),
    ("load_raises.py", "def _load(self, request):\n    raise FileNotFoundError('/data/x.csv')\nBad.load_data = _load\n",
     r"load_raises.py: load_data raised FileNotFoundError: /data/x.csv \(load_raises.py, line \d+\)", ("run", "check")),
    ("labels.py", textwrap.dedent('''
        def _load(self, request):
            x, y = blobs(120)
            return Splits(x[:100], y[:99], x[100:], y[100:], x[100:], y[100:], num_classes=3)
        Bad.load_data = _load
        '''), r"labels.py: load_data returned unusable splits: the training split has 100 inputs but 99 labels", ("run", "check")),
    ("no_penalty.py", textwrap.dedent('''
        def build(self, hp, splits, lr):
            import keras
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
            model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
            return model
        Bad.build_model = build
        '''), r"no_penalty.py: build_model ignores the penalty: no kernel of the model built for penalty=l1", ("run", "check")),
]


@pytest.mark.slow
@pytest.mark.parametrize(("filename", "extra", "message", "commands"), CASES, ids=[c[0] for c in CASES])
def test_a_broken_task_is_refused_before_anything_is_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], filename: str, extra: str, message: str, commands: tuple[str, ...]
) -> None:
    (tmp_path / filename).write_text(HEADER + "\n" + extra)
    for command in commands:
        args = [command, filename] + (["--trials", "2", "--workers", "1"] if command == "run" else [])
        assert main(args) == 2, command
        err = capsys.readouterr().err.strip()
        assert err.startswith("sweeper: error: ") and "\n" not in err and "Traceback" not in err, err
        assert __import__("re").search(message, err), (command, err)
        assert not (tmp_path / "sweeper.db").exists(), command


def test_an_unknown_option_is_one_line_and_leaves_the_stored_study(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "good.py").write_text(HEADER)
    assert main(["launch", "good.py", "--trials", "2"]) == 0
    before = (tmp_path / "sweeper.db").read_bytes()
    capsys.readouterr()
    for command in ("launch", "run", "check"):
        assert main([command, "good.py", "--option", "width=3"]) == 2
        err = capsys.readouterr().err.strip()
        assert err == "sweeper: error: unknown option 'width' for task bad: its options are none (see `sweeper tasks`)"
    assert (tmp_path / "sweeper.db").read_bytes() == before


def test_an_entry_point_naming_a_missing_object(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    info = tmp_path / "site" / "gone_tasks-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gone-tasks\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[sweeper.tasks]\ngone = gone_tasks_pkg:Task\n")
    (tmp_path / "site" / "gone_tasks_pkg").mkdir()
    (tmp_path / "site" / "gone_tasks_pkg" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for command in ("launch", "run", "check"):
        assert main([command, "gone"]) == 2
        err = capsys.readouterr().err.strip()
        assert "entry point 'gone' (entry point of gone-tasks) names gone_tasks_pkg:Task, which does not exist" in err
        assert "\n" not in err
    assert not (tmp_path / "sweeper.db").exists()
