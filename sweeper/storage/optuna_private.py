"""Every private name of Optuna's that sweeper relies on, and the only module that reads them.

Optuna is pinned at one minor version (5.0.*). Its private attributes are read here, through small
named functions, and nowhere else; the private methods that sweeper's storage and study override
(``sweeper.storage.resilient``, ``sweeper.storage.trial_rows``, ``sweeper.storage.study``) are
named in ``PRIVATE_NAMES`` beside them. ``tests/storage_tests/test_optuna_private.py`` checks that
the installed Optuna has each of them, and that no module outside ``sweeper/storage/`` uses one:
an Optuna upgrade touches this folder and that test.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.storages._rdb import models  # noqa: F401  (re-exported: Optuna's table models)
from optuna.storages._rdb.storage import _create_scoped_session
from optuna.study import StudySummary
from optuna.trial import FrozenTrial

# (the owner, the private name): a class of Optuna's (its attribute or method, instance
# attributes included) or a module (a name it defines). One list, checked by one test.
PRIVATE_NAMES: tuple[tuple[str, str], ...] = (
    # Read through the functions below.
    ("optuna.study.Study", "_study_id"),
    ("optuna.study.Study", "_storage"),
    ("optuna.study.Study", "_thread_local"),
    ("optuna.study.StudySummary", "_study_id"),
    ("optuna.trial.Trial", "_trial_id"),
    ("optuna.trial.Trial", "_cached_frozen_trial"),
    ("optuna.trial.FrozenTrial", "_trial_id"),
    ("optuna.storages._CachedStorage", "_backend"),
    ("optuna.storages.RDBStorage", "_version_manager"),
    ("optuna.storages.RDBStorage", "_fill_storage_url_template"),
    ("optuna.storages._rdb.storage", "_create_scoped_session"),
    ("optuna.storages._rdb.storage", "_VersionManager"),
    ("optuna.storages._rdb", "models"),
    # Overridden by sweeper.storage.study.WorkerStudy.
    ("optuna.study.Study", "_pop_waiting_trial_id"),
    ("optuna.study.Study", "_get_trials"),
    # Overridden by sweeper.storage.resilient and sweeper.storage.trial_rows (and retried).
    ("optuna.storages.RDBStorage", "_get_prepared_new_trial"),
    ("optuna.storages.RDBStorage", "_create_new_trial"),
    ("optuna.storages.RDBStorage", "_set_trial_param"),
    ("optuna.storages.RDBStorage", "_get_trials"),
    ("optuna.storages.RDBStorage", "_get_stale_trial_ids"),
)

# The private methods sweeper overrides: their parameters must stay as ours are.
OVERRIDDEN = (
    ("optuna.study.Study", "_pop_waiting_trial_id", "sweeper.storage.study.WorkerStudy"),
    ("optuna.study.Study", "_get_trials", "sweeper.storage.study.WorkerStudy"),
    ("optuna.storages.RDBStorage", "_get_prepared_new_trial", "sweeper.storage.resilient.ResilientRDBStorage"),
    ("optuna.storages.RDBStorage", "_create_new_trial", "sweeper.storage.resilient.ResilientRDBStorage"),
    ("optuna.storages.RDBStorage", "_set_trial_param", "sweeper.storage.trial_rows.CoreTrialRows"),
    ("optuna.storages.RDBStorage", "_get_trials", "sweeper.storage.trial_rows.CoreTrialRows"),
    ("optuna.storages.RDBStorage", "_get_stale_trial_ids", "sweeper.storage.resilient.ResilientRDBStorage"),
)


def trial_id(trial: optuna.Trial | FrozenTrial) -> int:
    """The trial's row id (Optuna's API speaks of trial numbers, its storage of ids)."""
    return trial._trial_id


def frozen(trial: optuna.Trial) -> FrozenTrial:
    """The frozen copy a Trial read when it was created; writing into its user attrs keeps it in
    step with a write to the storage, as ``Trial.set_user_attr`` does."""
    return trial._cached_frozen_trial


def study_id(study: optuna.Study | StudySummary) -> int:
    return study._study_id


def study_storage(study: optuna.Study) -> optuna.storages.BaseStorage:
    """The storage a Study calls: Optuna's trial cache in front of the one it was given."""
    return study._storage


def storage_behind_cache(study: optuna.Study) -> optuna.storages.BaseStorage:
    """The storage a Study was given (sweeper's, for a database), behind Optuna's trial cache."""
    cached = study._storage
    return getattr(cached, "_backend", cached)


def forget_cached_trials(study: optuna.Study) -> None:
    """Drop the trials a Study read for its sampler (Optuna clears them at every ``ask``)."""
    study._thread_local.cached_all_trials = None


def scoped_session(storage: optuna.storages.RDBStorage) -> Any:
    """Optuna's session context for ``storage``: commits, or rolls back and translates errors."""
    return _create_scoped_session(storage.scoped_session)


def version_manager(storage: optuna.storages.RDBStorage) -> Any:
    """Optuna's schema version manager for ``storage`` (importing it imports alembic)."""
    from optuna.storages._rdb.storage import _VersionManager

    return _VersionManager(storage.url, storage.engine, storage.scoped_session)


def fill_url_template(url: str) -> str:
    """The storage URL with its ``{SQLITE_...}`` template filled, as RDBStorage's constructor does."""
    return optuna.storages.RDBStorage._fill_storage_url_template(url)
