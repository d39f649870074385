"""What a worker brings to one claim of a trial: the study's budget, and what to do once the trial
is claimed. The storage enforces the budget in the transaction that creates or pops the trial
(``ResilientRDBStorage.claiming``); nothing of it stays on the storage after the claim."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from optuna.trial import TrialState


class BudgetMet(Exception):
    """Trial creation refused: the study's budget is already complete, pruned or running."""


@dataclass
class ClaimContext:
    """One claim of a trial of study ``study_id``: it is made only while the study's complete,
    pruned and running trials stay below ``budget``; ``on_claimed`` is called once, as soon as
    the trial row is RUNNING (on SQLite the worker releases its claim lock there)."""

    study_id: int
    budget: int
    on_claimed: Callable[[], None] | None = None
    # What the claim's transaction counted, before its own trial (the study's trials by state),
    # and whether it popped a queued trial: a worker carries them to its next claim instead of
    # counting again (``sweeper.storage.counts.after_claim``).
    seen: dict[TrialState, int] | None = None
    popped: bool = False

    def claimed(self) -> None:
        """The trial is claimed: call ``on_claimed`` (once)."""
        callback, self.on_claimed = self.on_claimed, None
        if callback is not None:
            callback()
