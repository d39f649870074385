"""Calling a task the way a worker does, for the tests of the case studies and examples."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sweeper.tasks.results import TrainingResult
from sweeper.settings import Settings
from sweeper.tasks.hyperparams import Hyperparams
from sweeper.tasks import DataRequest, Objective, Splits, TrainingRun, load_task, resolve_options
from sweeper.tasks.invoke import load_splits


def load(reference: str, settings: Settings, train_size: int | None = None,
         options: Mapping[str, Any] | None = None, seed: int = 0) -> Splits:
    """The task's splits for a request, through sweeper's own path (files fetched, checked)."""
    loaded = load_task(reference)
    request = DataRequest(train_size, 0.2, seed, resolve_options(loaded, dict(options or {})))
    return load_splits(loaded, settings, request)


def build(reference: str, hp: Hyperparams, splits: Splits, learning_rate: float = 1e-3) -> Any:
    return load_task(reference).task.build_model(hp, splits, learning_rate)


def fit(model: Any, splits: Splits, *, epochs: int, batch_size: int, objective: Objective = Objective()) -> TrainingResult:
    from sweeper.tasks import training

    run = TrainingRun(epochs, batch_size, None, objective, report=lambda epoch, logs: None, result=TrainingResult())
    return training.fit(model, splits, run)
