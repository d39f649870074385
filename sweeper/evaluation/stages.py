"""What a study goes on with once its budget is met: decided on the launch side, so that a worker
only schedules and runs trials.

An adaptive study's race queues its next round (``sweeper.study.launch.advance_race``), which grows
the study's budget. Once the race is over, or for any other design, a sweep launched with
``--evaluate-seeds`` queues its test-split evaluation (``sweeper.evaluation.plan.prepare``): a
study of its own, which the worker then serves too. Both are idempotent and taken under the launch
lock, so every worker that sees a budget met may ask.
"""

from __future__ import annotations

from dataclasses import dataclass

import optuna

from sweeper.errors import NoStudyError
from sweeper.settings import Settings
from sweeper.storage import study_user_attrs
from sweeper.storage.counts import TrialCounts, count_trials
from sweeper.study.config import CONFIG_ATTR, SweepConfig
from sweeper.study.designs import design_of


@dataclass(frozen=True)
class NextStage:
    """What came after a met budget, for the worker to take in."""

    config: SweepConfig  # the study's config as stored now (a race's next round grows its budget)
    counts: TrialCounts  # its counts, read again when a round was queued
    raced: bool = False  # its race is over: never replayed again (a race does not reopen)
    evaluated: bool = False  # its evaluation was asked for (queued, found queued, or impossible)
    evaluation: str | None = None  # the evaluation study, to serve too
    notes: tuple[str, ...] = ()  # what was done, one line each, for the worker's log


def next_stage(settings: Settings, storage: optuna.storages.BaseStorage, study: optuna.Study,
               config: SweepConfig, counts: TrialCounts, *, raced: bool = False,
               evaluated: bool = False) -> NextStage:
    """Queue what comes after ``study``'s met budget (its ``counts`` under ``config``), if
    anything. ``raced`` and ``evaluated``: what the caller already saw done for this study."""
    from sweeper.evaluation.plan import prepare
    from sweeper.study.launch import advance_race

    name = study.study_name
    notes: list[str] = []
    if design_of(config.design).races and not raced:
        # A round of the race is over: queue the next one, and count again, so that the queued
        # trials are popped rather than new ones sampled.
        advanced = advance_race(settings, name, storage)
        raced = advanced.plan.stage == "done"
        if advanced.added:
            notes.append(f"{name}: {advanced.plan.describe(config.repeats)}; queued {advanced.added} trial(s)")
        config = SweepConfig.from_attrs(study_user_attrs(storage, name)[CONFIG_ATTR])
        counts = count_trials(study)
        if counts.finished < config.budget:
            return NextStage(config, counts, raced=raced, notes=tuple(notes))
    evaluation = None
    if config.evaluate_seeds and config.kind == "search" and not evaluated:
        # The test-split re-training of the sweep's best configurations.
        evaluated = True
        try:
            plan = prepare(settings, name, config.evaluate_seeds, storage)
        except NoStudyError as exc:  # no complete trial to evaluate (all pruned or diverged)
            notes.append(f"no evaluation of {name}: {exc}")
        else:
            if plan.enqueued:
                notes.append(f"{name} finished its budget: {plan.describe()}")
            evaluation = plan.eval_study
    return NextStage(config, counts, raced, evaluated, evaluation, tuple(notes))
