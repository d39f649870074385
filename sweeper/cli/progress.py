"""Live progress of ``sweeper run``: trials finished of the budget, running, pruned, failed, best
so far, elapsed and estimated time left. A line on each change, and at least every 30 s."""

from __future__ import annotations

import sys
import time

import optuna

from sweeper.study.status import StudyStatus, study_status


class Progress:
    """Progress of a study and, once the workers have queued it, of its evaluation study."""

    def __init__(self, storage: optuna.storages.BaseStorage, study_name: str, *, every: float = 30.0,
                 then: str | None = None):
        self.storage = storage
        self.studies = [optuna.load_study(study_name=study_name, storage=storage)]
        self.then = then
        self.start = time.monotonic()
        # When each study was first followed: the evaluation's time left is its own pace.
        self.since = {study_name: self.start}
        self.every = every
        self.last: dict[str, tuple[str, float]] = {}

    def tick(self, *, final: bool = False) -> None:
        if self.then is not None and self._exists(self.then):
            self.studies.append(optuna.load_study(study_name=self.then, storage=self.storage))
            self.since[self.then] = time.monotonic()
            self.then = None
        for study in self.studies:
            status = study_status(study)  # the storage retries through a database restart
            line = format_progress(status, time.monotonic() - self.since[study.study_name])
            key = line.split(" | elapsed")[0]
            last_key, last_time = self.last.get(study.study_name, ("", 0.0))
            # The closing line is printed unless the same line was just printed.
            if key != last_key or (not final and time.monotonic() - last_time >= self.every):
                print(line, file=sys.stdout, flush=True)
                self.last[study.study_name] = (key, time.monotonic())

    def final(self) -> None:
        """The closing state: printed unless it is the line printed last."""
        self.tick(final=True)

    def _exists(self, name: str) -> bool:
        try:
            self.storage.get_study_id_from_name(name)
        except KeyError:
            return False
        return True


def format_progress(s: StudyStatus, elapsed: float) -> str:
    budget = s.budget or 0
    done = s.finished
    # An adaptive study's budget is the rounds queued so far; its race may add rounds up to the bound.
    bound = s.race_bound if s.race_bound is not None and s.race_bound > budget else None
    if done and budget > done and bound is not None:
        eta = (f"{_clock(elapsed / done * (budget - done))} left in this stage, at most "
               f"{_clock(elapsed / done * (bound - done))} in all")
    elif done and budget > done:
        eta = f"{_clock(elapsed / done * (budget - done))} left"
    elif budget and done >= budget:
        eta = "done" if not s.race or s.race == "race finished" else "next round being queued"
    else:
        eta = "estimating"
    best = "-" if s.best_value is None else f"{s.best_value:.4f}"
    # An evaluation study's values are test scores of single runs, not validation scores.
    label = f"best single-run {s.objective}" if s.kind == "evaluate" else f"best {s.objective}"
    grows = f" (budget grows round by round, to at most {bound})" if bound is not None else ""
    return (
        f"[{s.study}] {done}/{budget} finished{grows} | {s.running} running | {s.pruned} pruned | "
        f"{s.fail} failed | {label} {best} | elapsed {_clock(elapsed)} | {eta}"
        # An adaptive study's budget grows round by round: say which stage it is in.
        + (f" | {s.race.split(';')[0]}" if s.race else "")
    )


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60:d}:{seconds % 60:02d}"


class BarProgress:
    """The same progress as a bar (``tqdm.auto``: a widget in Jupyter when ipywidgets is there, a
    text bar otherwise): finished trials of the budget (an adaptive race's budget grows round by
    round, and the bar's total with it), and the counts and best value as its postfix. What
    ``sweeper.run`` shows; one bar per study followed (the evaluation's once it is queued)."""

    def __init__(self, storage: optuna.storages.BaseStorage, study_name: str, *, then: str | None = None):
        from tqdm.auto import tqdm

        self._tqdm = tqdm
        self.lines = Progress(storage, study_name, then=then)
        self.bars: dict[str, object] = {}

    def tick(self, *, final: bool = False) -> None:
        lines = self.lines
        if lines.then is not None and lines._exists(lines.then):
            lines.studies.append(optuna.load_study(study_name=lines.then, storage=lines.storage))
            lines.then = None
        for study in lines.studies:
            status = study_status(study)
            bar = self.bars.get(study.study_name)
            if bar is None:
                bar = self.bars[study.study_name] = self._tqdm(total=status.budget or 0, desc=study.study_name,
                                                               unit="trial")
            total = max(status.budget or 0, status.finished)
            if total != bar.total:  # type: ignore[attr-defined]
                bar.total = total  # type: ignore[attr-defined]
                widget = getattr(bar, "container", None)  # tqdm.notebook: the widget keeps its own maximum
                if widget is not None:
                    widget.children[1].max = total
            bar.n = status.finished  # type: ignore[attr-defined]
            best = "-" if status.best_value is None else f"{status.best_value:.4f}"
            bar.set_postfix_str(f"{status.running} running, {status.pruned} pruned, {status.fail} failed, "  # type: ignore[attr-defined]
                                f"best {status.objective} {best}" + (f", {status.race.split(';')[0]}" if status.race else ""),
                                refresh=False)
            bar.refresh()  # type: ignore[attr-defined]
            if final:
                bar.close()  # type: ignore[attr-defined]

    def final(self) -> None:
        self.tick(final=True)
