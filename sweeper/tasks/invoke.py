"""Calling a task's own code: its data files fetched first, its ``load_data`` result checked, and
anything it raises (other than sweeper's own errors) turned into one ``TaskError`` line naming the
file and line, so a user's bug never surfaces as a traceback from the middle of sweeper."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from sweeper.errors import SweeperError, TaskError
from sweeper.settings import Settings
from sweeper.tasks.data import DataRequest, Splits
from sweeper.tasks.loading import LoadedTask
from sweeper.tasks.where import describe_exception

T = TypeVar("T")


def call(loaded: LoadedTask, method: str, func: Callable[[], T]) -> T:
    """``func()``, with a user error in ``method`` reported as ``<file>: <method> raised ...``."""
    try:
        return func()
    except TaskError as exc:
        message = str(exc)
        raise TaskError(message if message.startswith(loaded.where) else f"{loaded.where}: {message}") from None
    except SweeperError:
        raise
    except Exception as exc:
        raise TaskError(f"{loaded.where}: {method} raised {describe_exception(exc)}") from None


def archives(loaded: LoadedTask, options: Mapping[str, Any]) -> list[Any]:
    from sweeper.tasks.archives import Archive

    found = call(loaded, "archives", lambda: list(loaded.task.archives(options)))
    for archive in found:
        if not isinstance(archive, Archive):
            raise TaskError(f"{loaded.where}: archives() must return sweeper.Archive objects, got {archive!r}")
    return found


def fetch_files(loaded: LoadedTask, settings: Settings, options: Mapping[str, Any], *, verify: bool = False) -> dict[str, Path]:
    """Each declared archive's local path (mirror, cache or download); ``verify`` reads it through,
    so a truncated archive is reported before anything is stored."""
    from sweeper.tasks.archives import fetch, verify_readable

    files = {}
    for archive in archives(loaded, options):
        path = fetch(archive, settings)
        if verify:
            verify_readable(path)
        files[archive.filename] = path
    return files


def load_splits(loaded: LoadedTask, settings: Settings, request: DataRequest,
                files: Mapping[str, Path] | None = None) -> Splits:
    """The task's data for ``request``, its files fetched first (unless the caller already did:
    ``files``), checked before any training."""
    if files is None:
        files = fetch_files(loaded, settings, request.options)
    full = dataclasses.replace(request, files=files, cache_dir=Path(settings.data_dir))
    splits = call(loaded, "load_data", lambda: loaded.task.load_data(full))
    if not isinstance(splits, Splits):
        raise TaskError(f"{loaded.where}: load_data returned {type(splits).__name__}, not sweeper.Splits")
    problems = splits.problems()
    if problems:
        raise TaskError(f"{loaded.where}: load_data returned unusable splits: {'; '.join(problems)}")
    return splits
