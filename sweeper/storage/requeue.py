"""Queueing a failed trial's copy: what a copy keeps, how often a crashed trial is run again, and
which failed planned runs are given up.

A copy is a WAITING trial with the original's parameters, its planned user attrs (``PLANNED_ATTRS``)
and the system attrs ``failed_trial`` (the first trial of the series: the copy's seed follows it)
and ``retry_history`` (the crash re-queues so far), as Optuna's ``RetryHeartbeatStaleTrialCallback``
makes it.

A **planned run** (a curve or adaptive design's (configuration, seed), an evaluation run: it carries
``fixed_seed`` or ``eval_seed``) is part of a design that pairs it with other runs of the same seed;
a sampled trial in its place is of no use to the design. So a planned run whose worker crashed is
queued again whatever its retry count, and is never replaced by a sampled trial. Its own fault (an
exception in the task's code, which would fail again on the same seed) is not retried: the worker
marks it ``given_up`` before failing it, it counts towards the budget
(``sweeper.storage.counts.TrialCounts.finished``), and the design reads it as a run without a
result. A sampled trial is re-run after at most ``MAX_RETRIES_PER_TRIAL`` crashes, then left failed
(a configuration that kills its worker each time); the budget's free slot goes to a new sample.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeper.storage.attrs import PLANNED_ATTRS, SEED_ATTRS

# A configuration that crashes its worker (no heartbeat: out of memory, say) is run again this
# many times, then given up, unless it is a planned run. Stops and lost databases do not count.
MAX_RETRIES_PER_TRIAL = 3
# System attr of a failed planned run that is not run again (its own fault): the reason.
GIVEN_UP = "given_up"
# A failed planned run with no copy and no GIVEN_UP this long after it failed lost its copy (the
# process that failed it died before queueing it); the re-queue a live reaper makes comes at once.
ORPHAN_AFTER_S = 60.0


def is_planned(user_attrs: Mapping[str, Any]) -> bool:
    """Whether a trial is a planned run of a fixed seed (never replaced by a sampled trial)."""
    return any(key in user_attrs for key in SEED_ATTRS)


def queue_copy(study: optuna.Study, trial: FrozenTrial, retry_history: list[int]) -> None:
    """Queue a WAITING copy of ``trial`` with ``retry_history``."""
    system_attrs = {"failed_trial": trial.number, **trial.system_attrs, "retry_history": retry_history}
    system_attrs.pop(GIVEN_UP, None)
    study.add_trial(optuna.trial.create_trial(
        state=TrialState.WAITING,
        # A trial failed before it set its parameters has none: a queued one's copy is popped
        # with its ``fixed_params`` (kept in the system attrs), a sampled one's samples anew.
        params=trial.params,
        distributions=trial.distributions,
        user_attrs={k: v for k, v in trial.user_attrs.items() if k in PLANNED_ATTRS},
        system_attrs=system_attrs,
    ))


class RequeueCrashedTrial:
    """The heartbeat's stale-trial callback: a crashed trial (its worker stopped beating) is queued
    again with the crash counted in its ``retry_history``; a sampled trial at most
    ``max_retry`` times, a planned run always (unless its worker had given it up just before
    dying)."""

    def __init__(self, max_retry: int = MAX_RETRIES_PER_TRIAL) -> None:
        self.max_retry = max_retry

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if GIVEN_UP in trial.system_attrs:
            return
        history = [*trial.system_attrs.get("retry_history", []), trial.number]
        if len(history) > self.max_retry and not is_planned(trial.user_attrs):
            return
        queue_copy(study, trial, history)


def planned_key(trial: FrozenTrial) -> str:
    """The (configuration, seed) a planned trial runs: its queued params and planned attrs."""
    params = trial.system_attrs.get("fixed_params") or trial.params
    planned = {k: trial.user_attrs[k] for k in PLANNED_ATTRS if k in trial.user_attrs}
    return json.dumps([params, planned], sort_keys=True, default=str)


def orphaned_runs(trials: list[FrozenTrial], now: datetime.datetime) -> list[FrozenTrial]:
    """Failed planned runs whose copy was never queued (the process that failed them died in
    between): no other trial holds their (configuration, seed), they were not given up, and they
    failed more than ``ORPHAN_AFTER_S`` ago. One per (configuration, seed)."""
    # Held: a trial of the key is queued, running or finished, or was given up.
    held = {planned_key(t) for t in trials if is_planned(t.user_attrs)
            and (t.state != TrialState.FAIL or GIVEN_UP in t.system_attrs)}
    out: dict[str, FrozenTrial] = {}
    for t in trials:
        if t.state != TrialState.FAIL or not is_planned(t.user_attrs):
            continue
        key = planned_key(t)
        if key in held or t.datetime_complete is None:
            continue
        if (now - t.datetime_complete).total_seconds() < ORPHAN_AFTER_S:
            held.add(key)  # its reaper may still be queueing the copy: leave the key alone
            continue
        if key not in out or t.number > out[key].number:
            out[key] = t
    return [t for k, t in out.items() if k not in held]


def requeue_orphans(study: optuna.Study) -> int:
    """Queue a copy of every orphaned planned run of ``study`` (the caller holds the launch lock,
    so two processes never queue the same one): how many."""
    trials = study.get_trials(deepcopy=False)
    orphans = orphaned_runs(trials, datetime.datetime.now())
    for trial in orphans:
        queue_copy(study, trial, list(trial.system_attrs.get("retry_history", [])))
    return len(orphans)
