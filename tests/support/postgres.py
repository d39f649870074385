"""A throwaway PostgreSQL server for the tests: Debian's binaries, run as the ``postgres`` OS user
when we are root (the server refuses root), on a free loopback port, data in a temp dir."""

from __future__ import annotations

import collections
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.sampler import BackgroundSampler

PASSWORD = "sweeper-test-password"  # test fixture only


def _bindir() -> Path:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql (see .ci/run)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    root: Path
    port: int
    bindir: Path
    user: str = "postgres"

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres", password: str = PASSWORD) -> str:
        return f"postgresql+psycopg2://postgres:{password}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, cwd="/")

    def pg_ctl(self, action: str, *extra: str) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-w", "-t", "60",
                  "-l", str(self.root / "server.log"), action, *extra)

    def start(self) -> None:
        self.pg_ctl("start", "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1")

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop", check=False)

    def restart(self) -> None:
        self.pg_ctl("restart", "-m", "fast", "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1")

    def sql(self, statement: str, database: str = "postgres") -> str:
        out = self._run(str(self.bindir / "psql"), "-h", str(self.root), "-p", str(self.port),
                        "-U", "postgres", "-d", database, "-At", "-c", statement)
        return out.stdout.strip()

    def create_database(self, name: str) -> str:
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._run(str(self.bindir / "psql"), "-h", str(self.root), "-p", str(self.port), "-U", "postgres",
                  "-d", "postgres", "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', check=False)


class ConnectionSampler(BackgroundSampler):
    """Peak connections per client process (by sweeper's application_name), sampled from
    pg_stat_activity in a background thread while the ``with`` block runs."""

    def __init__(self, server: PostgresServer, every: float = 0.2) -> None:
        super().__init__(every)
        self.server = server
        self.peak: collections.Counter[str] = collections.Counter()

    def sample(self) -> None:
        rows = self.server.sql(
            "SELECT application_name, count(*) FROM pg_stat_activity "
            "WHERE application_name LIKE 'sweeper:%' GROUP BY 1"
        )
        for line in filter(None, rows.splitlines()):
            app, n = line.rsplit("|", 1)
            self.peak[app] = max(self.peak[app], int(n))



def start_server(max_connections: int = 100) -> PostgresServer:
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="sweeper-pg-"))
    server = PostgresServer(root=root, port=_free_port(), bindir=bindir)
    if os.geteuid() == 0:
        uid = pwd.getpwnam(server.user).pw_uid
        os.chown(root, uid, -1)
    root.chmod(0o700)
    pwfile = root / "pwfile"
    pwfile.write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        os.chown(pwfile, pwd.getpwnam(server.user).pw_uid, -1)
    server._run(str(bindir / "initdb"), "-D", str(server.datadir), "-U", "postgres", "--auth=scram-sha-256",
                f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync")
    with open(server.datadir / "postgresql.conf", "a") as conf:
        conf.write(f"\nmax_connections = {max_connections}\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
    # Local socket connections (psql for fixtures) are trusted; TCP needs the password.
    hba = server.datadir / "pg_hba.conf"
    hba.write_text("local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
    server.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    return server


def remove(server: PostgresServer) -> None:
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)
