"""Fused trial cohorts, for ``bench_gpu.py`` only: K trials of one task built as ONE Keras model.

Each trial is a tower: the task's own ``build_model`` with the trial's penalty, λ and dropout,
built right after ``keras.utils.set_random_seed(trial seed)``, so it starts from the weights (and
dropout seeds) its solo trial would. The towers are wired as one functional model over one
``keras.Input`` and compiled with one loss per tower; Keras sums those losses and every tower's
own penalties. The towers share no variable, so the gradient of the sum with respect to a tower's
weights is that tower's own gradient, and Adam's update is elementwise: each tower follows the
trajectory of its solo run, while one ``fit`` runs all K per step. (An optimizer with a global
gradient-norm clip would couple the towers; the case studies use plain Adam.)

Run as a child of ``bench_gpu.py`` (one process, like one worker): ``--probe`` prints the device,
``--cohorts`` times one cohort per size, ``--check`` compares a cohort's towers with solo runs.
Every result is one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sweeper.tasks.hyperparams import PENALTIES, Hyperparams  # noqa: E402  (after the path set-up above)

# The tolerance of the check, as a fraction of the seed-to-seed difference: see `tolerances`.
NOISE_FRACTION = 0.25
# A twin's seed: the solo run's plus this, so the twin differs from it in the seed alone.
TWIN_OFFSET = 1_000


# -- configurations and the check's arithmetic (pure) -----------------------------------------
def cohort_configs(k: int, seed: int) -> list[tuple[Hyperparams, int]]:
    """K distinct trial configurations with their seeds: the penalty types in turn, λ spread
    log-uniformly over 1e-5..1e-2, dropout 0 to 0.5 in turn (the first is the baseline)."""
    configs = []
    for i in range(k):
        penalty = PENALTIES[i % len(PENALTIES)]
        lam = 0.0 if penalty == "none" else 10 ** (-5 + 3 * ((i * 7) % 11) / 10)
        configs.append((Hyperparams(penalty, lam, 0.5, 0.1 * (i % 6)), seed + i))
    return configs


def prediction_distance(a: Any, b: Any) -> float:
    """Mean total-variation distance between two models' predicted class distributions on the same
    samples: the share of probability mass that differs, 0 (same predictions) to 1."""
    import numpy as np

    return float(0.5 * np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).sum(axis=1).mean())


@dataclass(frozen=True)
class RunResult:
    """What the check compares of one trained model: validation accuracy and predictions."""

    accuracy: float
    predictions: Any


@dataclass(frozen=True)
class Tolerance:
    distance: float
    accuracy: float
    seed_distance: float  # median over configurations of the solo-twin distance
    seed_accuracy: float


def tolerances(solos: list[RunResult], twins: list[RunResult], n_val: int) -> Tolerance:
    """Within noise: a tower may differ from its solo run by at most NOISE_FRACTION of what changing
    only the seed changes (solo vs twin; the median over the configurations checked). A sweep
    cannot rank results closer than the seed noise, so a quarter of it changes no decision; a tower
    that trained another configuration or shared anything with its neighbours differs by about a
    seed's worth or more. Accuracy moves in steps of one validation sample, the least it allows."""
    seed_distance = statistics.median(prediction_distance(s.predictions, t.predictions) for s, t in zip(solos, twins))
    seed_accuracy = statistics.median(abs(s.accuracy - t.accuracy) for s, t in zip(solos, twins))
    return Tolerance(NOISE_FRACTION * seed_distance, max(NOISE_FRACTION * seed_accuracy, 1.0 / n_val),
                     seed_distance, seed_accuracy)


def tower_deviations(towers: list[RunResult], solos: list[RunResult]) -> list[tuple[float, float]]:
    """(prediction distance, |accuracy difference|) of each tower from its solo run."""
    return [(prediction_distance(c.predictions, s.predictions), abs(c.accuracy - s.accuracy))
            for c, s in zip(towers, solos)]


def within(deviations: list[tuple[float, float]], tol: Tolerance) -> bool:
    return all(d <= tol.distance and a <= tol.accuracy for d, a in deviations)


