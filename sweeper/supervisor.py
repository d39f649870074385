"""Starting K local worker processes and keeping them in step with signals.

Each child is ``python -m sweeper worker --index i``: a fresh interpreter (no forked TensorFlow
state), with the parent's settings passed through the environment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sweeper.settings import Settings


@dataclass
class Child:
    index: int
    process: subprocess.Popen[bytes]


def spawn_workers(
    settings: Settings,
    count: int,
    studies: Sequence[str] = (),
    *,
    threads: int | None = None,
    extra_env: dict[str, str] | None = None,
) -> list[Child]:
    env = {**os.environ, **settings.to_env(), **(extra_env or {}), "PYTHONUNBUFFERED": "1"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    children = []
    for index in range(count):
        cmd = [sys.executable, "-m", "sweeper", "worker", "--index", str(index)]
        for name in studies:
            cmd += ["--study", name]
        if threads:
            cmd += ["--threads", str(threads)]
        children.append(Child(index, subprocess.Popen(cmd, env=env)))
    return children


def wait_all(children: list[Child], *, on_tick: Callable[[], None] | None = None, tick: float = 2.0) -> int:
    """Wait for every child, forwarding SIGTERM/SIGINT; returns the worst exit code."""
    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.process.poll() is None:
                child.process.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while any(c.process.poll() is None for c in children):
            if on_tick:
                on_tick()
            time.sleep(tick)
        if on_tick:
            on_tick()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    codes = [c.process.returncode for c in children]
    return max(codes, key=abs) if codes else 0
