"""Soak: a sweep under faults on PostgreSQL through PgBouncer, checked against the same race run
without faults.

Two studies share one database behind PgBouncer (transaction mode): a search (TPE, median pruner)
of ``--trials`` trials and an adaptive race, both of the deterministic synthetic task
(``bench/synthetic_task.py``: a run's values follow from its configuration and seed alone; trials
of ``--epochs`` x ``--epoch-seconds``). ``--workers`` worker processes run them while this script:

- SIGKILLs a random worker every ``--kill-every`` seconds on average (a fresh one takes its place);
- restarts PostgreSQL (fast shutdown, at once up again) at each ``--pg-restarts`` fraction of
  the trials finished;
- stops PostgreSQL for ``--long-outage`` seconds (longer than the grace period) at
  ``--long-outage-at``;
- restarts PgBouncer (down for 3 s) at each ``--pooler-restarts`` fraction.

Beforehand the race alone runs on a database of its own with no faults (the reference). Checks:

- budgets exact: each study's finished trials (complete, pruned, planned runs given up) equal its
  budget, nothing running or queued;
- no trial run twice: no two finished trials repeat one original (a copy's ``failed_trial``);
- every planned (configuration, seed) of the race finished exactly once, with the seed it was
  planned with, the same set as the reference's, and no sampled trial among the race's;
- the race's verdicts (stage, finalists, each comparison, what was dropped) and every run's value
  identical to the reference's;
- no worker printed a traceback or exited with an error.

Prints its figures and PASS/FAIL per check; exits 1 when a check fails. The run quoted in
bench/README.md:

    python bench/soak.py

``tests/faults_tests/test_soak.py`` runs a short version (``short_options``).
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import pgbouncer, postgres  # noqa: E402

TASK = str(ROOT / "bench" / "synthetic_task.py")


def options(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=400, help="the search study's budget (default 400)")
    p.add_argument("--race", default="--option scenario=collapse",
                   help="extra launch arguments of the race, one string (default: the collapse scenario, adaptive defaults)")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--epoch-seconds", type=float, default=0.03)
    p.add_argument("--workers", type=int, default=6)
    p.add_argument("--pool-size", type=int, default=8, help="PgBouncer's server connections")
    p.add_argument("--kill-every", type=float, default=5.0, help="mean seconds between SIGKILLs")
    p.add_argument("--pg-restarts", type=float, nargs="*", default=[0.15, 0.45])
    p.add_argument("--pooler-restarts", type=float, nargs="*", default=[0.3, 0.8])
    p.add_argument("--long-outage", type=float, default=90.0, help="seconds PostgreSQL is down once (0: none)")
    p.add_argument("--long-outage-at", type=float, default=0.6)
    p.add_argument("--heartbeat", type=int, default=2, help="SWEEPER_HEARTBEAT_INTERVAL")
    p.add_argument("--grace", type=int, default=10, help="SWEEPER_GRACE_PERIOD")
    p.add_argument("--seed", type=int, default=0, help="the faults' random seed")
    p.add_argument("--timeout", type=float, default=1800)
    return p.parse_args(argv)


def short_options() -> argparse.Namespace:
    """The slow test's soak: a small race, a short search, one PostgreSQL and one PgBouncer restart."""
    return options(["--trials", "30", "--race=--option scenario=collapse --penalties none l2 --lambda-range 1e-4 1e-1 "
                    "--points 2 --repeats 2 --rounds 1",
                    "--epochs", "6", "--epoch-seconds", "0.1", "--workers", "3", "--kill-every", "3",
                    "--pg-restarts", "0.3", "--pooler-restarts", "0.6", "--long-outage", "0",
                    "--heartbeat", "1", "--grace", "6", "--timeout", "300"])


def _env(url: str, opts: argparse.Namespace) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("SWEEPER_")}
    env.update(SWEEPER_STORAGE=url, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", SWEEPER_WAIT_FOR_STUDY="600",
               SWEEPER_HEARTBEAT_INTERVAL=str(opts.heartbeat), SWEEPER_GRACE_PERIOD=str(opts.grace))
    return env


