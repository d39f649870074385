"""A task's options for one sweep: its declared defaults overridden by what the user gave, each
checked against its declaration, then the task's own cross-option checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sweeper.errors import SweeperError, TaskError
from sweeper.tasks.loading import LoadedTask
from sweeper.tasks.where import describe_exception


def resolve_options(loaded: LoadedTask, given: Mapping[str, Any]) -> dict[str, Any]:
    """The task's options: declared defaults overridden by ``given``, each checked against its
    declaration, then the task's own cross-option checks. ``TaskError`` lines name the option."""
    task = loaded.task
    declared = task.options
    unknown = sorted(set(given) - set(declared))
    if unknown:
        have = ", ".join(declared) or "none"
        raise TaskError(
            f"unknown option {unknown[0]!r} for task {task.name}: its options are {have} (see `sweeper tasks`)"
        )
    values: dict[str, Any] = {}
    for name, option in declared.items():
        raw = given.get(name, option.default)
        try:
            values[name] = option.parse(name, raw)
        except ValueError as exc:
            raise TaskError(f"task {task.name}: {exc}: fix --option {name}=VALUE") from None
    try:
        task.check_options(values)
    except ValueError as exc:
        raise TaskError(f"task {task.name}: {exc}") from None
    except SweeperError:
        raise
    except Exception as exc:
        raise TaskError(f"{loaded.where}: check_options raised {describe_exception(exc)}") from None
    return values
