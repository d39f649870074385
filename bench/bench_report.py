"""Benchmark: collect and render + write the report of a 2,000-trial study (target < 10 s in all),
through ``load_study_report`` (what ``sweeper run``, ``sweeper report`` and ``sweeper.load`` call),
counting the collections of the study per run (one: the page, the index and the JSON share it).

Builds an in-memory study with realistic trials: every penalty type, log-uniform lambda, dropout,
20-epoch histories, train accuracy and sparsity; 15% pruned, 2% failed, a few running; plus an
evaluation study of 5 groups x 5 seeds. Prints the median of several runs of each step.

    python bench/bench_report.py [--trials 2000] [--repeats 5] [--sqlite]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sweeper.report.write as write  # noqa: E402
from sweeper.report.write import load_study_report, write_index, write_study_page  # noqa: E402
from sweeper.study.space import SearchSpace  # noqa: E402
from sweeper.tasks.hyperparams import PENALTIES  # noqa: E402
from sweeper.study.config import CONFIG_ATTR, SweepConfig  # noqa: E402

EPOCHS = 20
DISTS = {
    "penalty": CategoricalDistribution(list(PENALTIES)),
    "lambda": FloatDistribution(1e-6, 1e-1, log=True),
    "l1_ratio": FloatDistribution(0.05, 0.95),
    "dropout": FloatDistribution(0.0, 0.6),
}


def _accuracy(rng: np.random.Generator, penalty: str, lam: float, dropout: float) -> float:
    """A plausible response: a penalty-specific optimum in log-lambda, a mild dropout optimum."""
    best = {"none": 0.0, "l1": -4.5, "l2": -3.5, "l1_l2": -4.0}[penalty]
    x = math.log10(lam) if lam else best
    acc = 0.66 - 0.02 * (x - best) ** 2 * (penalty != "none") - 0.2 * (dropout - 0.25) ** 2
    return float(np.clip(acc + rng.normal(0, 0.01), 0.1, 0.99))


def build_study(n: int, seed: int = 0, storage: optuna.storages.BaseStorage | None = None) -> optuna.Study:
    rng = np.random.default_rng(seed)
    storage = storage or optuna.storages.InMemoryStorage()
    study = optuna.create_study(study_name="bench", storage=storage, direction="maximize")
    config = SweepConfig(task="cifar10", budget=n, epochs=EPOCHS, batch_size=64, learning_rate=1e-3,
                         train_size=None, val_fraction=0.2, space=SearchSpace())
    study.set_user_attr(CONFIG_ATTR, config.to_attrs())
    trials = []
    for i in range(n):
        penalty = "none" if i == 0 else str(rng.choice(PENALTIES))
        params: dict[str, object] = {"penalty": penalty}
        lam = 0.0
        if penalty != "none":
            lam = float(10 ** rng.uniform(-6, -1))
            params["lambda"] = lam
        if penalty == "l1_l2":
            params["l1_ratio"] = float(rng.uniform(0.05, 0.95))
        dropout = 0.0 if i == 0 else float(rng.uniform(0, 0.6))
        params["dropout"] = dropout
        final = _accuracy(rng, penalty, lam, dropout)
        u = rng.uniform()
        state = TrialState.COMPLETE if u < 0.83 else TrialState.PRUNED if u < 0.98 else TrialState.FAIL
        if i >= n - 3:
            state = TrialState.RUNNING
        epochs = EPOCHS if state == TrialState.COMPLETE else int(rng.integers(1, EPOCHS))
        val = [final - 0.3 * math.exp(-e / 4) for e in range(epochs)]
        history = {"loss": [1.8 * math.exp(-e / 6) for e in range(epochs)], "accuracy": [v + 0.1 for v in val],
                   "val_loss": [1.9 * math.exp(-e / 7) + 0.6 for e in range(epochs)], "val_accuracy": val}
        attrs: dict[str, object] = {"history": history, "epochs_run": epochs, "wall_time_s": 30.0, "seed": i, "worker": "bench:1"}
        if state == TrialState.COMPLETE:
            attrs.update(train_accuracy=final + 0.25 - lam * 2, train_loss=0.4, val_accuracy=final, val_loss=1.0,
                         sparsity=float(min(1.0, 0.01 + (lam * 300 if "l1" in penalty else lam * 5))))
        elif state == TrialState.PRUNED:
            attrs["stop_reason"] = f"pruned by the median pruner after epoch {epochs}"
        elif state == TrialState.FAIL:
            attrs["fail_reason"] = "ResourceExhaustedError: out of memory"
        trials.append(optuna.trial.create_trial(
            state=state, params=params, distributions={k: DISTS[k] for k in params},
            value=final if state == TrialState.COMPLETE else None,
            intermediate_values={e + 1: v for e, v in enumerate(val)} if state == TrialState.PRUNED else {},
            user_attrs=attrs,
        ))
    study.add_trials(trials)
    ev = optuna.create_study(study_name="bench.eval", storage=storage, direction="maximize")
    for g_i, (group, p) in enumerate([("baseline", {"penalty": "none", "dropout": 0.0}), ("l2", {"penalty": "l2", "lambda": 3e-4, "dropout": 0.25})]):
        for s in range(5):
            ev.add_trial(optuna.trial.create_trial(
                state=TrialState.COMPLETE, params=p, distributions={k: DISTS[k] for k in p},
                value=0.64 + 0.015 * g_i + float(rng.normal(0, 0.004)),
                user_attrs={"eval_seed": s, "penalty_group": group, "source_trial": 0, "role": "evaluation"}))
    return study


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sqlite", action="store_true", help="store the study in SQLite, so collect reads it back")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        storage = optuna.storages.RDBStorage(url) if args.sqlite else None
        t0 = time.perf_counter()
        study = build_study(args.trials, storage=storage)
        where = "SQLite" if args.sqlite else "memory"
        print(f"built a study of {args.trials} trials in {where} in {time.perf_counter() - t0:.2f} s")
        # SQLite: a fresh storage per run, so that Optuna's trial cache does not hide the read.
        fresh = (lambda: optuna.storages.RDBStorage(url)) if args.sqlite else (lambda: study._storage)
        _measure(fresh, args.repeats, Path(tmp))


def _measure(fresh: Callable[[], optuna.storages.BaseStorage], repeats: int, tmp: Path) -> None:
    collect_times, render_times, json_times, sizes, collections = [], [], [], [], []
    counted = []
    real = write.collect_report
    write.collect_report = lambda *a, **k: counted.append(1) or real(*a, **k)  # type: ignore[assignment]
    for _ in range(repeats):
        storage = fresh()
        counted.clear()
        t = time.perf_counter()
        report = load_study_report(storage, "bench")  # the study and its evaluation study
        collect_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        page = write_study_page(report, tmp)
        write_index([report], tmp)
        render_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        report.to_json()
        json_times.append(time.perf_counter() - t)
        sizes.append(page.stat().st_size)
        collections.append(len(counted))
    c, r, j = statistics.median(collect_times), statistics.median(render_times), statistics.median(json_times)
    print(f"collect + build the report (incl. importances, evaluation): median {c:.2f} s of {repeats} runs; "
          f"collections of the study per run: {max(collections)}")
    print(f"render + write (8 figures, page {sizes[-1] / 1e6:.1f} MB): median {r:.2f} s")
    print(f"to_json: median {j:.2f} s")
    print(f"total: {c + r:.2f} s (target < 10 s) -> {'OK' if c + r < 10 else 'TOO SLOW'}")


if __name__ == "__main__":
    main()
