"""The one schema of a trial's params and of its result attrs: what is written is what is read."""

from __future__ import annotations

import pytest

from sweeper.tasks.hyperparams import (
    BASELINE_PARAMS,
    Hyperparams,
    dropout_of,
    l1_ratio_of,
    lambda_of,
    make_params,
    penalty_of,
)
from sweeper.tasks.results import StoredResult, TrainingResult


@pytest.mark.parametrize("hp", [
    Hyperparams("none", dropout=0.3),
    Hyperparams("l1", lam=1e-4),
    Hyperparams("l2", lam=3e-3, dropout=0.2),
    Hyperparams("l1_l2", lam=1e-2, l1_ratio=0.25, dropout=0.1),
])
def test_params_round_trip(hp: Hyperparams) -> None:
    params = make_params(hp.penalty, hp.lam, hp.dropout, hp.l1_ratio)
    assert Hyperparams.from_params(params) == hp
    assert penalty_of(params) == hp.penalty and dropout_of(params) == hp.dropout
    assert lambda_of(params) == (None if hp.penalty == "none" else hp.lam)
    assert l1_ratio_of(params) == (hp.l1_ratio if hp.penalty == "l1_l2" else None)


def test_only_meaningful_params_are_stored() -> None:
    assert make_params("none", 1e-3, 0.0) == BASELINE_PARAMS
    assert make_params("l2", 1e-3, 0.1) == {"penalty": "l2", "lambda": 1e-3, "dropout": 0.1}
    assert Hyperparams.from_params({}) == Hyperparams()


def test_a_stored_result_reads_back_what_was_written() -> None:
    result = TrainingResult(history={"val_accuracy": [0.5, 0.6]}, epochs_run=2, wall_time_s=1.23456,
                            final={"train_loss": 0.4, "train_accuracy": 0.7, "val_loss": 0.9, "val_accuracy": 0.6},
                            sparsity=0.1, extra={"auc": 0.8})
    stored = StoredResult.from_attrs({**result.as_attrs(), "stop_reason": "pruned at epoch 2"})
    assert stored.history == result.history and stored.epochs_run == 2 and stored.wall_time_s == 1.235
    assert stored.train("accuracy") == 0.7 and stored.train("loss") == 0.4 and stored.val("loss") == 0.9
    assert stored.sparsity == 0.1 and stored.reason == "pruned at epoch 2"
    empty = StoredResult.from_attrs({})
    assert empty.epochs_run is None and empty.history == {} and empty.train("accuracy") is None
