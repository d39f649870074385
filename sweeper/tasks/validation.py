"""A task's shape, checked once when it is loaded: its attributes and its methods' signatures.
Each problem is a phrase that says the fix."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

from sweeper.tasks.api import Objective, Option, Task, TaskDefaults

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
SIGNATURES: dict[str, tuple[str, ...]] = {
    "load_data": ("request",),
    "build_model": ("hp", "splits", "learning_rate"),
    "extra_metrics": ("model", "splits"),
    "archives": ("options",),
    "check_options": ("options",),
    "train": ("hp", "splits", "run"),
}


def task_problem(task: Task) -> str | None:
    """The first thing wrong with a task's shape, as a phrase with the fix, or None."""
    cls = type(task)
    label = cls.__name__
    if not isinstance(task.name, str) or not NAME.match(task.name):
        return (f"{label}.name is {task.name!r}: set name = 'my-task' (letters, digits, '.', '_', '-'; "
                "it names the study)")
    for attr in ("dataset", "model"):
        value = getattr(task, attr)
        if not isinstance(value, str) or "\n" in value:
            return f"{label}.{attr} must be one line of text, got {value!r}"
    checks: list[tuple[str, type, str]] = [
        ("defaults", TaskDefaults, "TaskDefaults(epochs=..., batch_size=...)"),
        ("objective", Objective, "Objective('accuracy', 'maximize')"),
    ]
    for attr, kind, example in checks:
        if not isinstance(getattr(task, attr), kind):
            return f"{label}.{attr} is a {type(getattr(task, attr)).__name__}: set {attr} = {example}"
    if not isinstance(task.options, Mapping) or not all(
        isinstance(k, str) and k.isidentifier() and isinstance(v, Option) for k, v in task.options.items()
    ):
        return f"{label}.options must map option names to sweeper.Option(default, ...), got {task.options!r}"
    if not isinstance(task.uses_keras, bool):
        return f"{label}.uses_keras must be True or False, got {task.uses_keras!r}"
    if cls.load_data is Task.load_data:
        return f"{label} has no load_data: define load_data(self, request) returning sweeper.Splits"
    if cls.build_model is Task.build_model and cls.train is Task.train:
        return (f"{label} has no build_model: define build_model(self, hp, splits, learning_rate) "
                "returning a compiled Keras model")
    for method, params in SIGNATURES.items():
        problem = _signature_problem(getattr(task, method), method, params)
        if problem:
            return f"{label}.{problem}"
    return None


def _signature_problem(method: Callable[..., Any], name: str, params: tuple[str, ...]) -> str | None:
    try:
        inspect.signature(method).bind(*params)
    except TypeError:
        return f"{name}{inspect.signature(method)} cannot be called as {name}({', '.join(params)}): change its parameters"
    except ValueError:  # no signature to read (a builtin): nothing to check
        pass
    return None
