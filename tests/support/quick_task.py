"""A fast real Keras task for worker, fault and load tests (``tests.support.quick_task``).

Separable Gaussian blobs and a tiny dense model. Options: ``optimizer`` (adam | sgd; sgd with a
huge lambda and learning rate diverges to NaN) and ``epoch_sleep`` (seconds added per epoch, for a
fixed-length objective)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from sweeper import DataRequest, Hyperparams, Option, Splits, Task, TaskDefaults


class Quick(Task):
    name = "quick"
    dataset = "Gaussian blobs (synthetic, for tests)"
    model = "Dense16-Dense3"
    defaults = TaskDefaults(epochs=3, batch_size=32, learning_rate=1e-2)
    options = {
        "optimizer": Option("adam", "adam or sgd", choices=("adam", "sgd")),
        "epoch_sleep": Option(0.0, "seconds to sleep after each epoch", minimum=0.0),
    }

    def load_data(self, request: DataRequest) -> Splits:
        rng = np.random.default_rng(request.seed)
        centres = rng.normal(size=(3, 8)) * 3

        def make(n: int) -> tuple[np.ndarray, np.ndarray]:
            y = rng.integers(0, 3, size=n)
            return (centres[y] + rng.normal(size=(n, 8))).astype("float32"), y.astype("int32")

        x_train, y_train = make(request.train_size or 240)
        x_val, y_val = make(60)
        x_test, y_test = make(60)
        return Splits(x_train, y_train, x_val, y_val, x_test, y_test, num_classes=3, meta=dict(request.options))

    def build_model(self, hp: Hyperparams, splits: Splits, learning_rate: float | None) -> Any:
        import keras
        from keras import layers

        model = keras.Sequential(
            [
                keras.Input(shape=(8,)),
                layers.Dense(16, activation="relu", kernel_regularizer=hp.kernel_regularizer()),
                layers.Dropout(hp.dropout),
                layers.Dense(splits.num_classes, activation="softmax", kernel_regularizer=hp.kernel_regularizer()),
            ]
        )
        optimizer = keras.optimizers.SGD(learning_rate) if splits.meta["optimizer"] == "sgd" else keras.optimizers.Adam(learning_rate)
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        sleep = float(splits.meta["epoch_sleep"])
        if sleep:
            original_fit = model.fit

            def fit(*args: Any, **kwargs: Any) -> Any:
                class Sleep(keras.callbacks.Callback):
                    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                        time.sleep(sleep)

                kwargs["callbacks"] = [Sleep(), *kwargs.get("callbacks", [])]
                return original_fit(*args, **kwargs)

            model.fit = fit
        return model
