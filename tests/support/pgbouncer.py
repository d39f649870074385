"""A throwaway PgBouncer in front of the throwaway PostgreSQL (``tests.support.postgres``):
Debian's binary, run as the ``postgres`` OS user when we are root (PgBouncer refuses root), on a
free loopback port, its config and log in a temp dir. Transaction pooling with a small server pool,
the setting managed PostgreSQL services offer and the one that breaks session state."""

from __future__ import annotations

import collections
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.postgres import PASSWORD, PostgresServer, _free_port
from tests.support.sampler import BackgroundSampler


def _binary() -> str:
    for candidate in (shutil.which("pgbouncer"), "/usr/sbin/pgbouncer"):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError("pgbouncer not found: apt-get install pgbouncer (see .ci/run)")


@dataclass
class PgBouncer:
    root: Path
    port: int
    server: PostgresServer
    pool_size: int
    user: str = "postgres"
    stats: dict[str, int] = field(default_factory=dict)
    nofile: int = 4096

    def url(self, database: str) -> str:
        return f"postgresql+psycopg2://postgres:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A database on the server, reached through the pooler."""
        self.server.create_database(name)
        return self.url(name)

    def admin(self, command: str) -> list[dict[str, str]]:
        """A command on PgBouncer's admin console (``SHOW POOLS``, ``SHOW STATS``) as rows."""
        out = subprocess.run(
            [str(self.server.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", "pgbouncer", "-A", "-F", "\t", "-c", command],
            capture_output=True, text=True, check=True, env={**os.environ, "PGPASSWORD": PASSWORD},
        )
        lines = [line for line in out.stdout.splitlines() if line and not line.startswith("(")]
        header, rows = lines[0].split("\t"), lines[1:]
        return [dict(zip(header, row.split("\t"))) for row in rows]

    def pool(self, database: str) -> dict[str, int]:
        """``SHOW POOLS`` for one database: sv_active (server connections serving a client now),
        sv_idle, cl_active, cl_waiting (clients queued for a server connection), ..."""
        for row in self.admin("SHOW POOLS"):
            if row["database"] == database:
                return {k: int(v) for k, v in row.items() if v.lstrip("-").isdigit()}
        return {}

    def database_stats(self, database: str) -> dict[str, int]:
        """``SHOW STATS`` for one database: total_xact_count, total_query_count, total_xact_time
        (microseconds server connections spent in transactions), total_wait_time, ..."""
        for row in self.admin("SHOW STATS"):
            if row["database"] == database:
                return {k: int(v) for k, v in row.items() if v.lstrip("-").isdigit()}
        return {}

    def log(self) -> str:
        path = self.root / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""


class PoolSampler(BackgroundSampler):
    """Server connections in use and clients waiting for one (``SHOW POOLS``), and the peak
    client connections per sweeper process (``SHOW CLIENTS``, by application_name), sampled in
    a background thread while the ``with`` block runs."""

    def __init__(self, bouncer: PgBouncer, database: str, every: float = 0.25) -> None:
        super().__init__(every)
        self.bouncer, self.database = bouncer, database
        self.samples: list[dict[str, int]] = []
        self.clients_peak: collections.Counter[str] = collections.Counter()

    def sample(self) -> None:
        try:
            row = self.bouncer.pool(self.database)
            clients = collections.Counter(c["application_name"] for c in self.bouncer.admin("SHOW CLIENTS")
                                          if c["application_name"].startswith("sweeper:"))
        except subprocess.CalledProcessError:
            row, clients = {}, collections.Counter()
        if row:
            self.samples.append(row)
        for app, n in clients.items():
            self.clients_peak[app] = max(self.clients_peak[app], n)

    def mean(self, column: str) -> float:
        return sum(s.get(column, 0) for s in self.samples) / max(1, len(self.samples))

    def peak(self, column: str) -> int:
        return max((s.get(column, 0) for s in self.samples), default=0)



def start(server: PostgresServer, *, pool_size: int = 4, max_client_conn: int = 1000) -> PgBouncer:
    """PgBouncer in transaction mode, ``pool_size`` server connections per database, in front
    of ``server``. A client that dies mid-transaction makes PgBouncer close that server
    connection, so the server rolls the transaction back (and releases its locks)."""
    _binary()
    root = Path(tempfile.mkdtemp(prefix="sweeper-pgb-"))
    bouncer = PgBouncer(root=root, port=_free_port(), server=server, pool_size=pool_size)
    (root / "userlist.txt").write_text(f'"postgres" "{PASSWORD}"\n')
    (root / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host=127.0.0.1 port={server.port}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {bouncer.port}\nunix_socket_dir =\n"
        f"auth_type = scram-sha-256\nauth_file = {root / 'userlist.txt'}\nadmin_users = postgres\n"
        f"pool_mode = transaction\ndefault_pool_size = {pool_size}\nmin_pool_size = 0\nreserve_pool_size = 0\n"
        f"max_client_conn = {max_client_conn}\n"
        # After a server restart, log in again within a second rather than PgBouncer's 15 s.
        "server_login_retry = 1\n"
        f"logfile = {root / 'pgbouncer.log'}\npidfile = {root / 'pgbouncer.pid'}\n"
        "log_connections = 0\nlog_disconnections = 0\n"
        # SHOW STATS totals are refreshed every stats_period: each second, for the benchmark.
        "stats_period = 1\nlog_stats = 0\n"
    )
    if os.geteuid() == 0:
        uid = pwd.getpwnam(bouncer.user).pw_uid
        for path in (root, root / "userlist.txt", root / "pgbouncer.ini"):
            os.chown(path, uid, -1)
    root.chmod(0o700)
    # Each client holds a file descriptor; the default soft limit (1024) is below a fleet's clients.
    bouncer.nofile = max(4096, max_client_conn * 2)
    return _launch(bouncer)


def _launch(bouncer: PgBouncer) -> PgBouncer:
    cmd = ["sh", "-c", f'ulimit -n {bouncer.nofile} 2>/dev/null; exec "$@"', "sh",
           _binary(), "-d", str(bouncer.root / "pgbouncer.ini")]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", bouncer.user, "--", *cmd]
    subprocess.run(cmd, check=True, capture_output=True, text=True, cwd="/")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", bouncer.port), timeout=1).close()
            return bouncer
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"pgbouncer did not start on port {bouncer.port}: {bouncer.log()[-2000:]}")


def stop(bouncer: PgBouncer) -> None:
    halt(bouncer)
    shutil.rmtree(bouncer.root, ignore_errors=True)


def halt(bouncer: PgBouncer) -> None:
    """Stop the pooler process (a pooler outage), keeping its config for ``relaunch``."""
    pidfile = bouncer.root / "pgbouncer.pid"
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        pass
    else:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.05)


def relaunch(bouncer: PgBouncer) -> PgBouncer:
    """Start a halted pooler again, on its port with its config."""
    return _launch(bouncer)
