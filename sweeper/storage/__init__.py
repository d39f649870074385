"""The study database: opening it (``engine``), riding out outages (``retry``), budgets enforced
where trials are created (``resilient``) within a worker's ``claim``, a trial's rows in
SQLAlchemy Core (``trial_rows``), counts by state (``counts``), the Study a worker drives
(``study``), locks between processes (``locks``), the reads sweeper makes beside Optuna's
(``queries``), and what a failure means to a user (``errors``). Driver errors become a one-line
``StorageError`` here and nowhere else, and Optuna's private names are read in
``optuna_private`` and nowhere else."""

from __future__ import annotations

from sweeper.storage.claim import BudgetMet, ClaimContext
from sweeper.storage.engine import MAX_RETRIES_PER_TRIAL, open_storage
from sweeper.storage.errors import describe_failure, redact
from sweeper.storage.locks import claim_lock, launch_lock
from sweeper.storage.queries import load_study, studies_with_attr, study_names, study_user_attrs
from sweeper.storage.resilient import ResilientRDBStorage
from sweeper.storage.retry import RETRY_SECONDS

__all__ = [
    "MAX_RETRIES_PER_TRIAL",
    "RETRY_SECONDS",
    "BudgetMet",
    "ClaimContext",
    "ResilientRDBStorage",
    "claim_lock",
    "describe_failure",
    "launch_lock",
    "load_study",
    "open_storage",
    "redact",
    "studies_with_attr",
    "study_names",
    "study_user_attrs",
]
