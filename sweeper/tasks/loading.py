"""Finding a task by the reference a user gives, and validating it once, when it is loaded.

A reference is one of:

- the name of a built-in case study (``cifar10``, ``imdb``, ``librispeech``) or of an entry point
  that an installed package registers; both are entry points of the ``sweeper.tasks`` group
  (``sweeper.tasks.entry_points``);
- a path to a ``.py`` file (``./my_task.py``), relative to the working directory or to a folder of
  ``SWEEPER_TASK_PATH``;
- an importable module, ``package.module``, or one object in it, ``package.module:Name`` (the
  working directory and ``SWEEPER_TASK_PATH`` are searched too).

Resolving it is ``sweeper.tasks.references``; the checks of the task's shape are
``sweeper.tasks.validation``. Every problem (a syntax error, an import error, a missing method, a
wrong attribute) is one ``TaskError`` line naming the file. The study stores the reference and a
fingerprint of the task's source (``sweeper.tasks.fingerprint``), and a worker whose code differs
refuses that study.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sweeper.errors import TaskError
from sweeper.tasks import references
from sweeper.tasks.api import Task
from sweeper.tasks.entry_points import entry_points, origin_of
from sweeper.tasks.fingerprint import fingerprint
from sweeper.tasks.validation import task_problem
from sweeper.tasks.where import shown


@dataclass(frozen=True)
class LoadedTask:
    """A validated task, with where it came from."""

    task: Task
    reference: str
    origin: str  # "built-in", "entry point of <dist>", "module" or "file"
    source: Path | None  # the file the reference names (or the module's file)
    fingerprint: str

    @property
    def where(self) -> str:
        """The file to name in messages, relative to the working directory when inside it."""
        if self.source is None:
            return f"task {self.reference!r}"
        return shown(self.source)

    @property
    def name(self) -> str:
        return self.task.name


# Tasks loaded by this process, by (reference, working directory, search path): like Python's own
# module cache, a task is imported and validated once per process.
_LOADED: dict[tuple[str, str, tuple[str, ...]], LoadedTask] = {}


def load_task(reference: str, search_path: Sequence[Path] = ()) -> LoadedTask:
    """The task a reference names, validated; ``TaskError`` (one line) otherwise."""
    key = (reference.strip(), os.getcwd(), tuple(map(str, search_path)))
    if key not in _LOADED:
        _LOADED[key] = _load(key[0], search_path)
    return _LOADED[key]


def _load(reference: str, search_path: Sequence[Path]) -> LoadedTask:
    if not reference:
        raise TaskError("no task given: name a built-in task, a .py file or a module (see `sweeper tasks`)")
    if references.is_file_reference(reference):
        return _validated(references.from_file(reference, search_path), reference, "file")
    entry = entry_points().get(reference)
    if entry is not None:
        origin = origin_of(entry)
        return _validated(references.from_entry_point(reference, entry, origin), reference, origin)
    return _validated(references.from_module(reference, search_path), reference, "module")


def _validated(found: references.Found, reference: str, origin: str) -> LoadedTask:
    problem = task_problem(found.task)
    if problem:
        raise TaskError(f"{found.where}: {problem}")
    return LoadedTask(found.task, reference, origin, found.source, fingerprint(found.task, found.source))
