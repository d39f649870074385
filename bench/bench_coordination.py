"""Coordination cost: a fixed-length objective (each trial sleeps SECONDS) run by N worker processes
on one PostgreSQL, for N in 1, 4, 16, 32. Prints, as fractions of the ideal (N trials per SECONDS):

- end to end: from the first trial's start to the last trial's end as stored. Process start-up
  before the first trial is excluded, but not the skew between workers' starts (32 Python processes
  importing Optuna on 2 cores take about 10 s to all be up);
- steady state: trial time per worker while all N workers are up (from the last worker's first
  trial start to the first worker's last trial end): the throughput the coordination sustains;
- worker utilization: each worker's time in trials over its own first-start..last-end window;

and the peak connections any one worker held (pg_stat_activity), and the start skew: how far apart
the workers' first trials started (what end to end pays on top of the steady state).
Target: >= 0.95 at 32 workers, <= 2 connections per worker.

    python bench/bench_coordination.py [--workers 1 4 16 32] [--seconds 2] [--trials-per-worker 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys

import common
from common import postgres

SLEEP = "tests.support.sleep_task"


def one_run(server, url: str, name: str, workers: int, seconds: float, per_worker: int, sampler: str) -> tuple[float, float, float, int, float]:
    import optuna
    from optuna.trial import TrialState

    environ = common.env(url)
    trials = workers * per_worker
    common.sweeper(["launch", SLEEP, "--study-name", name, "--trials", str(trials), "--epochs", "1",
                    "--pruner", "none", "--sampler", sampler, "--option", f"seconds={seconds}"], environ)
    with postgres.ConnectionSampler(server, every=0.25) as connections:
        procs = [subprocess.Popen([sys.executable, "-m", "sweeper", "worker", "--study", name], env=environ,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
        codes = [p.wait() for p in procs]
    peak = connections.peak
    if any(codes):
        raise SystemExit(f"workers failed: {codes}")
    study = optuna.load_study(study_name=name, storage=url)
    finished = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(finished) == trials, (len(finished), trials)
    span = (max(t.datetime_complete for t in finished) - min(t.datetime_start for t in finished)).total_seconds()
    ideal = trials * seconds / workers
    # Utilization: per worker, time in trials over its own first-start..last-end window. This is
    # the gap between trials that claiming and storing cost, without process start-up skew.
    by_worker: dict[str, list] = collections.defaultdict(list)
    for t in finished:
        by_worker[t.user_attrs["worker"]].append(t)
    busy = sum(seconds * len(ts) for ts in by_worker.values())
    window = sum((max(t.datetime_complete for t in ts) - min(t.datetime_start for t in ts)).total_seconds()
                 for ts in by_worker.values())
    # Steady state: while every worker is up. A trial's sleep is the useful part of its stored
    # interval; the rest of the interval (sampling, storing) is coordination, so it is charged.
    firsts = [min(t.datetime_start for t in ts) for ts in by_worker.values()]
    all_up = max(firsts)
    skew = (all_up - min(firsts)).total_seconds()
    first_done = min(max(t.datetime_complete for t in ts) for ts in by_worker.values())
    steady_window = (first_done - all_up).total_seconds()
    steady = float("nan")
    if steady_window > 0:
        useful = 0.0
        for t in finished:
            length = (t.datetime_complete - t.datetime_start).total_seconds()
            inside = (min(t.datetime_complete, first_done) - max(t.datetime_start, all_up)).total_seconds()
            useful += max(0.0, inside) * min(1.0, seconds / length)
        steady = useful / (workers * steady_window)
    return ideal / span, steady, busy / window, max(peak.values(), default=0), skew


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 16, 32])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--trials-per-worker", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sampler", default="tpe", help="tpe (default; its sampling cost is included) or random")
    args = parser.parse_args()
    with common.postgres_database(max_connections=100) as (server, url):
        print(f"sleep objective {args.seconds} s, {args.trials_per_worker} trials per worker, sampler {args.sampler}, "
              f"{args.repeats} runs each, {os.cpu_count()} CPU cores")
        for n in args.workers:
            fractions, steadies, utilizations, conns, skews = [], [], [], [], []
            for r in range(args.repeats):
                fraction, steady, utilization, peak, skew = one_run(server, url, f"coord-{n}-{r}", n, args.seconds, args.trials_per_worker, args.sampler)
                fractions.append(fraction)
                steadies.append(steady)
                utilizations.append(utilization)
                conns.append(peak)
                skews.append(skew)
            print(f"{n:>3} workers: throughput / ideal, end to end {common.spread(fractions)}; steady state "
                  f"{common.spread(steadies)}; worker utilization {common.spread(utilizations)}; "
                  f"peak connections per worker {max(conns)}; start skew {common.median(skews):.1f} s", flush=True)


if __name__ == "__main__":
    main()
