"""A fixed-length objective without Keras, for load tests and the coordination benchmark.

Each epoch sleeps ``seconds`` (option) and reports a deterministic score of the parameters, so
what is measured is sweeper's coordination (claiming, heartbeats, storage writes), not training.
It uses the task API's own training loop hook (``train``) and ``uses_keras = False``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from sweeper import DataRequest, Hyperparams, Option, Splits, Task, TaskDefaults, TrainingResult, TrainingRun


def score(hp: Hyperparams) -> float:
    """Peaks at lambda = 1e-3 and dropout = 0.2, like a plausible response curve."""
    lam_term = 0.0 if hp.penalty == "none" else -0.02 * (math.log10(hp.lam) + 3) ** 2 + 0.05
    return 0.7 + lam_term - 0.3 * (hp.dropout - 0.2) ** 2


class Sleep(Task):
    name = "sleep"
    dataset = "none (fixed-length objective)"
    model = "none"
    uses_keras = False
    defaults = TaskDefaults(epochs=1, batch_size=1, learning_rate=None)
    options = {
        "seconds": Option(2.0, "seconds per epoch", minimum=0.0),
        "fail_above": Option(1.0, "raise (the task's own fault) for dropout above this", minimum=0.0),
    }

    def load_data(self, request: DataRequest) -> Splits:
        empty = np.zeros(1)
        return Splits(empty, empty, empty, empty, empty, empty, num_classes=1,
                      meta={"seconds": request.options["seconds"], "fail_above": request.options["fail_above"]})

    def train(self, hp: Hyperparams, splits: Splits, run: TrainingRun) -> TrainingResult:
        if hp.dropout > splits.meta["fail_above"]:
            raise RuntimeError(f"dropout {hp.dropout} is above fail_above")
        result = run.result
        start = time.perf_counter()
        value = score(hp)
        for epoch in range(run.epochs):
            time.sleep(splits.meta["seconds"])
            logs = {"loss": 1 - value, "accuracy": value, "val_loss": 1 - value, "val_accuracy": value}
            result.record_epoch(epoch, logs, tuple(logs))
            run.report(epoch, logs)
        result.final = {"train_accuracy": value, "train_loss": 1 - value, "val_accuracy": value, "val_loss": 1 - value}
        result.wall_time_s = time.perf_counter() - start
        return result