# -- Keras ------------------------------------------------------------------------------------
def build_cohort(task: Any, configs: list[tuple[Hyperparams, int]], splits: Any, learning_rate: float | None) -> Any:
    """One functional model whose i-th output is the i-th trial's tower (see the module doc)."""
    import keras

    towers = []
    for i, (hp, seed) in enumerate(configs):
        keras.utils.set_random_seed(seed)  # the tower's initial weights and dropout seeds are its solo run's
        tower = task.build_model(hp, splits, learning_rate)
        tower.name = f"tower_{i}"  # the task names every copy alike; a functional model needs unique names
        towers.append(tower)
    spec = towers[0].inputs[0]
    inputs = keras.Input(shape=tuple(spec.shape[1:]), dtype=spec.dtype)
    model = keras.Model(inputs, [tower(inputs) for tower in towers], name=f"cohort_{len(towers)}")
    optimizer = towers[0].optimizer  # the task's optimizer, one instance for all towers (elementwise)
    model.compile(optimizer=type(optimizer).from_config(optimizer.get_config()),
                  loss=[tower.loss for tower in towers], metrics=[["accuracy"] for _ in towers])
    return model


def _gap_slice(splits: Any) -> int:
    from sweeper.tasks.training import GAP_SAMPLES

    return min(len(splits.y_train), GAP_SAMPLES)


def time_cohort(task: Any, k: int, splits: Any, epochs: int, batch_size: int, learning_rate: float | None,
                seed: int) -> dict[str, Any]:
    """One cohort of k trials doing what k worker trials do (build, fit with validation each epoch,
    the final train-set evaluation without dropout, kernel sparsity), timed from build to end."""
    import keras

    from sweeper.tasks.training import kernel_sparsity

    keras.backend.clear_session()
    start_wall, start = time.time(), time.perf_counter()
    model = build_cohort(task, cohort_configs(k, seed), splits, learning_rate)
    history = model.fit(splits.x_train, [splits.y_train] * k, validation_data=(splits.x_val, [splits.y_val] * k),
                        epochs=epochs, batch_size=batch_size, verbose=0)
    n = _gap_slice(splits)
    model.evaluate(splits.x_train[:n], [splits.y_train[:n]] * k, batch_size=batch_size, verbose=0)
    kernel_sparsity(model)
    seconds = time.perf_counter() - start
    # Keras names a lone output's metrics without the output's name.
    keys = ["val_accuracy"] if k == 1 else [f"val_tower_{i}_accuracy" for i in range(k)]
    accuracies = [history.history[key][-1] for key in keys]
    return {"event": "cohort", "k": k, "seconds": seconds, "start": start_wall, "end": time.time(),
            "val_accuracy": accuracies}


def solo_run(task: Any, hp: Hyperparams, seed: int, splits: Any, epochs: int, batch_size: int,
             learning_rate: float | None) -> RunResult:
    """One trial's model trained alone, on the batches in order (as the check's cohort sees them)."""
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = task.build_model(hp, splits, learning_rate)
    model.fit(splits.x_train, splits.y_train, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0)
    return _scored(model.predict(splits.x_val, batch_size=batch_size, verbose=0), splits)


def cohort_runs(task: Any, configs: list[tuple[Hyperparams, int]], splits: Any, epochs: int, batch_size: int,
                learning_rate: float | None) -> list[RunResult]:
    import keras

    keras.backend.clear_session()
    model = build_cohort(task, configs, splits, learning_rate)
    k = len(configs)
    model.fit(splits.x_train, [splits.y_train] * k, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0)
    return [_scored(p, splits) for p in model.predict(splits.x_val, batch_size=batch_size, verbose=0)]


def _scored(predictions: Any, splits: Any) -> RunResult:
    import numpy as np

    accuracy = float((np.argmax(predictions, axis=1) == np.asarray(splits.y_val)).mean())
    return RunResult(accuracy, np.asarray(predictions))


