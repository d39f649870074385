"""Counting a study's trials by state: the budget arithmetic shared by workers, status and run."""

from __future__ import annotations

import collections
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from sweeper.storage.optuna_private import storage_behind_cache, study_id, study_storage


@dataclass(frozen=True)
class TrialCounts:
    complete: int = 0
    pruned: int = 0
    fail: int = 0
    running: int = 0
    waiting: int = 0
    given_up: int = 0  # of the failed: planned runs not run again (sweeper.storage.requeue)
    # Worked out from what the worker last read (its claim's count, ``after_claim``), not read
    # now: other workers' trials since then are missing, so it is good for trying a claim (the
    # storage checks the budget again) and for nothing that ends or waits on a study.
    estimated: bool = False

    @property
    def finished(self) -> int:
        """Trials that count towards the budget: complete, pruned, and planned runs given up
        (failed by their own fault: a sampled trial in their place would be of no use to the
        design). Other failed trials are run again, or replaced by a sampled trial."""
        return self.complete + self.pruned + self.given_up


def after_claim(before: TrialCounts, seen: Mapping[TrialState, int], *, popped: bool, ended: TrialState) -> TrialCounts:
    """The counts a worker can carry to its next claim without counting again, after a claim
    whose transaction counted ``seen`` (before its own trial) and whose trial ended ``ended``
    (complete or pruned): its own trial moved from queued (``popped``) to ``ended``; other
    workers' running trials stay running (one that finished since still holds its slot here, so
    the estimate errs towards a full budget, which is then counted afresh). Planned runs given up
    are as ``before``."""
    if ended not in (TrialState.COMPLETE, TrialState.PRUNED):
        raise ValueError(f"a {ended.name} trial may have been queued again: count afresh")
    return TrialCounts(
        complete=seen.get(TrialState.COMPLETE, 0) + (ended == TrialState.COMPLETE),
        pruned=seen.get(TrialState.PRUNED, 0) + (ended == TrialState.PRUNED),
        fail=seen.get(TrialState.FAIL, 0),
        running=seen.get(TrialState.RUNNING, 0),
        waiting=max(0, seen.get(TrialState.WAITING, 0) - popped),
        given_up=before.given_up,
        estimated=True,
    )


def count_trials(study: optuna.Study) -> TrialCounts:
    """Counts from one snapshot: counting state by state in separate reads misses a trial that
    moves from RUNNING to COMPLETE in between, and then a worker overshoots the budget. On our
    storage that is one aggregate query (workers count under the claim lock: it must be short)."""
    storage = storage_behind_cache(study)
    given_up = 0
    if hasattr(storage, "count_trials_and_given_up"):
        by_state, given_up = storage.count_trials_and_given_up(study_id(study))
        states = collections.Counter(by_state)
    else:
        states = collections.Counter(
            t.state for t in study_storage(study).get_all_trials(study_id(study), deepcopy=False)
        )
    return TrialCounts(
        given_up=given_up,
        complete=states[TrialState.COMPLETE],
        pruned=states[TrialState.PRUNED],
        fail=states[TrialState.FAIL],
        running=states[TrialState.RUNNING],
        waiting=states[TrialState.WAITING],
    )


def reap_stale_trials(studies: Sequence[optuna.Study], *, wait: bool = False) -> None:
    """Fail trials whose worker stopped beating, re-queueing them (the storage's callback). A
    trial past the grace period is first watched until this process has seen its heartbeat stand
    still for a while (``sweeper.storage.stale``): a worker reaps it at a later call; with
    ``wait`` (a one-shot command, ``sweeper status``) this call waits for that, once for all."""
    for study in studies:
        optuna.storages.fail_stale_trials(study)
    watches = {id(w): w for w in (getattr(storage_behind_cache(s), "stale_watch", None) for s in studies) if w}
    pending = [s for s in (w.wait_s() for w in watches.values()) if s is not None]
    if wait and pending:
        time.sleep(max(pending))
        for study in studies:
            optuna.storages.fail_stale_trials(study)
