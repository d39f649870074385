from __future__ import annotations

import pickle
import socket
import subprocess
import sys
import threading
from pathlib import Path

import optuna
import pytest
import sqlalchemy
from optuna.trial import FrozenTrial, TrialState

from sweeper.errors import NoStudyError, StorageError
from sweeper.settings import Settings
from sweeper.storage import (
    BudgetMet,
    ClaimContext,
    ResilientRDBStorage,
    claim_lock,
    describe_failure,
    open_storage,
    redact,
    studies_with_attr,
    study_user_attrs,
)
from sweeper.storage import optuna_private
from tests.support import procs
from tests.support.postgres import PASSWORD, PostgresServer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_launch_creates_tables_and_workers_reuse_them(storage_url: str) -> None:
    settings = Settings(storage=storage_url)
    with pytest.raises(NoStudyError, match="sweeper launch"):
        open_storage(settings)  # a worker never creates tables
    storage = open_storage(settings, create_tables=True)
    optuna.create_study(study_name="s", storage=storage)
    assert [s.study_name for s in open_storage(settings).get_all_studies()] == ["s"]


def test_a_worker_storage_on_a_stamped_schema_is_optunas_without_alembic(storage_url: str, tmp_path: Path) -> None:
    """Workers skip Optuna's version manager (importing alembic); everything else Optuna's
    constructor sets is there, and the version manager still comes when asked for."""
    settings = Settings(storage=storage_url)
    full = open_storage(settings, create_tables=True)
    optuna.create_study(study_name="s", storage=full)
    worker = open_storage(settings, check_schema=False)
    assert "_version_manager" not in vars(worker)
    assert set(vars(full)) - {"_version_manager"} <= set(vars(worker))
    assert (worker.url, worker.heartbeat_interval, worker.grace_period) == (full.url, full.heartbeat_interval, full.grace_period)
    assert worker.get_heartbeat_stale_trial_callback() is not None
    assert [s.study_name for s in worker.get_all_studies()] == ["s"]
    assert [s.study_name for s in pickle.loads(pickle.dumps(worker)).get_all_studies()] == ["s"]
    assert worker.get_current_version() == full.get_current_version()  # built on first use
    code = (f"from sweeper.storage import open_storage; from sweeper.settings import Settings; import sys; "
            f"open_storage(Settings(storage={storage_url!r}), check_schema=False).get_all_studies(); "
            f"print('alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=procs.sweeper_env(storage_url))
    assert out.stdout.strip() == "False", out.stderr[-2000:]


def test_postgres_pool_is_small_and_survives_a_restart_without_pre_ping(pg_url: str, postgres_server: PostgresServer) -> None:
    storage = open_storage(Settings(storage=pg_url), create_tables=True)
    assert storage.engine.pool.size() == 2
    assert not storage.engine.pool._pre_ping  # no SELECT 1 per transaction: every call is retried instead
    assert storage.heartbeat_interval == Settings().heartbeat_interval
    study_id = storage.create_new_study([optuna.study.StudyDirection.MINIMIZE], "s")
    trial_id = storage.create_new_trial(study_id)
    storage.record_heartbeat(trial_id)
    postgres_server.restart()  # the pooled connections die with the server
    storage.set_trial_user_attr(trial_id, "after", "restart")
    storage.record_heartbeat(trial_id)
    assert storage.get_trial(trial_id).user_attrs == {"after": "restart"}
    assert [s.study_name for s in storage.get_all_studies()] == ["s"]


def test_claim_lock_is_exclusive_between_processes_sharing_a_sqlite_study(tmp_path: Path) -> None:
    settings = Settings(storage=f"sqlite:///{tmp_path / 'sweeper.db'}")
    first = open_storage(settings, create_tables=True)
    second = open_storage(settings)
    trying, acquired = threading.Event(), threading.Event()

    def other() -> None:
        trying.set()
        with claim_lock(second, "s"):
            acquired.set()

    with claim_lock(first, "s"):
        thread = threading.Thread(target=other)
        thread.start()
        assert trying.wait(10)  # the other side is now asking for the lock
        assert not acquired.wait(1.0)  # and does not get it while the first holds it
    assert acquired.wait(10)  # it gets it once released
    thread.join(10)


def _study(url: str, name: str = "s", storage: ResilientRDBStorage | None = None) -> tuple[ResilientRDBStorage, int]:
    storage = storage or open_storage(Settings(storage=url), create_tables=True)
    return storage, optuna_private.study_id(optuna.create_study(study_name=name, storage=storage))


def test_trial_creation_stops_at_the_budget_counting_running_trials(storage_url: str) -> None:
    storage, study_id = _study(storage_url)
    claims: list[int] = []
    with storage.claiming(ClaimContext(study_id, 3, on_claimed=lambda: claims.append(1))):
        first = storage.create_new_trial(study_id)
        assert claims == [1]  # as soon as the trial exists
        storage.create_new_trial(study_id)
        storage.set_trial_state_values(first, TrialState.COMPLETE, [0.5])
        storage.create_new_trial(study_id)
        with pytest.raises(BudgetMet):
            storage.create_new_trial(study_id)  # 1 complete + 2 running
        # A failed trial frees its slot, and re-queueing it (a WAITING copy) is never refused.
        storage.set_trial_state_values(first + 1, TrialState.FAIL)
        waiting = FrozenTrial(number=-1, state=TrialState.WAITING, value=None, datetime_start=None,
                              datetime_complete=None, params={}, distributions={}, user_attrs={},
                              system_attrs={}, intermediate_values={}, trial_id=-1)
        queued = storage.create_new_trial(study_id, template_trial=waiting)
        another = storage.create_new_trial(study_id, template_trial=waiting)
        assert storage.set_trial_state_values(queued, TrialState.RUNNING)  # popped into the free slot
        assert not storage.set_trial_state_values(another, TrialState.RUNNING)  # budget claimed
    assert claims == [1]  # once per claim
    states = [t.state for t in storage.get_all_trials(study_id)]
    assert states.count(TrialState.RUNNING) + states.count(TrialState.COMPLETE) == 3
    assert states.count(TrialState.WAITING) == 1
    # The budget is the claim's, not the storage's: nothing of it stays after the claim.
    assert storage.set_trial_state_values(another, TrialState.RUNNING)


def test_a_queued_copy_keeps_the_slot_its_failed_original_freed(storage_url: str) -> None:
    """A crashed trial's copy is queued a moment after other workers counted: a new sample may
    not take the slot from it (the copy would be left queued once the budget is met)."""
    storage, study_id = _study(storage_url)
    waiting = FrozenTrial(number=-1, state=TrialState.WAITING, value=None, datetime_start=None,
                          datetime_complete=None, params={}, distributions={}, user_attrs={},
                          system_attrs={}, intermediate_values={}, trial_id=-1)
    with storage.claiming(ClaimContext(study_id, 2)):
        first = storage.create_new_trial(study_id)
        crashed = storage.create_new_trial(study_id)
        storage.set_trial_state_values(first, TrialState.COMPLETE, [0.5])
        storage.set_trial_state_values(crashed, TrialState.FAIL)
        copy = storage.create_new_trial(study_id, template_trial=waiting)
        with pytest.raises(BudgetMet):
            storage.create_new_trial(study_id)  # 1 complete + 1 queued: the slot is the copy's
        assert storage.set_trial_state_values(copy, TrialState.RUNNING)


def test_a_claim_budgets_only_its_own_study_and_claims_do_not_nest(storage_url: str) -> None:
    storage, study_id = _study(storage_url)
    _, other = _study(storage_url, "other", storage)
    with storage.claiming(ClaimContext(study_id, 0)):
        storage.create_new_trial(other)
        with pytest.raises(BudgetMet):
            storage.create_new_trial(study_id)
        with pytest.raises(RuntimeError, match="already under way"), storage.claiming(ClaimContext(other, 1)):
            pass


def test_a_new_trial_is_read_back_from_its_creation_once(storage_url: str) -> None:
    """Optuna reads every trial back as soon as it is asked for: a new one costs no query, is what
    is stored, and the next read goes to the database again."""
    storage = open_storage(Settings(storage=storage_url), create_tables=True)
    study = optuna.create_study(study_name="s", storage=storage)
    statements: list[str] = []
    sqlalchemy.event.listen(storage.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    trial = study.ask()  # through Optuna's trial cache, as a worker asks
    asked = [s for s in statements if "trial_params" in s]
    assert asked == []  # creating the trial read nothing back
    assert repr(trial._cached_frozen_trial) == repr(optuna.storages.RDBStorage.get_trial(storage, trial._trial_id))
    statements.clear()
    assert repr(storage.get_trial(trial._trial_id)) == repr(trial._cached_frozen_trial)
    assert statements  # served once only: this read went to the database


def test_racing_creators_on_postgres_never_overshoot_the_budget(postgres_url: str) -> None:
    """Eight processes' worth of connections race to create trials; exactly the budget is made,
    straight to the server and through PgBouncer's 4 server connections."""
    _, study_id = _study(postgres_url)
    created: list[int] = []
    refused: list[int] = []
    start = threading.Barrier(8)

    def creator() -> None:
        storage = open_storage(Settings(storage=postgres_url), check_schema=False)
        start.wait()
        with storage.claiming(ClaimContext(study_id, 40)):
            while True:
                try:
                    created.append(storage.create_new_trial(study_id))
                except BudgetMet:
                    refused.append(1)
                    return

    threads = [threading.Thread(target=creator) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(created) == 40 and len(set(created)) == 40
    assert len(refused) == 8


def test_a_worker_storage_opened_before_launch_says_to_launch(storage_url: str) -> None:
    with pytest.raises(NoStudyError, match="sweeper launch"):
        open_storage(Settings(storage=storage_url), check_schema=False)


def test_studies_with_an_attr_in_creation_order_and_attrs_by_name(storage_url: str) -> None:
    settings = Settings(storage=storage_url)
    storage = open_storage(settings, create_tables=True)
    for name, attrs in [("b", {"config": 1}), ("a", {"task": "x"}), ("c", {"config": 2, "task": "y"})]:
        study = optuna.create_study(study_name=name, storage=storage)
        for key, value in attrs.items():
            study.set_user_attr(key, value)
    worker = open_storage(settings, check_schema=False)
    assert studies_with_attr(worker, "config") == ["b", "c"]
    assert studies_with_attr(worker, "missing") == []
    assert study_user_attrs(worker, "c") == {"config": 2, "task": "y"}
    with pytest.raises(NoStudyError, match=r"no study named 'd' .*\(studies: b, a, c\): run `sweeper launch d` first"):
        study_user_attrs(worker, "d")


def test_malformed_url_is_one_line() -> None:
    with pytest.raises(StorageError, match="is not a database URL") as info:
        open_storage(Settings(storage="postgres//nohost"))
    assert "\n" not in str(info.value)


def test_unknown_driver() -> None:
    with pytest.raises(StorageError, match="unknown database driver"):
        open_storage(Settings(storage="nosuchdb://u@h/db"))


def test_unreachable_host_names_the_host() -> None:
    port = _free_port()
    url = f"postgresql+psycopg2://u:secret@127.0.0.1:{port}/db"
    with pytest.raises(StorageError, match=f"cannot reach the database at 127.0.0.1:{port}") as info:
        open_storage(Settings(storage=url))
    assert "secret" not in str(info.value)


def test_wrong_password(postgres_server: PostgresServer) -> None:
    url = postgres_server.url("postgres", password="wrong-" + PASSWORD)
    with pytest.raises(StorageError, match="password authentication failed for user 'postgres'"):
        open_storage(Settings(storage=url))


def test_missing_database(postgres_server: PostgresServer) -> None:
    with pytest.raises(StorageError, match="does not exist .*createdb"):
        open_storage(Settings(storage=postgres_server.url("no_such_db")))


def test_redact_hides_password() -> None:
    assert "hunter2" not in redact("postgresql+psycopg2://me:hunter2@db:5432/x")
    assert "hunter2" not in describe_failure("postgresql://me:hunter2@db/x", RuntimeError("boom"))


def test_trial_read_matches_optunas_own(storage_url: str) -> None:
    """The Core read behind the trial cache returns exactly what Optuna's ORM read returns."""
    storage = open_storage(Settings(storage=storage_url), create_tables=True)
    study = optuna.create_study(study_name="s", storage=storage)

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 1e-6, 1.0, log=True)
        trial.suggest_int("n", 1, 9, step=2)
        choice = trial.suggest_categorical("c", ["none", "l1", None, 3])
        trial.set_user_attr("history", {"val_accuracy": [0.1, 0.2]})
        trial.report(float("nan") if trial.number == 1 else x, step=1)
        trial.report(float("inf"), step=2)
        if choice == "l1":
            raise optuna.TrialPruned()
        return float("-inf") if trial.number == 2 else x

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective, n_trials=8, catch=(Exception,))
    with pytest.warns(UserWarning, match="Heartbeat"):  # ask/tell outside optimize: fine here
        study.ask()  # a RUNNING trial with no params yet
        study.tell(study.ask(), state=TrialState.FAIL)
    study.enqueue_trial({"x": 0.5}, user_attrs={"queued": True})  # WAITING
    ours = storage._get_trials(study._study_id, None, set(), -1)
    theirs = optuna.storages.RDBStorage._get_trials(storage, study._study_id, None, set(), -1)
    assert len(ours) == 11
    assert [repr(t) for t in ours] == [repr(t) for t in theirs]  # repr: NaN == NaN
    # The incremental form the trial cache uses: chosen ids up to a bound, everything after it.
    args = (study._study_id, (TrialState.COMPLETE, TrialState.RUNNING), {ours[1]._trial_id, ours[2]._trial_id}, ours[4]._trial_id)
    assert [repr(t) for t in storage._get_trials(*args)] == [
        repr(t) for t in optuna.storages.RDBStorage._get_trials(storage, *args)
    ]
    for t in theirs:
        assert repr(storage.get_trial(t._trial_id)) == repr(t)
    with pytest.raises(KeyError):
        storage.get_trial(10_000)


def test_a_trial_read_back_after_writes_through_the_same_storage_shows_them(storage_url: str) -> None:
    # The creation snapshot that saves Optuna's read-back is served only before any write, and
    # as a copy (issue 28: a gRPC proxy or the cached storage create, write and read through one).
    storage = open_storage(Settings(storage=storage_url), create_tables=True)
    study_id = storage.create_new_study([optuna.study.StudyDirection.MINIMIZE], "s")
    trial_id = storage.create_new_trial(study_id)
    storage.set_trial_user_attr(trial_id, "dataset", "MNIST")
    dist = optuna.distributions.FloatDistribution(0, 1)
    storage.set_trial_param(trial_id, "x", 0.5, dist)
    storage.set_trial_param(trial_id, "x", 0.25, dist)  # set twice: the first value stays, as in Optuna
    read = storage.get_trial(trial_id)
    assert (read.user_attrs, read.params) == ({"dataset": "MNIST"}, {"x": 0.5})
    storage.set_trial_state_values(trial_id, TrialState.COMPLETE, [1.0])
    assert (storage.get_trial(trial_id).state, storage.get_trial(trial_id).value) == (TrialState.COMPLETE, 1.0)
    fresh_id = storage.create_new_trial(study_id)
    first = storage.get_trial(fresh_id)
    first.user_attrs["mine"] = 1
    assert storage.get_trial(fresh_id).user_attrs == {}


def test_reading_trials_by_more_ids_than_sqlite_takes_falls_back_as_optuna_does(storage_url: str) -> None:
    storage = open_storage(Settings(storage=storage_url), create_tables=True)
    study_id = storage.create_new_study([optuna.study.StudyDirection.MINIMIZE], "s")
    ids = [storage.create_new_trial(study_id) for _ in range(3)]
    # Six thousand unfinished ids below the last finished one: the IN list, in each of the read's
    # six statements, is past SQLite's 32,766 variables.
    wanted = set(range(ids[0] - 6000, ids[0] + 1))
    read = storage._get_trials(study_id, None, wanted, ids[1])
    assert [optuna_private.trial_id(t) for t in read] == [ids[0], ids[2]]
