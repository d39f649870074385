"""Overhead of a sweep over plain Keras: the same K CIFAR-10 configurations (fixed list, fixed
seeds, same epochs and data) run

  (a) as a sweep: one `sweeper worker` process on PostgreSQL (claiming, heartbeats, per-epoch
      reports, stored history and metrics),
  (b) as a plain Python loop in one process calling model.fit (and the same final evaluation of
      train accuracy that the sweep stores for the generalization gap),
  (c) the naive pattern of optuna-examples: the same loop, but the data set reloaded every trial.

Each mode is one fresh process timed from start to exit (interpreter and TensorFlow start-up
included in all three). Prints the wall-time ratios (a)/(b) (target <= 1.03) and (c)/(b).

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
import keras
from sweeper.backend import configure
from sweeper.settings import Settings
from sweeper.space import Hyperparams
from sweeper.tasks import DataRequest
from sweeper.worker import trial_seed
from studies import cifar10

configs, epochs, train_size, mirror, reload_every_trial, threads = json.loads(sys.argv[1])
configure(threads)
settings = Settings(data_mirror=mirror)
request = DataRequest(train_size=train_size, val_fraction=0.2, seed=0)

class Number:  # what trial_seed reads from a trial: its number and system attrs
    def __init__(self, n):
        self.number, self.user_attrs = n, {}
        self._cached_frozen_trial = type("Frozen", (), {"system_attrs": {}})()

splits = None
for number, params in enumerate(configs):
    if splits is None or reload_every_trial:
        splits = cifar10.load_data(settings, request)
    keras.backend.clear_session()
    keras.utils.set_random_seed(trial_seed(0, Number(number)))
    model = cifar10.build_model(Hyperparams.from_params(params), splits, 1e-3)
    model.fit(splits.x_train, splits.y_train, validation_data=(splits.x_val, splits.y_val),
              epochs=epochs, batch_size=64, verbose=0)
    model.evaluate(splits.x_train[:5000], splits.y_train[:5000], batch_size=64, verbose=0)
"""


def run_plain(args: argparse.Namespace, reload_every_trial: bool) -> float:
    payload = json.dumps([CONFIGS, args.epochs, args.train_size, args.mirror, reload_every_trial, args.threads])
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", PLAIN, payload], env=common.env("sqlite://"), check=True)
    return time.perf_counter() - start


def run_sweep(args: argparse.Namespace, url: str, name: str) -> float:
    import optuna

    environ = common.env(url, SWEEPER_DATA_MIRROR=args.mirror)
    common.sweeper(["launch", "cifar10", "--study-name", name, "--trials", str(len(CONFIGS)), "--epochs", str(args.epochs),
                    "--train-size", str(args.train_size), "--batch-size", "64", "--pruner", "none",
                    "--sampler", "random"], environ)
    study = optuna.load_study(study_name=name, storage=url)
    for params in CONFIGS[1:]:
        study.enqueue_trial(params)
    _, wall = common.sweeper(["worker", "--study", name, "--threads", str(args.threads)], environ)
    values = [t.params for t in sorted(study.trials, key=lambda t: t.number)]
    assert len(values) == len(CONFIGS), values
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mirror", default=common.DEFAULT_MIRROR)
    args = parser.parse_args()
    sweep, plain, naive = [], [], []
    with common.postgres_database() as (_, url):
        for r in range(args.repeats):
            # Interleaved, so drift in machine load hits every mode alike.
            plain.append(run_plain(args, reload_every_trial=False))
            sweep.append(run_sweep(args, url, f"overhead-{r}"))
            naive.append(run_plain(args, reload_every_trial=True))
            print(f"run {r + 1}: sweep {sweep[-1]:.1f} s, plain {plain[-1]:.1f} s, naive {naive[-1]:.1f} s", flush=True)
    ratios = [s / p for s, p in zip(sweep, plain)]
    naive_ratios = [n / p for n, p in zip(naive, plain)]
    print(f"K={len(CONFIGS)} CIFAR-10 configurations, {args.epochs} epochs, train size {args.train_size}, {args.repeats} runs")
    print(f"(a) sweep on PostgreSQL wall s: {common.spread(sweep)}")
    print(f"(b) plain Keras loop wall s:    {common.spread(plain)}")
    print(f"(c) naive reload-per-trial s:   {common.spread(naive)}")
    print(f"overhead ratio (a)/(b): {common.spread(ratios)}  (target <= 1.03)")
    print(f"naive ratio (c)/(b):    {common.spread(naive_ratios)}")


if __name__ == "__main__":
    main()
