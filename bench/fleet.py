"""What a fleet asks of one database, from what one measured run through PgBouncer cost: pure
arithmetic (``project``), and the readings it needs from processes (``ProcessSampler``, CPU times).

A worker's database work is per trial (claim, parameters, result, the reads around them) plus one
heartbeat transaction every heartbeat interval while a trial runs. Little's law turns transactions
a second times their mean time in the server into server connections busy on average; a pool
needs headroom above that for bursts (many trials ending together).

A network round trip between worker and database (``rtt_s``; the benchmark's is loopback's, about
nothing) costs twice: in transaction mode a server connection stays with a client for its whole
transaction, so each statement after the first holds it one more round trip; and a worker waits
one round trip per statement, which lengthens its trials. At start-up each worker reads its
study's trials once (the sampler's first snapshot; later reads are incremental), so a fleet that
starts together queues ``workers x startup_read_s`` of server time on the pool."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.support.sampler import BackgroundSampler


@dataclass(frozen=True)
class PerTrial:
    """Measured in one run: database transactions per trial (heartbeats apart), transactions per
    heartbeat, the mean server time of a transaction, and the CPU PgBouncer and PostgreSQL spent
    per transaction (on this machine's cores)."""

    xacts: float
    xacts_per_heartbeat: float
    server_seconds_per_xact: float
    pgbouncer_cpu_per_xact: float
    postgres_cpu_per_xact: float
    statements_per_xact: float = 3.0  # BEGIN, the work, COMMIT: PgBouncer counts each


@dataclass(frozen=True)
class Projection:
    workers: int
    trial_seconds: float
    heartbeat_seconds: float
    claims_per_second: float
    heartbeats_per_second: float
    xacts_per_second: float
    server_connections_busy: float
    pgbouncer_cores: float
    postgres_cores: float
    client_connections: int
    rtt_s: float = 0.0
    wait_per_trial_s: float = 0.0  # round trips a worker waits per trial (heartbeats apart)
    startup_s: float = 0.0  # server time of every worker's first read, spread over the pool


def project(measured: PerTrial, workers: int, trial_seconds: float, heartbeat_seconds: float,
            connections_per_worker: int = 2, rtt_s: float = 0.0, startup_read_s: float = 0.0,
            pool: int = 20) -> Projection:
    claims = workers / trial_seconds
    heartbeats = workers / heartbeat_seconds  # every worker is in a trial nearly all the time
    xacts = claims * measured.xacts + heartbeats * measured.xacts_per_heartbeat
    held = measured.server_seconds_per_xact + (measured.statements_per_xact - 1) * rtt_s
    return Projection(
        workers=workers, trial_seconds=trial_seconds, heartbeat_seconds=heartbeat_seconds,
        claims_per_second=claims, heartbeats_per_second=heartbeats, xacts_per_second=xacts,
        server_connections_busy=xacts * held,
        pgbouncer_cores=xacts * measured.pgbouncer_cpu_per_xact,
        postgres_cores=xacts * measured.postgres_cpu_per_xact,
        client_connections=workers * connections_per_worker,
        rtt_s=rtt_s, wait_per_trial_s=measured.xacts * measured.statements_per_xact * rtt_s,
        startup_s=workers * startup_read_s / pool,
    )


def render(rows: list[Projection]) -> list[str]:
    lines = ["workers | trial | round trip | claims/s | heartbeats/s | transactions/s | server connections busy (mean) | "
             "PgBouncer cores | PostgreSQL cores | client connections | worker waits per trial | all start at once"]
    for p in rows:
        lines.append(
            f"{p.workers:>6} | {p.trial_seconds:>5.0f} s | {p.rtt_s * 1e3:4.1f} ms | {p.claims_per_second:8.1f} | "
            f"{p.heartbeats_per_second:8.1f} (every {p.heartbeat_seconds:.0f} s) | {p.xacts_per_second:8.0f} | "
            f"{p.server_connections_busy:6.2f} | {p.pgbouncer_cores:5.2f} | {p.postgres_cores:5.2f} | "
            f"{p.client_connections} | {p.wait_per_trial_s:5.2f} s | {p.startup_s:6.0f} s"
        )
    return lines


def first_to_break(p: Projection, *, pool: int, max_client_conn: int = 4000, postgres_cores: float = 4.0) -> str:
    """The first limit the projection passes, in the order a growing fleet meets them: PgBouncer's
    clients (``max_client_conn`` per pod), its one core, the pool's server connections, the
    database's cores; "nothing" when none is passed."""
    limits = [
        (p.client_connections > max_client_conn,
         f"PgBouncer's clients ({p.client_connections} > max_client_conn {max_client_conn} per pod)"),
        (p.pgbouncer_cores > 1.0, f"PgBouncer's one core ({p.pgbouncer_cores:.2f} cores)"),
        (p.server_connections_busy > pool, f"the pool ({p.server_connections_busy:.1f} busy > {pool})"),
        (p.postgres_cores > postgres_cores, f"PostgreSQL's cores ({p.postgres_cores:.2f} > {postgres_cores:g})"),
    ]
    return next((what for passed, what in limits if passed), "nothing")


# -- readings from processes ------------------------------------------------------------------
_TICKS = 100  # USER_HZ: /proc's CPU times are in clock ticks, 100 a second on Linux


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """User + system CPU of a process (with ``children``: plus its reaped children's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / _TICKS


def postgres_cpu_seconds(postmaster_pid: int) -> float:
    """The server's CPU so far: the postmaster with its reaped children, plus its live children."""
    total = cpu_seconds(postmaster_pid, children=True)
    for child in Path(f"/proc/{postmaster_pid}/task/{postmaster_pid}/children").read_text().split():
        try:
            total += cpu_seconds(int(child))
        except (FileNotFoundError, ProcessLookupError):
            pass  # exited meanwhile: counted in cutime from now on (or lost, a few ticks)
    return total


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a live process in KiB, from /proc/PID/smaps_rollup."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if parts and parts[0] in ("Rss:", "Pss:"):
            values[parts[0]] = int(parts[1])
    return values["Rss:"], values["Pss:"]


class ProcessSampler(BackgroundSampler):
    """The largest RSS and PSS each of ``pids`` reached, sampled every ``every`` seconds."""

    def __init__(self, pids: list[int], every: float = 2.0) -> None:
        super().__init__(every)
        self.pids = pids
        self.peak: dict[int, tuple[int, int]] = {}

    def sample(self) -> None:
        for pid in self.pids:
            try:
                rss, pss = memory_kib(pid)
            except (FileNotFoundError, ProcessLookupError, KeyError):
                continue
            old = self.peak.get(pid, (0, 0))
            self.peak[pid] = (max(old[0], rss), max(old[1], pss))

