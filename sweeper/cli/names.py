"""A study named on the command line by its name or by the task reference it was launched from
(``sweeper evaluate diabetes.py`` as ``sweeper run diabetes.py`` takes it): the stored config
records the reference the user gave, and a task file's study is named after its task."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sweeper.errors import ConfigError, SweeperError
from sweeper.settings import Settings


def resolve_study(storage: Any, settings: Settings, given: str) -> str:
    """``given`` when a study has that name; else the one study launched from the task reference
    ``given``; else ``given`` unchanged (the caller's own error then names it)."""
    from sweeper.storage.queries import study_names
    from sweeper.study.config import CONFIG_ATTR, is_eval_study

    names = study_names(storage)
    if given in names:
        return given
    matches = []
    wanted = _same_file(given)
    for summary in storage.get_all_studies():
        task = (summary.user_attrs.get(CONFIG_ATTR) or {}).get("task")
        if is_eval_study(summary.study_name) or not isinstance(task, str):
            continue
        if task == given or (wanted is not None and _same_file(task) == wanted):
            matches.append(summary.study_name)
    if not matches and looks_like_task(given):
        try:
            from sweeper.tasks.loading import load_task

            name = load_task(given, settings.task_dirs).task.name
        except SweeperError:
            name = None
        if name in names:
            matches.append(name)
    if len(matches) > 1:
        raise ConfigError(f"task {given} was launched as several studies ({', '.join(matches)}): name one of them")
    return matches[0] if matches else given


def looks_like_task(given: str) -> bool:
    return given.endswith(".py") or ".py:" in given or os.sep in given or "/" in given


def _same_file(reference: str) -> Path | None:
    """The file a ``.py`` reference names, from the working directory, else None."""
    path = reference.split(".py:")[0] + ".py" if ".py:" in reference else reference
    if not path.endswith(".py"):
        return None
    try:
        found = Path(path).expanduser().resolve()
    except OSError:
        return None
    return found if found.is_file() else None
