"""The training loop of one trial, in Keras 3 APIs only, so any Keras backend runs it.

``fit`` trains a compiled model, calls ``run.report(epoch, logs)`` after each epoch (the worker
reports to Optuna there and may raise ``optuna.TrialPruned``), stops at the first non-finite loss
with ``TrialDiverged``, and fills ``run.result`` with what the report needs: per-epoch history,
final metrics measured in inference mode, and the fraction of near-zero kernel weights.
"""

from __future__ import annotations

import math
import time
from typing import Any

import keras
import numpy as np

from sweeper.errors import TaskError, TrialDiverged
from sweeper.tasks.data import Splits, length, take
from sweeper.tasks.objective import Objective
from sweeper.tasks.results import TrainingResult, train_key
from sweeper.tasks.run import TrainingRun

NEAR_ZERO = 1e-3
# The train score for the generalization gap is re-measured without dropout on this many samples.
GAP_SAMPLES = 5000
PENALISED = ("kernel", "recurrent_kernel", "depthwise_kernel", "pointwise_kernel")


def checked_model(model: Any, objective: Objective) -> keras.Model:
    """``model`` if it is a compiled Keras model, else a ``TaskError`` saying what it is."""
    if not isinstance(model, keras.Model):
        raise TaskError(
            f"build_model returned {type(model).__name__}, not a keras.Model: return the compiled model"
        )
    if not model.compiled:
        raise TaskError(
            f"build_model returned an uncompiled model ({model.name}): call model.compile(optimizer, "
            f"loss, metrics=[{objective.metric!r}]) before returning it"
        )
    return model


def history_keys(objective: Objective) -> tuple[str, ...]:
    keys = ["loss", "val_loss", objective.metric, objective.log_key, "accuracy", "val_accuracy"]
    return tuple(dict.fromkeys(keys))


class _EpochLog(keras.callbacks.Callback):
    def __init__(self, run: TrainingRun):
        super().__init__()
        self.run = run
        self.keys = history_keys(run.objective)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = {k: float(v) for k, v in (logs or {}).items()}
        result = self.run.result
        result.record_epoch(epoch, logs, self.keys)
        if not all(math.isfinite(logs.get(k, 0.0)) for k in ("loss", "val_loss")):
            result.diverged_at = epoch + 1
            self.model.stop_training = True
            return
        if self.run.objective.log_key not in logs:
            raise missing_metric(self.run.objective, logs)
        self.run.report(epoch, logs)


def missing_metric(objective: Objective, logs: dict[str, Any]) -> TaskError:
    shown = ", ".join(k for k in logs if not k.startswith("val_")) or "none"
    return TaskError(
        f"the model does not compute the objective metric {objective.metric!r} (it logs: {shown}): "
        f"compile it with metrics=[{objective.metric!r}], or set the task's objective to one it logs"
    )


def fit(model: keras.Model, splits: Splits, run: TrainingRun) -> TrainingResult:
    result = run.result
    start = time.perf_counter()
    try:
        model.fit(
            splits.x_train,
            splits.y_train,
            validation_data=(splits.x_val, splits.y_val),
            epochs=run.epochs,
            batch_size=run.batch_size,
            callbacks=[_EpochLog(run)],
            verbose=0,
        )
    finally:
        result.wall_time_s = time.perf_counter() - start
    if result.diverged_at is not None:
        raise TrialDiverged(f"non-finite loss at epoch {result.diverged_at}")
    result.final = final_metrics(model, splits, result, run)
    result.sparsity = kernel_sparsity(model)
    result.wall_time_s = time.perf_counter() - start
    return result


def final_metrics(model: keras.Model, splits: Splits, result: TrainingResult, run: TrainingRun) -> dict[str, float]:
    """The objective on train (re-measured in inference mode, without dropout, on up to
    ``GAP_SAMPLES`` samples: the generalization gap) and on validation (the last epoch's)."""
    n = min(length(splits.y_train), GAP_SAMPLES)
    scores = model.evaluate(take(splits.x_train, slice(0, n)), take(splits.y_train, slice(0, n)),
                            batch_size=run.batch_size, verbose=0, return_dict=True)
    metric = run.objective.metric
    final = {
        train_key("loss"): float(scores["loss"]),
        train_key(metric): float(scores.get(metric, math.nan)),
        "val_loss": _last(result, "val_loss"),
        f"val_{metric}": _last(result, run.objective.log_key),
    }
    return {k: v for k, v in final.items() if v is not None}


def _last(result: TrainingResult, key: str) -> float | None:
    values = result.history.get(key) or [None]
    return values[-1]


def kernel_sparsity(model: keras.Model, threshold: float = NEAR_ZERO) -> float:
    """Fraction of kernel weights (the penalised ones; not biases) with |w| < threshold."""
    near_zero = total = 0
    for variable in model.trainable_weights:
        if variable.path.rsplit("/", 1)[-1] not in PENALISED:
            continue
        values = np.abs(keras.ops.convert_to_numpy(variable))
        near_zero += int((values < threshold).sum())
        total += values.size
    return near_zero / total if total else 0.0
