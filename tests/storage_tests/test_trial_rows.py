"""The Core trial writes store exactly what Optuna's ORM writes store, and fail the same way.

Every call is made twice on one database: through Optuna's own ``RDBStorage`` method on one trial,
through ours on a twin trial, and the two trials are then read back and compared.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import optuna
import pytest
import sqlalchemy
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState

from sweeper.settings import Settings
from sweeper.storage import ResilientRDBStorage, open_storage

X = FloatDistribution(1e-6, 1.0, log=True)


def _optunas(storage: ResilientRDBStorage, name: str) -> Callable[..., Any]:
    """Optuna's implementation of ``name``, bound to our storage (its ORM helpers are not ours)."""
    return getattr(RDBStorage, name).__get__(storage)


def _stored(t: FrozenTrial) -> str:
    """Everything stored with a trial except its identity and timestamps, each mapping in key
    order (the two reads list keys in different orders); repr, so that NaN == NaN."""
    mappings = (t.params, t.distributions, t.user_attrs, t.system_attrs, t.intermediate_values)
    return repr((t.state, t.values, *(sorted(m.items()) for m in mappings),
                 t.datetime_start is not None, t.datetime_complete is not None))


def _twins(storage: ResilientRDBStorage, ours: int, theirs: int) -> tuple[str, str]:
    return _stored(storage.get_trial(ours)), _stored(RDBStorage.get_trial(storage, theirs))


@pytest.mark.parametrize("finish", [(TrialState.COMPLETE, [float("-inf")]), (TrialState.PRUNED, None),
                                    (TrialState.FAIL, None), (TrialState.COMPLETE, [0.25])])
def test_core_writes_store_what_optunas_store(storage_url: str, finish: tuple[TrialState, list[float] | None]) -> None:
    storage = open_storage(Settings(storage=storage_url), create_tables=True)
    study_id = storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], "s")
    ours, theirs = storage.create_new_trial(study_id), storage.create_new_trial(study_id)

    # First parameter of its name in the study (its distribution is looked up), then one whose
    # earlier distribution is passed in, as Optuna's trial cache does.
    storage.set_trial_param(ours, "x", 0.3, X)
    _optunas(storage, "_set_trial_param")(theirs, "x", 0.3, X, None)
    storage._set_trial_param(ours, "n", 3.0, IntDistribution(1, 9, step=2), IntDistribution(1, 9, step=2))
    _optunas(storage, "_set_trial_param")(theirs, "n", 3.0, IntDistribution(1, 9, step=2), IntDistribution(1, 9, step=2))
    penalty = CategoricalDistribution(["none", "l1", None])
    storage.set_trial_param(ours, "penalty", 2.0, penalty)
    _optunas(storage, "_set_trial_param")(theirs, "penalty", 2.0, penalty, None)
    for step, value in [(1, 0.5), (1, 0.6), (2, float("nan")), (3, float("inf")), (4, float("-inf"))]:
        storage.set_trial_intermediate_value(ours, step, value)
        _optunas(storage, "set_trial_intermediate_value")(theirs, step, value)
    attrs = {"history": {"val_accuracy": [0.1, 0.2]}, "seed": 7, "note": "ünïcode", "none": None}
    storage.set_trial_user_attrs(ours, attrs)
    storage.set_trial_user_attr(ours, "seed", 8)  # an update of one key
    for key, value in {**attrs, "seed": 8}.items():
        _optunas(storage, "set_trial_user_attr")(theirs, key, value)
    for value in ("first", ["second", 2]):
        storage.set_trial_system_attr(ours, "tpe:relative_params:0", value)
        _optunas(storage, "set_trial_system_attr")(theirs, "tpe:relative_params:0", value)
    assert _twins(storage, ours, theirs)[0] == _twins(storage, ours, theirs)[1]

    state, values = finish
    assert storage.set_trial_state_values(ours, state, values)
    assert _optunas(storage, "set_trial_state_values")(theirs, state, values)
    mine, optunas = _twins(storage, ours, theirs)
    assert mine == optunas
    assert storage.get_trial(ours).state == state


