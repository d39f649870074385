"""Overhead of a sweep over plain Keras: the same K CIFAR-10 configurations (fixed list, fixed
seeds, same epochs and data) run

  (a) as a sweep: one `sweeper worker` process on PostgreSQL (claiming, heartbeats, per-epoch
      reports, stored history and metrics),
  (b) as a plain Python loop in one process calling model.fit (and the same final evaluation of
      train accuracy that the sweep stores for the generalization gap),
  (c) the naive pattern of optuna-examples: the same loop, but the data set reloaded every trial,
  (d) the plain loop (b) with the garbage-collector treatment the worker gives its own process
      (sweeper.worker.collector: imports and data frozen out of the collector's passes), so that (a)/(d)
      is the cost of the sweep alone and (d)/(b) what that treatment saves.

Each mode is one fresh process timed from start to exit (interpreter and TensorFlow start-up
included in all). Prints the wall-time ratios (a)/(b) (target <= 1.03), (a)/(d), (c)/(b), (d)/(b).

Keras training on 2 CPU cores varies by several percent from run to run, more than the effect
measured. So the script also times what (a) does beyond (b) on its own, without TensorFlow and
its noise: the same K trials and epochs through `sweeper worker` with an objective that returns
at once (the sleep task, 0 s), minus a process importing what (b) imports from sweeper. That cost
over (b)'s wall time is the overhead's low-noise estimate.

    python bench/bench_overhead.py [--repeats 3] [--epochs 2] [--train-size 2000] [--mirror ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import common

CONFIGS = [
    {"penalty": "none", "dropout": 0.0},  # the baseline, enqueued by launch as trial 0
    {"penalty": "l2", "lambda": 1e-4, "dropout": 0.2},
    {"penalty": "l1", "lambda": 1e-5, "dropout": 0.1},
    {"penalty": "l1_l2", "lambda": 1e-4, "l1_ratio": 0.5, "dropout": 0.3},
    {"penalty": "l2", "lambda": 1e-3, "dropout": 0.0},
    {"penalty": "none", "dropout": 0.4},
]

PLAIN = r"""
import json, sys, time
from sweeper.worker.backend import configure
from sweeper.settings import Settings
from sweeper.tasks.hyperparams import Hyperparams
from sweeper.tasks.archives import fetch
from sweeper.tasks import DataRequest
from studies.cifar10 import ARCHIVE, Cifar10

configs, epochs, train_size, mirror, reload_every_trial, threads, tuned = json.loads(sys.argv[1])
if tuned:  # what the worker does in its own process
    from sweeper.worker import collector
    collector.own_process()
    with collector.long_lived():
        configure(threads)
else:
    configure(threads)
import keras  # imported by configure, as in the worker
settings = Settings(data_mirror=mirror)
task = Cifar10()
request = DataRequest(train_size=train_size, val_fraction=0.2, seed=0, files={ARCHIVE.filename: fetch(ARCHIVE, settings)})

splits = None
for number, params in enumerate(configs):
    if splits is None or reload_every_trial:
        splits = task.load_data(request)
        if tuned:
            collector.freeze_survivors()
    keras.backend.clear_session()
    # sweeper.worker.trial.trial_seed for the base seed 0, without importing Optuna as no plain loop would
    keras.utils.set_random_seed(number % (2**31 - 1))
    model = task.build_model(Hyperparams.from_params(params), splits, 1e-3)
    model.fit(splits.x_train, splits.y_train, validation_data=(splits.x_val, splits.y_val),
              epochs=epochs, batch_size=64, verbose=0)
    model.evaluate(splits.x_train[:5000], splits.y_train[:5000], batch_size=64, verbose=0)
