"""One trial, once a worker has claimed it: its configuration sampled, its task trained, its
results stored, and, when a stop signal or a lost database ends it, its copy queued again.

A stop signal (SIGTERM, Ctrl-C) raises ``Shutdown`` (``sweeper.worker.lifecycle``) in the main
thread while a trial trains. Library code can mishandle it: swallow it and return early, or replace
it with an error of its own in its clean-up (TensorFlow's graph contexts: "Nesting violated for
default stack"). A received stop therefore wins wherever the trial ends: at the next epoch
boundary, on an early return, or on any error, the trial is failed as stopped and queued again.

A trial another process failed while it still ran (reaped as stale: its heartbeats could not reach
the database, over a network partition say) ends with ``TrialReaped`` at its next write; the worker
abandons it, goes on, and takes the reap off its copy's retry count (``uncount_reap``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeper.errors import StorageError, TaskError, TrialDiverged
from sweeper.storage import MAX_RETRIES_PER_TRIAL, optuna_private
from sweeper.storage.attrs import PLANNED_ATTRS, SEED_ATTRS
from sweeper.storage.requeue import GIVEN_UP, is_planned, queue_copy
from sweeper.study.config import SweepConfig
from sweeper.tasks import LoadedTask, Splits, TrainingRun
from sweeper.tasks.hyperparams import Hyperparams
from sweeper.tasks.results import FAIL_REASON, STOP_REASON, TrainingResult
from sweeper.worker.lifecycle import Shutdown, StopSignal

__all__ = ["PLANNED_ATTRS", "TrialOutcome", "TrialReaped", "TrialRunner", "requeue_uncounted", "trial_seed"]


class TrialReaped(BaseException):
    """The trial was failed by another process while this worker ran it. A BaseException, so
    that Optuna's optimize lets it through instead of telling a finished trial."""


@dataclass
class TrialOutcome:
    """What a claimed trial left for the worker to act on: its id, and either how it ended
    (complete or pruned: enough to log it without reading it back) or the database it lost."""

    trial_id: int | None = None
    ended: tuple[optuna.Trial, TrialState, float | None] | None = None
    lost_database: StorageError | None = None


def trial_seed(base_seed: int, trial: optuna.Trial) -> int:
    """A retried trial keeps the seed of the trial it repeats; a planned run (a repeat of a curve
    study, an evaluation run) uses the seed it was queued with."""
    for key in SEED_ATTRS:
        if key in trial.user_attrs:
            return int(trial.user_attrs[key])
    # The trial's frozen copy, read when the trial was created, saves a query per trial.
    system_attrs = optuna_private.frozen(trial).system_attrs
    original = system_attrs.get("failed_trial", trial.number)
    return (base_seed * 1_000_003 + int(original)) % (2**31 - 1)


