"""The ``sweeper`` command line: its sub-commands and flags."""

from __future__ import annotations

import argparse

import sweeper
from sweeper.cli.commands import FAIL_ON_CHOICES, FAIL_ON_EXIT
from sweeper.study.choices import DEFAULT_TRIALS, DESIGNS, PRUNERS, SAMPLERS, SHAPE_DEFAULTS

CURVE, RACE = SHAPE_DEFAULTS["curve"], SHAPE_DEFAULTS["adaptive"]

MAIN_HELP = "Regularization sweeps (L1, L2, L1+L2, dropout) for Keras models on Optuna studies."


def _storage_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("settings (flags > SWEEPER_* environment > defaults)")
    g.add_argument("--storage", help="SQLAlchemy URL of the study database (SWEEPER_STORAGE; default sqlite:///sweeper.db)")
    g.add_argument("--data-dir", help="download cache (SWEEPER_DATA_DIR; default ~/.cache/sweeper)")
    g.add_argument("--data-mirror", help="folder or URL base holding the official archives (SWEEPER_DATA_MIRROR)")
    g.add_argument("--task-path", help="folders (separated by ':') where task files and modules are looked up (SWEEPER_TASK_PATH)")
    g.add_argument("--debug", action="store_true", default=None, help="show tracebacks (SWEEPER_DEBUG=1)")


def _sweep_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trials", type=int, help=f"budget: finished (complete + pruned) trials per study (default {DEFAULT_TRIALS}; grid: its size)")
    p.add_argument("--epochs", type=int, help="epochs per trial (default: the task's)")
    p.add_argument("--train-size", type=int, help="subsample the training split (stratified) for CPU runs")
    p.add_argument("--val-fraction", type=float, help="fraction of the labelled training data held out for validation (default: the task's)")
    p.add_argument("--batch-size", type=int, help="default: the task's")
    p.add_argument("--learning-rate", type=float, help="default: the task's")
    p.add_argument("--sampler", choices=SAMPLERS, help="tpe (default) finds the best setting; qmc/grid cover the lambda axis evenly")
    p.add_argument("--pruner", choices=PRUNERS, help="default median")
    p.add_argument("--seed", type=int, help="seed of data splits and trial seeds (default 0)")
    p.add_argument("--lambda-range", nargs=2, type=float, metavar=("LOW", "HIGH"), help="log-uniform lambda range (default 1e-6 1e-1)")
    p.add_argument("--dropout-range", nargs=2, type=float, metavar=("LOW", "HIGH"), help="uniform dropout range (default 0 0.6)")
    p.add_argument("--penalties", nargs="+", metavar="P", help="penalty types to search (default: none l1 l2 l1_l2)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="task-specific option (see `sweeper tasks`)")
    p.add_argument("--subset", help="data subset, e.g. librispeech train-clean-100 (same as --option subset=NAME)")
    p.add_argument("--study-name", help="study name (default: the task name; one task only)")
    p.add_argument("--design", choices=DESIGNS, help="search (default): the sampler proposes; curve: a planned λ x seed design, every trial queued (see --points, --repeats); adaptive: bracket each penalty's λ range, screen its transition, race each type's best point on fresh seeds until the verdict is decided (see --points, --repeats, --rounds, --margin)")
    p.add_argument("--points", type=int, help=f"curve design: λ values per penalty type and dropout rates (default {CURVE['points']}); adaptive: new λ per type in the transition, and dropout rates (default {RACE['points']})")
    p.add_argument("--repeats", type=int, help=f"curve design: training seeds per point (default {CURVE['repeats']}), launching again with more adds only the new ones; adaptive: fresh seeds per race round (default {RACE['repeats']})")
    p.add_argument("--rounds", type=int, help=f"adaptive design: at most this many race rounds (default {RACE['rounds']}); launching a race again with more adds rounds for its undecided finalists")
    p.add_argument("--margin", type=float, help="planned designs: the smallest difference worth having, in the objective's units (default 0.01: 1 pp of accuracy; 1%% of the baseline for a minimized error); verdicts say 'no difference larger than ±margin'")
    p.add_argument("--evaluate-seeds", type=int, help="once the budget is met, workers re-train the best configuration per penalty type with this many seeds on the test split (default 0: off)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sweeper", description=MAIN_HELP)
    parser.add_argument("--version", action="version", version=f"sweeper {sweeper.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    task_help = "a built-in task, an installed entry point, package.module[:Name], or a path to a .py file"
    p = sub.add_parser("launch", help="create one study per task (idempotent)")
    p.add_argument("tasks", nargs="+", metavar="TASK", help=task_help)
    _sweep_flags(p)
    _storage_flags(p)

    p = sub.add_parser("worker", help="take trials from the launched studies until their budgets are met")
    p.add_argument("--study", action="append", default=[], help="serve only this study (repeatable; default: all)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    p.add_argument("--threads", type=int, help="CPU threads per worker (default: SWEEPER_THREADS or the cores, / workers)")
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

    p = sub.add_parser("report", help="write the HTML report of each study, or print it as JSON; gate on a verdict")
    p.add_argument("studies", nargs="*", metavar="STUDY", help="default: every sweep in the database that has finished trials")
    p.add_argument("--out", default="reports", help="output folder (default ./reports)")
    p.add_argument("--png", action="store_true", help="also write each headline figure as PNG (needs chromium)")
    p.add_argument("--json", action="store_true",
                   help="print the report as JSON (the page's verdicts, trials and numbers; docs/report.md) instead of writing pages")
    p.add_argument("--fail-on", action="append", choices=FAIL_ON_CHOICES, metavar="OUTCOME",
                   help=f"exit with code {FAIL_ON_EXIT} when any verdict has this outcome, e.g. hurts (repeatable; "
                        f"one of {', '.join(FAIL_ON_CHOICES)})")
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

    # `studies` was its first name (it lists tasks, not the studies in the database): kept as an alias.
    p = sub.add_parser("tasks", aliases=["studies"],
                       help="list the tasks (built-in and installed) with their data set, model and defaults")
    p.add_argument("--json", action="store_true")
    p.add_argument("--task-path", help=argparse.SUPPRESS)
    return parser
