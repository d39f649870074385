from __future__ import annotations

import pytest
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from sweeper.settings import Settings
from sweeper.storage import ClaimContext, open_storage
from sweeper.storage.counts import TrialCounts, after_claim


def test_after_a_claim_a_worker_knows_the_counts_its_transaction_saw_with_its_own_trial_ended() -> None:
    seen = {TrialState.COMPLETE: 5, TrialState.PRUNED: 2, TrialState.RUNNING: 3, TrialState.WAITING: 1,
            TrialState.FAIL: 1}
    before = TrialCounts(complete=4, pruned=2, running=3, waiting=1, fail=1, given_up=1)
    popped = after_claim(before, seen, popped=True, ended=TrialState.PRUNED)
    assert popped == TrialCounts(complete=5, pruned=3, fail=1, running=3, waiting=0, given_up=1, estimated=True)
    assert popped.finished == 9
    sampled = after_claim(before, seen, popped=False, ended=TrialState.COMPLETE)
    assert (sampled.complete, sampled.pruned, sampled.waiting) == (6, 2, 1)


def test_a_failed_trial_leaves_nothing_to_carry() -> None:
    """A failed trial may have been queued again by the retry callback: the worker counts afresh."""
    with pytest.raises(ValueError, match="count afresh"):
        after_claim(TrialCounts(), {}, popped=False, ended=TrialState.FAIL)


def test_a_claim_records_what_its_transaction_counted(storage_url: str) -> None:
    storage = open_storage(Settings(storage=storage_url), create_tables=True)
    study_id = storage.create_new_study([StudyDirection.MAXIMIZE], "s")
    done = storage.create_new_trial(study_id)
    storage.set_trial_state_values(done, TrialState.COMPLETE, [0.5])
    queued = storage.create_new_trial(study_id, template_trial=FrozenTrial(
        number=-1, state=TrialState.WAITING, value=None, datetime_start=None, datetime_complete=None, params={},
        distributions={}, user_attrs={}, system_attrs={}, intermediate_values={}, trial_id=-1))
    created = ClaimContext(study_id, 10)
    with storage.claiming(created):
        storage.create_new_trial(study_id)
    assert created.seen == {TrialState.COMPLETE: 1, TrialState.WAITING: 1} and not created.popped
    popping = ClaimContext(study_id, 10)
    with storage.claiming(popping):
        assert storage.set_trial_state_values(queued, TrialState.RUNNING)
    assert popping.seen == {TrialState.COMPLETE: 1, TrialState.WAITING: 1, TrialState.RUNNING: 1} and popping.popped