"""


def run_plain(args: argparse.Namespace, reload_every_trial: bool, tuned: bool = False) -> float:
    payload = json.dumps([CONFIGS, args.epochs, args.train_size, args.mirror, reload_every_trial, args.threads, tuned])
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", PLAIN, payload], env=common.env("sqlite://"), check=True)
    return time.perf_counter() - start


def _sweep_configs(url: str, name: str, environ: dict[str, str], task_flags: list[str], worker_flags: list[str]) -> float:
    """Launch ``name`` for the CONFIGS (the baseline is launch's; the rest enqueued in order), run
    one `sweeper worker` on it; its wall time."""
    import optuna

    common.sweeper(["launch", *task_flags, "--study-name", name, "--trials", str(len(CONFIGS)), "--pruner", "none",
                    "--sampler", "random"], environ)
    study = optuna.load_study(study_name=name, storage=url)
    for params in CONFIGS[1:]:
        study.enqueue_trial(params)
    _, wall = common.sweeper(["worker", "--study", name, *worker_flags], environ)
    values = [t.params for t in sorted(study.trials, key=lambda t: t.number)]
    assert len(values) == len(CONFIGS), values
    return wall


def run_sweep(args: argparse.Namespace, url: str, name: str) -> float:
    return _sweep_configs(url, name, common.env(url, SWEEPER_DATA_MIRROR=args.mirror),
                          ["cifar10", "--epochs", str(args.epochs), "--train-size", str(args.train_size),
                           "--batch-size", "64"],
                          ["--threads", str(args.threads)])


def run_bookkeeping(args: argparse.Namespace, url: str, name: str) -> float:
    """Wall time of `sweeper worker` for the same trials and epochs with no training in them."""
    return _sweep_configs(url, name, common.env(url),
                          ["tests.support.sleep_task", "--epochs", str(args.epochs), "--option", "seconds=0"], [])


def run_imports() -> float:
    """What (b) pays too without training: the interpreter and its imports of sweeper's modules."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import sweeper.worker.backend, sweeper.settings, sweeper.study.space, sweeper.tasks"],
                   env=common.env("sqlite://"), check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mirror", default=common.DEFAULT_MIRROR)
    args = parser.parse_args()
    sweep, plain, naive, tuned, own = [], [], [], [], []
    with common.postgres_database() as (_, url):
        modes = [
            (plain, lambda r: run_plain(args, reload_every_trial=False)),
            (sweep, lambda r: run_sweep(args, url, f"overhead-{r}")),
            (naive, lambda r: run_plain(args, reload_every_trial=True)),
            (tuned, lambda r: run_plain(args, reload_every_trial=False, tuned=True)),
        ]
        for r in range(args.repeats):
            # Interleaved, so drift in machine load hits every mode alike, and in an order rotated
            # each run, so that no mode always runs first (or right after another one).
            for times, run in modes[r % len(modes):] + modes[:r % len(modes)]:
                times.append(run(r))
            own.append(max(0.0, run_bookkeeping(args, url, f"bookkeeping-{r}") - run_imports()))
            print(f"run {r + 1}: sweep {sweep[-1]:.1f} s, plain {plain[-1]:.1f} s, naive {naive[-1]:.1f} s, "
                  f"plain with the worker's gc {tuned[-1]:.1f} s, sweeper's own work {own[-1]:.2f} s", flush=True)
    ratios = [s / p for s, p in zip(sweep, plain)]
    tuned_ratios = [s / t for s, t in zip(sweep, tuned)]
    naive_ratios = [n / p for n, p in zip(naive, plain)]
    gc_ratios = [t / p for t, p in zip(tuned, plain)]
    print(f"K={len(CONFIGS)} CIFAR-10 configurations, {args.epochs} epochs, train size {args.train_size}, {args.repeats} runs")
    print(f"(a) sweep on PostgreSQL wall s: {common.spread(sweep)}")
    print(f"(b) plain Keras loop wall s:    {common.spread(plain)}")
    print(f"(c) naive reload-per-trial s:   {common.spread(naive)}")
    print(f"(d) plain loop, worker's gc s:  {common.spread(tuned)}")
    print(f"overhead ratio (a)/(b): {common.spread(ratios)}  (target <= 1.03)")
    print(f"sweep alone (a)/(d):    {common.spread(tuned_ratios)}  (both with the worker's garbage-collector treatment)")
    print(f"naive ratio (c)/(b):    {common.spread(naive_ratios)}")
    print(f"gc treatment (d)/(b):   {common.spread(gc_ratios)}")
    print(f"sweeper's own work beyond (b), no training: {common.spread(own)} s; low-noise estimates: "
          f"(a)/(b) {1 + common.median(own) / common.median(plain):.3f}  (target <= 1.03), "
          f"(a)/(d) {1 + common.median(own) / common.median(tuned):.3f}")


if __name__ == "__main__":
    main()
