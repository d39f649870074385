"""The Optuna study a worker drives: the same study, read from the database less often.

Per trial, Optuna 5.0 reads all of a study's unfinished trials back (params, attrs, intermediate
values) once to look for a queued trial and then once per sampling step: TPE with
``constant_liar`` (its default) and ``group=True`` reads them three to five times to propose one
configuration. With 32 workers that is every running trial, re-read by every worker, several times
per trial, and it is what saturates the database server. This study:

- looks for queued trials only when the aggregate count says there are any (the worker's own
  count just before it asks, ``queue_hint``, or a fresh one);
- serves every read made while sampling one trial from one snapshot, taken at its first read.

A worker claims and runs a trial through ``run_one``: the claim (``sweeper.storage.claim``) carries
the study's budget into the storage's creating transaction.

- serves reads of finished trials only (a pruner's, each epoch: the median pruner reads every
  complete trial's intermediate values) from this process's copy, read once per trial and again
  every ``FINISHED_READ_S`` seconds of a long one: a finished trial never changes, and a pruner
  judges a trial against the trials finished when it started (and since, at most that late).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Container, Iterator
from contextlib import contextmanager

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeper.storage.claim import ClaimContext
from sweeper.storage.counts import count_trials
from sweeper.storage.optuna_private import forget_cached_trials, storage_behind_cache, study_id


# A worker re-reads a study's finished trials (for its pruner) at most this often.
FINISHED_READ_S = 30.0
FINISHED = frozenset((TrialState.COMPLETE, TrialState.PRUNED))


class WorkerStudy(optuna.Study):
    _snapshot = False
    # The study's finished trials as last read, and when (this process's clock).
    _finished: tuple[float, list[FrozenTrial]] | None = None
    # Whether the worker's latest count saw queued trials; None: count again before popping.
    queue_hint: bool | None = None

    def run_one(self, objective: Callable[[optuna.Trial], float], *, budget: int, queued: bool | None,
                on_claimed: Callable[[], None] | None = None) -> ClaimContext:
        """Claim one trial and run ``objective`` on it through ``optimize(n_trials=1)``, so that
        Optuna drives the heartbeat (the objective's errors fail the trial). The claim pops a
        queued trial first (``queued``: whether the caller's count just saw any; None: count
        again), stays within ``budget`` (``BudgetMet`` otherwise) and calls ``on_claimed`` as
        soon as the trial row is RUNNING. Returns the claim, with what its transaction counted."""
        self.queue_hint = queued
        self._finished = None  # the pruner's finished trials: read afresh for each trial
        claim = ClaimContext(study_id(self), budget, on_claimed)
        with storage_behind_cache(self).claiming(claim):  # type: ignore[attr-defined]
            self.optimize(objective, n_trials=1, catch=(Exception,))
        return claim

    @contextmanager
    def one_snapshot(self) -> Iterator[None]:
        """Reads inside share one snapshot of the study's trials (the sampler's reads)."""
        forget_cached_trials(self)
        self._snapshot = True
        try:
            yield
        finally:
            self._snapshot = False
            forget_cached_trials(self)

    def _get_trials(
        self,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
        use_cache: bool = False,
    ) -> list[FrozenTrial]:
        if states is not None and not (use_cache or self._snapshot) and set(states) <= FINISHED:  # type: ignore[arg-type]
            finished = self._finished_trials()
            out = [t for t in finished if t.state in states]
            return copy.deepcopy(out) if deepcopy else out
        return super()._get_trials(deepcopy, states, use_cache or self._snapshot)

    def _finished_trials(self) -> list[FrozenTrial]:
        now = time.monotonic()
        if self._finished is None or now - self._finished[0] >= FINISHED_READ_S:
            self._finished = (now, super()._get_trials(False, tuple(FINISHED), False))
        return self._finished[1]

    def add_trial(self, trial: FrozenTrial) -> None:
        super().add_trial(trial)
        if trial.state == TrialState.WAITING:
            # A copy the stale-trial callback just queued (Optuna reaps right before it asks):
            # pop it rather than sample a new trial on the strength of an older count.
            self.queue_hint = True

    def _pop_waiting_trial_id(self) -> int | None:
        hint, self.queue_hint = self.queue_hint, None  # good for one ask
        if not (hint if hint is not None else count_trials(self).waiting):
            # A trial queued after that count is left for the next claim.
            return None
        return super()._pop_waiting_trial_id()
