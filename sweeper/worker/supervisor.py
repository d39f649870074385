"""The long-running ``sweeper worker --gpus`` loop: one worker child per GPU slot (started as
``sweeper.worker.children`` says), restarted with backoff when it dies, given up when it keeps
dying at start-up, and kept in step with signals.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sweeper.errors import ConfigError, NoStudyError, WorkerError
from sweeper.settings import Settings
from sweeper.worker.children import child_env, worker_argv
from sweeper.worker.gpus import Slot, plan_slots, select_gpus, sharing_env, slot_seed


# -- the long-running supervisor of `sweeper worker --gpus ...` ---------------------------------
@dataclass(frozen=True)
class RestartPolicy:
    """When a child that died abnormally is started again. A death within ``startup_window``
    seconds of its start is a start-up crash (broken setup, bad GPU); after
    ``max_startup_crashes`` of them in a row the slot is given up. Delays double per crash."""

    startup_window: float = 60.0
    max_startup_crashes: int = 5
    backoff: float = 2.0
    max_backoff: float = 60.0

    def delay(self, crashes: int) -> float:
        return min(self.max_backoff, self.backoff * 2 ** max(0, crashes - 1))


@dataclass
class _SlotState:
    slot: Slot
    starts: int = 0
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    crashes: int = 0  # start-up crashes in a row
    restart_at: float | None = None
    gave_up: bool = False
    setup_error: int | None = None  # the exit code of a setup error, which is not restarted


# A child's exit codes that no restart can fix, passed on as the supervisor's own: every child has
# the same settings, task code and studies, so the others end alike. (Restarted, a child waiting in
# vain for a study would loop for ever; under Kubernetes, a podFailurePolicy fails the Job on them.)
SETUP_ERRORS = {
    ConfigError.exit_code: "bad settings or task code",
    NoStudyError.exit_code: "no study launched",
}


def worker_command(studies: Sequence[str], threads: int | None) -> Callable[[Slot, int], list[str]]:
    """The real child: ``python -m sweeper worker`` with its slot index and sampler seed."""
    return lambda slot, seed: worker_argv(slot.index, studies, threads, seed)


def slot_env(base: Mapping[str, str], slot: Slot) -> dict[str, str]:
    """A slot's environment: its one GPU (none for a CPU slot), and the memory settings that let
    ``slot.sharing`` processes share that GPU under TensorFlow or JAX (``sharing_env``)."""
    return child_env(base, {"CUDA_VISIBLE_DEVICES": slot.gpu if slot.gpu is not None else "-1",
                            **sharing_env(slot, base)})


def supervise(
    slots: Sequence[Slot],
    command: Callable[[Slot, int], list[str]],
    *,
    env: Mapping[str, str] | None = None,
    policy: RestartPolicy = RestartPolicy(),
    base_seed: int | None = None,
    log: Callable[[str], None] | None = None,
    poll: float = 0.2,
) -> int:
    """Run one child per slot until every child has exited 0 (budgets met), restarting the ones
    that die abnormally. SIGTERM/SIGINT (SIGHUP as SIGTERM) is forwarded to every child and stops
    restarts. Returns 128 + the signal number after a signal, the code of a child's setup error
    (``SETUP_ERRORS``, not restarted), else 0; raises ``WorkerError`` if a slot was given up."""
    log = log or _log
    base_env = dict(os.environ if env is None else env)
    base = base_seed if base_seed is not None else int.from_bytes(os.urandom(4), "big")
    states = [_SlotState(slot) for slot in slots]
    stop: list[int] = []

    def start(state: _SlotState) -> None:
        seed = slot_seed(base, state.slot.index, state.starts)
        state.starts += 1
        state.restart_at = None
        # Own process group: a terminal's Ctrl-C reaches the children once, through `forward`,
        # instead of twice (terminal + supervisor) while they are re-queueing their trials.
        state.process = subprocess.Popen(command(state.slot, seed), env=slot_env(base_env, state.slot),
                                         process_group=0)
        state.started_at = time.monotonic()
        log(f"worker {state.slot.index} on {state.slot.describe()}: pid {state.process.pid}, sampler seed {seed}")

    def forward(signum: int, _frame: object) -> None:
        stop.append(signum)
        # A closed terminal (SIGHUP) no longer reaches children in their own group: stop them.
        sent = signal.SIGTERM if signum == signal.SIGHUP else signum
        for state in states:
            if state.process is not None and state.process.poll() is None:
                state.process.send_signal(sent)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        for state in states:
            start(state)
        while True:
            now = time.monotonic()
            for state in states:
                if state.process is not None:
                    code = state.process.poll()
                    if code is None:
                        continue
                    state.process = None
                    _on_exit(state, code, now, bool(stop), policy, log)
                elif state.restart_at is not None and not stop and now >= state.restart_at:
                    start(state)
            if all(s.process is None and (s.restart_at is None or stop) for s in states):
                break
            time.sleep(poll)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    given_up = [s for s in states if s.gave_up]
    if stop:
        return 128 + stop[0]
    setup_errors = [s.setup_error for s in states if s.setup_error is not None]
    if setup_errors:
        return setup_errors[0]
    if given_up:
        names = ", ".join(f"worker {s.slot.index} ({s.slot.describe()})" for s in given_up)
        raise WorkerError(
            f"gave up on {names}: each died within {policy.startup_window:.0f} s of starting "
            f"{policy.max_startup_crashes} times in a row; fix the cause shown in its output above "
            "and run `sweeper worker` again"
        )
    return 0  # every slot exited 0: all budgets met


def _on_exit(state: _SlotState, code: int, now: float, stopping: bool, policy: RestartPolicy,
             log: Callable[[str], None]) -> None:
    where = f"worker {state.slot.index} ({state.slot.describe()})"
    if code == 0 or stopping:  # 0: budgets met, nothing left to do in this slot
        return
    if code in SETUP_ERRORS:
        state.setup_error = code
        log(f"{where} exited with code {code} ({SETUP_ERRORS[code]}, see its error above); not restarting it")
        return
    lived = now - state.started_at
    state.crashes = state.crashes + 1 if lived < policy.startup_window else 1
    if lived < policy.startup_window and state.crashes >= policy.max_startup_crashes:
        state.gave_up = True
        log(f"{where} died {state.crashes} times in a row within {policy.startup_window:.0f} s "
            f"of starting (last exit code {code}); giving up on it")
        return
    delay = policy.delay(state.crashes)
    state.restart_at = now + delay
    log(f"{where} exited with code {code} after {lived:.0f} s; restarting in {delay:.0f} s")


def _log(message: str) -> None:
    print(f"[supervisor] {message}", file=sys.stderr, flush=True)


def run_supervised(
    settings: Settings,
    gpus_spec: str,
    per_gpu: int,
    cpu_workers: int,
    studies: Sequence[str],
    *,
    threads: int | None = None,
    policy: RestartPolicy = RestartPolicy(),
) -> int:
    """``sweeper worker --gpus SPEC``: plan the slots, then supervise them."""
    from sweeper.worker.backend import default_threads

    gpus = select_gpus(gpus_spec)
    slots = plan_slots(gpus, per_gpu, cpu_workers)
    if budgets_met(settings, studies):
        # Cheap exit without starting TensorFlow processes: under `restart: unless-stopped` a
        # finished worker container is started again and again (with Docker's back-off).
        _log("all budgets met; nothing to do")
        return 0
    if not gpus:
        if gpus_spec.strip() != "all":
            why = "--gpus none"
        elif "CUDA_VISIBLE_DEVICES" in os.environ:
            why = f"CUDA_VISIBLE_DEVICES={os.environ['CUDA_VISIBLE_DEVICES']!r}"
        else:
            why = "nvidia-smi -L lists none"
        _log(f"no GPU ({why}): running {len(slots)} CPU worker(s); set --workers for more")
    if threads is None and settings.threads is not None:
        share = default_threads(len(slots), settings.threads)
        crowded = "; fewer threads than processes: give them more CPU or run fewer" if settings.threads < len(slots) else ""
        _log(f"{len(slots)} worker process(es) share SWEEPER_THREADS={settings.threads} CPU threads: "
             f"{share} each{crowded}")
    threads = threads or default_threads(len(slots), settings.threads)
    env = {**os.environ, **settings.to_env()}
    return supervise(slots, worker_command(studies, threads), env=env, policy=policy)


def budgets_met(settings: Settings, studies: Sequence[str]) -> bool:
    """True when every study this worker would serve exists and has met its budget (no study yet:
    False, the workers wait for ``launch``)."""
    from sweeper.study.status import collect
    from sweeper.storage import open_storage

    storage = None
    try:
        storage = open_storage(settings, read_only=True)
        rows = [r for r in collect(storage, list(studies) or None) if r.budget is not None]
    except NoStudyError:  # no tables yet
        return False
    finally:
        if storage is not None:
            # The supervisor lives as long as its workers: its pool would keep 2 idle connections
            # (per container or pod) out of the server's max_connections for the whole sweep.
            storage.engine.dispose()
    if studies and {r.study for r in rows} != set(studies):
        return False
    return bool(rows) and all(r.done for r in rows)
