"""Live progress of ``sweeper run``: trials finished of the budget, running, pruned, failed, best
so far, elapsed and estimated time left. A line on each change, and at least every 30 s."""

from __future__ import annotations

import sys
import time

import optuna

from sweeper.status import StudyStatus, study_status


class Progress:
    def __init__(self, storage: optuna.storages.BaseStorage, study_name: str, *, every: float = 30.0):
        self.study = optuna.load_study(study_name=study_name, storage=storage)
        self.start = time.monotonic()
        self.every = every
        self.last_line = ""
        self.last_time = 0.0

    def tick(self) -> None:
        status = study_status(self.study)  # the storage retries through a database restart
        line = format_progress(status, time.monotonic() - self.start)
        key = line.split(" | elapsed")[0]
        if key != self.last_line or time.monotonic() - self.last_time >= self.every:
            print(line, file=sys.stdout, flush=True)
            self.last_line, self.last_time = key, time.monotonic()

    def final(self) -> None:
        self.last_line = ""
        self.tick()


def format_progress(s: StudyStatus, elapsed: float) -> str:
    budget = s.budget or 0
    done = s.finished
    if done and budget > done:
        eta = f"{_clock(elapsed / done * (budget - done))} left"
    elif budget and done >= budget:
        eta = "done"
    else:
        eta = "estimating"
    best = "-" if s.best_value is None else f"{s.best_value:.4f}"
    # An evaluation study's values are test scores of single runs, not validation scores.
    label = f"best single-run {s.objective}" if s.kind == "evaluate" else f"best {s.objective}"
    return (
        f"[{s.study}] {done}/{budget} finished | {s.running} running | {s.pruned} pruned | "
        f"{s.fail} failed | {label} {best} | elapsed {_clock(elapsed)} | {eta}"
    )


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60:d}:{seconds % 60:02d}"
