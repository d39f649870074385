from __future__ import annotations

import socket
import threading
import time

import optuna
import pytest

from sweeper.errors import NoStudyError, StorageError
from sweeper.settings import Settings
from sweeper.storage import claim_lock, describe_failure, open_storage, redact
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


def test_postgres_pool_is_small_and_pre_pinged(pg_url: str) -> None:
    storage = open_storage(Settings(storage=pg_url), create_tables=True)
    assert storage.engine.pool.size() == 2
    assert storage.engine.pool._pre_ping
    assert storage.heartbeat_interval == Settings().heartbeat_interval


def test_claim_lock_is_exclusive_between_processes_sharing_a_study(storage_url: str) -> None:
    settings = Settings(storage=storage_url)
    first = open_storage(settings, create_tables=True)
    second = open_storage(settings)
    events: list[str] = []

    def other() -> None:
        with claim_lock(second, "s"):
            events.append("other")

    with claim_lock(first, "s"):
        thread = threading.Thread(target=other)
        thread.start()
        time.sleep(0.5)
        events.append("first released")
    thread.join(10)
    assert events == ["first released", "other"]


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
