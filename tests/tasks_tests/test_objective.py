"""A task's own objective (here: validation loss, minimized) reaches the study's direction, its
metric names (what optuna-dashboard shows), status, the worker's log and the report's labels."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from optuna.study import StudyDirection

from sweeper.cli import main
from sweeper.report import collect_report
from sweeper.report.series import gap_vs_lambda
from sweeper.settings import Settings
from sweeper.storage import open_storage

LOSS_TASK = '''
import numpy as np
from sweeper import Objective, Splits, Task, TaskDefaults

class Blobs(Task):
    name = "blobs-loss"
    objective = Objective("loss", "minimize", label="cross-entropy")
    defaults = TaskDefaults(epochs=2, batch_size=32, learning_rate=1e-2)

    def load_data(self, request):
        rng = np.random.default_rng(request.seed)
        y = rng.integers(0, 3, 300).astype("int32")
        x = (rng.normal(size=(300, 6)) + y[:, None]).astype("float32")
        return Splits.split(x, y, request)

    def build_model(self, hp, splits, learning_rate):
        import keras
        model = keras.Sequential([keras.Input((6,)),
                                  keras.layers.Dense(8, activation="relu", kernel_regularizer=hp.kernel_regularizer()),
                                  keras.layers.Dropout(hp.dropout),
                                  keras.layers.Dense(3, activation="softmax", kernel_regularizer=hp.kernel_regularizer())])
        model.compile(keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model
'''


@pytest.mark.slow
def test_a_minimized_loss_objective_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "loss_task.py").write_text(LOSS_TASK)
    assert main(["launch", "loss_task.py", "--trials", "4", "--pruner", "none", "--sampler", "random"]) == 0
    from sweeper.worker.loop import Worker

    lines: list[str] = []
    assert Worker(Settings(), None, sampler_seed=3, log=lines.append).run() == 0
    assert sum("val_loss=" in line for line in lines) == 4, lines
    study = optuna.load_study(study_name="blobs-loss", storage=open_storage(Settings()))
    assert study.direction == StudyDirection.MINIMIZE and study.metric_names == ["val_loss"]
    values = [t.value for t in study.trials]
    assert study.best_value == min(values)
    for t in study.trials:
        assert t.value == pytest.approx(t.user_attrs["history"]["val_loss"][-1])
        assert "train_loss" in t.user_attrs
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["objective"] == "val_loss" and row["direction"] == "minimize" and row["best_value"] == min(values)
    data = collect_report(study)
    best = data.best_per_group()
    assert all(p.value <= q.value for p in best.values() for q in data.by_state("complete") if q.group == p.group)
    # The gap of a minimized objective is validation minus train (positive: worse on unseen data).
    gaps = sorted(y for trace in gap_vs_lambda(data).traces for y in trace.y)
    penalised = [p for p in data.by_state("complete") if p.penalty != "none"]
    assert penalised and gaps == pytest.approx(sorted(p.val_loss - p.train_loss for p in penalised))
    assert main(["report", "blobs-loss", "--out", "out"]) == 0
    page = (tmp_path / "out" / "blobs-loss.html").read_text()
    assert "Validation cross-entropy vs λ" in page and "validation − train cross-entropy" in page
    assert "validation accuracy" not in page
