"""The ``sweeper`` command. ``main(argv)`` runs in-process (tests call it directly); every
``SweeperError`` becomes one line on stderr and its exit code, with a traceback only under
``--debug`` / ``SWEEPER_DEBUG=1``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sweeper.worker import collector
from sweeper.errors import ConfigError, SweeperError

MAIN_HELP = "Regularization sweeps (L1, L2, L1+L2, dropout) for Keras models on Optuna studies."


def _storage_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("settings (flags > SWEEPER_* environment > defaults)")
    g.add_argument("--storage", help="SQLAlchemy URL of the study database (SWEEPER_STORAGE; default sqlite:///sweeper.db)")
    g.add_argument("--data-dir", help="download cache (SWEEPER_DATA_DIR; default ~/.cache/sweeper)")
    g.add_argument("--data-mirror", help="folder or URL base holding the official archives (SWEEPER_DATA_MIRROR)")
    g.add_argument("--task-path", help="folders (separated by ':') where task files and modules are looked up (SWEEPER_TASK_PATH)")
    g.add_argument("--debug", action="store_true", default=None, help="show tracebacks (SWEEPER_DEBUG=1)")


def _sweep_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trials", type=int, help="budget: finished (complete + pruned) trials per study (default 20; grid: its size)")
    p.add_argument("--epochs", type=int, help="epochs per trial (default: the task's)")
    p.add_argument("--train-size", type=int, help="subsample the training split (stratified) for CPU runs")
    p.add_argument("--val-fraction", type=float, help="fraction of the labelled training data held out for validation (default: the task's)")
    p.add_argument("--batch-size", type=int, help="default: the task's")
    p.add_argument("--learning-rate", type=float, help="default: the task's")
    p.add_argument("--sampler", choices=("tpe", "random", "qmc", "grid"), help="tpe (default) finds the best setting; qmc/grid cover the lambda axis evenly")
    p.add_argument("--pruner", choices=("median", "hyperband", "none"), help="default median")
    p.add_argument("--seed", type=int, help="seed of data splits and trial seeds (default 0)")
    p.add_argument("--lambda-range", nargs=2, type=float, metavar=("LOW", "HIGH"), help="log-uniform lambda range (default 1e-6 1e-1)")
    p.add_argument("--dropout-range", nargs=2, type=float, metavar=("LOW", "HIGH"), help="uniform dropout range (default 0 0.6)")
    p.add_argument("--penalties", nargs="+", metavar="P", help="penalty types to search (default: none l1 l2 l1_l2)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="task-specific option (see `sweeper studies`)")
    p.add_argument("--subset", help="data subset, e.g. librispeech train-clean-100 (same as --option subset=NAME)")
    p.add_argument("--study-name", help="study name (default: the task name; one task only)")
    p.add_argument("--design", choices=("search", "curve"), help="search (default): the sampler proposes; curve: a planned λ x seed design, every trial queued (see --points, --repeats)")
    p.add_argument("--points", type=int, help="curve design: λ values per penalty type and dropout rates (default 5)")
    p.add_argument("--repeats", type=int, help="curve design: training seeds per point (default 3); launching again with more adds only the new ones")
    p.add_argument("--evaluate-seeds", type=int, help="once the budget is met, workers re-train the best configuration per penalty type with this many seeds on the test split (default 0: off)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sweeper", description=MAIN_HELP)
    sub = parser.add_subparsers(dest="command", required=True)

    task_help = "a built-in task, an installed entry point, package.module[:Name], or a path to a .py file"
    p = sub.add_parser("launch", help="create one study per task (idempotent)")
    p.add_argument("tasks", nargs="+", metavar="TASK", help=task_help)
    _sweep_flags(p)
    _storage_flags(p)

    p = sub.add_parser("worker", help="take trials from the launched studies until their budgets are met")
    p.add_argument("--study", action="append", default=[], help="serve only this study (repeatable; default: all)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    p.add_argument("--threads", type=int, help="CPU threads per worker (default: cores / workers)")
    p.add_argument("--gpus", metavar="all|none|0,1,...", help="supervise one worker per GPU slot, restarting crashed ones (all: detect with nvidia-smi; no GPU: --workers CPU workers)")
    p.add_argument("--per-gpu", type=int, default=1, help="worker processes per GPU with --gpus (default 1)")
    p.add_argument("--index", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--sampler-seed", type=int, default=None, help=argparse.SUPPRESS)
    _storage_flags(p)

    p = sub.add_parser("run", help="launch + local workers + report, in one command")
    p.add_argument("task", metavar="TASK", help=task_help)
    _sweep_flags(p)
    p.add_argument("--workers", type=int, default=2, help="local worker processes (default 2)")
    p.add_argument("--out", default="reports", help="report folder (default ./reports)")
    _storage_flags(p)

    p = sub.add_parser("status", help="trial counts and best result per study")
    p.add_argument("studies", nargs="*", metavar="STUDY")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    _storage_flags(p)

    p = sub.add_parser("report", help="write the HTML report of each study")
    p.add_argument("studies", nargs="*", metavar="STUDY", help="default: every sweep in the database that has finished trials")
    p.add_argument("--out", default="reports", help="output folder (default ./reports)")
    p.add_argument("--png", action="store_true", help="also write each headline figure as PNG (needs chromium)")
    _storage_flags(p)

    p = sub.add_parser("evaluate", help="re-train the best config per penalty type and the baseline with several seeds; score on test")
    p.add_argument("study", metavar="TASK", help="the sweep's study name (default name: the task)")
    p.add_argument("--seeds", type=int, default=5, help="seeds per configuration (default 5); finished seeds are kept")
    p.add_argument("--workers", type=int, default=2, help="local worker processes (default 2)")
    p.add_argument("--no-run", action="store_true", help="only enqueue the runs (for `sweeper worker` elsewhere)")
    _storage_flags(p)

    p = sub.add_parser("dashboard", help="serve optuna-dashboard on the configured storage")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    _storage_flags(p)

    p = sub.add_parser("check", help="dry run of a task: load it and its data, build and train each model briefly")
    p.add_argument("task", metavar="TASK", help=task_help)
    _sweep_flags(p)
    _storage_flags(p)

    p = sub.add_parser("studies", help="list the tasks (built-in and installed) with their data set, model and defaults")
    p.add_argument("--json", action="store_true")
    p.add_argument("--task-path", help=argparse.SUPPRESS)
    return parser


def _settings(args: argparse.Namespace) -> Any:
    from sweeper.settings import Settings

    return Settings.resolve(
        {
            "storage": getattr(args, "storage", None),
            "data_dir": getattr(args, "data_dir", None),
            "data_mirror": getattr(args, "data_mirror", None),
            "debug": getattr(args, "debug", None),
            "task_path": getattr(args, "task_path", None),
        }
    )


def _options(pairs: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option {pair!r} is not KEY=VALUE: write e.g. --option subset=test-other")
        try:
            options[key] = json.loads(raw)
        except json.JSONDecodeError:
            options[key] = raw
    return options


def _sweep_config(loaded: Any, args: argparse.Namespace, options: dict[str, Any] | None = None) -> Any:
    from sweeper.study.space import PENALTIES, SearchSpace
    from sweeper.study.config import SweepConfig

    space_args: dict[str, Any] = {}
    if args.lambda_range:
        space_args.update(lambda_low=args.lambda_range[0], lambda_high=args.lambda_range[1])
    if args.dropout_range:
        space_args.update(dropout_low=args.dropout_range[0], dropout_high=args.dropout_range[1])
    space_args["penalties"] = tuple(args.penalties) if args.penalties else PENALTIES
    if args.trials is not None and args.trials <= 0:
        raise ConfigError(f"--trials must be a positive number of trials, got {args.trials}")
    return SweepConfig.for_task(
        loaded,
        budget=args.trials,
        epochs=args.epochs,
        train_size=args.train_size,
        val_fraction=args.val_fraction,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        sampler=args.sampler,
        pruner=args.pruner,
        seed=args.seed,
        options=_given_options(args) if options is None else options,
        space=SearchSpace(**space_args),
        design=args.design,
        **_design_counts(args),
        evaluate_seeds=args.evaluate_seeds,
    )


def _design_counts(args: argparse.Namespace) -> dict[str, Any]:
    if args.design != "curve":
        if args.points is not None or args.repeats is not None:
            raise ConfigError("--points and --repeats shape a curve design: add --design curve")
        return {}
    return {"points": 5 if args.points is None else args.points, "repeats": 3 if args.repeats is None else args.repeats}


def _given_options(args: argparse.Namespace) -> dict[str, Any]:
    return {**_options(args.option), **({"subset": args.subset} if args.subset else {})}


def _configs(settings: Any, tasks: list[str], args: argparse.Namespace) -> list[tuple[Any, Any]]:
    """(loaded task, sweep config) per reference, all validated before anything is stored. With
    several tasks each takes the options it declares; an option none declares is an error."""
    from sweeper.tasks import load_task

    if args.study_name and len(tasks) > 1:
        raise ConfigError("--study-name names one study: launch one task at a time with it")
    loaded = [load_task(ref, settings.task_dirs) for ref in tasks]
    given = _given_options(args)
    if len(loaded) == 1:
        return [(loaded[0], _sweep_config(loaded[0], args, given))]
    unknown = sorted(set(given) - {name for task in loaded for name in task.task.options})
    if unknown:
        raise ConfigError(
            f"unknown option {unknown[0]!r}: none of the tasks {', '.join(t.name for t in loaded)} declares it "
            "(see `sweeper studies`)"
        )
    return [(task, _sweep_config(task, args, {k: v for k, v in given.items() if k in task.task.options}))
            for task in loaded]


def _launch(settings: Any, configs: list[tuple[Any, Any]], args: argparse.Namespace) -> list[str]:
    from sweeper.study.launch import launch

    names = []
    for task, config in configs:
        name = args.study_name or task.name
        if config.design == "curve" and args.trials is not None and args.trials != config.budget:
            print(f"study {name}: --trials {args.trials} does not apply to a curve design, which plans "
                  f"{config.budget} trials (its configurations times --repeats)")
        result = launch(settings, name, config)
        if result.added:
            print(f"study {name}: {result.added} trials queued for the new repeats (task {config.task}, "
                  f"budget {result.budget} trials)")
        else:
            verb = "created" if result.created else "already launched with these settings:"
            print(f"study {name} {verb} (task {config.task}, budget {result.budget} trials)")
        if not result.baseline:
            print(f"study {name} has no unregularized baseline trial: --penalties leaves out none "
                  "(add none to compare against it)")
        names.append(name)
    return names


def cmd_launch(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _launch(settings, _configs(settings, args.tasks, args), args)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from sweeper.worker.backend import default_threads

    settings = _settings(args)
    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    if args.gpus is not None and args.index is None:
        from sweeper.worker.supervisor import run_supervised

        return run_supervised(settings, args.gpus, args.per_gpu, args.workers, args.study, threads=args.threads)
    if args.workers > 1 and args.index is None:
        from sweeper.worker.supervisor import spawn_workers, wait_all

        threads = args.threads or default_threads(args.workers)
        return wait_all(spawn_workers(settings, args.workers, args.study, threads=threads))
    with collector.long_lived():
        from sweeper.worker.loop import run_worker

    return run_worker(settings, args.study or None, index=args.index or 0,
                      threads=args.threads or default_threads(1), sampler_seed=args.sampler_seed)


def cmd_run(args: argparse.Namespace) -> int:
    import optuna

    from sweeper.worker.backend import default_threads
    from sweeper.cli.progress import Progress
    from sweeper.report import write_reports
    from sweeper.storage.rdb import open_storage, storage_errors
    from sweeper.worker.supervisor import spawn_workers, wait_all

    from sweeper.tasks.check import validate_for_launch

    settings = _settings(args)
    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    configs = _configs(settings, [args.task], args)
    # Before storing anything: the data loads and one model builds, trains a step and scores.
    validate_for_launch(*configs[0], settings)
    (name,) = _launch(settings, configs, args)
    storage = open_storage(settings)
    config = configs[0][1]
    progress = Progress(storage, name, then=f"{name}.eval" if config.evaluate_seeds else None)
    children = spawn_workers(settings, args.workers, [name], threads=default_threads(args.workers))
    code = wait_all(children, on_tick=progress.tick)
    progress.final()
    if code != 0:
        print(f"sweeper: workers stopped with exit code {code}; the study keeps what finished", file=sys.stderr)
        return code
    pages = write_reports(storage, [name], Path(args.out))
    print(f"report: {pages[0]}")
    if config.evaluate_seeds:
        from sweeper.evaluation.results import collect_evaluation, verdict

        with storage_errors(settings.storage):
            evaluation = optuna.load_study(study_name=f"{name}.eval", storage=storage)
            print(f"test split: {verdict(collect_evaluation(evaluation), name)}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from sweeper.study.status import collect, format_table
    from sweeper.storage.rdb import open_storage, storage_errors

    settings = _settings(args)
    storage = open_storage(settings)
    with storage_errors(settings.storage):
        rows = collect(storage, args.studies or None)
    if args.json:
        print(json.dumps([r.as_dict() for r in rows], indent=2))
    else:
        print(format_table(rows))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from sweeper.report import write_reports
    from sweeper.storage.rdb import load_study, open_storage, storage_errors

    settings = _settings(args)
    storage = open_storage(settings)
    with storage_errors(settings.storage):
        names = list(args.studies)
        for name in names:
            load_study(storage, name)
        if not names:
            names = _reportable(storage)
        pages = write_reports(storage, names, Path(args.out), png=args.png)
    for page in pages:
        print(page)
    return 0


def _reportable(storage: Any) -> list[str]:
    """Every sweep (not an evaluation study) with a finished trial; the others are named."""
    from optuna.trial import TrialState

    from sweeper.study.config import CONFIG_ATTR

    names = []
    for summary in storage.get_all_studies():
        config = summary.user_attrs.get(CONFIG_ATTR)
        if config is None or config.get("kind") != "search":
            continue
        states = storage.get_all_trials(summary._study_id, deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        if states:
            names.append(summary.study_name)
        else:
            print(f"skipped {summary.study_name}: no finished trials yet", file=sys.stderr)
    if not names:
        raise ConfigError("no study in the database has finished trials yet: run `sweeper worker`, then report")
    return names


def cmd_evaluate(args: argparse.Namespace) -> int:
    from sweeper.evaluation.plan import run_evaluation

    return run_evaluation(_settings(args), args.study, args.seeds, args.workers, run=not args.no_run)


def cmd_dashboard(args: argparse.Namespace) -> int:
    from optuna_dashboard import run_server

    from sweeper.storage.rdb import open_storage

    settings = _settings(args)
    storage = open_storage(settings)
    print(f"optuna-dashboard on http://{args.host}:{args.port}/ (Ctrl-C to stop)")
    run_server(storage, host=args.host, port=args.port)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from sweeper.tasks.check import run_check

    settings = _settings(args)
    ((loaded, config),) = _configs(settings, [args.task], args)
    run_check(loaded, config, settings)
    return 0


def cmd_studies(args: argparse.Namespace) -> int:
    from sweeper.tasks.describe import describe_tasks

    rows = describe_tasks(_settings(args).task_dirs)
    if args.json:
        print(json.dumps([dataclasses.asdict(r) for r in rows], indent=2))
        return 0
    for row in rows:
        if row.problem:
            print(f"{row.name} ({row.origin})\n  cannot be loaded: {row.problem}")
            continue
        d = row.defaults
        print(f"{row.name} ({row.origin}: {row.reference})\n  data:     {row.dataset or '-'}\n  model:    {row.model or '-'}")
        lr = d["learning_rate"] if d["learning_rate"] is not None else "the optimizer's own"
        print(f"  defaults: epochs {d['epochs']}, batch size {d['batch_size']}, learning rate {lr}, "
              f"train size {d['train_size'] or 'all'}, validation {d['val_fraction']:.0%}; objective "
              f"val_{row.objective['metric']} ({row.objective['direction']})")
        for name, option in row.options.items():
            print(f"  --option {name}={option['default']}" + (f"  {option['help']}" if option["help"] else ""))
    return 0


COMMANDS = {
    "launch": cmd_launch,
    "worker": cmd_worker,
    "run": cmd_run,
    "status": cmd_status,
    "report": cmd_report,
    "evaluate": cmd_evaluate,
    "dashboard": cmd_dashboard,
    "check": cmd_check,
    "studies": cmd_studies,
}


def main(argv: Sequence[str] | None = None, *, own_process: bool = False) -> int:
    """``own_process``: this is the ``sweeper`` command's own process (not a test or notebook
    calling in), whose stderr may be filtered."""
    args = build_parser().parse_args(argv)
    debug = bool(getattr(args, "debug", False)) or os.environ.get("SWEEPER_DEBUG", "") not in ("", "0")
    # TensorFlow's C++ start-up lines (oneDNN, CPU features) and Optuna's info lines are noise
    # between progress lines; --debug shows them. Children inherit the environment.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if debug else "2")
    if debug:
        os.environ["SWEEPER_DEBUG"] = "1"
    elif args.command in STARTS_KERAS and own_process:
        from sweeper.cli import quiet

        quiet.filter_stderr()
    try:
        return COMMANDS[args.command](args)
    except SweeperError as exc:
        if debug:
            raise
        print(f"sweeper: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("sweeper: interrupted", file=sys.stderr)
        return 130


# Commands whose process may start TensorFlow (its start-up lines are filtered: sweeper.cli.quiet).
STARTS_KERAS = ("worker", "run", "check", "evaluate")


def console() -> None:
    """The installed ``sweeper`` command and ``python -m sweeper``: a process of its own, whose
    garbage collection the worker may tune (``sweeper.worker.collector``) and whose stderr may be
    filtered (``sweeper.cli.quiet``); ``main`` in-process does neither."""
    collector.own_process()
    sys.exit(main(own_process=True))


if __name__ == "__main__":  # pragma: no cover
    console()
