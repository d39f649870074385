from __future__ import annotations

import pytest

import json
import socket
import time
import urllib.request
from pathlib import Path

from tests.support import procs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listen_addresses(port: int) -> set[str]:
    """Addresses listening on ``port``, read from /proc/net/tcp (state 0A = LISTEN)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


@pytest.mark.slow
def test_dashboard_serves_the_configured_storage_on_loopback(tmp_path: Path) -> None:
    env = procs.sweeper_env(f"sqlite:///{tmp_path / 's.db'}")
    assert procs.run(["launch", "cifar10", "--trials", "3"], env).returncode == 0
    port = _free_port()
    server = procs.start(["dashboard", "--port", str(port)], env, tmp_path / "dashboard.log")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as response:
                    body = json.loads(response.read())
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "dashboard.log").read_text()
                assert time.monotonic() < deadline, "dashboard did not answer within 60 s"
                time.sleep(0.5)
        names = [s["study_name"] for s in body["study_summaries"]]
        assert names == ["cifar10"]
        assert _listen_addresses(port) == {"127.0.0.1"}  # loopback only, by default
    finally:
        server.terminate()
        server.wait(10)