def _sweeper(args: list[str], env: dict[str, str], cwd: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "sweeper", *args], env=env, cwd=cwd, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"sweeper {' '.join(args)} failed ({out.returncode}): {out.stderr[-2000:]}")


def _launch(env: dict[str, str], cwd: Path, opts: argparse.Namespace, search: bool) -> None:
    common = ["--epochs", str(opts.epochs), "--option", f"epoch_seconds={opts.epoch_seconds}"]
    _sweeper(["launch", TASK, "--study-name", "race", "--design", "adaptive", *common, *shlex.split(opts.race)],
            env, cwd)
    if search:
        _sweeper(["launch", TASK, "--study-name", "search", "--trials", str(opts.trials), *common], env, cwd)


@dataclass
class Fleet:
    """The worker processes: a killed one is replaced, one that exits on its own is not."""

    env: dict[str, str]
    logs: Path
    size: int
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    started: int = 0
    killed: int = 0
    exits: list[int] = field(default_factory=list)  # exit codes of workers that ended on their own

    def start(self) -> None:
        handle = open(self.logs / f"worker{self.started}.log", "wb")
        self.procs.append(subprocess.Popen([sys.executable, "-m", "sweeper", "worker"], env=self.env, cwd=self.logs,
                                           stdout=handle, stderr=subprocess.STDOUT))
        self.started += 1

    def fill(self) -> None:
        while len(self.procs) < self.size:
            self.start()

    def reap(self) -> None:
        for p in list(self.procs):
            code = p.poll()
            if code is not None:
                self.procs.remove(p)
                if code != -signal.SIGKILL:
                    self.exits.append(code)
                    self.size -= 1  # done (or broken): not replaced

    def kill_one(self, rng: random.Random) -> None:
        live = [p for p in self.procs if p.poll() is None]
        if live:
            victim = rng.choice(live)
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            self.killed += 1

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.procs and time.monotonic() < deadline:
            self.reap()
            time.sleep(0.5)
        for p in self.procs:
            p.kill()
        return not self.procs

    def tracebacks(self) -> list[str]:
        return [f.name for f in sorted(self.logs.glob("worker*.log")) if b"Traceback" in f.read_bytes()]


def _finished(server: postgres.PostgresServer, database: str) -> int | None:
    try:
        out = server.sql("SELECT count(*) FROM trials WHERE state IN ('COMPLETE', 'PRUNED')", database)
        return int(out or 0)
    except subprocess.CalledProcessError:
        return None  # the server is down


def _run_reference(server: postgres.PostgresServer, opts: argparse.Namespace, tmp: Path) -> tuple[dict[str, Any], float]:
    url = server.create_database("reference")
    env = _env(url, opts)
    (tmp / "reference").mkdir()
    _launch(env, tmp / "reference", opts, search=False)
    start = time.perf_counter()
    fleet = Fleet(env, tmp / "reference", opts.workers)
    fleet.fill()
    if not fleet.wait(opts.timeout) or any(fleet.exits):
        raise SystemExit(f"the reference race did not finish cleanly: exits {fleet.exits}")
    return _race_summary(url), time.perf_counter() - start


def _study(url: str, name: str):  # type: ignore[no-untyped-def]
    from sweeper.settings import Settings
    from sweeper.storage import load_study, open_storage

    return load_study(open_storage(Settings(storage=url), read_only=True), name)


