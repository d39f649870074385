"""The pooler of compose's `pooler` profile and components/pooler, run for real: Debian's PgBouncer
started by the image's entrypoint (deploy/pgbouncer/start.sh) with the deployed config. It raises
the open-file limit so that thousands of clients connect (the default soft limit of 1024 stopped
PgBouncer at 1,011 clients), refuses to start, with one line, where the hard limit is too low, and
its stats user reads SHOW POOLS. The limits compose and the pods start it with are enough."""

from __future__ import annotations

import re
import resource
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
import yaml

from tests.deploy_tests import pooler as pooler_run
from tests.deploy_tests.manifests import one, rendered
from tests.support.postgres import PostgresServer

CLIENTS = 2500  # 1,250 worker processes at 2 connections each
# A container runtime's usual start: a soft limit of 1024 under a higher hard limit.
SOFT, HARD = 1024, 8192
COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


@pytest.fixture
def database(postgres_server: PostgresServer, pg_url: str) -> str:
    return pg_url.rsplit("/", 1)[1]


@pytest.fixture
def own_files_limit() -> Iterator[None]:
    """This process holds one socket per client: its soft limit raised to fit them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = CLIENTS + 500
    if hard != resource.RLIM_INFINITY and hard < want:
        pytest.fail(f"this process's hard open-file limit {hard} is below {want}: raise it (ulimit -Hn) to run the test")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _admin(pooler: pooler_run.Pooler, command: str) -> list[dict[str, object]]:
    """A command on PgBouncer's admin console as its stats user."""
    connection = psycopg2.connect(pooler.url("pgbouncer", pooler_run.STATS_USER, pooler_run.STATS_PASSWORD))
    connection.autocommit = True  # the admin console takes no transactions
    try:
        with connection.cursor() as cursor:
            cursor.execute(command)
            names = [c.name for c in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]
    finally:
        connection.close()


def _refusal(postgres_server: PostgresServer, database: str, hard: int) -> tuple[int | None, str]:
    pooler = pooler_run.start(postgres_server, database, soft=min(SOFT, hard), hard=hard)
    try:
        pooler.process.wait(30)
        return pooler.process.returncode, pooler.log()
    finally:
        pooler_run.stop(pooler)


def _need(refusal_log: str) -> int:
    (need,) = re.findall(r"needs (\d+)", refusal_log)
    return int(need)


@pytest.mark.slow
def test_thousands_of_clients_connect_through_the_deployed_pooler(
        postgres_server: PostgresServer, database: str, own_files_limit: None) -> None:
    pooler = pooler_run.start(postgres_server, database, soft=SOFT, hard=HARD)
    connections = []
    try:
        assert pooler.process.poll() is None, pooler.log()
        # start.sh raised the soft limit to the hard one before PgBouncer started.
        assert pooler.open_files_limit() == (HARD, HARD), pooler.log()
        assert f"open-file limit {HARD} for max_client_conn = 4000" in pooler.log()
        for _ in range(CLIENTS):
            connection = psycopg2.connect(pooler.url(database), connect_timeout=10)
            connection.autocommit = True
            connections.append(connection)
        # Every client is served (transaction mode: 20 server connections take turns).
        for connection in connections:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                assert cursor.fetchone() == (1,)
        # The stats user sees them all in SHOW POOLS (its own console connection is not counted there).
        (pool,) = [row for row in _admin(pooler, "SHOW POOLS") if row["database"] == database]
        assert int(pool["cl_active"]) + int(pool["cl_waiting"]) == CLIENTS, pool
        assert 1 <= int(pool["sv_active"]) + int(pool["sv_idle"]) + int(pool["sv_used"]) <= 20, pool
        clients = [row for row in _admin(pooler, "SHOW CLIENTS") if row["database"] == database]
        assert len(clients) == CLIENTS
        assert "Too many open files" not in pooler.log()
        rss = pooler.rss_mib()
    finally:
        for connection in connections:
            connection.close()
        pooler_run.stop(pooler)
    print(f"\npooler: {CLIENTS} clients through PgBouncer started at soft limit {SOFT}, raised to {HARD}; "
          f"its RSS with them connected: {rss:.0f} MiB")


