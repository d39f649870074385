"""A task whose ``load_data`` sends SIGINT to its own process, as Ctrl-C does while a worker is
still loading data, before it has claimed a trial. Without Keras."""

from __future__ import annotations

import os
import signal

import numpy as np

from sweeper import DataRequest, Hyperparams, Splits, Task, TaskDefaults, TrainingResult, TrainingRun


class Interrupt(Task):
    name = "interrupt"
    uses_keras = False
    defaults = TaskDefaults(epochs=1, batch_size=1, learning_rate=None)

    def load_data(self, request: DataRequest) -> Splits:
        os.kill(os.getpid(), signal.SIGINT)
        empty = np.zeros(1)
        return Splits(empty, empty, empty, empty, empty, empty)

    def train(self, hp: Hyperparams, splits: Splits, run: TrainingRun) -> TrainingResult:
        logs = {"loss": 0.5, "accuracy": 0.5, "val_loss": 0.5, "val_accuracy": 0.5}
        run.result.record_epoch(0, logs, tuple(logs))
        run.report(0, logs)
        run.result.final = dict(logs)
        return run.result
