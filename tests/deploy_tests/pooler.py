"""The pooler as deployed, run here: Debian's PgBouncer started by the image's entrypoint
(deploy/pgbouncer/start.sh) with the config of deploy/k8s/components/pooler, under the open-file
limits a container would start with, in front of the throwaway PostgreSQL. What a container adds
is stood in for: the mounted Secret files (a temp folder), the listen address (loopback, a free
port) and the user (``postgres`` when we are root, as PgBouncer refuses root)."""

from __future__ import annotations

import os
import pwd
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.support.postgres import PASSWORD, PostgresServer, _free_port

REPO = Path(__file__).resolve().parents[2]
START = REPO / "deploy" / "pgbouncer" / "start.sh"
INI = REPO / "deploy" / "k8s" / "components" / "pooler" / "pgbouncer.ini"
SECRET_DIR = "/etc/pgbouncer-secret"  # where the pods mount the Secret's pooler keys
STATS_USER, STATS_PASSWORD = "pgbouncer_stats", "stats-test-password"  # test fixture only


@dataclass
class Pooler:
    root: Path
    port: int
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        return (self.root / "pgbouncer.log").read_text(errors="replace")

    def open_files_limit(self) -> tuple[int, int]:
        """(soft, hard) open-file limit of the running PgBouncer, from /proc."""
        for line in Path(f"/proc/{self.process.pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
        raise AssertionError("no open-file limit in /proc")

    def rss_mib(self) -> float:
        """PgBouncer's resident memory now (start.sh execs it: same pid)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS in /proc")

    def url(self, database: str, user: str = "postgres", password: str = PASSWORD) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{database}"


def _as_pooler_user(soft: int, hard: int) -> Callable[[], None]:
    """preexec_fn: the limits a container runtime would give, then PgBouncer's user when root."""
    root = os.geteuid() == 0
    user = pwd.getpwnam("postgres") if root else None

    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        if user is not None:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)

    return preexec


def start(server: PostgresServer, database: str, *, soft: int, hard: int, entrypoint: bool = True) -> Pooler:
    """start.sh with the deployed config completed for ``server``, returned once PgBouncer accepts
    connections or start.sh has exited (refused: ``process.returncode`` is set). Without
    ``entrypoint``, PgBouncer itself, as the manifests ran it before start.sh existed."""
    root = Path(tempfile.mkdtemp(prefix="sweeper-pooler-"))
    secret = root / "secret"
    secret.mkdir()
    port = _free_port()
    (secret / "databases.ini").write_text(f"[databases]\n{database} = host=127.0.0.1 port={server.port} dbname={database}\n")
    (secret / "userlist.txt").write_text(f'"postgres" "{PASSWORD}"\n"{STATS_USER}" "{STATS_PASSWORD}"\n')
    ini = INI.read_text().replace(SECRET_DIR, str(secret))
    ini = ini.replace("listen_addr = 0.0.0.0", "listen_addr = 127.0.0.1").replace("listen_port = 5432", f"listen_port = {port}")
    assert str(secret) in ini and f"listen_port = {port}" in ini, "the deployed config changed shape"
    (root / "pgbouncer.ini").write_text(ini)
    shutil.copy(START, root / "start.sh")  # as the image holds it, readable by PgBouncer's user
    if os.geteuid() == 0:
        uid = pwd.getpwnam("postgres").pw_uid
        for path in (root, secret, *secret.iterdir(), root / "pgbouncer.ini", root / "start.sh"):
            os.chown(path, uid, -1)
    root.chmod(0o700)
    env = {"PATH": f"{os.environ.get('PATH', '')}:/usr/sbin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    with open(root / "pgbouncer.log", "wb") as log:
        argv = ["sh", str(root / "start.sh")] if entrypoint else ["pgbouncer"]
        process = subprocess.Popen([*argv, str(root / "pgbouncer.ini")], stdout=log, stderr=subprocess.STDOUT,
                                   env=env, cwd="/", preexec_fn=_as_pooler_user(soft, hard), start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return Pooler(root, port, process)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return Pooler(root, port, process)
        except OSError:
            time.sleep(0.1)
    pooler = Pooler(root, port, process)
    log = pooler.log()
    stop(pooler)
    raise AssertionError(f"PgBouncer did not start: {log[-2000:]}")


def stop(pooler: Pooler) -> None:
    process = pooler.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    shutil.rmtree(pooler.root, ignore_errors=True)