def check(task: Any, k: int, splits: Any, epochs: int, batch_size: int, learning_rate: float | None,
          seed: int) -> dict[str, Any]:
    """A cohort of k towers against k solo runs (same configuration and seed) and k twins (same
    configuration, another seed). Shuffling is off in all of them: the cohort's one input order is
    then every solo run's too, on any backend."""
    configs = cohort_configs(k, seed)
    towers = cohort_runs(task, configs, splits, epochs, batch_size, learning_rate)
    solos = [solo_run(task, hp, s, splits, epochs, batch_size, learning_rate) for hp, s in configs]
    twins = [solo_run(task, hp, s + TWIN_OFFSET, splits, epochs, batch_size, learning_rate) for hp, s in configs]
    tol = tolerances(solos, twins, len(splits.y_val))
    deviations = tower_deviations(towers, solos)
    return {
        "event": "check", "k": k, "configs": [hp.describe() for hp, _ in configs],
        "tower_accuracy": [r.accuracy for r in towers], "solo_accuracy": [r.accuracy for r in solos],
        "twin_accuracy": [r.accuracy for r in twins],
        "tower_distance": [d for d, _ in deviations],
        "seed_distance": [prediction_distance(s.predictions, t.predictions) for s, t in zip(solos, twins)],
        "tolerance": {"distance": tol.distance, "accuracy": tol.accuracy,
                      "seed_distance": tol.seed_distance, "seed_accuracy": tol.seed_accuracy},
        "passed": within(deviations, tol), "n_val": len(splits.y_val), "n_train": len(splits.y_train),
    }


def describe_device() -> dict[str, Any]:
    """The Keras backend, its version, and the device it computes on."""
    import keras

    backend = keras.backend.backend()
    info: dict[str, Any] = {"event": "device", "backend": backend, "keras": keras.__version__}
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        info.update(version=jax.__version__, platform=device.platform, device=getattr(device, "device_kind", str(device)))
    elif backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        details = tf.config.experimental.get_device_details(gpus[0]) if gpus else {}
        info.update(version=tf.__version__, platform="gpu" if gpus else "cpu",
                    device=details.get("device_name", "GPU") if gpus else "CPU")
    elif backend == "torch":
        import torch

        gpu = torch.cuda.is_available()
        info.update(version=torch.__version__, platform="gpu" if gpu else "cpu",
                    device=torch.cuda.get_device_name(0) if gpu else "CPU")
    return info


# -- the child process --------------------------------------------------------------------------
def load(task_name: str, options: dict[str, int]) -> tuple[Any, Any]:
    """The synthetic task and its data, as a worker loads them (same seed: the same arrays)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import gpu_tasks

    from sweeper.tasks.data import DataRequest

    task = getattr(gpu_tasks, task_name)()
    request = DataRequest(options={**{n: o.default for n, o in task.options.items()}, **options})
    return task, task.load_data(request)


def _emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--probe", action="store_true", help="print the backend and device, and exit")
    p.add_argument("--task", default="SyntheticCifar", help="a class of bench/gpu_tasks.py")
    p.add_argument("--option", action="append", default=[], metavar="NAME=N", help="data size option of the task")
    p.add_argument("--cohorts", type=int, nargs="*", default=[], help="cohort sizes to time")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=None, help="default: the task's")
    p.add_argument("--check", type=int, default=0, help="towers in the tower-against-solo check (0: none)")
    p.add_argument("--check-train", type=int, default=2000, help="training samples of the check's runs")
    p.add_argument("--check-epochs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--deadline", type=float, default=math.inf, help="time.time() after which no cohort starts")
    args = p.parse_args(argv)
    if args.probe:
        # What `sweeper launch` and `sweeper worker` import, so that a package missing on the GPU
        # machine stops the bench in its first minute, not after every per-gpu run has failed.
        import sweeper.study.launch  # noqa: F401
        import sweeper.worker.supervisor  # noqa: F401
        import sweeper.worker.loop  # noqa: F401
    _emit(describe_device())
    if args.probe:
        return 0
    options = {name: int(value) for name, value in (o.split("=", 1) for o in args.option)}
    task, splits = load(args.task, options)
    batch = args.batch_size or task.defaults.batch_size
    lr = task.defaults.learning_rate
    # The check first: correctness is never what the time limit skips. It also warms the process up
    # (backend start-up, the kernels' first use), as a worker's first trial does before it is timed.
    if args.check:
        _emit(check(task, args.check, _head(splits, args.check_train), args.check_epochs, batch, lr, args.seed))
    else:
        time_cohort(task, 1, _head(splits, 4 * batch), 1, batch, lr, args.seed)
    for k in args.cohorts:
        if time.time() > args.deadline:
            _emit({"event": "skipped", "k": k, "why": "time limit"})
            continue
        _emit(time_cohort(task, k, splits, args.epochs, batch, lr, args.seed))
    return 0


def _head(splits: Any, n: int) -> Any:
    """The first n training samples (the validation split unchanged)."""
    from dataclasses import replace

    return replace(splits, x_train=splits.x_train[:n], y_train=splits.y_train[:n])


if __name__ == "__main__":
    raise SystemExit(main())
