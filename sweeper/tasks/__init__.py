"""Tasks: the public task API (``api``, ``data``), finding and validating a task by its reference
(``loading``), fetching its data (``datasets`` of the package, through ``load_splits``), putting a
sampled penalty on a model handed over unchanged (``regularize``), and the dry run (``check``)."""

from __future__ import annotations

from sweeper.tasks.api import Description, Objective, Option, Task, TaskDefaults, TrainingRun
from sweeper.tasks.data import DataRequest, Splits
from sweeper.tasks.loading import BUILTIN, ENTRY_POINT_GROUP, LoadedTask, load_task, resolve_options

__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "DataRequest",
    "Description",
    "LoadedTask",
    "Objective",
    "Option",
    "Splits",
    "Task",
    "TaskDefaults",
    "TrainingRun",
    "load_task",
    "resolve_options",
]