def test_core_writes_refuse_what_optunas_refuse(storage_url: str) -> None:
    storage = open_storage(Settings(storage=storage_url), create_tables=True)
    study_id = storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], "s")
    running, done = storage.create_new_trial(study_id), storage.create_new_trial(study_id)
    storage.set_trial_param(running, "x", 0.3, X)
    storage.set_trial_state_values(done, TrialState.COMPLETE, [0.5])
    calls: dict[str, tuple[Any, ...]] = {
        "set_trial_param": ("y", 0.1, X),
        "set_trial_intermediate_value": (1, 0.5),
        "set_trial_user_attr": ("k", 1),
        "set_trial_system_attr": ("k", 1),
        "set_trial_state_values": (TrialState.FAIL, None),
    }
    for name, args in calls.items():
        for method in (getattr(storage, name), _optunas(storage, name)):
            with pytest.raises(UpdateFinishedTrialError):
                method(done, *args)
            with pytest.raises(KeyError):
                method(10_000, *args)
    with pytest.raises(UpdateFinishedTrialError):
        storage.set_trial_user_attrs(done, {"a": 1, "b": 2})
    # A parameter whose distribution differs from the study's earlier one.
    other = storage.create_new_trial(study_id)
    for method in (storage.set_trial_param, _optunas(storage, "set_trial_param")):
        with pytest.raises(ValueError):
            method(other, "x", 1.0, CategoricalDistribution(["a", "b"]))
    assert storage.get_trial(other).params == {}
    assert storage.get_trial(done).user_attrs == {} and storage.get_trial(done).values == [0.5]


def test_a_trial_created_during_a_read_is_left_for_the_next_read(pg_url: str) -> None:
    """The trial rows and their child rows are two statements: on PostgreSQL (read committed) a
    trial created by another worker in between shows up only in the second. It is left out, not a
    KeyError that kills the worker. (SQLite's readers block the writer instead.)"""
    storage_url = pg_url
    storage = open_storage(Settings(storage=storage_url), create_tables=True)
    study_id = storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], "s")
    first = storage.create_new_trial(study_id)
    storage.set_trial_param(first, "x", 0.3, X)
    other = open_storage(Settings(storage=storage_url))

    def another_worker_creates_a_trial(conn: Any, clause: Any, *rest: Any) -> None:
        if "trials.number" in str(clause) and not created:  # right after the trial rows were read
            created.append(other.create_new_trial(study_id))
            other.set_trial_param(created[0], "x", 0.5, X)

    created: list[int] = []
    sqlalchemy.event.listen(storage.engine, "after_execute", another_worker_creates_a_trial)
    try:
        assert [t._trial_id for t in storage._get_trials(study_id, None, set(), -1)] == [first]
    finally:
        sqlalchemy.event.remove(storage.engine, "after_execute", another_worker_creates_a_trial)
    assert created and [t.params for t in storage._get_trials(study_id, None, set(), -1)] == [{"x": 0.3}, {"x": 0.5}]


def test_parameters_set_in_one_transaction_store_what_optunas_store_and_refuse_the_same(storage_url: str) -> None:
    storage = open_storage(Settings(storage=storage_url), create_tables=True)
    study_id = storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], "s")
    earlier, ours, theirs = (storage.create_new_trial(study_id) for _ in range(3))
    storage.set_trial_param(earlier, "x", 0.5, X)  # the study's distribution of x, looked up
    penalty = CategoricalDistribution(["none", "l1", None])
    with storage.params_in_one_transaction(ours):
        storage.set_trial_param(ours, "x", 0.3, X)
        storage._set_trial_param(ours, "n", 3.0, IntDistribution(1, 9, step=2), IntDistribution(1, 9, step=2))
        storage.set_trial_param(ours, "penalty", 2.0, penalty)
        storage.set_trial_param(ours, "penalty", 1.0, penalty)  # set twice: the first value stays
        assert storage.get_trial(ours).params == {}  # nothing written before the block ends
    _optunas(storage, "_set_trial_param")(theirs, "x", 0.3, X, None)
    _optunas(storage, "_set_trial_param")(theirs, "n", 3.0, IntDistribution(1, 9, step=2), IntDistribution(1, 9, step=2))
    _optunas(storage, "_set_trial_param")(theirs, "penalty", 2.0, penalty, None)
    mine, optunas = _twins(storage, ours, theirs)
    assert mine == optunas

    # An incompatible distribution, and a trial another process finished meanwhile, are refused
    # as Optuna refuses them, and nothing of the block is written.
    other = storage.create_new_trial(study_id)
    with pytest.raises(ValueError):
        with storage.params_in_one_transaction(other):
            storage.set_trial_param(other, "y", 1.0, X)
            storage.set_trial_param(other, "x", 0.3, FloatDistribution(0.0, 1.0))
    assert storage.get_trial(other).params == {}
    with pytest.raises(UpdateFinishedTrialError):
        with storage.params_in_one_transaction(other):
            storage.set_trial_param(other, "x", 0.3, X)
            RDBStorage.set_trial_state_values(storage, other, TrialState.FAIL)  # reaped meanwhile
    assert storage.get_trial(other).params == {}
