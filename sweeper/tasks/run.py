"""What ``Task.train`` is handed for one trial (a ``TrainingRun``): shared by the task API and
sweeper's own Keras training loop, which imports it from here rather than from the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sweeper.tasks.objective import Objective

if TYPE_CHECKING:
    from sweeper.tasks.results import TrainingResult


@dataclass
class TrainingRun:
    """What ``Task.train`` is handed for one trial. ``report(epoch, logs)`` must be called after
    every epoch with Keras-style logs holding the objective's key: it reports to the study and may
    raise ``optuna.TrialPruned`` (let it propagate) or stop the trial."""

    epochs: int
    batch_size: int
    learning_rate: float | None
    objective: Objective
    report: Callable[[int, dict[str, float]], None]
    result: TrainingResult
    # The trial's training seed (Keras is seeded with it before ``train``; a task with its own
    # loop and ``uses_keras = False`` seeds its own randomness from it, so that repeat r of every
    # configuration shares it, as the planned designs' paired comparisons assume).
    seed: int | None = None