def _race_summary(url: str) -> dict[str, Any]:
    """What the race decided, and each planned run's (seed, value), from the stored study."""
    from sweeper.storage.attrs import REPEAT
    from sweeper.study.adaptive import runs_of
    from sweeper.study.config import CONFIG_ATTR, SweepConfig
    from sweeper.study.designs import design_of

    study = _study(url, "race")
    config = SweepConfig.from_attrs(study.user_attrs[CONFIG_ATTR])
    trials = study.get_trials(deepcopy=False)
    plan = design_of(config.design).race(config, runs_of(trials, config.goal))
    runs: dict[str, list[Any]] = {}
    for t in trials:
        if t.state.is_finished() and t.state.name != "FAIL":
            key = _key(t)
            runs.setdefault(key, []).append((t.user_attrs.get("seed"), t.value, t.state.name))
    return {
        "verdicts": {"stage": plan.stage, "round": plan.round, "finalists": repr(plan.finalists),
                     "dropped": repr(plan.dropped), "stopped": plan.stopped},
        "runs": runs,
        "sampled": sum(REPEAT not in t.user_attrs for t in trials),
        "trials": len(trials),
    }


def _key(t: Any) -> str:
    params = t.system_attrs.get("fixed_params") or t.params
    planned = {k: t.user_attrs.get(k) for k in ("repeat", "fixed_seed", "stage")}
    return json.dumps([params, planned], sort_keys=True)


def _budget_check(url: str, name: str) -> tuple[bool, str]:
    from sweeper.storage.counts import count_trials
    from sweeper.study.config import CONFIG_ATTR

    study = _study(url, name)
    counts = count_trials(study)
    budget = study.user_attrs[CONFIG_ATTR]["budget"]
    ok = counts.finished == budget and counts.running == counts.waiting == 0
    finished = [t for t in study.get_trials(deepcopy=False) if t.state.name in ("COMPLETE", "PRUNED")]
    originals = [t.system_attrs.get("failed_trial", t.number) for t in finished]
    twice = len(originals) - len(set(originals))
    return ok and not twice, (f"{name}: budget {budget}, finished {counts.finished} (complete {counts.complete}, "
                              f"pruned {counts.pruned}, given up {counts.given_up}), failed {counts.fail}, "
                              f"running {counts.running}, waiting {counts.waiting}; trials run twice: {twice}")


@dataclass
class Faults:
    pg_restarts: int = 0
    pooler_restarts: int = 0
    long_outages: list[float] = field(default_factory=list)


