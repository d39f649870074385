"""sweeper: regularization sweeps for Keras models, stored in Optuna studies.

The public task API is importable from here (``from sweeper import Task, Splits, Hyperparams``),
and so is the sweep from Python (``sweeper.run``, ``sweeper.load``, returning a ``StudyReport``:
``sweeper.api``); the names are resolved on first use, so ``import sweeper`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "Task": "sweeper.tasks.api",
    "TaskDefaults": "sweeper.tasks.api",
    "Option": "sweeper.tasks.api",
    "Objective": "sweeper.tasks.api",
    "TrainingRun": "sweeper.tasks.api",
    "DataRequest": "sweeper.tasks.data",
    "Splits": "sweeper.tasks.data",
    "Hyperparams": "sweeper.tasks.hyperparams",
    "Archive": "sweeper.tasks.archives",
    "regularize": "sweeper.tasks.regularize",
    "TrainingResult": "sweeper.tasks.results",
    "run": "sweeper.api",
    "load": "sweeper.api",
    "StudyReport": "sweeper.report.model",
    "Verdict": "sweeper.report.model",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'sweeper' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
