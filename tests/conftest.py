from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import pgbouncer, postgres
from tests.support.archives import make_cifar10

_db_counter = itertools.count()


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's SWEEPER_* settings, cache or working directory."""
    for name in list(os.environ):
        if name.startswith("SWEEPER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SWEEPER_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.PostgresServer]:
    server = postgres.start_server(max_connections=100)
    try:
        yield server
    finally:
        postgres.remove(server)


@pytest.fixture
def pg_url(postgres_server: postgres.PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the throwaway server."""
    name = f"t{os.getpid()}_{next(_db_counter)}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


# Server connections per database behind the test PgBouncer: fewer than the clients that a test
# starts, so that anything holding a server connection across transactions shows up as a hang.
POOLER_POOL_SIZE = 4


@pytest.fixture(scope="session")
def pooler(postgres_server: postgres.PostgresServer) -> Iterator[pgbouncer.PgBouncer]:
    """PgBouncer in transaction mode in front of the throwaway server."""
    bouncer = pgbouncer.start(postgres_server, pool_size=POOLER_POOL_SIZE)
    try:
        yield bouncer
    finally:
        pgbouncer.stop(bouncer)


@pytest.fixture
def pooled_url(postgres_server: postgres.PostgresServer, pooler: pgbouncer.PgBouncer) -> Iterator[str]:
    """A fresh, empty database on the throwaway server, reached through PgBouncer."""
    name = f"t{os.getpid()}_{next(_db_counter)}"
    url = pooler.create_database(name)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture(params=["direct", "pgbouncer"])
def postgres_url(request: pytest.FixtureRequest) -> str:
    """A fresh PostgreSQL database, straight to the server and through PgBouncer."""
    return request.getfixturevalue("pg_url" if request.param == "direct" else "pooled_url")


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Storage tests run on the embedded default and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sweeper.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="session")
def cifar_mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mirror")
    make_cifar10(folder)
    return folder
