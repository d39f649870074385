"""A fixed-length objective without Keras, for load tests and the coordination benchmark.

Each epoch sleeps ``seconds`` (option) and reports a deterministic score of the parameters, so
what is measured is sweeper's coordination (claiming, heartbeats, storage writes), not training.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from sweeper.results import TrainingResult
from sweeper.settings import Settings
from sweeper.space import Hyperparams
from sweeper.tasks import DataRequest, Splits, TaskDefaults

NAME = "sleep"
DATASET = "none (fixed-length objective)"
MODEL = "none"
USES_KERAS = False
DEFAULTS = TaskDefaults(epochs=1, batch_size=1, learning_rate=0.0, options={"seconds": 2.0})


def load_data(settings: Settings, request: DataRequest) -> Splits:
    empty = np.zeros(1)
    return Splits(empty, empty, empty, empty, empty, empty, num_classes=1,
                  meta={"seconds": float(request.option("seconds", 2.0))})


def score(hp: Hyperparams) -> float:
    """Peaks at lambda = 1e-3 and dropout = 0.2, like a plausible response curve."""
    lam_term = 0.0 if hp.penalty == "none" else -0.02 * (math.log10(hp.lam) + 3) ** 2 + 0.05
    return 0.7 + lam_term - 0.3 * (hp.dropout - 0.2) ** 2


def run_trial(hp: Hyperparams, splits: Splits, config: Any, on_epoch: Callable[[int, dict[str, float]], None],
              result: TrainingResult) -> TrainingResult:
    start = time.perf_counter()
    value = score(hp)
    for epoch in range(config.epochs):
        time.sleep(splits.meta["seconds"])
        logs = {"loss": 1 - value, "accuracy": value, "val_loss": 1 - value, "val_accuracy": value}
        for key, v in logs.items():
            result.history[key].append(v)
        result.epochs_run = epoch + 1
        on_epoch(epoch, logs)
    result.final = {"train_accuracy": value, "train_loss": 1 - value, "val_accuracy": value, "val_loss": 1 - value}
    result.wall_time_s = time.perf_counter() - start
    return result
