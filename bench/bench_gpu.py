"""GPU workers, measured (issue 13): trials per hour and GPU utilization of the cifar10 CNN and the
librispeech DNN, on synthetic data of their real input shapes (``bench/gpu_tasks.py``), for

- one worker process per GPU (``sweeper worker --gpus G``, the baseline);
- K worker processes per GPU (``--per-gpu K``), through the real supervisor and a real SQLite
  study: the workers run until each has finished one trial (start-up, data, first compilation),
  then the trials done in a fixed window are counted (cut-off trials pro rata) and the workers are
  stopped with SIGTERM, as ``docker stop`` does;
- a fused cohort: K trials as one Keras model of K independent towers, trained in one ``fit``
  (``bench/gpu_cohort.py``; the benchmark only), timed from building to the final evaluation,
  after a warm-up in the same process; with a check that each tower's result matches a solo run of
  the same configuration and seed within noise.

GPU utilization and memory are sampled from ``nvidia-smi`` every 250 ms ("n/a" without one). On a
GPU the whole run takes under 8 minutes (``--time-limit`` skips what would not fit); without a GPU
(or with ``--cpu``) it runs small sizes on the CPU, as a smoke test of every path.

    KERAS_BACKEND=jax python bench/bench_gpu.py        # on a GPU machine: the table for bench/README.md
    python bench/bench_gpu.py --small                  # small sizes (the default without a GPU)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

from gpu_measure import (  # noqa: E402  (after the path set-up above)
    GOAL_SPEEDUP,
    SATURATION_GAIN,
    GpuSample,
    GpuUse,
    Row,
    TrialSpan,
    gpu_use,
    parse_gpu_sample,
    per_hour,
    table,
    trials_in_window,
    typical_trial_seconds,
    verdict,
)

from sweeper.worker.gpus import detect_gpus, run_nvidia_smi  # noqa: E402


@dataclass(frozen=True)
class Model:
    name: str
    task: str  # class in bench/gpu_tasks.py
    batch_size: int
    train: int
    val: int
    check_train: int

    @property
    def reference(self) -> str:
        return f"bench/gpu_tasks.py:{self.task}"

    def options(self) -> list[str]:
        return [f"train={self.train}", f"val={self.val}", "test=100"]


@dataclass(frozen=True)
class Profile:
    """Sizes and lists: full on a GPU, small for a CPU smoke run."""

    models: dict[str, Model]
    per_gpu: list[int]
    cohorts: list[int]
    window: float  # seconds of measurement per per-gpu K
    warmup_timeout: float
    time_limit: float
    check_epochs: int


# Full: the real splits' sizes for CIFAR-10 (40,000 / 10,000) and a librispeech test-other-like set.
FULL = Profile(
    models={"cifar10": Model("cifar10", "SyntheticCifar", 64, 40_000, 10_000, 5_000),
            "librispeech": Model("librispeech", "SyntheticLibriSpeech", 256, 100_000, 20_000, 10_000)},
    per_gpu=[1, 2, 4, 8], cohorts=[2, 4, 8, 16], window=12.0, warmup_timeout=150.0, time_limit=400.0, check_epochs=2)
SMALL = Profile(
    models={"cifar10": Model("cifar10", "SyntheticCifar", 64, 1_000, 500, 512),
            "librispeech": Model("librispeech", "SyntheticLibriSpeech", 256, 4_000, 1_000, 2_048)},
    per_gpu=[1, 2], cohorts=[2, 4], window=20.0, warmup_timeout=300.0, time_limit=1_800.0, check_epochs=1)
CHECK_TOWERS = 4  # one of each penalty type
SAMPLE_EVERY_MS = 250


# -- GPU sampling ---------------------------------------------------------------------------------
class GpuSampler:
    """Samples one GPU's utilization and memory from ``nvidia-smi`` in the background."""

    def __init__(self, gpu: str | None) -> None:
        self.gpu = gpu
        self.samples: list[GpuSample] = []
        self.process: subprocess.Popen[str] | None = None
        if gpu is None:
            return
        query = ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits",
                 "-i", gpu, "-lms", str(SAMPLE_EVERY_MS)]
        try:
            self.process = subprocess.Popen(query, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        except OSError:
            return
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            sample = parse_gpu_sample(line, time.time())
            if sample is not None:
                self.samples.append(sample)

    def use(self, start: float, end: float) -> GpuUse | None:
        return gpu_use(list(self.samples), start, end) if self.process else None

    def processes(self) -> int | None:
        """Processes holding memory on the GPU now (None without nvidia-smi, or when the driver
        does not list them, as in some containers)."""
        if self.gpu is None:
            return None
        try:
            out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid", "--format=csv,noheader", "-i", self.gpu],
                                 capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        pids = [line for line in out.stdout.splitlines() if line.strip().isdigit()]
        return len(pids) if out.returncode == 0 and pids else None

    def close(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


# -- the runs -------------------------------------------------------------------------------------
@dataclass
class Bench:
    profile: Profile
    gpu: str | None
    epochs: int
    workdir: Path
    sampler: GpuSampler
    deadline: float
    rows: list[Row] = field(default_factory=list)
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWEEPER_")}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
        env.update(TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1", SWEEPER_DATA_DIR=str(self.workdir / "data"))
        # On demand in every mode (K >= 2 gets it from the supervisor anyway), so that the memory
        # column shows what each mode uses rather than JAX's 75% preallocation.
        env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        if self.gpu is None:
            env["CUDA_VISIBLE_DEVICES"] = "-1"
        env.update(extra)
        return env

    def left(self) -> float:
        return self.deadline - time.time()

    # -- per-gpu K: the real supervisor and workers ----------------------------------------------
    def per_gpu(self, model: Model, k: int) -> Row:
        if self.left() < self.profile.window + 30:
            return Row(model.name, "per-gpu", k, None, note="skipped: time limit")
        study = f"{model.name}-k{k}"
        storage = f"sqlite:///{self.workdir / study}.db"
        env = self.env(SWEEPER_STORAGE=storage)
        launch = ["launch", model.reference, "--study-name", study, "--trials", "100000", "--epochs", str(self.epochs),
                  "--batch-size", str(model.batch_size), "--pruner", "none"]
        for option in model.options():
            launch += ["--option", option]
        done = subprocess.run([sys.executable, "-m", "sweeper", *launch], env=env, cwd=REPO, capture_output=True, text=True)
        if done.returncode != 0:
            return self._failed(model, "per-gpu", k, f"launch exited {done.returncode}", done.stderr)
        slots = ["--gpus", self.gpu, "--per-gpu", str(k)] if self.gpu else ["--gpus", "none", "--workers", str(k)]
        log_path = self.workdir / f"{study}.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen([sys.executable, "-m", "sweeper", "worker", "--study", study, *slots],
                                    env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
            try:
                return self._measure(model, k, study, storage, proc, log_path)
            finally:
                _stop(proc, log_path)

    def _measure(self, model: Model, k: int, study_name: str, storage: str, proc: subprocess.Popen[bytes],
                 log_path: Path) -> Row:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.load_study(study_name=study_name, storage=storage)
        # Warm-up ends in time for the window to end by the time limit.
        warm_up = min(self.profile.warmup_timeout, self.left() - self.profile.window - 10)
        warm_until = time.time() + warm_up
        while len(_finished_workers(study)) < k:  # each worker has finished its first trial
            if proc.poll() is not None:
                return self._failed(model, "per-gpu", k, f"workers exited {proc.returncode} during warm-up",
                                    log_path.read_text())
            if time.time() > warm_until:
                return self._failed(model, "per-gpu", k, f"not every worker finished a trial in {warm_up:.0f} s",
                                    log_path.read_text())
            time.sleep(0.5)
        a_wall, a = time.time(), datetime.now()
        time.sleep(self.profile.window / 2)
        processes = self.sampler.processes()
        time.sleep(self.profile.window / 2)
        b_wall, b = time.time(), datetime.now()
        if proc.poll() is not None:
            return self._failed(model, "per-gpu", k, f"workers exited {proc.returncode} while measured",
                                log_path.read_text())
        _stop(proc, log_path)
        spans, failed = _spans(study, b)
        typical = typical_trial_seconds(spans)
        done = trials_in_window(spans, a, b, typical)
        seconds = (b - a).total_seconds()
        note = f"{done:.1f} trials in {seconds:.0f} s; a trial {typical or 0:.1f} s"
        if failed:
            note += f"; {failed} trial(s) FAILED"
            self._failed(model, "per-gpu", k, f"{failed} trial(s) failed", log_path.read_text())
        return Row(model.name, "per-gpu", k, per_hour(done, seconds), self.sampler.use(a_wall, b_wall), processes, note)

    def _failed(self, model: Model, mode: str, k: int, why: str, output: str) -> Row:
        self.problems.append(f"{model.name} {mode} {k}: {why}")
        print(f"  {model.name} {mode} K={k}: {why}; last output:\n" + _tail(output), file=sys.stderr, flush=True)
        return Row(model.name, mode, k, None, note=f"FAILED: {why}")

    # -- fused cohorts, and the check, in one child process -----------------------------------
    def cohorts(self, model: Model) -> list[Row]:
        sizes = self.profile.cohorts
        if self.left() < 45:  # not even the check (process start, data, 9 short fits) would fit
            print(f"  {model.name} cohorts and check: skipped (time limit)", flush=True)
            return [Row(model.name, "cohort", k, None, note="skipped: time limit") for k in sizes]
        cmd = [sys.executable, str(BENCH / "gpu_cohort.py"), "--task", model.task, "--cohorts", *map(str, sizes),
               "--epochs", str(self.epochs), "--batch-size", str(model.batch_size), "--check", str(CHECK_TOWERS),
               "--check-train", str(model.check_train), "--check-epochs", str(self.profile.check_epochs),
               "--deadline", str(self.deadline)]
        for option in model.options():
            cmd += ["--option", option]
        env = self.env(**({"CUDA_VISIBLE_DEVICES": self.gpu} if self.gpu else {}))
        rows = {k: Row(model.name, "cohort", k, None, note="FAILED: no result") for k in sizes}
        log_path = self.workdir / f"{model.name}-cohorts.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=log, text=True)
            assert proc.stdout is not None
            for line in proc.stdout:
                if not line.startswith("{"):  # a library's own output
                    continue
                record = json.loads(line)
                if record["event"] == "cohort":
                    k = record["k"]
                    rows[k] = Row(model.name, "cohort", k, per_hour(k, record["seconds"]),
                                  self.sampler.use(record["start"], record["end"]), 1 if self.gpu else None,
                                  f"{k} trials in one fit, {record['seconds']:.1f} s")
                    print(f"  {model.name} cohort K={k}: {rows[k].trials_per_hour:,.0f} trials/h", flush=True)
                elif record["event"] == "skipped":
                    rows[record["k"]] = Row(model.name, "cohort", record["k"], None, note="skipped: time limit")
                elif record["event"] == "check":
                    self.checks[model.name] = record
            code = proc.wait()
        if code != 0:
            self._failed(model, "cohort", 0, f"gpu_cohort.py exited {code}", log_path.read_text())
        return [rows[k] for k in sizes]


def _finished_workers(study: Any) -> set[str]:
    from optuna.trial import TrialState

    return {t.user_attrs.get("worker", "?") for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))}


def _spans(study: Any, stop: datetime) -> tuple[list[TrialSpan], int]:
    """Every trial as a span; trials failed by the stop are cut-off ones, other failures counted."""
    from optuna.trial import TrialState

    spans, failed = [], 0
    for t in study.get_trials(deepcopy=False):
        if t.datetime_start is None:
            continue
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
            spans.append(TrialSpan(t.datetime_start, t.datetime_complete, True))
        elif t.state == TrialState.FAIL and ("SIGTERM" in str(t.user_attrs.get("fail_reason", ""))
                                             or (t.datetime_complete or stop) >= stop):
            spans.append(TrialSpan(t.datetime_start, min(t.datetime_complete or stop, stop), False))
        elif t.state == TrialState.RUNNING:
            spans.append(TrialSpan(t.datetime_start, stop, False))
        elif t.state == TrialState.FAIL:
            failed += 1
    return spans, failed


def _stop(proc: subprocess.Popen[bytes], log_path: Path) -> None:
    """SIGTERM to the supervisor, which forwards it to its workers (they fail and re-queue their
    running trials); if that takes over a minute, kill the supervisor and the workers it logged."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        for pid in _worker_pids(log_path.read_text()):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _worker_pids(log: str) -> list[int]:
    # The supervisor logs "worker 0 on GPU 0: pid 1234, sampler seed ...".
    return [int(line.split(": pid ")[1].split(",")[0]) for line in log.splitlines() if ": pid " in line]


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


# -- the device and the report --------------------------------------------------------------------
def probe(bench: Bench) -> dict[str, Any]:
    """The Keras backend and device a worker gets, from a child process with a worker's settings;
    stops the bench at once when that child fails or a GPU run would train on the CPU."""
    env = bench.env(**({"CUDA_VISIBLE_DEVICES": bench.gpu} if bench.gpu else {}))
    done = subprocess.run([sys.executable, str(BENCH / "gpu_cohort.py"), "--probe"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"bench_gpu: Keras does not start with these settings:\n{_tail(done.stderr)}")
    info = json.loads(done.stdout.splitlines()[-1])
    if bench.gpu and info.get("platform") != "gpu":
        raise SystemExit(f"bench_gpu: a GPU was found but Keras' {info['backend']} backend computes on "
                         f"{info.get('platform')}: install its CUDA build (JAX: .[gpu-jax]) or pass --cpu")
    return info


def gpu_name(gpu: str) -> str:
    for line in (run_nvidia_smi() or "").splitlines():
        if line.startswith(f"GPU {gpu}:"):
            return line.split(":", 1)[1].split("(UUID")[0].strip()
    return f"GPU {gpu}"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "CPU"


def print_check(model: str, record: dict[str, Any]) -> None:
    tol = record["tolerance"]
    print(f"\nCheck, {model}: a cohort of {record['k']} towers against solo runs of the same configuration and seed, "
          f"and twins (same configuration, seed + 1000); {record['n_train']:,} training samples, no shuffling "
          f"(so every run sees the same batches), {record['n_val']:,} validation samples.")
    print("| tower | configuration | val acc: tower / solo / twin | distance tower-solo | distance solo-twin |")
    print("|---|---|---|---|---|")
    for i, config in enumerate(record["configs"]):
        print(f"| {i} | {config} | {record['tower_accuracy'][i]:.4f} / {record['solo_accuracy'][i]:.4f} / "
              f"{record['twin_accuracy'][i]:.4f} | {record['tower_distance'][i]:.2e} | {record['seed_distance'][i]:.2e} |")
    print(f"distance: mean total-variation distance between two runs' predicted class distributions on the "
          f"validation samples (0: identical predictions, 1: disjoint).\n"
          f"tolerance: within noise = at most a quarter of what changing only the seed changes (median over the "
          f"towers: distance {tol['seed_distance']:.2e}, accuracy {tol['seed_accuracy']:.4f}), so distance <= "
          f"{tol['distance']:.2e} and |accuracy difference| <= {tol['accuracy']:.4f} (at least one validation "
          f"sample). A sweep cannot rank results closer than the seed noise; a tower that trained another "
          f"configuration or shared anything with its neighbours differs by about a seed's worth or more.\n"
          f"result: {'PASS' if record['passed'] else 'FAIL'}: largest tower-solo distance "
          f"{max(record['tower_distance']):.2e}, accuracy difference "
          f"{max(abs(t - s) for t, s in zip(record['tower_accuracy'], record['solo_accuracy'])):.4f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", action="store_true", help="small sizes and lists (the default without a GPU)")
    p.add_argument("--cpu", action="store_true", help="ignore any GPU: small sizes on the CPU")
    p.add_argument("--models", nargs="+", choices=("cifar10", "librispeech"), default=["cifar10", "librispeech"])
    p.add_argument("--per-gpu", type=int, nargs="+", help="processes per GPU to measure (GPU default 1 2 4 8)")
    p.add_argument("--cohorts", type=int, nargs="*", help="cohort sizes (GPU default 2 4 8 16)")
    p.add_argument("--epochs", type=int, default=1, help="epochs per trial (default 1)")
    p.add_argument("--window", type=float, help="seconds measured per per-gpu K (GPU default 12)")
    p.add_argument("--time-limit", type=float, help="seconds after which nothing new starts (GPU default 400; "
                   "what runs then ends within about a minute)")
    args = p.parse_args(argv)

    gpus = [] if args.cpu else detect_gpus()
    gpu = gpus[0] if gpus else None
    small = args.small or gpu is None
    profile = SMALL if small else FULL
    profile = Profile(
        models={name: profile.models[name] for name in args.models},
        per_gpu=args.per_gpu or profile.per_gpu, cohorts=profile.cohorts if args.cohorts is None else args.cohorts,
        window=args.window or profile.window, warmup_timeout=profile.warmup_timeout,
        time_limit=args.time_limit or profile.time_limit, check_epochs=profile.check_epochs)
    if 1 not in profile.per_gpu:
        raise SystemExit("bench_gpu: --per-gpu must include 1, the baseline every figure is compared with")

    started = time.time()
    with tempfile.TemporaryDirectory(prefix="bench_gpu-") as tmp:
        bench = Bench(profile, gpu, args.epochs, Path(tmp), GpuSampler(gpu), started + profile.time_limit)
        try:
            info = probe(bench)
            where = f"GPU {gpu}: {gpu_name(gpu)}" if gpu else f"CPU only ({cpu_name()}, {os.cpu_count()} cores)"
            why_small = "" if not small else (" (--small)" if args.small else " (no GPU found)" if not args.cpu else " (--cpu)")
            print(f"bench_gpu: {where}; Keras {info['keras']} on {info['backend']} {info.get('version', '')}, "
                  f"computing on {info.get('platform')} ({info.get('device')})")
            print(f"sizes: {'small' if small else 'full'}{why_small}; {args.epochs} epoch(s) per trial (a real sweep "
                  f"runs 20, over which a trial's fixed costs, building and compiling its model, weigh less); "
                  f"window {profile.window:.0f} s per per-gpu K; time limit {profile.time_limit:.0f} s")
            for m in profile.models.values():
                print(f"data, {m.name}: SYNTHETIC, the real input shape (bench/gpu_tasks.py:{m.task}); "
                      f"{m.train:,} training / {m.val:,} validation samples, batch {m.batch_size}")
            for m in profile.models.values():
                for k in profile.per_gpu:
                    row = bench.per_gpu(m, k)
                    bench.rows.append(row)
                    shown = "n/a" if row.trials_per_hour is None else f"{row.trials_per_hour:,.0f} trials/h"
                    print(f"  {m.name} per-gpu K={k}: {shown} ({row.note})", flush=True)
                bench.rows.extend(bench.cohorts(m))
        finally:
            bench.sampler.close()

    print()
    print("\n".join(table(bench.rows)))
    print(f"\ntrials/h: trials per hour on {'one GPU' if gpu else f'this CPU ({os.cpu_count()} cores)'}; "
          f"GPU util: mean of nvidia-smi's utilization.gpu (the share of time any kernel ran, not how much of "
          f"the chip it used) over the measured window.")
    for name in profile.models:
        v = verdict(bench.rows, name)
        if v.best is None:
            print(f"goal, {name}: not measured")
            continue
        status = "met" if v.met else "not met"
        held = "" if gpu else " [CPU smoke figures: not held against the goal]"
        print(f"goal, {name} (best of per-gpu K or cohorts >= {GOAL_SPEEDUP:.0f}x one process per GPU): "
              f"{v.best.mode} K = {v.best.k} gives {v.speedup:.2f}x: {status}{held}. Saturation (the next K gains "
              f"< {SATURATION_GAIN - 1:.0%}): per-gpu {v.saturation['per-gpu']}; cohort {v.saturation['cohort']}")
    failed_checks = []
    for name, record in bench.checks.items():
        print_check(name, record)
        if not record["passed"]:
            failed_checks.append(name)
    print(f"\ntotal {time.time() - started:.0f} s")
    for problem in bench.problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if bench.problems or failed_checks else 0


if __name__ == "__main__":
    raise SystemExit(main())