@pytest.mark.slow
def test_without_the_entrypoint_the_same_pooler_stops_near_a_thousand_clients(
        postgres_server: PostgresServer, database: str, own_files_limit: None) -> None:
    """The control: PgBouncer run directly at the soft limit a container starts with refuses
    clients long before max_client_conn, which is what the test above would meet without start.sh."""
    pooler = pooler_run.start(postgres_server, database, soft=SOFT, hard=HARD, entrypoint=False)
    connections = []
    try:
        assert pooler.open_files_limit() == (SOFT, HARD)
        with pytest.raises(psycopg2.OperationalError):
            for _ in range(SOFT + 100):
                connections.append(psycopg2.connect(pooler.url(database), connect_timeout=3))
        assert len(connections) < SOFT
        assert "Too many open files" in pooler.log()
    finally:
        for connection in connections:
            connection.close()
        pooler_run.stop(pooler)
    print(f"\npooler without start.sh: client {len(connections) + 1} refused at soft limit {SOFT}")


def test_the_stats_user_reads_the_pools_and_may_not_change_them(postgres_server: PostgresServer, database: str) -> None:
    pooler = pooler_run.start(postgres_server, database, soft=SOFT, hard=HARD)
    try:
        assert pooler.process.poll() is None, pooler.log()
        client = psycopg2.connect(pooler.url(database))
        try:
            with client.cursor() as cursor:  # a pool exists once a client has used it
                cursor.execute("SELECT 1")
            (pool,) = [row for row in _admin(pooler, "SHOW POOLS") if row["database"] == database]
            assert pool["user"] == "postgres" and pool["pool_mode"] == "transaction" and int(pool["cl_active"]) == 1, pool
        finally:
            client.close()
        assert any(row["database"] == database for row in _admin(pooler, "SHOW STATS"))
        with pytest.raises(psycopg2.Error, match="admin access needed"):
            _admin(pooler, "PAUSE")
    finally:
        pooler_run.stop(pooler)


def test_the_pooler_refuses_to_start_under_a_too_low_limit(postgres_server: PostgresServer, database: str) -> None:
    """Rather than time out new clients once the fleet grows past the limit: one line, at start."""
    code, log = _refusal(postgres_server, database, hard=1024)
    assert code == 78, log
    (line,) = log.strip().splitlines()
    assert line.startswith("pgbouncer-start: the open-file limit is 1024 (hard) but max_client_conn = 4000")
    assert "raise the container's nofile limit" in line
    # max_client_conn, one pool of 20 and a margin.
    assert 4000 + 20 <= _need(log) <= 4000 + 20 + 100


def test_compose_and_the_pods_start_the_pooler_with_limits_that_fit(postgres_server: PostgresServer, database: str) -> None:
    """compose sets the limit (ulimits: nofile, above what start.sh says the config needs); the pods
    run the image's entrypoint, which checks whatever limit the container runtime gives."""
    _, log = _refusal(postgres_server, database, hard=1024)
    need = _need(log)
    service = yaml.safe_load(COMPOSE.read_text())["services"]["pgbouncer"]
    nofile = service["ulimits"]["nofile"]
    assert int(nofile["soft"]) >= need and int(nofile["hard"]) >= need, (nofile, need)
    # After writing the logins, the image's start.sh runs (not pgbouncer itself).
    assert service["command"][-1].endswith("exec pgbouncer-start /etc/pgbouncer-sweeper/pgbouncer.ini")
    deployment = one(rendered("fleet"), "Deployment", "sweeper-pgbouncer")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert "command" not in container, "the image's entrypoint (start.sh) must run"
    assert container["args"] == ["/etc/pgbouncer-sweeper/pgbouncer.ini"]
