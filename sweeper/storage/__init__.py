"""The study database: opening it, riding out outages, enforcing budgets where trials are
created, locks between processes, and the queries sweeper makes beside Optuna's."""

from __future__ import annotations

from sweeper.storage.rdb import *  # noqa: F401,F403  (split into modules next)
