"""CIFAR-10 image classification with the seed's small CNN.

Data: the official python-version archive (``cifar-10-batches-py/data_batch_1..5``, ``test_batch``).
Validation is a stratified, seeded slice of the training batches; the test batch is only used by
``sweeper evaluate``.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np

from sweeper.tasks.archives import Archive, open_tar, stratified_split, stratified_subsample
from sweeper.errors import DataError
from sweeper.tasks.hyperparams import Hyperparams
from sweeper.tasks import DataRequest, Splits, Task, TaskDefaults

ARCHIVE = Archive(
    filename="cifar-10-python.tar.gz",
    url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    md5="c58f30108f718f92721af3b95e74349a",
)
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCH = "test_batch"
FOLDER = "cifar-10-batches-py"


class Cifar10(Task):
    name = "cifar10"
    dataset = "CIFAR-10, python version (60,000 32x32 colour images, 10 classes)"
    model = "CNN: Conv32-Pool-Conv64-Pool-Flatten-Dense64-Dense10, Adam"
    defaults = TaskDefaults(epochs=20, batch_size=64, learning_rate=1e-3, val_fraction=0.2)

    def archives(self, options: Any) -> list[Archive]:
        return [ARCHIVE]

    def load_data(self, request: DataRequest) -> Splits:
        batches = read_batches(request.file(ARCHIVE.filename))
        x_all = np.concatenate([batches[b][0] for b in TRAIN_BATCHES])
        y_all = np.concatenate([batches[b][1] for b in TRAIN_BATCHES])
        x_test, y_test = batches[TEST_BATCH]
        train_idx, val_idx = stratified_split(y_all, request.val_fraction, request.seed)
        train_idx = train_idx[stratified_subsample(y_all[train_idx], request.train_size, request.seed)]
        return Splits(
            x_train=x_all[train_idx],
            y_train=y_all[train_idx],
            x_val=x_all[val_idx],
            y_val=y_all[val_idx],
            x_test=x_test,
            y_test=y_test,
            num_classes=10,
        )

    def build_model(self, hp: Hyperparams, splits: Splits, learning_rate: float | None) -> Any:
        import keras
        from keras import layers

        def conv(filters: int) -> layers.Layer:
            return layers.Conv2D(filters, 3, activation="relu", kernel_regularizer=hp.kernel_regularizer())

        model = keras.Sequential(
            [
                keras.Input(shape=(32, 32, 3)),
                layers.Rescaling(1.0 / 255),
                conv(32),
                layers.MaxPooling2D(),
                conv(64),
                layers.MaxPooling2D(),
                layers.Flatten(),
                layers.Dropout(hp.dropout),
                layers.Dense(64, activation="relu", kernel_regularizer=hp.kernel_regularizer()),
                layers.Dropout(hp.dropout),
                layers.Dense(splits.num_classes, activation="softmax", kernel_regularizer=hp.kernel_regularizer()),
            ],
            name="cifar10_cnn",
        )
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model


def read_batches(path: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Images as uint8 NHWC and labels as int32, read straight from the archive."""
    wanted = {f"{FOLDER}/{b}": b for b in [*TRAIN_BATCHES, TEST_BATCH]}
    batches: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    with open_tar(path) as tar:
        for member in tar:
            name = wanted.get(member.name)
            if name is None:
                continue
            try:
                raw = pickle.load(tar.extractfile(member), encoding="bytes")  # noqa: S301 (official format)
                data = np.asarray(raw[b"data"], dtype=np.uint8)
                labels = np.asarray(raw[b"labels"], dtype=np.int32)
            except (pickle.UnpicklingError, KeyError, EOFError, ValueError) as exc:
                raise DataError(
                    f"{member.name} in {path} is not a CIFAR-10 python batch ({exc}): "
                    "use the official cifar-10-python.tar.gz"
                ) from None
            batches[name] = (data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels)
    missing = sorted(set(wanted.values()) - set(batches))
    if missing:
        raise DataError(
            f"{path} lacks {', '.join(f'{FOLDER}/{m}' for m in missing)}: it is not the official "
            "CIFAR-10 python archive; delete it (or fix SWEEPER_DATA_MIRROR) and run again"
        )
    return batches
