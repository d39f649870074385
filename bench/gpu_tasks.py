"""Synthetic stand-ins for the cifar10 and librispeech case studies, for ``bench_gpu.py``: random
data of the real input shapes (no download, nothing to carry to a GPU machine), and the case
studies' own models, built by their ``build_model``.

The data is learnable, so that accuracies move away from chance and differ between configurations
(what the bench's tower-against-solo check compares): each class has a fixed random prototype, and
an input is its class's prototype mixed with noise.

    sweeper launch bench/gpu_tasks.py:SyntheticCifar --option train=1000 --option val=500 ...
"""

from __future__ import annotations

from typing import Any

import numpy as np

from studies.cifar10 import Cifar10
from studies.librispeech import LibriSpeech
from sweeper import DataRequest, Hyperparams, Option, Splits, Task, TaskDefaults

SIZE_OPTIONS = {
    "train": Option(40_000, "training samples", minimum=1),
    "val": Option(10_000, "validation samples", minimum=1),
    "test": Option(1_000, "test samples (unused by sweeps)", minimum=1),
}
CHUNK = 8_192  # samples generated at a time, to bound the temporary arrays


def _labels(rng: np.random.Generator, n: int, classes: int) -> np.ndarray:
    return rng.integers(0, classes, n).astype(np.int32)


def _sizes(request: DataRequest) -> tuple[int, int, int]:
    o = request.options
    return o["train"], o["val"], o["test"]


class SyntheticCifar(Task):
    name = "synthetic-cifar10"
    dataset = "synthetic: random 32x32x3 uint8 images (CIFAR-10's shape), 10 classes, class prototype + noise"
    model = Cifar10.model
    defaults = TaskDefaults(epochs=1, batch_size=64, learning_rate=1e-3)
    options = SIZE_OPTIONS

    def load_data(self, request: DataRequest) -> Splits:
        rng = np.random.default_rng(request.seed)
        # A quarter prototype, three quarters noise: learnable, but not in one epoch.
        prototypes = rng.integers(0, 256, (10, 32, 32, 3), dtype=np.uint16)

        def images(n: int) -> tuple[np.ndarray, np.ndarray]:
            y = _labels(rng, n, 10)
            x = np.empty((n, 32, 32, 3), dtype=np.uint8)
            for start in range(0, n, CHUNK):
                part = y[start:start + CHUNK]
                noise = rng.integers(0, 256, (len(part), 32, 32, 3), dtype=np.uint16)
                x[start:start + CHUNK] = (prototypes[part] + 3 * noise) // 4
            return x, y

        n_train, n_val, n_test = _sizes(request)
        (x_train, y_train), (x_val, y_val), (x_test, y_test) = images(n_train), images(n_val), images(n_test)
        return Splits(x_train, y_train, x_val, y_val, x_test, y_test, num_classes=10)

    def build_model(self, hp: Hyperparams, splits: Splits, learning_rate: float | None) -> Any:
        return Cifar10().build_model(hp, splits, learning_rate)


class SyntheticLibriSpeech(Task):
    name = "synthetic-librispeech"
    dataset = ("synthetic: random 440-wide float32 vectors (librispeech's 11 stacked 40-band frames), "
               "40 speakers, speaker centre + unit noise")
    model = LibriSpeech.model
    defaults = TaskDefaults(epochs=1, batch_size=256, learning_rate=1e-3)
    options = {**SIZE_OPTIONS, "train": Option(100_000, "training windows", minimum=1),
               "val": Option(20_000, "validation windows", minimum=1),
               "speakers": Option(40, "classes (test-other has 33 speakers, train-clean-100 251)", minimum=2)}

    def load_data(self, request: DataRequest) -> Splits:
        rng = np.random.default_rng(request.seed)
        speakers = request.options["speakers"]
        centres = rng.normal(0.0, 0.15, (speakers, 440)).astype(np.float32)

        def windows(n: int) -> tuple[np.ndarray, np.ndarray]:
            y = _labels(rng, n, speakers)
            x = rng.standard_normal((n, 440), dtype=np.float32)
            x += centres[y]
            return x, y

        n_train, n_val, n_test = _sizes(request)
        (x_train, y_train), (x_val, y_val), (x_test, y_test) = windows(n_train), windows(n_val), windows(n_test)
        return Splits(x_train, y_train, x_val, y_val, x_test, y_test, num_classes=speakers)

    def build_model(self, hp: Hyperparams, splits: Splits, learning_rate: float | None) -> Any:
        return LibriSpeech().build_model(hp, splits, learning_rate)
