"""Tiny archives in the official layouts, built by the tests (no network, no ../shared)."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def make_cifar10(folder: Path, per_class_train: int = 20, per_class_test: int = 5, seed: int = 0) -> Path:
    """``cifar-10-python.tar.gz`` as upstream packs it: pickled dicts with b"data" (N x 3072 uint8,
    R/G/B planes), b"labels", b"filenames". Each class gets its own mean colour so that a model can
    learn something in a few steps."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cifar-10-python.tar.gz"

    def batch(per_class: int) -> dict[bytes, object]:
        labels = np.repeat(np.arange(10), per_class)
        rng.shuffle(labels)
        images = rng.integers(0, 80, size=(len(labels), 3, 32, 32), dtype=np.int64)
        for i, label in enumerate(labels):
            images[i, label % 3] += 25 * (label + 1) % 170
        data = np.clip(images, 0, 255).astype(np.uint8).reshape(len(labels), 3072)
        return {
            b"batch_label": b"tiny",
            b"labels": labels.tolist(),
            b"data": data,
            b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))],
        }

    with tarfile.open(path, "w:gz") as tar:
        for i in range(1, 6):
            _add_bytes(tar, f"cifar-10-batches-py/data_batch_{i}", pickle.dumps(batch(per_class_train // 5 or 1)))
        _add_bytes(tar, "cifar-10-batches-py/test_batch", pickle.dumps(batch(per_class_test)))
        _add_bytes(tar, "cifar-10-batches-py/batches.meta", pickle.dumps({b"label_names": [b"c%d" % i for i in range(10)]}))
    return path


def truncate(path: Path, keep_fraction: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    return path
