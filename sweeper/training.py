"""The training loop of one trial, in Keras 3 APIs only, so any Keras backend runs it.

``fit`` trains a compiled model, calls ``on_epoch(epoch, logs)`` after each epoch (the worker reports
to Optuna there and may raise ``optuna.TrialPruned``), stops at the first non-finite loss with
``TrialDiverged``, and returns what the report needs: per-epoch history, final metrics measured in
inference mode, and the fraction of near-zero kernel weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from sweeper.errors import TrialDiverged
from sweeper.results import HISTORY_KEYS, TrainingResult
from sweeper.tasks import Splits

NEAR_ZERO = 1e-3
# Train accuracy for the generalization gap is re-measured without dropout on this many samples.
GAP_SAMPLES = 5000


class _EpochLog(keras.callbacks.Callback):
    def __init__(self, result: TrainingResult, on_epoch: Callable[[int, dict[str, float]], None] | None):
        super().__init__()
        self.result = result
        self.on_epoch = on_epoch

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = {k: float(v) for k, v in (logs or {}).items()}
        for key in HISTORY_KEYS:
            value = logs.get(key, math.nan)
            self.result.history[key].append(value if math.isfinite(value) else None)
        self.result.epochs_run = epoch + 1
        if not all(math.isfinite(logs.get(k, 0.0)) for k in ("loss", "val_loss")):
            self.result.diverged_at = epoch + 1
            self.model.stop_training = True
            return
        if self.on_epoch is not None:
            self.on_epoch(epoch, logs)


def fit(
    model: keras.Model,
    splits: Splits,
    *,
    epochs: int,
    batch_size: int,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    result: TrainingResult | None = None,
) -> TrainingResult:
    result = result or TrainingResult()
    start = time.perf_counter()
    try:
        model.fit(
            splits.x_train,
            splits.y_train,
            validation_data=(splits.x_val, splits.y_val),
            epochs=epochs,
            batch_size=batch_size,
            callbacks=[_EpochLog(result, on_epoch)],
            verbose=0,
        )
    finally:
        result.wall_time_s = time.perf_counter() - start
    if result.diverged_at is not None:
        raise TrialDiverged(f"non-finite loss at epoch {result.diverged_at}")
    result.final = final_metrics(model, splits, result, batch_size)
    result.sparsity = kernel_sparsity(model)
    result.wall_time_s = time.perf_counter() - start
    return result


def final_metrics(model: keras.Model, splits: Splits, result: TrainingResult, batch_size: int) -> dict[str, float]:
    n = min(len(splits.y_train), GAP_SAMPLES)
    train_loss, train_acc = _evaluate(model, splits.x_train[:n], splits.y_train[:n], batch_size)
    return {
        "train_loss": train_loss,
        "train_accuracy": train_acc,
        "val_loss": result.history["val_loss"][-1],
        "val_accuracy": result.history["val_accuracy"][-1],
    }


def _evaluate(model: keras.Model, x: Any, y: np.ndarray, batch_size: int) -> tuple[float, float]:
    scores = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
    return float(scores["loss"]), float(scores["accuracy"])


def evaluate_test(model: keras.Model, splits: Splits, batch_size: int) -> dict[str, float]:
    loss, acc = _evaluate(model, splits.x_test, splits.y_test, batch_size)
    return {"test_loss": loss, "test_accuracy": acc}


def kernel_sparsity(model: keras.Model, threshold: float = NEAR_ZERO) -> float:
    """Fraction of kernel weights (the penalised ones; not biases) with |w| < threshold."""
    near_zero = total = 0
    for variable in model.trainable_weights:
        if variable.path.rsplit("/", 1)[-1] not in ("kernel", "recurrent_kernel"):
            continue
        values = np.abs(keras.ops.convert_to_numpy(variable))
        near_zero += int((values < threshold).sum())
        total += values.size
    return near_zero / total if total else 0.0
