"""How worker child processes are started: the command line and environment of a child, and the
unsupervised local workers of ``sweeper run`` and ``sweeper evaluate`` (``spawn_workers``,
``wait_all``). Each child is ``python -m sweeper worker --index i``: a fresh interpreter (no
forked TensorFlow state), with the parent's settings passed through the environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sweeper.settings import Settings
from sweeper.worker.gpus import jax_sharing_env


def worker_argv(index: int, studies: Sequence[str], threads: int | None, sampler_seed: int | None = None) -> list[str]:
    """``python -m sweeper worker`` for child ``index``."""
    cmd = [sys.executable, "-m", "sweeper", "worker", "--index", str(index)]
    if sampler_seed is not None:
        cmd += ["--sampler-seed", str(sampler_seed)]
    for name in studies:
        cmd += ["--study", name]
    if threads:
        cmd += ["--threads", str(threads)]
    return cmd


def child_env(base: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """A child's environment: ``base`` with unbuffered output (its lines reach the log as they are
    written) and TensorFlow's C++ logging lowered unless set, then ``overrides``."""
    env = {**base, "PYTHONUNBUFFERED": "1"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(overrides)
    return env


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
    env = local_workers_env({**os.environ, **settings.to_env(), **(extra_env or {})}, count)
    return [Child(index, subprocess.Popen(worker_argv(index, studies, threads), env=env)) for index in range(count)]


def local_workers_env(base: Mapping[str, str], count: int) -> dict[str, str]:
    """The environment of ``count`` unsupervised local workers (``sweeper run``, ``--workers K``).
    They see the same GPUs and all compute on the first, so under JAX they share it like K slots
    of one GPU (TensorFlow's memory growth is set in each process by ``sweeper.worker.backend``)."""
    return child_env(base, jax_sharing_env(count, base))


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


