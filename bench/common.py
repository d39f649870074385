"""Shared pieces of the benchmarks: a throwaway PostgreSQL server, sweeper subprocesses, medians."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support import postgres  # noqa: E402  (the same server the tests start)

DEFAULT_MIRROR = str(REPO.parent / "shared" / "data")


@contextmanager
def postgres_database(name: str = "bench", max_connections: int = 100) -> Iterator[tuple[postgres.PostgresServer, str]]:
    server = postgres.start_server(max_connections=max_connections)
    try:
        yield server, server.create_database(name)
    finally:
        postgres.remove(server)


def env(storage: str, **extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("SWEEPER_")}
    out.update(SWEEPER_STORAGE=storage, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1", **extra)
    return out


def sweeper(args: list[str], environ: dict[str, str], *, quiet: bool = True, cwd: Path | None = None) -> tuple[int, float]:
    """Run ``sweeper ARGS`` to completion; returns (exit code, wall seconds). ``python -m`` puts the
    working directory first on the path: ``cwd`` picks the checkout whose code runs."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "sweeper", *args], env=environ, cwd=cwd,
                         stdout=subprocess.DEVNULL if quiet else None, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"sweeper {' '.join(args)} failed ({out.returncode}): {out.stderr[-2000:]}")
    return out.returncode, wall


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float]) -> str:
    return f"median {median(values):.3f} (runs: {', '.join(f'{v:.3f}' for v in values)})"


def stored_race(storage: str, study: str | None, what: str):  # type: ignore[no-untyped-def]
    """A stored adaptive race and its config (``study``: its name, or None for the storage's only
    study); exits with a one-line message when there is none, ``what`` saying what needs it."""
    import optuna

    from sweeper.study.config import CONFIG_ATTR, SweepConfig

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    names = optuna.get_all_study_names(storage)
    name = study or (names[0] if len(names) == 1 else None)
    if name is None:
        raise SystemExit(f"{storage} holds {len(names)} studies ({', '.join(names)}): name one with --study")
    loaded = optuna.load_study(study_name=name, storage=storage)
    config = SweepConfig.from_attrs(loaded.user_attrs[CONFIG_ATTR])
    if config.design != "adaptive":
        raise SystemExit(f"study {name} is a {config.design} design: only an adaptive race has {what}")
    return loaded, config
