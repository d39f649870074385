"""The sub-commands of ``sweeper``: each turns its arguments into calls of the service's modules
and prints what a person reads."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sweeper.cli.configs import configs_of, require_workers, settings_of
from sweeper.cli.names import looks_like_task
from sweeper.errors import ConfigError
from sweeper.settings import Settings
from sweeper.worker import collector

if TYPE_CHECKING:  # imported where used: `sweeper --help` must not import Optuna
    from sweeper.study.config import SweepConfig
    from sweeper.tasks import LoadedTask


def _launch(settings: Settings, configs: list[tuple[LoadedTask, SweepConfig]], args: argparse.Namespace) -> list[str]:
    from sweeper.study.designs import design_of
    from sweeper.study.designs.base import SHAPE_OPTIONS
    from sweeper.study.launch import launch

    names = []
    for task, config in configs:
        name = args.study_name or task.name
        if note := design_of(config.design).trials_note(name, args.trials, config):
            print(note)
        result = launch(settings, name, config, given=[k for k in SHAPE_OPTIONS if getattr(args, k, None) is not None])
        if result.grown_rounds is not None:
            queued = f"; {result.added} trials queued for its undecided finalists" if result.added else ""
            print(f"study {name}: the race may now run {result.grown_rounds} rounds{queued} (task {config.task}, "
                  f"budget {result.budget} trials so far)")
        elif result.added and design_of(config.design).races:
            print(f"study {name}: race resumed, {result.added} trials queued for its next round (task {config.task}, "
                  f"budget {result.budget} trials so far)")
        elif result.grown_from is not None:
            print(f"study {name}: budget raised from {result.grown_from} to {result.budget} trials (task {config.task})")
        elif result.added:
            print(f"study {name}: {result.added} trials queued for the new repeats (task {config.task}, "
                  f"budget {result.budget} trials)")
        else:
            verb = "created" if result.created else "already launched with these settings:"
            print(f"study {name} {verb} (task {config.task}, budget {result.budget} trials)")
        if design_of(config.design).races:
            print(_race_budget(settings, name))
        if not result.baseline:
            print(f"study {name} has no unregularized baseline trial: --penalties leaves out none "
                  "(add none to compare against it)")
        names.append(name)
    return names


def _race_budget(settings: Settings, name: str) -> str:
    """An adaptive study's budget is what its race has queued so far: say how far it may grow."""
    from sweeper.storage import load_study, open_storage
    from sweeper.study.status import study_status

    storage = open_storage(settings)
    try:
        status = study_status(load_study(storage, name))
    finally:
        storage.engine.dispose()
    return (f"study {name}: the budget grows round by round as the race needs, to at most {status.race_bound} "
            f"trials in all ({status.finished} finished so far)")


