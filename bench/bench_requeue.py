"""How long a worker pod takes from SIGTERM to its exit, with every running trial failed and
re-queued: what `terminationGracePeriodSeconds` of deploy/k8s's worker Job must exceed.

    python bench/bench_requeue.py [--task cifar10|sleep] [--workers 2] [--repeats 5]

Each run starts `sweeper worker --gpus all --per-gpu K --workers K` (the worker pod's command; on
a machine without GPUs the supervisor runs K CPU workers instead) on a throwaway PostgreSQL,
waits until each of its K workers is mid-trial (an epoch reported, so TensorFlow is fully up),
sends SIGTERM to the supervisor as the kubelet does, and times until it exits; then it checks
the exit code (143), that no trial is left RUNNING and that the stopped ones are queued again.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time

import optuna
from optuna.trial import TrialState

from common import DEFAULT_MIRROR, env, postgres_database, spread, sweeper

TASKS = {
    # A Keras CNN on 2,000 CIFAR-10 images: each epoch a few seconds on 2 cores.
    "cifar10": ["cifar10", "--train-size", "2000", "--epochs", "100", "--batch-size", "64"],
    "sleep": ["tests.support.sleep_task", "--epochs", "100", "--option", "seconds=1"],
}


def one_run(environ: dict[str, str], workers: int, study_name: str) -> float:
    proc = subprocess.Popen([sys.executable, "-m", "sweeper", "worker", "--gpus", "all", "--per-gpu", str(workers),
                             "--workers", str(workers), "--study", study_name], env=environ,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    study = optuna.load_study(study_name=study_name, storage=environ["SWEEPER_STORAGE"])
    deadline = time.monotonic() + 600
    while True:
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if len(running) == workers and all(t.intermediate_values for t in running):
            break
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise SystemExit(f"workers never got mid-trial: {proc.communicate()[1][-2000:]}")
        time.sleep(0.2)
    # A re-run names the trial it repeats; its own re-queued copy names that same original.
    stopped = {t.system_attrs.get("failed_trial", t.number) for t in running}
    sent = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(300)
    seconds = time.perf_counter() - sent
    if code != 143:
        raise SystemExit(f"exit code {code}, not 143: {proc.stderr.read()[-2000:]}")
    trials = study.get_trials(deepcopy=False)
    if any(t.state == TrialState.RUNNING for t in trials):
        raise SystemExit("a trial was left RUNNING")
    queued = {t.system_attrs.get("failed_trial") for t in trials if t.state == TrialState.WAITING}
    if not stopped <= queued:
        states = {t.number: (t.state.name, t.system_attrs.get("failed_trial")) for t in trials}
        raise SystemExit(f"trials {sorted(stopped - queued)} were not re-queued: {states}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=sorted(TASKS), default="cifar10")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--mirror", default=DEFAULT_MIRROR)
    args = parser.parse_args()
    with postgres_database() as (_, url):
        environ = env(url, SWEEPER_DATA_MIRROR=args.mirror, KERAS_BACKEND="tensorflow")
        environ.pop("CUDA_VISIBLE_DEVICES", None)
        times = []
        for run in range(args.repeats):
            # A study per run: a trial stopped 3 times is not queued again (the storage's max_retry).
            name = f"run{run}"
            sweeper(["launch", *TASKS[args.task], "--trials", "1000", "--pruner", "none", "--study-name", name], environ)
            times.append(one_run(environ, args.workers, name))
    print(f"{args.task}, {args.workers} workers: SIGTERM to exit 143, trials re-queued: {spread(times)} s; "
          f"max {max(times):.2f} s")


if __name__ == "__main__":
    main()
