"""A pytest plugin that runs Optuna's own storage tests (``tests/storages_tests`` of the installed
Optuna's sdist, fetched by ``.ci/optuna-suite.sh``, never copied here) against sweeper's storage.

Loaded with ``-p tests.support.optuna_suite`` before Optuna's test modules are imported, it puts a
storage class in the place of ``optuna.storages.RDBStorage`` (so Optuna's ``StorageSupplier``, its
``get_storage`` and the test modules' own ``RDBStorage`` all build it), keeps the storage modes that
are backed by an RDBStorage (``sqlite``, ``cached_sqlite`` and ``grpc_rdb``, a gRPC proxy in front
of one), and with ``--suite-db=postgresql`` sends every SQLite URL those build to a fresh database
on a throwaway PostgreSQL server (``tests.support.postgres``), which also serves
``test_with_server.py`` (its ``TEST_DB_URL``). ``--suite-storage=optuna`` runs plain RDBStorage the
same way: the control, whose failures are not ours.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import optuna
import pytest

from sweeper.storage.resilient import ResilientRDBStorage

RDB_MODES = ("sqlite", "cached_sqlite", "grpc_rdb")
_state: dict[str, Any] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("optuna-suite", "Optuna's storage tests against sweeper's storage")
    group.addoption("--suite-storage", choices=("sweeper", "optuna"), default="sweeper",
                    help="the storage class put in RDBStorage's place (optuna: the control)")
    group.addoption("--suite-db", choices=("sqlite", "postgresql"), default="sqlite",
                    help="where the RDB-backed modes keep their tables")


_databases: dict[str, str] = {}
_counter = itertools.count()


def _on_postgres(url: str, engine_kwargs: dict[str, Any] | None) -> tuple[str, dict[str, Any] | None]:
    """With ``--suite-db=postgresql``, the PostgreSQL database standing in for a SQLite file: one per
    file the test named, so a test that opens its file twice (a "remote" reader, a pickled copy)
    meets the same tables."""
    if "server" not in _state or not url.startswith("sqlite:///"):
        return url, engine_kwargs
    if url not in _databases:
        _databases[url] = _state["server"].create_database(f"suite_{os.getpid()}_{next(_counter)}")
    return _databases[url], None


class SweeperStorage(ResilientRDBStorage):
    """sweeper's storage, built as Optuna's tests build an RDBStorage."""

    def __init__(self, url: str, engine_kwargs: dict[str, Any] | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(*_on_postgres(url, engine_kwargs), *args, **kwargs)


class OptunaStorage(optuna.storages.RDBStorage):
    """Plain RDBStorage, the control, built the same way."""

    def __init__(self, url: str, engine_kwargs: dict[str, Any] | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(*_on_postgres(url, engine_kwargs), *args, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    on_postgres = config.getoption("--suite-db") == "postgresql"
    if on_postgres:
        from tests.support import postgres

        server = _state["server"] = postgres.start_server(max_connections=200)
        os.environ["TEST_DB_URL"] = server.create_database("suite_with_server")
    else:
        os.environ.pop("TEST_DB_URL", None)  # test_with_server.py skips itself without a server
    storage_class = SweeperStorage if config.getoption("--suite-storage") == "sweeper" else OptunaStorage
    optuna.storages.RDBStorage = storage_class  # type: ignore[misc]

    from optuna.testing import storages

    storages.STORAGE_MODES[:] = [m for m in storages.STORAGE_MODES if m in RDB_MODES]
    storages.STORAGE_MODES_HEARTBEAT[:] = [m for m in storages.STORAGE_MODES_HEARTBEAT if m in RDB_MODES]


def pytest_report_header(config: pytest.Config) -> str:
    return (f"optuna storage suite: {optuna.storages.RDBStorage.__name__} on {config.getoption('--suite-db')}, "
            f"optuna {optuna.__version__}")


def pytest_unconfigure(config: pytest.Config) -> None:
    server = _state.pop("server", None)
    if server is not None:
        from tests.support import postgres

        postgres.remove(server)