def requeue_uncounted(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queue a copy of a trial that a stop signal or a lost database ended: like Optuna's retry
    callback (same parameters; ``failed_trial`` keeps the seed), but not counted in its
    ``retry_history``, so a fleet that preempts a configuration again and again never drops it.
    Only crashes (no heartbeat: an out-of-memory kill, say) count towards the retry limit."""
    queue_copy(study, trial, list(trial.system_attrs.get("retry_history", [])))


def uncount_reap(storage: optuna.storages.BaseStorage, study: optuna.Study, trial: FrozenTrial) -> None:
    """A live trial was reaped (its worker found it failed): the reap is not the configuration's
    fault, so the copy Optuna's retry callback queued loses that entry of its ``retry_history``;
    when the retry limit kept the callback from queueing one, a copy is queued uncounted."""
    reruns = [t for t in storage.get_all_trials(optuna_private.study_id(study), deepcopy=False)
              if t.system_attrs.get("retry_history", [])[-1:] == [trial.number]]
    for rerun in reruns:
        if rerun.state.is_finished():
            continue
        try:
            storage.set_trial_system_attr(optuna_private.trial_id(rerun), "retry_history",
                                          rerun.system_attrs["retry_history"][:-1])
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # finished meanwhile: its count no longer matters
    # (Below the limit, or for a planned run, the callback queues the copy itself, perhaps a
    # moment after the reap.)
    if (not reruns and not is_planned(trial.user_attrs)
            and len(trial.system_attrs.get("retry_history", [])) >= MAX_RETRIES_PER_TRIAL):
        requeue_uncounted(study, trial)


@dataclass
class TrialRunner:
    """Runs the trials of one worker process."""

    storage: optuna.storages.RDBStorage
    stop: StopSignal
    worker_name: str
    sampler_seed: int
    log: Callable[[str], None]
    index: int = 0
    trained: bool = False  # whether a trial has started training in this process

    def objective(self, loaded: LoadedTask, splits: Splits, config: SweepConfig,
                  outcome: TrialOutcome) -> Callable[[optuna.Trial], float]:
        """The objective ``study.optimize`` calls for one trial; ``outcome`` records how it ended."""

        def objective(trial: optuna.Trial) -> float:
            outcome.trial_id = optuna_private.trial_id(trial)
            try:
                # The sampler's reads share one snapshot; its parameters are written together.
                with trial.study.one_snapshot(), self.storage.params_in_one_transaction(outcome.trial_id):  # type: ignore[attr-defined]
                    hp = config.space.suggest(trial)
                seed = trial_seed(config.seed, trial)
                self._set_attrs(trial, {"seed": seed, "sampler_seed": self.sampler_seed, "worker": self.worker_name})
                value = self._train(trial, loaded, splits, config, hp, seed)
            except optuna.TrialPruned:
                outcome.ended = (trial, TrialState.PRUNED, None)
                raise
            except optuna.exceptions.UpdateFinishedTrialError as exc:
                raise TrialReaped(str(exc)) from None
            except StorageError as exc:
                if exc.transient:
                    # The database was away for longer than the storage retries: not the
                    # configuration's fault, so the trial is queued again like a stopped one.
                    outcome.lost_database = exc
                raise
            except Exception as exc:
                if is_planned(trial.user_attrs):
                    # The task's own fault, which its fixed seed would repeat: not run again, and
                    # counted, so that no sampled trial takes its place (sweeper.storage.requeue).
                    self.storage.set_trial_system_attr(outcome.trial_id, GIVEN_UP, f"{type(exc).__name__}: {str(exc)[:200]}")
                raise
            if math.isfinite(value):  # what Optuna's tell stores as COMPLETE
                outcome.ended = (trial, TrialState.COMPLETE, value)
            return value

        return objective

    def _train(self, trial: optuna.Trial, loaded: LoadedTask, splits: Splits, config: SweepConfig,
               hp: Hyperparams, seed: int) -> float:
        objective = config.goal
        if loaded.task.uses_keras:
            import keras

            keras.backend.clear_session()
            keras.utils.set_random_seed(seed)

        def report(epoch: int, logs: dict[str, float]) -> None:
            self.stop.raise_if_received()  # an epoch boundary: the next safe point to stop
            trial.report(logs[objective.log_key], step=epoch + 1)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned by the {config.pruner} pruner after epoch {epoch + 1}")

        result = TrainingResult()
        run = TrainingRun(epochs=config.epochs, batch_size=config.batch_size, learning_rate=config.learning_rate,
                          objective=objective, report=report, result=result, seed=seed)
        self.stop.in_trial = self.trained = True
        try:
            self.stop.raise_if_received()
            try:
                loaded.task.train(hp, splits, run)
            except TaskError as exc:  # the task's model is unusable: say where it comes from
                raise TaskError(f"{loaded.where}: {exc}") from None
            if result.epochs_run < config.epochs:
                self.stop.raise_if_received()  # swallowed by library code that returned early
        except TrialDiverged as exc:
            self._end(trial, result, stop_reason=f"diverged: {exc}")
            raise optuna.TrialPruned(f"diverged: {exc}") from None
        except optuna.TrialPruned as exc:
            self._end(trial, result, stop_reason=str(exc))
            raise
        except Shutdown as exc:
            self._end(trial, result, fail_reason=f"worker stopped by {exc}")
            raise
        except Exception as exc:
            if self.stop.received:  # replaced by library code's own error in its clean-up
                stop = Shutdown(self.stop.signum)  # type: ignore[arg-type]
                self._end(trial, result, fail_reason=f"worker stopped by {stop}")
                raise stop from exc
            self._end(trial, result, fail_reason=f"{type(exc).__name__}: {str(exc)[:300]}")
            raise
        self._end(trial, result)
        if objective.log_key not in result.final:
            raise TaskError(f"{loaded.where}: train() left no final {objective.log_key} in its result")
        return float(result.final[objective.log_key])

    def _end(self, trial: optuna.Trial, result: TrainingResult, *, stop_reason: str | None = None,
             fail_reason: str | None = None) -> None:
        """Training is over (signals no longer interrupt): store what it produced and why it ended."""
        self.stop.in_trial = False
        attrs = result.as_attrs()
        if stop_reason:
            attrs[STOP_REASON] = stop_reason
        if fail_reason:
            attrs[FAIL_REASON] = fail_reason
        self._set_attrs(trial, attrs)

    def _set_attrs(self, trial: optuna.Trial, attrs: dict[str, Any]) -> None:
        self.storage.set_trial_user_attrs(optuna_private.trial_id(trial), attrs)
        optuna_private.frozen(trial).user_attrs.update(attrs)  # as Trial.set_user_attr does

    def requeue(self, study: optuna.Study, trial_id: int | None, why: str) -> None:
        """A trial interrupted by SIGTERM/Ctrl-C, or one that lost the database, is failed now and
        queued again with the same parameters, instead of waiting for the heartbeat grace period."""
        if trial_id is None:
            return
        frozen = self.storage.get_trial(trial_id)
        if frozen.state == TrialState.RUNNING:
            self.storage.set_trial_state_values(trial_id, TrialState.FAIL)
            frozen = self.storage.get_trial(trial_id)
        if frozen.state == TrialState.FAIL:
            requeue_uncounted(study, frozen)
        self.log(f"[worker {self.index}] {why}; trial {frozen.number} failed and re-queued")

    def abandon(self, study: optuna.Study, trial_id: int | None) -> bool:
        """If another process failed this worker's trial while it ran (reaped it as stale), let
        it go, with the reap not counted: True. False when the trial was not reaped."""
        if trial_id is None:
            return False
        frozen = self.storage.get_trial(trial_id)
        if frozen.state != TrialState.FAIL:
            return False
        uncount_reap(self.storage, study, frozen)
        self.log(f"[worker {self.index}] {study.study_name} trial {frozen.number} was failed by another process "
                 "while it ran (its heartbeats did not reach the database); abandoned, its re-run not counted "
                 "as a retry")
        return True

    def ended(self, study: optuna.Study, config: SweepConfig, outcome: TrialOutcome) -> tuple[TrialState, dict[str, Any]]:
        """Log how a trial ended; its state and attrs (read back only when it failed)."""
        if outcome.ended is not None:  # completed or pruned: everything to log is in hand
            trial, state, value = outcome.ended
            number, params, attrs = trial.number, trial.params, trial.user_attrs
        else:  # failed, or ended in a way only the stored trial tells
            t = self.storage.get_trial(outcome.trial_id)  # type: ignore[arg-type]
            number, params, attrs, state, value = t.number, t.params, t.user_attrs, t.state, t.value
        key = f"test_{config.goal.metric}" if config.kind == "evaluate" else config.goal.log_key
        shown = f"{key}={value:.4f}" if value is not None else f"{key}=-"
        reason = attrs.get(STOP_REASON) or attrs.get(FAIL_REASON) or ""
        self.log(
            f"[worker {self.index}] {study.study_name} trial {number} {state.name.lower()} "
            f"{Hyperparams.from_params(params).describe()} {shown} epochs={attrs.get('epochs_run', 0)} "
            f"time={attrs.get('wall_time_s', 0):.1f}s{(' (' + reason + ')') if reason else ''}"
        )
        return state, attrs
