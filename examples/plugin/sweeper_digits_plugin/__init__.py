"""A sweeper task in an installable package: a small CNN on scikit-learn's bundled digits, with
the penalty on its convolution and dense kernels. Registered in pyproject.toml under the
``sweeper.tasks`` entry-point group as ``digits-cnn``."""

from __future__ import annotations

from sweeper import DataRequest, Hyperparams, Splits, Task, TaskDefaults


class DigitsCNN(Task):
    name = "digits-cnn"
    dataset = "scikit-learn digits: 1,797 8x8 grey images of handwritten digits, 10 classes (bundled)"
    model = "CNN Conv16-Conv32-Pool-Flatten-Dense64-Dense10, Adam"
    defaults = TaskDefaults(epochs=20, batch_size=32, learning_rate=1e-3, train_size=400)

    def load_data(self, request: DataRequest) -> Splits:
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        images = (x / 16.0).astype("float32").reshape(-1, 8, 8, 1)
        return Splits.split(images, y.astype("int32"), request, test_fraction=0.2)

    def build_model(self, hp: Hyperparams, splits: Splits, learning_rate: float | None):
        import keras
        from keras import layers

        def conv(filters: int) -> layers.Layer:
            return layers.Conv2D(filters, 3, padding="same", activation="relu",
                                 kernel_regularizer=hp.kernel_regularizer())

        model = keras.Sequential([
            keras.Input(shape=(8, 8, 1)),
            conv(16),
            conv(32),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dropout(hp.dropout),
            layers.Dense(64, activation="relu", kernel_regularizer=hp.kernel_regularizer()),
            layers.Dropout(hp.dropout),
            layers.Dense(splits.num_classes, activation="softmax", kernel_regularizer=hp.kernel_regularizer()),
        ], name="digits_cnn")
        model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model
