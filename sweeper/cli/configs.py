"""From command-line arguments to the typed settings and the validated sweep configs (everything
checked before anything is stored)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from sweeper.errors import ConfigError
from sweeper.settings import Settings

if TYPE_CHECKING:  # imported where used: `sweeper --help` must not import Optuna
    from sweeper.study.config import SweepConfig
    from sweeper.tasks import LoadedTask


def settings_of(args: argparse.Namespace) -> Settings:
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


def sweep_config(loaded: LoadedTask, args: argparse.Namespace, options: dict[str, Any] | None = None) -> SweepConfig:
    from sweeper.study.config import SweepConfig
    from sweeper.study.designs import design_of
    from sweeper.study.space import SearchSpace
    from sweeper.tasks.hyperparams import PENALTIES

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
        **design_of(args.design or "search").shape(
            {k: getattr(args, k, None) for k in ("points", "repeats", "rounds", "margin")}),
        evaluate_seeds=args.evaluate_seeds,
    )


def _given_options(args: argparse.Namespace) -> dict[str, Any]:
    return {**_options(args.option), **({"subset": args.subset} if args.subset else {})}


def configs_of(settings: Settings, tasks: list[str], args: argparse.Namespace) -> list[tuple[LoadedTask, SweepConfig]]:
    """(loaded task, sweep config) per reference, all validated before anything is stored. With
    several tasks each takes the options it declares; an option none declares is an error."""
    from sweeper.tasks import load_task

    if args.study_name and len(tasks) > 1:
        raise ConfigError("--study-name names one study: launch one task at a time with it")
    loaded = [load_task(ref, settings.task_dirs) for ref in tasks]
    given = _given_options(args)
    if len(loaded) == 1:
        return [(loaded[0], sweep_config(loaded[0], args, given))]
    unknown = sorted(set(given) - {name for task in loaded for name in task.task.options})
    if unknown:
        raise ConfigError(
            f"unknown option {unknown[0]!r}: none of the tasks {', '.join(t.name for t in loaded)} declares it "
            "(see `sweeper tasks`)"
        )
    return [(task, sweep_config(task, args, {k: v for k, v in given.items() if k in task.task.options}))
            for task in loaded]


def require_workers(count: int) -> int:
    """``--workers`` of run, worker and evaluate."""
    if count < 1:
        raise ConfigError(f"--workers must be at least 1, got {count}")
    return count
