from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sweeper.errors import DataError
from sweeper.settings import Settings
from sweeper.tasks.hyperparams import Hyperparams
from studies import cifar10
from tests.support.archives import make_cifar10
from tests.support.tasks import build, load

REPO = Path(__file__).resolve().parents[2]


def _settings(mirror: Path, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "cache", data_mirror=str(mirror))


def test_load_data_splits_stratified_and_keeps_test_apart(cifar_mirror: Path, tmp_path: Path) -> None:
    splits = load("cifar10", _settings(cifar_mirror, tmp_path))
    assert splits.x_train.shape[1:] == (32, 32, 3) and splits.x_train.dtype == np.uint8
    assert len(splits.y_train) == 160 and len(splits.y_val) == 40 and len(splits.y_test) == 50
    assert np.bincount(splits.y_val).tolist() == [4] * 10
    small = load("cifar10", _settings(cifar_mirror, tmp_path), train_size=50)
    assert len(small.y_train) == 50 and len(small.y_val) == 40
    assert np.bincount(small.y_train).tolist() == [5] * 10


def test_channels_are_unpacked_from_rgb_planes(tmp_path: Path) -> None:
    import pickle
    import tarfile

    path = make_cifar10(tmp_path / "m")
    x, y = cifar10.read_batches(path)["data_batch_1"]
    with tarfile.open(path) as tar:
        raw = pickle.load(tar.extractfile("cifar-10-batches-py/data_batch_1"), encoding="bytes")
    assert x.shape == (40, 32, 32, 3)
    red, green = raw[b"data"][0, :1024].reshape(32, 32), raw[b"data"][0, 1024:2048].reshape(32, 32)
    assert (x[0, :, :, 0] == red).all() and (x[0, :, :, 1] == green).all()
    assert y.tolist() == raw[b"labels"]


def test_archive_without_batches_names_what_is_missing(tmp_path: Path) -> None:
    import tarfile

    (tmp_path / "m").mkdir()
    with tarfile.open(tmp_path / "m" / "cifar-10-python.tar.gz", "w:gz") as tar:
        (tmp_path / "readme.txt").write_text("not cifar")
        tar.add(tmp_path / "readme.txt", arcname="readme.txt")
    with pytest.raises(DataError, match="lacks cifar-10-batches-py/data_batch_1"):
        load("cifar10", _settings(tmp_path / "m", tmp_path))


def test_penalty_on_every_kernel_never_on_biases(cifar_mirror: Path, tmp_path: Path) -> None:
    splits = load("cifar10", _settings(cifar_mirror, tmp_path))
    model = build("cifar10", Hyperparams("l2", lam=1e-3, dropout=0.3), splits, 1e-3)
    kernels = [w for w in model.trainable_weights if w.path.endswith("kernel")]
    assert len(kernels) == 4  # conv, conv, dense, dense
    assert len(model.losses) == 4
    assert sum(isinstance(layer, __import__("keras").layers.Dropout) for layer in model.layers) == 2
    plain = build("cifar10", Hyperparams("none", dropout=0.0), splits, 1e-3)
    assert len(plain.losses) == 0


JAX_STEP = """
import numpy as np, keras
assert keras.backend.backend() == "jax", keras.backend.backend()
from sweeper.settings import Settings
from sweeper.tasks.hyperparams import Hyperparams
from tests.support.tasks import build, fit, load
splits = load("cifar10", Settings(data_mirror={mirror!r}, data_dir={cache!r}), train_size=64)
model = build("cifar10", Hyperparams("l1_l2", lam=1e-4, l1_ratio=0.5, dropout=0.2), splits, 1e-3)
result = fit(model, splits, epochs=1, batch_size=64)
assert result.epochs_run == 1 and np.isfinite(result.final["val_loss"])
print("jax-ok", result.final["val_accuracy"])
"""


@pytest.mark.slow
def test_one_training_step_under_jax(cifar_mirror: Path, tmp_path: Path) -> None:
    code = JAX_STEP.format(mirror=str(cifar_mirror), cache=str(tmp_path / "cache"))
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "jax-ok" in out.stdout
