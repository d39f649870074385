"""The registry of case studies and the shape every ``studies/<name>.py`` module has.

A case study module defines:

- ``NAME``, ``DATASET``, ``MODEL`` (one line each, shown by ``sweeper studies``) and ``DEFAULTS``
  (a ``TaskDefaults``);
- ``load_data(settings, request) -> Splits``: download/prepare the data once per process;
- ``build_model(hp, splits, learning_rate) -> keras.Model``: a compiled model built from plain
  values (never from an Optuna trial), reporting ``accuracy`` as a metric;
- optionally ``extra_metrics(model, splits) -> dict[str, float]``, stored with each trial.

Keras is imported inside those functions so that listing tasks stays fast.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from sweeper.errors import ConfigError

# name -> module; a dotted module path also works for a user's own case study.
TASKS: dict[str, str] = {
    "cifar10": "studies.cifar10",
    "librispeech": "studies.librispeech",
    "imdb": "studies.imdb",
}


@dataclass(frozen=True)
class TaskDefaults:
    epochs: int
    batch_size: int
    learning_rate: float
    train_size: int | None = None
    val_fraction: float = 0.2
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DataRequest:
    """Everything the prepared data depends on; equal requests share one loaded copy."""

    train_size: int | None
    val_fraction: float
    seed: int
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)


@dataclass
class Splits:
    x_train: Any
    y_train: np.ndarray
    x_val: Any
    y_val: np.ndarray
    x_test: Any
    y_test: np.ndarray
    num_classes: int
    # Task-specific extras, e.g. the utterance of each validation window.
    meta: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return f"train {len(self.y_train)}, validation {len(self.y_val)}, test {len(self.y_test)}"

    def for_evaluation(self) -> Splits:
        """Train on train + validation and score on the test split (``sweeper evaluate``): the
        configuration is already chosen, so the test split selects nothing."""
        return Splits(
            x_train=_concat(self.x_train, self.x_val),
            y_train=np.concatenate([self.y_train, self.y_val]),
            x_val=self.x_test,
            y_val=self.y_test,
            x_test=self.x_test,
            y_test=self.y_test,
            num_classes=self.num_classes,
            meta={**self.meta, "evaluation": True},
        )


def _concat(a: Any, b: Any) -> Any:
    if isinstance(a, np.ndarray):
        return np.concatenate([a, b])
    return list(a) + list(b)


def load_task(name: str) -> ModuleType:
    module_name = TASKS.get(name)
    if module_name is None and "." in name:
        module_name = name
    if module_name is None:
        raise ConfigError(f"unknown task {name!r}: choose one of {', '.join(TASKS)}")
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ConfigError(
                f"task {name!r} names module {module_name!r}, which cannot be imported: "
                f"choose one of {', '.join(TASKS)}"
            ) from None
        raise


def required_archives(module: ModuleType, request: DataRequest) -> list[Any]:
    """The archives a task's ``load_data`` will read: ``archives(request)`` or ``ARCHIVE``."""
    if hasattr(module, "archives"):
        return list(module.archives(request))
    return [module.ARCHIVE] if hasattr(module, "ARCHIVE") else []


def task_defaults(name: str) -> TaskDefaults:
    return load_task(name).DEFAULTS


def describe_tasks() -> list[dict[str, Any]]:
    rows = []
    for name in TASKS:
        try:
            module = load_task(name)
        except ConfigError:
            continue
        rows.append(
            {
                "task": name,
                "dataset": module.DATASET,
                "model": module.MODEL,
                "defaults": dataclasses.asdict(module.DEFAULTS),
            }
        )
    return rows
