"""Local worker processes with live progress: what ``sweeper run`` and ``sweeper evaluate`` do
after they have queued their trials."""

from __future__ import annotations

import sys

import optuna

from sweeper.cli.progress import BarProgress, Progress
from sweeper.settings import Settings
from sweeper.worker.backend import default_threads
from sweeper.worker.children import spawn_workers, wait_all


def run_workers(settings: Settings, storage: optuna.storages.BaseStorage, study: str, workers: int, *,
                then: str | None = None, on_failure: str, bar: bool = False) -> int:
    """``workers`` local processes serving ``study`` (and ``then`` once it exists: the evaluation
    the workers queue), with a progress line on each change (``bar``: a progress bar that renders
    in a notebook too, ``sweeper.run``'s); their worst exit code. On a failure ``on_failure`` tells
    the user what was kept and how to go on."""
    progress = BarProgress(storage, study, then=then) if bar else Progress(storage, study, then=then)
    children = spawn_workers(settings, workers, [study], threads=default_threads(workers, settings.threads))
    code = wait_all(children, on_tick=progress.tick)
    progress.final()
    if code != 0:
        print(f"sweeper: workers stopped with exit code {code}; {on_failure}", file=sys.stderr)
    return code