def cmd_launch(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    _launch(settings, configs_of(settings, args.tasks, args), args)
    return 0


def _study_named(settings: Settings, given: str) -> str:
    """A study by its name or by the task reference it was launched from (sweeper.cli.names);
    ``given`` as it is when there is no database yet (the command's own error says so)."""
    from sweeper.cli.names import resolve_study
    from sweeper.errors import NoStudyError
    from sweeper.storage import open_storage

    try:
        storage = open_storage(settings, read_only=True)
    except NoStudyError:
        return given
    try:
        return resolve_study(storage, settings, given)
    finally:
        storage.engine.dispose()  # the command opens its own: hold no connection meanwhile


def _existing_study(settings: Settings, given: str) -> str:
    """The study ``given`` names (by name or task reference), read-only: a missing database or
    study is its one-line error, and nothing is created (no empty sweeper.db left behind)."""
    from sweeper.cli.names import resolve_study
    from sweeper.storage import open_storage, study_user_attrs

    storage = open_storage(settings, read_only=True)
    try:
        name = resolve_study(storage, settings, given)
        study_user_attrs(storage, name)  # an unknown name is an error naming the known ones
        return name
    finally:
        storage.engine.dispose()


def cmd_worker(args: argparse.Namespace) -> int:
    from sweeper.worker.backend import default_threads

    settings = settings_of(args)
    require_workers(args.workers)
    args.study = [_study_named(settings, name) if looks_like_task(name) else name for name in args.study]
    if args.gpus is not None and args.index is None:
        from sweeper.worker.supervisor import run_supervised

        return run_supervised(settings, args.gpus, args.per_gpu, args.workers, args.study, threads=args.threads)
    if args.workers > 1 and args.index is None:
        from sweeper.worker.children import spawn_workers, wait_all

        threads = args.threads or default_threads(args.workers, settings.threads)
        return wait_all(spawn_workers(settings, args.workers, args.study, threads=threads))
    with collector.long_lived():
        from sweeper.worker.loop import run_worker

    return run_worker(settings, args.study or None, index=args.index or 0,
                      threads=args.threads or default_threads(1, settings.threads), sampler_seed=args.sampler_seed)


def cmd_run(args: argparse.Namespace) -> int:
    from sweeper.report import write_study_reports

    report = run_study(args)
    if isinstance(report, int):
        return report
    pages = write_study_reports([report], Path(args.out))
    print(f"report: {pages[0]}")
    print_summary(report)
    return 0


def run_study(args: argparse.Namespace, *, bar: bool = False) -> Any:
    """Launch (or join) the study of ``args.task``, serve it with ``args.workers`` local worker
    processes until its budget (and its evaluation, when asked for) is met, and return its report,
    collected once; or the workers' exit code when they failed. ``sweeper run`` and
    ``sweeper.run`` (``bar``: a progress bar instead of lines) both come here."""
    from sweeper.cli.local import run_workers
    from sweeper.report import load_study_report
    from sweeper.storage import open_storage
    from sweeper.study.config import eval_study_name
    from sweeper.worker.check import validate_for_launch

    settings = settings_of(args)
    require_workers(args.workers)
    configs = configs_of(settings, [args.task], args)
    # Before storing anything: the data loads and one model builds, trains a step and scores.
    validate_for_launch(*configs[0], settings)
    (name,) = _launch(settings, configs, args)
    storage = open_storage(settings)
    try:
        config = configs[0][1]
        evaluation = eval_study_name(name) if config.evaluate_seeds else None
        code = run_workers(settings, storage, name, args.workers, then=evaluation, bar=bar,
                           on_failure="the study keeps what finished; `sweeper worker` goes on with it")
        if code != 0:
            return code
        # Collected once: the page, the notes and the verdicts printed are the same report.
        return load_study_report(storage, name)
    finally:
        storage.engine.dispose()


def print_summary(report: Any) -> None:
    """What ``sweeper run`` prints after the page: the notes the page leads with (every trial
    diverged; a penalty type without any result), a planned study's verdicts per type
    (validation) with their family's level, and the test split's verdict."""
    for note in report.notes:
        print(f"note: {note}")
    validation = [v for v in report.verdicts if v.split == "validation"]
    for v in validation:
        print(f"validation: {v.sentence}")
    if validation and report.family is not None:
        print(report.family.note)
    if report.config.get("evaluate_seeds"):
        ev = report.evaluation
        print(f"test split: {ev.sentence if ev is not None else f'not evaluated yet: run `sweeper evaluate {report.study}`'}")


def cmd_status(args: argparse.Namespace) -> int:
    from sweeper.cli.names import resolve_study
    from sweeper.study.status import collect, format_table
    from sweeper.storage import open_storage, study_user_attrs

    settings = settings_of(args)
    storage = open_storage(settings, read_only=True)
    names = [resolve_study(storage, settings, n) for n in args.studies]
    for name in names:
        study_user_attrs(storage, name)  # an unknown name is an error naming the known ones
    rows = collect(storage, names or None)
    if args.json:
        print(json.dumps([r.as_dict() for r in rows], indent=2))
    else:
        print(format_table(rows))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from sweeper.cli.names import resolve_study
    from sweeper.report import load_study_report, write_study_reports
    from sweeper.storage import load_study, open_storage

    settings = settings_of(args)
    if args.png:
        _require_png_export()
    gate = outcomes_of(args.fail_on)
    storage = open_storage(settings, read_only=True)
    names = [resolve_study(storage, settings, n) for n in args.studies]
    for name in names:
        load_study(storage, name)
    if not names:
        names = _reportable(storage)
    reports = [load_study_report(storage, name) for name in names]
    if args.json:
        # One study named: its report object; otherwise a list of them (each with its schema_version).
        data = [r.to_dict() for r in reports]
        print(json.dumps(data[0] if len(args.studies) == 1 else data, indent=2, ensure_ascii=False, allow_nan=False))
    else:
        pages = write_study_reports(reports, Path(args.out), png=args.png,
                                    skip=lambda line: print(line, file=sys.stderr))
        for page in pages:
            print(page)
    return gate_code(reports, gate)


# `sweeper report --fail-on OUTCOME`: the exit code when a named outcome occurs (README.md and
# docs/report.md say so); distinct from every SweeperError's code (1-7).
FAIL_ON_EXIT = 8
FAIL_ON_CHOICES = ("helps", "hurts", "no-difference", "no-gain", "undecided", "open", "pending", "too-few", "stopped")


def outcomes_of(given: list[str] | None) -> set[str]:
    """``--fail-on`` names as the verdicts spell them (``no-difference`` is "no difference")."""
    return {g.replace("-", " ") for g in given or []}


def gate_code(reports: list[Any], gate: set[str]) -> int:
    """0, or ``FAIL_ON_EXIT`` with a line per verdict on stderr when one's outcome is in ``gate``."""
    hits = [(r.study, v) for r in reports for v in r.verdicts if v.outcome in gate]
    for study, v in hits:
        print(f"sweeper: --fail-on {v.outcome.replace(' ', '-')}: study {study}, {v.split} split: {v.sentence}",
              file=sys.stderr)
    return FAIL_ON_EXIT if hits else 0


def _require_png_export() -> None:
    """--png needs the optional kaleido package: say so in one line, before anything is written
    (plotly's own message spans several lines and names a plain `pip install kaleido`)."""
    try:
        import kaleido  # noqa: F401
    except ImportError:
        from sweeper.errors import ReportError

        raise ReportError("--png needs the kaleido package, which is not installed: "
                          "pip install 'sweeper[png]' (it also needs a local Chromium: apt-get install chromium)") from None


def _reportable(storage: Any) -> list[str]:
    """Every sweep (not an evaluation study) with an ended trial (a failed or diverged one too: its
    page says what happened); the others are named."""
    from optuna.trial import TrialState

    from sweeper.storage.optuna_private import study_id
    from sweeper.study.config import CONFIG_ATTR

    names = []
    for summary in storage.get_all_studies():
        config = summary.user_attrs.get(CONFIG_ATTR)
        if config is None or config.get("kind") != "search":
            continue
        states = storage.get_all_trials(study_id(summary), deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
        if states:
            names.append(summary.study_name)
        else:
            print(f"skipped {summary.study_name}: no ended trials yet", file=sys.stderr)
    if not names:
        raise ConfigError("no study in the database has ended trials yet: run `sweeper worker`, then report")
    return names


def cmd_evaluate(args: argparse.Namespace) -> int:
    from sweeper.cli.local import run_workers
    from sweeper.evaluation.plan import prepare
    from sweeper.evaluation.results import collect_evaluation, verdict
    from sweeper.storage import load_study, open_storage
    from sweeper.storage.counts import count_trials

    settings = settings_of(args)
    require_workers(args.workers)
    args.study = _existing_study(settings, args.study)
    plan = prepare(settings, args.study, args.seeds)
    print(plan.describe())
    if args.no_run:
        print(f"runs queued: start `sweeper worker --study {plan.eval_study}` (or plain `sweeper worker`) on any machine")
        return 0
    storage = open_storage(settings)
    study = load_study(storage, plan.eval_study)
    counts = count_trials(study)
    if counts.waiting or counts.running:
        code = run_workers(settings, storage, plan.eval_study, args.workers,
                           on_failure=f"finished runs are kept, `sweeper evaluate {args.study}` resumes")
        if code != 0:
            return code
    print(verdict(collect_evaluation(study), args.study))
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from optuna_dashboard import run_server

    from sweeper.storage import open_storage

    settings = settings_of(args)
    storage = open_storage(settings, read_only=True)
    print(f"optuna-dashboard on http://{args.host}:{args.port}/ (Ctrl-C to stop)")
    run_server(storage, host=args.host, port=args.port)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from sweeper.worker.check import run_check

    settings = settings_of(args)
    ((loaded, config),) = configs_of(settings, [args.task], args)
    run_check(loaded, config, settings)
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    from sweeper.tasks.describe import describe_tasks

    rows = describe_tasks(settings_of(args).task_dirs)
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
    "tasks": cmd_tasks,
    "studies": cmd_tasks,  # the old name of `tasks`
}
