"""A task whose training code mishandles the worker's stop signal, as library code can: the
worker's ``Shutdown`` is raised inside it (SIGTERM sent to the worker itself during the first
epoch) and the task either replaces it with an error of its own (``mode=replace``, as TensorFlow's
graph contexts do: "Nesting violated for default stack") or swallows it and returns early
(``mode=swallow``)."""

from __future__ import annotations

import os
import signal
import time

import numpy as np

from sweeper import DataRequest, Hyperparams, Option, Splits, Task, TaskDefaults, TrainingResult, TrainingRun


class Stop(Task):
    name = "stop"
    dataset = "none (for signal tests)"
    model = "none"
    uses_keras = False
    defaults = TaskDefaults(epochs=5, batch_size=1, learning_rate=None)
    options = {"mode": Option("replace", choices=("replace", "swallow"))}

    def load_data(self, request: DataRequest) -> Splits:
        empty = np.zeros(1)
        return Splits(empty, empty, empty, empty, empty, empty, num_classes=1, meta={"mode": request.options["mode"]})

    def train(self, hp: Hyperparams, splits: Splits, run: TrainingRun) -> TrainingResult:
        result = run.result
        logs = {"loss": 0.5, "accuracy": 0.5, "val_loss": 0.5, "val_accuracy": 0.5}
        result.record_epoch(0, logs, tuple(logs))
        result.final = {"train_accuracy": 0.5, "train_loss": 0.5, "val_accuracy": 0.5, "val_loss": 0.5}
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises here
        except KeyboardInterrupt:
            if splits.meta["mode"] == "replace":
                raise AssertionError("Nesting violated for default stack") from None
            return result  # swallowed: one epoch of five
        raise RuntimeError("the worker's SIGTERM handler did not interrupt the trial")
