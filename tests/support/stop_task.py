"""A task whose training code mishandles the worker's stop signal, as library code can: the
worker's ``Shutdown`` is raised inside it (SIGTERM sent to the worker itself during the first
epoch) and the task either replaces it with an error of its own (``mode=replace``, as TensorFlow's
graph contexts do: "Nesting violated for default stack") or swallows it and returns early
(``mode=swallow``)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from sweeper.results import TrainingResult
from sweeper.settings import Settings
from sweeper.space import Hyperparams
from sweeper.tasks import DataRequest, Splits, TaskDefaults

NAME = "stop"
DATASET = "none (for signal tests)"
MODEL = "none"
USES_KERAS = False
DEFAULTS = TaskDefaults(epochs=5, batch_size=1, learning_rate=0.0, options={"mode": "replace"})


def load_data(settings: Settings, request: DataRequest) -> Splits:
    empty = np.zeros(1)
    return Splits(empty, empty, empty, empty, empty, empty, num_classes=1, meta={"mode": request.option("mode")})


def run_trial(hp: Hyperparams, splits: Splits, config: Any, on_epoch: Callable[[int, dict[str, float]], None],
              result: TrainingResult) -> TrainingResult:
    logs = {"loss": 0.5, "accuracy": 0.5, "val_loss": 0.5, "val_accuracy": 0.5}
    for key, value in logs.items():
        result.history[key].append(value)
    result.epochs_run = 1
    result.final = {"train_accuracy": 0.5, "train_loss": 0.5, "val_accuracy": 0.5, "val_loss": 0.5}
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises here
    except KeyboardInterrupt:
        if splits.meta["mode"] == "replace":
            raise AssertionError("Nesting violated for default stack") from None
        return result  # swallowed: one epoch of five
    raise RuntimeError("the worker's SIGTERM handler did not interrupt the trial")
