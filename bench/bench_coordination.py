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

With --pooler the workers reach the database through PgBouncer in transaction mode with
--pool-size server connections (the fleet set-up; README "Run on Kubernetes"), and the run also
prints: budgets and duplicates checked, server connections in use and clients waiting
(PgBouncer's SHOW POOLS, sampled each second), client connections per worker (SHOW CLIENTS), the
gap between a worker's trials (previous end to next start as stored: counting, claiming, the
reads around a claim, percentiles), each worker process's peak RSS and PSS, and the database work
per trial (PgBouncer's SHOW STATS: transactions and their server time; heartbeats from the
trial_heartbeats table's counters; CPU of PgBouncer and of PostgreSQL). From those it prints the
arithmetic for 1,000 and 10,000 workers (bench/fleet.py). The fleet run quoted in bench/README.md:

    python bench/bench_coordination.py --pooler --workers 128 --pool-size 20 --seconds 15 \
        --trials-per-worker 8 --repeats 1 --sampler random

With --prefill N each study first gets N finished trials (bench/prefill.py, a few seconds for
10,000), and the run prints one worker's start-up read of it (rows, statements, server time) and
uses that read in the fleet arithmetic; --statements adds the workers' statements by kind
(pg_stat_statements), the counts of a study's trials per trial among them. The defaults on a
10,000-trial study, quoted in bench/README.md (issue 28):

    python bench/bench_coordination.py --pooler --workers 4 --pool-size 4 --trials-per-worker 8 \
        --repeats 1 --epochs 40 --pruner median --prefill 10000 --statements
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

import common
import fleet
import prefill
from common import postgres
from tests.support import pgbouncer

SLEEP = "tests.support.sleep_task"
# Settings.heartbeat_interval's default (the benchmark's workers use it).
HEARTBEAT_SECONDS = 10
# The fleet arithmetic's assumptions: a round trip between worker and database within one cloud
# zone, the fleet's pool (components/pooler), and one worker's first read of a study's trials
# when the run does not measure it (--prefill): 1.76 s of server time on a 10,000-trial study
# (bench/README.md, issue 28; one reading).
RTT_S = 0.001
FLEET_POOL = 20
STARTUP_READ_S = 1.76


@dataclass(frozen=True)
class Startup:
    read: prefill.StartupRead
    server_s: float  # PgBouncer's transaction time for the read's transactions
    xacts: int


@dataclass
class Run:
    end_to_end: float
    steady: float
    utilization: float
    peak_connections: int  # per worker: pg_stat_activity straight, SHOW CLIENTS through PgBouncer
    skew: float
    trials: int = 0
    gaps: list[float] = field(default_factory=list)
    pool: pgbouncer.PoolSampler | None = None
    memory: dict[int, tuple[int, int]] = field(default_factory=dict)
    work: fleet.PerTrial | None = None
    heartbeats: int = 0
    xacts: int = 0
    queries: int = 0
    epochs: int = 0  # epochs run by all trials (a pruned trial runs fewer)
    xact_us: int = 0  # server time of all transactions (PgBouncer's total_xact_time)
    startup: Startup | None = None  # one worker's first read of a prefilled study
    statements: list[tuple[int, float, str]] = field(default_factory=list)  # (calls, ms, query) of the workers


def one_run(server, url: str, name: str, workers: int, seconds: float, per_worker: int, sampler: str,
            bouncer: pgbouncer.PgBouncer | None = None, epochs: int = 1, pruner: str = "none",
            prefilled: int = 0, statements: bool = False) -> Run:
    import optuna
    from optuna.trial import TrialState

    environ = common.env(url)
    trials = workers * per_worker
    database = url.rsplit("/", 1)[1]
    # A trial sleeps ``seconds`` in all, spread over its epochs (a pruned one less). The launch
    # goes straight to the server, as an operator's may: it is set-up, not the fleet's work, and
    # the first launch on an empty database needs three server connections at once (the launch
    # lock's transaction, and Optuna's session with alembic's connection as it creates the
    # tables), which a pool of 2 never frees (PgBouncer's query_wait_timeout, 120 s, then fails it).
    common.sweeper(["launch", SLEEP, "--study-name", name, "--trials", str(trials + prefilled), "--epochs", str(epochs),
                    "--pruner", pruner, "--sampler", sampler, "--option", f"seconds={seconds / epochs}"],
                   common.env(server.url(database)))
    startup = None
    if prefilled:
        began = time.perf_counter()
        written = prefill.prefill(server.url(database), name, prefilled)
        print(f"  prefilled {prefilled} finished trials in {time.perf_counter() - began:.1f} s (rows: "
              + ", ".join(f"{k} {v}" for k, v in written.items()) + ")", flush=True)
        if bouncer:
            startup = _startup_read(server, bouncer, database, url, name)
    before = _work_counters(server, bouncer, database) if bouncer else None
    if statements:
        server.sql("SELECT pg_stat_statements_reset()", database=database)
    sampling = (pgbouncer.PoolSampler(bouncer, database, every=1.0) if bouncer
                else postgres.ConnectionSampler(server, every=0.25))
    with sampling:
        procs = [subprocess.Popen([sys.executable, "-m", "sweeper", "worker", "--study", name], env=environ,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
        with fleet.ProcessSampler([p.pid for p in procs]) as memory:
            codes = [p.wait() for p in procs]
    peak = sampling.clients_peak if bouncer else sampling.peak
    if any(codes):
        raise SystemExit(f"workers failed: {codes}")
    # The workers' work only: the checks below read the whole study (10,000 trials when prefilled).
    after = _work_counters(server, bouncer, database) if bouncer else None
    top = _statements(server, database) if statements else []
    study = optuna.load_study(study_name=name, storage=url)
    ran = [t for t in study.get_trials() if not str(t.user_attrs.get("worker")).startswith(prefill.WORKER)]
    finished = [t for t in ran if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    # Exact budget, no trial run twice: every trial complete, one per trial number, none left over.
    # (With a prefilled study, trials the launch queued may be left waiting: the prefilled ones took their slots.)
    left = [t for t in study.trials if t.state != TrialState.WAITING] if prefilled else study.trials
    assert len(finished) == trials == len(left) - prefilled, (len(finished), trials, len(left))
    assert len({t.number for t in finished}) == trials
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
    gaps = []
    for ts in by_worker.values():
        ts.sort(key=lambda t: t.datetime_start)
        gaps += [(b.datetime_start - a.datetime_complete).total_seconds() for a, b in zip(ts, ts[1:])]
    run = Run(ideal / span, steady, busy / window, max(peak.values(), default=0), skew, trials=trials, gaps=gaps,
              memory=memory.peak, epochs=sum(len(t.intermediate_values) for t in finished))
    run.statements = top
    if bouncer:
        run.pool = sampling
        run.startup = startup
        _per_trial(run, before, after, trials)
    return run


def _startup_read(server, bouncer: pgbouncer.PgBouncer, database: str, url: str, name: str) -> Startup:
    """One worker's first read of the study's trials, through PgBouncer: its rows and its
    server time (PgBouncer's transaction time; the read is one transaction)."""
    before = _work_counters(server, bouncer, database)
    read = prefill.startup_read(url, name)
    after = _work_counters(server, bouncer, database)
    return Startup(read, (after["xact_us"] - before["xact_us"]) / 1e6, int(after["xacts"] - before["xacts"]))


def enable_statement_stats(server, database: str) -> None:
    """pg_stat_statements on the benchmark's server (a restart): the workers' statements by kind."""
    with open(server.datadir / "postgresql.conf", "a") as conf:
        conf.write("\nshared_preload_libraries = 'pg_stat_statements'\n")
    server.restart()
    server.sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", database=database)


def _statements(server, database: str) -> list[tuple[int, float, str]]:
    out = server.sql("SELECT calls || '|' || round(total_exec_time::numeric, 1) || '|' || "
                     "left(regexp_replace(query, '\\s+', ' ', 'g'), 150) FROM pg_stat_statements "
                     f"WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '{database}') "
                     "ORDER BY total_exec_time DESC", database=database)
    rows = []
    for line in out.splitlines():
        calls, ms, query = line.split("|", 2)
        rows.append((int(calls), float(ms), query))
    return rows


def _work_counters(server, bouncer: pgbouncer.PgBouncer, database: str) -> dict[str, float]:
    """Cumulative counters of the database's work so far (differences of two readings are a run's)."""
    time.sleep(2.5)  # PgBouncer refreshes SHOW STATS every stats_period (1 s)
    stats = bouncer.database_stats(database)
    # PostgreSQL's table counters are flushed by a backend when it goes idle (at most each second)
    # or exits: end PgBouncer's server connections (it opens new ones on demand) and give the
    # statistics a moment.
    server.sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}' "
               "AND pid <> pg_backend_pid()")
    time.sleep(1.0)
    heartbeats = server.sql("SELECT coalesce(sum(n_tup_ins + n_tup_upd), 0) FROM pg_stat_user_tables "
                            "WHERE relname = 'trial_heartbeats'", database=database)
    postmaster = int((server.datadir / "postmaster.pid").read_text().split()[0])
    bouncer_pid = int((bouncer.root / "pgbouncer.pid").read_text().strip())
    # (No row yet for a database no client has reached through PgBouncer: nothing counted.)
    return {"xacts": stats.get("total_xact_count", 0), "queries": stats.get("total_query_count", 0),
            "xact_us": stats.get("total_xact_time", 0),
            "heartbeats": int(heartbeats or 0), "pgbouncer_cpu": fleet.cpu_seconds(bouncer_pid),
            "postgres_cpu": fleet.postgres_cpu_seconds(postmaster)}


def _per_trial(run: Run, before: dict[str, float], after: dict[str, float], trials: int) -> None:
    d = {k: after[k] - before[k] for k in before}
    run.xacts, run.queries, run.heartbeats = int(d["xacts"]), int(d["queries"]), int(d["heartbeats"])
    run.xact_us = int(d["xact_us"])
    # One heartbeat is one transaction (Optuna's record_heartbeat: one session, committed).
    per_heartbeat = 1.0
    run.work = fleet.PerTrial(
        xacts=(d["xacts"] - d["heartbeats"] * per_heartbeat) / trials,
        xacts_per_heartbeat=per_heartbeat,
        server_seconds_per_xact=d["xact_us"] / 1e6 / max(1, d["xacts"]),
        pgbouncer_cpu_per_xact=d["pgbouncer_cpu"] / max(1, d["xacts"]),
        postgres_cpu_per_xact=d["postgres_cpu"] / max(1, d["xacts"]),
        statements_per_xact=d["queries"] / max(1, d["xacts"]),
    )


def _percentiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {q[49]:.3f} s, p90 {q[89]:.3f} s, p99 {q[98]:.3f} s, max {max(values):.3f} s ({len(values)} gaps)"


def _report_pooled(n: int, pool_size: int, runs: list[Run], seconds: float) -> None:
    for i, run in enumerate(runs):
        assert run.pool is not None and run.work is not None
        rss = sorted(v[0] / 1024 for v in run.memory.values())
        pss = sorted(v[1] / 1024 for v in run.memory.values())
        label = f"run {i + 1} of {len(runs)}" if len(runs) > 1 else "a single run"
        print(f"  through PgBouncer, {label}: {run.trials} trials finished, budget exact, no trial run twice "
              f"(checked)")
        print(f"  server connections (pool {pool_size}): in use peak {run.pool.peak('sv_active')}, mean "
              f"{run.pool.mean('sv_active'):.1f}; opened peak "
              f"{max(s.get('sv_active', 0) + s.get('sv_idle', 0) + s.get('sv_used', 0) for s in run.pool.samples)}; "
              f"clients waiting for one: peak {run.pool.peak('cl_waiting')}, mean {run.pool.mean('cl_waiting'):.1f} "
              f"({len(run.pool.samples)} samples, 1 s apart)")
        print(f"  gap between a worker's trials (claim latency and the reads around it): {_percentiles(run.gaps)}")
        print(f"  memory per worker process ({len(rss)} processes, peak of each): RSS median {statistics.median(rss):.0f} MiB "
              f"(max {rss[-1]:.0f}), PSS median {statistics.median(pss):.0f} MiB (max {pss[-1]:.0f})")
        w = run.work
        print(f"  database work: {run.xacts} transactions ({run.queries} statements) through PgBouncer, of which "
              f"{run.heartbeats} heartbeats; "
              f"per trial {w.xacts:.1f} transactions besides heartbeats ({run.epochs / run.trials:.1f} epochs run per "
              f"trial; {(run.xacts - run.heartbeats) / max(1, run.epochs):.2f} transactions and "
              f"{(run.queries - run.heartbeats) / max(1, run.epochs):.2f} statements per epoch run, heartbeats apart); "
              f"{w.server_seconds_per_xact * 1e3:.2f} ms "
              f"server time per transaction (mean); CPU per transaction: PgBouncer {w.pgbouncer_cpu_per_xact * 1e6:.0f} us, "
              f"PostgreSQL {w.postgres_cpu_per_xact * 1e6:.0f} us")
        workers = len(run.memory) or 1
        print(f"  server time per trial: {run.xact_us / 1e6 / run.trials * 1e3:.1f} ms, heartbeats and each worker's "
              f"start-up read included", end="")
        if run.startup:
            st = run.startup
            rest = run.xact_us / 1e6 - workers * st.server_s
            print(f"; {rest / run.trials * 1e3:.1f} ms without {workers} start-up reads as measured below (the "
                  f"workers' own, made together on shared cores, hold their transactions longer)")
            print(f"  a worker's start-up read of the study ({st.read.trials} trials): {st.read.rows} rows in "
                  f"{st.read.statements} statements, {st.server_s:.3f} s of server time ({st.xacts} transaction(s)), "
                  f"{st.read.wall_s:.3f} s as the worker waits")
        else:
            print()
        if run.statements:
            counts = sum(c for c, _, q in run.statements if "GROUP BY trials.state" in q)
            print(f"  the workers' statements (pg_stat_statements; execution time only, not the time a transaction is "
                  f"held): counts of the study's trials by state {counts} ({counts / run.trials:.2f} per trial); "
                  f"the 12 costliest:")
            for calls, ms, query in run.statements[:12]:
                print(f"    {calls:>6} calls {ms:9.1f} ms  {query}")
    work = runs[-1].work
    assert work is not None
    startup = runs[-1].startup
    startup_s = startup.server_s if startup else STARTUP_READ_S
    startup_what = (f"{startup_s:.2f} s of server time, measured above at {startup.read.trials} trials" if startup
                    else f"{STARTUP_READ_S} s of server time, measured at 10,000 trials (bench/README.md)")
    print(f"fleet arithmetic from the last run's per-trial work (heartbeat every {HEARTBEAT_SECONDS} s, the default; "
          f"2 client connections per worker process; every worker always in a trial; {work.statements_per_xact:.1f} "
          f"statements per transaction; a round trip of 0 and {RTT_S * 1e3:g} ms; a pool of {FLEET_POOL}; each worker's "
          f"first read of its study {startup_what}):")
    rows = [fleet.project(work, w, t, HEARTBEAT_SECONDS, rtt_s=rtt, startup_read_s=startup_s, pool=FLEET_POOL)
            for w in (1000, 10000) for t in (60, 600, 1800) for rtt in (0.0, RTT_S)]
    for line in fleet.render(rows):
        print("  " + line)
    for row in rows:
        if row.rtt_s:
            print(f"  first to break at {row.workers} workers, {row.trial_seconds:.0f} s trials, {row.rtt_s * 1e3:g} ms: "
                  f"{fleet.first_to_break(row, pool=FLEET_POOL)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 16, 32])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--trials-per-worker", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sampler", default="tpe", help="tpe (default; its sampling cost is included) or random")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per trial (the --seconds spread over them)")
    parser.add_argument("--pruner", default="none", help="none (default) or median, the sweep default")
    parser.add_argument("--pooler", action="store_true", help="through PgBouncer in transaction mode")
    parser.add_argument("--pool-size", type=int, default=20, help="PgBouncer's server connections (with --pooler)")
    parser.add_argument("--statements", action="store_true",
                        help="also count the workers' statements by kind (pg_stat_statements)")
    parser.add_argument("--prefill", type=int, default=0, metavar="N",
                        help="fill each study with N finished trials before its workers start (bench/prefill.py); "
                             "with --pooler, also measure a worker's start-up read of it")
    args = parser.parse_args()
    if args.pool_size < 2:
        parser.error(f"--pool-size must be at least 2 (a worker's heartbeat and its trial each hold one), "
                     f"got {args.pool_size}")
    with common.postgres_database(max_connections=100) as (server, url):
        if args.statements:
            enable_statement_stats(server, url.rsplit("/", 1)[1])
        bouncer = pgbouncer.start(server, pool_size=args.pool_size) if args.pooler else None
        try:
            if bouncer:
                url = bouncer.url(url.rsplit("/", 1)[1])
            print(f"sleep objective {args.seconds} s over {args.epochs} epoch(s), pruner {args.pruner}, "
                  f"{args.trials_per_worker} trials per worker, sampler {args.sampler}, "
                  f"{args.repeats} runs each, {os.cpu_count()} CPU cores"
                  + (f", through PgBouncer (transaction mode, {args.pool_size} server connections)" if bouncer else ""))
            for n in args.workers:
                runs = [one_run(server, url, f"coord-{n}-{r}", n, args.seconds, args.trials_per_worker, args.sampler, bouncer,
                                args.epochs, args.pruner, args.prefill, args.statements) for r in range(args.repeats)]
                print(f"{n:>3} workers: throughput / ideal, end to end {common.spread([r.end_to_end for r in runs])}; "
                      f"steady state {common.spread([r.steady for r in runs])}; worker utilization "
                      f"{common.spread([r.utilization for r in runs])}; peak connections per worker "
                      f"{max(r.peak_connections for r in runs)}; start skew {common.median([r.skew for r in runs]):.1f} s",
                      flush=True)
                if bouncer:
                    _report_pooled(n, args.pool_size, runs, args.seconds)
        finally:
            if bouncer:
                pgbouncer.stop(bouncer)


if __name__ == "__main__":
    main()
