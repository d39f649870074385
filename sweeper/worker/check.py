"""``sweeper check TASK``: a dry run of a task before a sweep is launched on a fleet.

It loads and validates the task, checks its options, fetches its data files and loads its data,
then builds the model once per penalty type (with a dropout), and for each runs a few training
steps and an evaluation on a slice of the data. It reports what a user needs to size a sweep
(shapes, parameters, step time, an estimated epoch and trial time) and what would make the sweep
meaningless: a model that ignores the sampled penalty fails the check; one without a Dropout layer
at the sampled rate gets a warning. ``sweeper run`` runs the same probe on one model before it
stores anything. Nothing here touches a database. It lives with the worker, whose backend set-up
it reports, and is run by the CLI's ``check`` and ``run``.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sweeper.errors import TaskError
from sweeper.settings import Settings
from sweeper.study.config import SweepConfig
from sweeper.study.space import SearchSpace
from sweeper.tasks.api import Task
from sweeper.tasks.data import Splits, describe_inputs, describe_labels, is_one_hot, length, take
from sweeper.tasks.hyperparams import Hyperparams
from sweeper.tasks.invoke import call, fetch_files, load_splits
from sweeper.tasks.loading import LoadedTask

EVAL_BATCHES = 4
EPOCH_BATCHES = 8
# A probe loss above this is unscaled inputs or targets, or a learning rate that is too high.
HUGE_LOSS = 1e6


@dataclass(frozen=True)
class ModelProbe:
    hp: Hyperparams
    parameters: int
    step_s: float  # median of the timed training steps (the first, which traces, excluded)
    eval_step_s: float  # per validation batch beyond the first
    epoch_overhead_s: float | None  # what a fit epoch costs beyond its steps (callbacks, validation set-up)
    # Paid once per trial: building and compiling the model, tracing its training and evaluation.
    setup_s: float
    loss: float
    value: float  # the objective on the validation slice
    penalised: int  # kernels carrying the sampled penalty
    kernels: int
    dropout_rates: list[float]
    warnings: list[str] = field(default_factory=list)
    first_loss: float = math.nan  # the training loss after the first step


def probe_settings(space: SearchSpace) -> list[Hyperparams]:
    """One configuration per penalty type in the space, each with a dropout from its range and
    λ at the geometric middle of the λ range."""
    lam = math.sqrt(space.lambda_low * space.lambda_high)
    dropout = min(max(0.2, space.dropout_low), space.dropout_high)
    return [Hyperparams(penalty=p, lam=0.0 if p == "none" else lam, l1_ratio=0.5, dropout=dropout)
            for p in space.penalties]


def probe_model(loaded: LoadedTask, splits: Splits, config: SweepConfig, hp: Hyperparams, *, steps: int = 5,
                time_epochs: bool = False) -> ModelProbe:
    """Build the model for ``hp``, train ``steps`` batches and evaluate a validation slice; with
    ``time_epochs``, also time short ``fit`` epochs to learn what an epoch costs beyond its steps."""
    import keras

    from sweeper.tasks.regularize import dropout_rates, penalised_weights
    from sweeper.tasks.training import checked_model, missing_metric

    objective = config.goal
    keras.backend.clear_session()
    keras.utils.set_random_seed(config.seed)
    built = time.perf_counter()
    model = call(loaded, "build_model", lambda: checked_model(
        loaded.task.build_model(hp, splits, config.learning_rate), objective))
    setup = time.perf_counter() - built
    label_problem = labels_beyond_outputs(model, splits) or one_hot_for_sparse_loss(model, splits)
    if label_problem:
        raise TaskError(f"{loaded.where}: {label_problem}")
    batch = config.batch_size
    n_train = length(splits.y_train)
    step_times, loss, first_loss = [], math.nan, math.nan
    for i in range(steps + 1):
        start = (i * batch) % max(1, n_train - batch + 1)
        x, y = take(splits.x_train, slice(start, start + batch)), take(splits.y_train, slice(start, start + batch))
        began = time.perf_counter()
        logs = call(loaded, "the model's training step", lambda: model.train_on_batch(x, y, return_dict=True))
        if i:  # the first step traces and compiles the graph
            step_times.append(time.perf_counter() - began)
        else:
            setup += time.perf_counter() - began
        loss = float(logs["loss"])
        first_loss = loss if i == 0 else first_loss
    if not math.isfinite(loss):
        raise TaskError(
            f"{loaded.where}: the model built for {hp.describe()} reached a non-finite training loss "
            f"({loss}) within {steps + 1} steps: every trial would diverge; lower the learning rate or "
            "scale the inputs"
        )
    n_val = min(length(splits.y_val), EVAL_BATCHES * batch)
    x_val, y_val = take(splits.x_val, slice(0, n_val)), take(splits.y_val, slice(0, n_val))
    one_x, one_y = take(x_val, slice(0, batch)), take(y_val, slice(0, batch))

    def evaluate(x: Any, y: Any) -> tuple[float, dict[str, float]]:
        began = time.perf_counter()
        scores = call(loaded, "the model's evaluation",
                      lambda: model.evaluate(x, y, batch_size=batch, verbose=0, return_dict=True))
        return time.perf_counter() - began, scores

    traced, _ = evaluate(one_x, one_y)  # traces the evaluation graph
    one, _ = evaluate(one_x, one_y)
    setup += max(0.0, traced - one)
    full, scores = evaluate(x_val, y_val)
    batches = max(1, math.ceil(n_val / batch))
    # Per batch beyond the first; the first carries evaluate()'s fixed cost, paid once per epoch.
    # Per batch beyond the first (clamped: on a busy machine the two timings can cross).
    eval_s = max(0.0, full - one) / (batches - 1) if batches > 1 else one
    step = statistics.median(step_times) if step_times else math.nan
    overhead = None
    if time_epochs:
        k = max(1, min(n_train // batch, EPOCH_BATCHES))
        epoch_times = _fit_epoch_times(model, take(splits.x_train, slice(0, k * batch)),
                                       take(splits.y_train, slice(0, k * batch)), x_val, y_val, batch)
        overhead = max(0.0, statistics.median(epoch_times) - k * step - batches * eval_s)
    if objective.metric not in scores:
        raise TaskError(f"{loaded.where}: {missing_metric(objective, scores)}")
    weights = penalised_weights(model, embeddings=False)
    penalised = [w for w in weights if w.l1 > 0 or w.l2 > 0]
    if hp.penalty != "none" and not penalised:
        raise TaskError(
            f"{loaded.where}: build_model ignores the penalty: no kernel of the model built for "
            f"{hp.describe()} carries a regularizer; pass kernel_regularizer=hp.kernel_regularizer() "
            "to its layers, or return sweeper.regularize(model, hp)"
        )
    rates = [rate for _, rate in dropout_rates(model)]
    warnings = []
    if loss > HUGE_LOSS:
        warnings.append(
            f"the training loss of {hp.describe()} is {loss:.3g} after {steps + 1} steps: unscaled inputs "
            "or targets, or a learning rate that is too high, make such trials diverge; scale them first"
        )
    if hp.dropout > 0 and not any(math.isclose(r, hp.dropout) for r in rates):
        warnings.append(
            f"no Dropout layer has the sampled rate {hp.dropout:g} (rates: {rates or 'no Dropout layers'}): "
            "use hp.dropout in the model, or launch with --dropout-range 0 0 to search penalties only"
        )
    if hp.penalty != "none" and len(penalised) < len(weights):
        unpenalised = [f"{w.layer}/{w.weight}" for w in weights if not (w.l1 > 0 or w.l2 > 0)]
        warnings.append(f"kernels without the penalty: {', '.join(unpenalised)}")
    return ModelProbe(hp, int(model.count_params()), step, eval_s, overhead, setup, loss,
                      float(scores[objective.metric]), len(penalised), len(weights), rates, warnings, first_loss)


def labels_beyond_outputs(model: Any, splits: Splits) -> str | None:
    """Integer labels outside the output units of a single-output classifier (labels 5..14 for 10
    units), which TensorFlow reports only as a graph execution error deep in its loss."""
    outputs = getattr(model, "outputs", None) or []
    if len(outputs) != 1:
        return None
    units = outputs[0].shape[-1]
    if not isinstance(units, int) or units < 2:
        return None
    found = []
    for y in (splits.y_train, splits.y_val, splits.y_test):
        labels = np.asarray(y)
        if labels.size and labels.dtype.kind in "biuf" and (labels.ndim == 1 or labels.shape[-1] == 1):
            found.append(labels)
    if not found:
        return None
    labels = np.concatenate([f.ravel() for f in found])
    if not np.isfinite(labels).all() or not (labels == np.round(labels)).all():
        return None
    low, high = labels.min(), labels.max()
    if high < units and low >= 0:
        return None
    return (f"labels run from {low:g} to {high:g} but the model has {units} output units (one per class "
            f"0..{units - 1}): number the classes from 0, or give the last layer {int(high) + 1} units "
            "(splits.num_classes)")


def one_hot_for_sparse_loss(model: Any, splits: Splits) -> str | None:
    """One-hot labels given to a sparse loss, which takes class numbers: Keras says only that the
    ranks differ, deep in its graph."""
    labels = np.asarray(splits.y_train)
    loss = getattr(model, "loss", None)
    name = loss if isinstance(loss, str) else getattr(loss, "name", None) or getattr(loss, "__name__", "")
    if not (isinstance(name, str) and "sparse" in name.lower() and is_one_hot(labels)):
        return None
    return (f"the labels are one-hot (shape {labels.shape}) but the model's loss {name} takes class numbers: "
            "pass y.argmax(axis=1) to Splits.split, or compile with categorical_crossentropy")


def _fit_epoch_times(model: Any, x: Any, y: Any, x_val: Any, y_val: Any, batch: int) -> list[float]:
    """Wall time of fit epochs 2 and 3 on a slice (the first traces the graphs)."""
    import keras

    class Clock(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.times: list[float] = []
            self.began = 0.0

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.began = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.times.append(time.perf_counter() - self.began)

    clock = Clock()
    model.fit(x, y, validation_data=(x_val, y_val), epochs=3, batch_size=batch, callbacks=[clock], verbose=0)
    return clock.times[1:]


def validate_for_launch(loaded: LoadedTask, config: SweepConfig, settings: Settings) -> None:
    """What ``sweeper run`` checks before storing anything: the data loads and one model, with a
    penalty and a dropout, builds, trains a step and computes the objective."""
    files = fetch_files(loaded, settings, config.options, verify=True)
    splits = load_splits(loaded, settings, config.data_request(), files)
    if loaded.task.uses_keras and type(loaded.task).build_model is not Task.build_model:
        hp = probe_settings(config.space)[-1]
        probe_model(loaded, splits, config, hp, steps=1)


def run_check(loaded: LoadedTask, config: SweepConfig, settings: Settings, out: Callable[[str], None] = print) -> int:
    """The dry run; prints as it goes and returns the number of warnings (errors raise)."""
    from sweeper.worker import backend

    task = loaded.task
    out(f"task {task.name} ({loaded.origin}: {loaded.where}, fingerprint {loaded.fingerprint})")
    if task.dataset or task.model:
        out(f"  data:  {task.dataset or '-'}\n  model: {task.model or '-'}")
    out(f"  sweep: {config.epochs} epochs, batch {config.batch_size}, learning rate "
        f"{config.learning_rate if config.learning_rate is not None else 'the optimizer’s own'}, objective "
        f"{config.goal.log_key} ({config.goal.direction})" + (f", options {config.options}" if config.options else ""))
    if task.uses_keras:
        out(f"  backend: {backend.configure(None, settings.debug)}")
    began = time.perf_counter()
    files = fetch_files(loaded, settings, config.options, verify=True)
    for name, path in files.items():
        out(f"  file:  {name} ({path})")
    splits = load_splits(loaded, settings, config.data_request(), files)
    out(f"data loaded in {time.perf_counter() - began:.1f} s, "
        f"{describe_labels(np.asarray(splits.y_train), splits.num_classes)}")
    if splits.meta.get("classes"):
        names = splits.meta["classes"]
        shown = ", ".join(f"{k} = {name!r}" for k, name in enumerate(names[:10])) + (", ..." if len(names) > 10 else "")
        out(f"  class names encoded as numbers (in splits.meta['classes']): {shown}")
    for line in describe_inputs(splits):
        out(f"  {line}")
    if not task.uses_keras or type(task).build_model is Task.build_model:
        out("the task has its own training loop (train): no model to probe; run one trial with `sweeper run`")
        return 0
    warnings: list[str] = data_warnings(splits, config)
    probes = []
    for i, hp in enumerate(probe_settings(config.space)):
        probe = probe_model(loaded, splits, config, hp, time_epochs=i == 0)
        probes.append(probe)
        out(f"  {hp.describe():<56} params {probe.parameters:,}  step {probe.step_s * 1000:.1f} ms  "
            f"loss {probe.loss:.3f}  {config.goal.metric} {probe.value:.3f}  "
            f"penalised kernels {probe.penalised}/{probe.kernels}  dropout {_rates(probe.dropout_rates)}")
        warnings += [w for w in probe.warnings if w not in warnings]
    n_train, n_val = length(splits.y_train), length(splits.y_val)
    step = statistics.median(p.step_s for p in probes)
    eval_step = statistics.median(p.eval_step_s for p in probes)
    overhead = probes[0].epoch_overhead_s or 0.0
    steps, val_batches = math.ceil(n_train / config.batch_size), math.ceil(n_val / config.batch_size)
    epoch = steps * step + val_batches * eval_step + overhead
    # Once per trial besides its epochs: building and tracing the model, and re-scoring the
    # training split without dropout at the end (sweeper.tasks.training).
    setup = statistics.median(p.setup_s for p in probes)
    rescore = steps * eval_step
    trial = setup + epoch * config.epochs + rescore
    out(f"estimated epoch: {steps} steps x {step * 1000:.1f} ms + validation {val_batches} x {eval_step * 1000:.1f} ms "
        f"+ {overhead * 1000:.0f} ms per epoch = {_duration(epoch)}; a trial of {config.epochs} epochs = "
        f"{_duration(trial)} (with {_duration(setup)} to build and trace the model and {_duration(rescore)} to "
        f"re-score the training split) for one worker using all {os.cpu_count()} cores of this machine")
    warnings += [w for w in chance_warnings(probes, splits, config) if w not in warnings]
    for warning in warnings:
        out(f"warning: {warning}")
    out("ok: ready to launch" if not warnings else f"ok with {len(warnings)} warning(s)")
    return len(warnings)


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.2f} s" if seconds < 0.1 else f"{seconds:.1f} s"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _is_accuracy(config: SweepConfig) -> bool:
    """An objective that is a share of samples classified right (where one sample has a price)."""
    goal = config.goal
    return goal.direction == "maximize" and "accuracy" in goal.metric


def data_warnings(splits: Splits, config: SweepConfig) -> list[str]:
    """What the data alone says about the sweep: a validation split so small that one sample
    is worth more than the margin a verdict resolves (1 pp unless --margin)."""
    n_val = length(splits.y_val)
    margin = config.margin if config.margin is not None else 0.01
    if not _is_accuracy(config) or not n_val or 1 / n_val <= margin:
        return []
    return [f"the validation split has {n_val} samples: one sample is worth {100 / n_val:.1f} pp of "
            f"{config.goal.metric}, more than the {100 * margin:g} pp margin, so trials are ranked by single "
            f"samples; give the sweep at least {math.ceil(1 / margin)} validation samples (more data, or a larger "
            "--val-fraction)"]


def chance_warnings(probes: list[ModelProbe], splits: Splits, config: SweepConfig) -> list[str]:
    """Probes whose accuracy is no better than always answering the most common class, while their
    training loss did not fall: if trials stay there, the sweep compares models that learn nothing."""
    labels = np.asarray(splits.y_val)
    if not _is_accuracy(config) or not len(labels):
        return []
    strata = labels.argmax(axis=1) if is_one_hot(labels) else labels.reshape(len(labels), -1)[:, 0]
    _, counts = np.unique(strata, return_counts=True)
    chance = counts.max() / len(strata)
    stuck = [p for p in probes if p.value <= chance + 1e-9 and not p.loss < p.first_loss]
    if not stuck or len(stuck) < len(probes):
        return []
    return [f"every probe model stays at chance: {config.goal.metric} {max(p.value for p in stuck):.3f} on validation, "
            f"no better than always answering the most common class ({chance:.3f}), and the training loss did not fall "
            f"({stuck[0].first_loss:.3g} -> {stuck[0].loss:.3g}); if trials stay there the sweep compares models that "
            "learn nothing: check the learning rate and the scaling of the inputs"]


def _rates(rates: list[float]) -> str:
    return ",".join(f"{r:g}" for r in rates) if rates else "none"
