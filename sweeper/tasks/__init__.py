"""Tasks: the contract between a user's model and sweeper, and the ground floor of the package
(it imports nothing of sweeper but ``settings`` and ``errors``).

- The public task API: ``api`` (``Task``, ``TaskDefaults``, ``Option``, ``Description``), with
  ``objective`` (``Objective``), ``run`` (``TrainingRun``), ``data`` (``DataRequest``, ``Splits``)
  and ``hyperparams`` (``Hyperparams`` and the one schema of a trial's stored params).
- Finding a task by its reference and validating it once: ``loading`` (``load_task``), with
  ``references`` (files, modules, entry points), ``entry_points`` (the ``sweeper.tasks`` group:
  the built-in case studies and installed packages), ``validation``, ``fingerprint`` and
  ``where`` (one-line errors naming the user's file); ``options`` (``resolve_options``);
  ``describe`` (what ``sweeper tasks`` lists).
- Running a task's code: ``invoke`` (its calls, its data fetched through ``archives``),
  ``training`` (sweeper's Keras loop), ``results`` (what a trial stores, written and read back),
  ``regularize`` (a sampled penalty put on a model handed over unchanged).

The dry run of ``sweeper check`` lives with the worker (``sweeper.worker.check``).
"""

from __future__ import annotations

from sweeper.tasks.api import Description, Objective, Option, Task, TaskDefaults, TrainingRun
from sweeper.tasks.data import DataRequest, Splits
from sweeper.tasks.entry_points import ENTRY_POINT_GROUP
from sweeper.tasks.hyperparams import Hyperparams
from sweeper.tasks.loading import LoadedTask, load_task
from sweeper.tasks.options import resolve_options

__all__ = [
    "ENTRY_POINT_GROUP",
    "DataRequest",
    "Description",
    "Hyperparams",
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
