"""A synthetic task with a known truth, for running verdict scenarios through the real CLI
(``sweeper launch``, ``sweeper worker``, ``sweeper report``) as a user would: no Keras, each run's
validation accuracy per epoch is drawn from a world that looks like training, seeded by the
trial's seed so that repeat r of every configuration shares its seed's luck (the paired designs'
assumption, as on a real model).

A run's curve: the configuration's true mean curve (rises, peaks, declines: an overfitting peak),
plus the seed's shift (shared by every configuration: sd ``seed_sd``), plus the run's own offset
(sd ``pair_sd``/√2, so two runs of one seed differ by ``pair_sd``), plus per-epoch noise whose sd
differs by configuration. Scenarios (option ``scenario``):

- ``uneven``: no setting changes the expected score at any epoch; penalised and dropout runs have
  per-epoch noise of 1.0 pp against the baseline's 0.5 pp (what wins a maximum over epochs).
- ``collapse``: no gain anywhere; each weight penalty breaks the model above a λ (L1 and L1+L2
  around 1e-2, L2 around 1e-1), seed by seed: a run collapses to 0.10 with probability rising
  smoothly with λ (3 per decade on the logit scale), so near the break some seeds collapse and
  most do not. Paired sd 0.8 pp.
- ``diverge``: no effect; every configuration, the baseline too, diverges (a non-finite loss) on
  2% of runs.

``truth(scenario)`` gives the true mean gain of a point at its last epoch and with early stopping
(the oracle: each side's best expected epoch), mixtures included, a diverged run scored at 0.
"""

from __future__ import annotations

import math
import time
import zlib

import numpy as np

from sweeper import DataRequest, Hyperparams, Option, Splits, Task, TaskDefaults, TrainingResult, TrainingRun
from sweeper.errors import TrialDiverged

SCENARIOS = ("uneven", "collapse", "diverge")
COLLAPSE_AT = {"l1": 1e-2, "l2": 1e-1, "l1_l2": 1e-2}
COLLAPSED = 0.10
DIVERGE = 0.02


def mean_curve(epochs: int) -> np.ndarray:
    """The expected validation accuracy per epoch: up to about 0.70 by epoch 8, then overfitting."""
    e = np.arange(1, epochs + 1)
    return 0.45 + 0.27 * (1 - np.exp(-e / 3.0)) - 0.004 * np.maximum(0, e - 8)


def collapse_probability(group: str, x: float) -> float:
    if group not in COLLAPSE_AT:
        return 0.0
    return 1.0 / (1.0 + math.exp(-3.0 * (math.log10(x) - math.log10(COLLAPSE_AT[group]))))


def group_x(hp: Hyperparams) -> tuple[str, float]:
    if hp.penalty == "none":
        return ("baseline", 0.0) if hp.dropout == 0 else ("dropout", round(hp.dropout, 6))
    return hp.penalty, float(hp.lam)


def truth(scenario: str, epochs: int):  # type: ignore[no-untyped-def]
    """(group, x) -> (true mean gain at the last epoch, true gain with early stopping on both sides)."""
    curve = mean_curve(epochs)

    def gain(group: str, x: float) -> tuple[float, float]:
        if scenario != "collapse" or group == "baseline":
            return 0.0, 0.0
        p = collapse_probability(group, x)
        last = (1 - p) * curve[-1] + p * COLLAPSED
        best = max((1 - p) * c + p * COLLAPSED for c in curve)
        return float(last - curve[-1]), float(best - curve.max())

    return gain


class Synthetic(Task):
    name = "synthetic"
    dataset = "none (a simulated learning curve with a known truth)"
    model = "none"
    uses_keras = False
    defaults = TaskDefaults(epochs=12, batch_size=1, learning_rate=None)
    options = {
        "scenario": Option("uneven", "uneven | collapse | diverge"),
        "seed_sd": Option(0.02, "sd of a seed's shift, shared by every configuration", minimum=0.0),
        "pair_sd": Option(0.015, "sd of the difference of two runs of one seed", minimum=0.0),
        # The soak (bench/soak.py) gives trials a length, so that workers die mid-trial.
        "epoch_seconds": Option(0.0, "seconds to sleep per epoch (no effect on the values)", minimum=0.0),
    }

    def check_options(self, options) -> None:  # type: ignore[no-untyped-def]
        if options["scenario"] not in SCENARIOS:
            raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}")

    def load_data(self, request: DataRequest) -> Splits:
        empty = np.zeros(1)
        return Splits(empty, empty, empty, empty, empty, empty, num_classes=1, meta=dict(request.options))

    def train(self, hp: Hyperparams, splits: Splits, run: TrainingRun) -> TrainingResult:
        meta = splits.meta
        scenario = meta["scenario"]
        pair_sd = 0.008 if scenario == "collapse" else float(meta["pair_sd"])
        group, x = group_x(hp)
        seed = int(run.seed or 0)
        shift = float(np.random.default_rng(seed).normal(0, float(meta["seed_sd"])))
        rng = np.random.default_rng([seed, zlib.crc32(f"{group}:{x:.6g}".encode())])
        epoch_sd = 0.01 if scenario == "uneven" and group != "baseline" else 0.005
        curve = mean_curve(run.epochs) + shift + rng.normal(0, pair_sd / math.sqrt(2)) + rng.normal(0, epoch_sd, run.epochs)
        if scenario == "collapse" and rng.random() < collapse_probability(group, x):
            curve = COLLAPSED + rng.normal(0, 0.005, run.epochs)
        diverge_at = int(rng.integers(1, run.epochs + 1)) if scenario == "diverge" and rng.random() < DIVERGE else None
        result = run.result
        for epoch, value in enumerate(curve):
            time.sleep(float(meta["epoch_seconds"]))
            if diverge_at is not None and epoch + 1 == diverge_at:
                logs = {"loss": math.nan, "accuracy": math.nan, "val_loss": math.nan, "val_accuracy": math.nan}
                result.record_epoch(epoch, logs, tuple(logs))
                raise TrialDiverged(f"non-finite loss at epoch {epoch + 1}")
            v = float(np.clip(value, 0.0, 1.0))
            logs = {"loss": 1 - v, "accuracy": v, "val_loss": 1 - v, "val_accuracy": v}
            result.record_epoch(epoch, logs, tuple(logs))
            run.report(epoch, logs)
        v = float(np.clip(curve[-1], 0.0, 1.0))
        result.final = {"train_accuracy": v, "train_loss": 1 - v, "val_accuracy": v, "val_loss": 1 - v}
        return result