def soak(opts: argparse.Namespace, say=print) -> bool:  # type: ignore[no-untyped-def]
    """Run the soak; print its figures; True when every check passed."""
    rng = random.Random(opts.seed)
    with tempfile.TemporaryDirectory(prefix="sweeper-soak-") as tmp_name:
        tmp = Path(tmp_name)
        server = postgres.start_server(max_connections=100)
        bouncer = pgbouncer.start(server, pool_size=opts.pool_size)
        fleet: Fleet | None = None
        try:
            reference, reference_s = _run_reference(server, opts, tmp)
            say(f"reference race (no faults, {opts.workers} workers): {reference['trials']} trials in "
                f"{reference_s:.0f} s; stage {reference['verdicts']['stage']}")
            server.create_database("soak")
            url = bouncer.url("soak")
            env = _env(url, opts)
            (tmp / "soak").mkdir()
            _launch(env, tmp / "soak", opts, search=True)
            expected = opts.trials + len(reference["runs"])
            faults, fleet = Faults(), Fleet(env, tmp / "soak", opts.workers)
            assert fleet is not None
            due = sorted([(f, "pg") for f in opts.pg_restarts] + [(f, "pooler") for f in opts.pooler_restarts]
                         + ([(opts.long_outage_at, "long")] if opts.long_outage else []))
            start = time.perf_counter()
            next_kill = start + rng.expovariate(1 / opts.kill_every)
            done = 0
            fleet.fill()
            while fleet.procs and time.perf_counter() - start < opts.timeout:
                fleet.reap()
                seen = _finished(server, "soak")
                done = seen if seen is not None else done
                if due and done >= due[0][0] * expected:
                    _, what = due.pop(0)
                    if what == "pg":
                        server.restart()
                        faults.pg_restarts += 1
                    elif what == "pooler":
                        pgbouncer.halt(bouncer)
                        time.sleep(3)
                        pgbouncer.relaunch(bouncer)
                        faults.pooler_restarts += 1
                    else:
                        down = time.perf_counter()
                        server.stop()
                        time.sleep(opts.long_outage)
                        server.start()
                        faults.long_outages.append(time.perf_counter() - down)
                if time.perf_counter() >= next_kill and done < 0.9 * expected:
                    fleet.kill_one(rng)
                    next_kill = time.perf_counter() + rng.expovariate(1 / opts.kill_every)
                fleet.reap()
                fleet.fill()
                time.sleep(0.5)
            finished_in_time = fleet.wait(60)
            wall = time.perf_counter() - start
            say(f"soak: {opts.workers} workers through PgBouncer (pool {opts.pool_size}), heartbeat "
                f"{opts.heartbeat} s, grace {opts.grace} s; {wall:.0f} s; {fleet.killed} SIGKILLs, "
                f"{fleet.started} worker processes started; PostgreSQL restarts {faults.pg_restarts}, "
                f"outages {', '.join(f'{s:.0f} s' for s in faults.long_outages) or 'none'}; PgBouncer "
                f"restarts {faults.pooler_restarts}; faults left unplayed {len(due)}")
            checks: list[tuple[str, bool, str]] = []
            checks.append(("workers finished in time, each exit 0, no traceback",
                           finished_in_time and not any(fleet.exits) and not fleet.tracebacks(),
                           f"exits {fleet.exits}; tracebacks in {fleet.tracebacks() or 'none'}"))
            for name in ("search", "race"):
                ok, line = _budget_check(url, name)
                checks.append((f"{name}: budget exact, no trial run twice", ok, line))
            got = _race_summary(url)
            once = all(len(v) == 1 for v in got["runs"].values())
            race_study = _study(url, "race")
            killed_keys = {_key(t) for t in race_study.get_trials(deepcopy=False) if t.state.name == "FAIL"}
            checks.append(("race: every planned (configuration, seed) finished once, none sampled",
                           once and got["sampled"] == 0 and set(got["runs"]) == set(reference["runs"]),
                           f"{len(got['runs'])} planned runs (reference {len(reference['runs'])}); "
                           f"{len(killed_keys)} of them killed at least once and re-run; sampled trials {got['sampled']}"))
            same_values = got["runs"] == reference["runs"]
            checks.append(("race: verdicts and every run's seed and value identical to the reference",
                           got["verdicts"] == reference["verdicts"] and same_values,
                           f"stage {got['verdicts']['stage']} round {got['verdicts']['round']}; values "
                           f"{'identical' if same_values else 'differ'}"))
            search_fail = sum(t.state.name == "FAIL" for t in _study(url, "search").get_trials(deepcopy=False))
            say(f"trials: {expected} finished planned for, {search_fail + len(killed_keys)}+ failed by a kill "
                f"and re-run (search {search_fail} failed trials)")
            for what, ok, line in checks:
                say(f"{'PASS' if ok else 'FAIL'} {what}: {line}")
            for log in sorted((tmp / "soak").glob("worker*.log")):
                text = log.read_text(errors="replace")
                if "Traceback" in text or "error" in text.lower():
                    lines = text.splitlines()
                    start = next((i for i, line in enumerate(lines) if line.startswith("Traceback")), len(lines) - 15)
                    say(f"--- {log.name}, from its first traceback:\n" + "\n".join(lines[start:start + 80]))
            if got["verdicts"] != reference["verdicts"]:
                say(f"  soak:      {got['verdicts']}\n  reference: {reference['verdicts']}")
            return all(ok for _, ok, _ in checks)
        finally:
            for p in fleet.procs if fleet else []:
                p.kill()
            pgbouncer.stop(bouncer)
            postgres.remove(server)


def main(argv: list[str] | None = None) -> int:
    return 0 if soak(options(argv)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
