"""sweeper from Python: run a sweep and read its report as objects, a DataFrame, figures or JSON.

``run`` does what ``sweeper run`` does (the same calls: ``sweeper.cli.commands.run_study``) with a
progress bar that renders in a notebook; ``load`` reads the report of a study already stored.
Both return a ``sweeper.report.StudyReport``; docs/report.md#the-report-as-data describes it.

    import sweeper

    report = sweeper.run("examples/digits.py", design="adaptive", workers=2, epochs=5, train_size=300)
    report.verdicts                      # [Verdict(type='l2', outcome='helps', effect=0.021, ...), ...]
    report.to_frame("verdicts")          # pandas (pip install 'sweeper[notebook]')
    report.figure("headline")            # a plotly Figure: shows inline in Jupyter
    report.to_json()                     # what `sweeper report STUDY --json` prints
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sweeper.errors import ConfigError, WorkerError

if TYPE_CHECKING:
    from sweeper.report.model import StudyReport


def run(
    task: Any,
    *,
    design: str = "search",
    trials: int | None = None,
    workers: int = 2,
    storage: str | None = None,
    study_name: str | None = None,
    epochs: int | None = None,
    train_size: int | None = None,
    val_fraction: float | None = None,
    batch_size: int | None = None,
    learning_rate: float | None = None,
    penalties: Sequence[str] | None = None,
    lambda_range: tuple[float, float] | None = None,
    dropout_range: tuple[float, float] | None = None,
    points: int | None = None,
    repeats: int | None = None,
    rounds: int | None = None,
    margin: float | None = None,
    evaluate_seeds: int | None = None,
    sampler: str | None = None,
    pruner: str | None = None,
    seed: int | None = None,
    options: Mapping[str, Any] | None = None,
    task_path: str | None = None,
    out: str | Path | None = None,
) -> StudyReport:
    """Launch the study of ``task`` (or join it, when it was launched with the same settings), run
    ``workers`` local worker processes until its budget is met (and its evaluation on the test
    split, with ``evaluate_seeds``), and return its report. A progress bar follows the trials
    (a widget in Jupyter, text elsewhere). The same as ``sweeper run`` on the command line, whose
    flags the arguments are.

    Args:
        task: a built-in task's name (``"cifar10"``), a path to a ``.py`` file with a ``Task``
            subclass, ``"package.module:Name"``, or a ``Task`` subclass defined in an importable
            module (workers are processes of their own and import the task: a class defined in a
            notebook cell is not importable, write it to a file first).
        design: ``"search"`` (the sampler proposes), ``"curve"`` (a fixed λ × seed grid) or
            ``"adaptive"`` (bracket, screen, race: verdicts per penalty type).
        trials: the search's budget (finished trials); planned designs size themselves.
        workers: local worker processes.
        storage: SQLAlchemy URL of the study database (default: ``SWEEPER_STORAGE``, else
            ``sqlite:///sweeper.db`` in the working directory).
        study_name: default: the task's name.
        epochs, train_size, val_fraction, batch_size, learning_rate: override the task's defaults.
        penalties: the penalty types to compare (default ``none l1 l2 l1_l2``).
        lambda_range, dropout_range: (low, high) of λ (log scale) and of the dropout rate.
        points, repeats, rounds, margin: the planned designs' shape (docs/report.md).
        evaluate_seeds: re-train the best configuration per type with this many seeds on the
            test split once the sweep ends.
        sampler, pruner, seed: as ``sweeper run --sampler/--pruner/--seed``.
        options: the task's own options (``sweeper tasks`` lists them).
        task_path: folders (``:``-separated) where task files and modules are looked up.
        out: also write the HTML report into this folder.

    Returns:
        The study's ``StudyReport``.

    Raises:
        sweeper.errors.SweeperError: a one-line message saying what is wrong and how to fix it
        (``ConfigError`` for bad arguments, ``WorkerError`` when the workers stopped on failures;
        the study keeps what finished).

    Example::

        report = sweeper.run("my_task.py", design="adaptive", epochs=5, train_size=300, repeats=3, rounds=2)
        for v in report.verdicts:
            print(v.type, v.outcome, v.effect_text, v.interval)
    """
    from sweeper.cli.commands import run_study
    from sweeper.cli.parser import build_parser

    args = build_parser().parse_args(["run", _reference(task)])
    given = dict(design=None if design == "search" else design, trials=trials, workers=workers, storage=storage,
                 study_name=study_name, epochs=epochs, train_size=train_size, val_fraction=val_fraction,
                 batch_size=batch_size, learning_rate=learning_rate, sampler=sampler, pruner=pruner, seed=seed,
                 lambda_range=list(lambda_range) if lambda_range else None,
                 dropout_range=list(dropout_range) if dropout_range else None,
                 penalties=list(penalties) if penalties else None, points=points, repeats=repeats, rounds=rounds,
                 margin=margin, evaluate_seeds=evaluate_seeds, task_path=task_path)
    vars(args).update(given)
    args.option = [f"{k}={_option(v)}" for k, v in (options or {}).items()]
    report = run_study(args, bar=True)
    if isinstance(report, int):
        raise WorkerError(f"the workers stopped with exit code {report}; the study keeps what finished: "
                          f"sweeper.load({(study_name or args.task)!r}) reads it, sweeper.run again goes on with it")
    if out is not None:
        from sweeper.report import write_study_reports

        write_study_reports([report], Path(out))
    return report


def load(study: str, *, storage: str | None = None) -> StudyReport:
    """The report of a stored study, finished or still running (what it says now).

    Args:
        study: the study's name, or the task reference it was launched from (``"examples/digits.py"``).
        storage: SQLAlchemy URL of the study database (default: ``SWEEPER_STORAGE``, else
            ``sqlite:///sweeper.db``).

    Returns:
        The study's ``StudyReport``.

    Example::

        report = sweeper.load("digits", storage="sqlite:///sweeper.db")
        report.to_frame("verdicts")
    """
    from sweeper.cli.names import resolve_study
    from sweeper.report import load_study_report
    from sweeper.settings import Settings
    from sweeper.storage import open_storage, study_user_attrs

    settings = Settings.resolve({"storage": storage})
    opened = open_storage(settings, read_only=True)
    try:
        name = resolve_study(opened, settings, study)
        study_user_attrs(opened, name)  # an unknown name is an error naming the known ones
        return load_study_report(opened, name)
    finally:
        opened.engine.dispose()


def _reference(task: Any) -> str:
    """The task as workers find it: a reference string or path as given; a class by its module."""
    if isinstance(task, (str, Path)):
        return str(task)
    cls = task if inspect.isclass(task) else type(task)
    module = getattr(cls, "__module__", "__main__")
    if module == "__main__" or "<" in cls.__qualname__:
        raise ConfigError(f"task {cls.__name__} is defined in the running script or notebook, which the worker "
                          "processes cannot import: put it in a .py file and pass its path, e.g. "
                          "sweeper.run('my_task.py')")
    return f"{module}:{cls.__qualname__}"


def _option(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value)
