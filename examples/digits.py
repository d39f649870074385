"""A dense network on scikit-learn's bundled digits, written on sweeper's task API.

scikit-learn ships the 1,797 8x8 grey images with the package (no download). With a few hundred
training images a 256-256 network fits them perfectly within a few epochs while validation
accuracy stalls: the regime where regularization decides the result. Try it:

    pip install -e '.[cpu,examples]'
    sweeper check examples/digits.py
    sweeper run examples/digits.py --trials 24 --workers 2
"""

from __future__ import annotations

from sweeper import DataRequest, Hyperparams, Option, Splits, Task, TaskDefaults


class Digits(Task):
    name = "digits"
    dataset = "scikit-learn digits: 1,797 8x8 grey images of handwritten digits, 10 classes (bundled)"
    model = "MLP 64-256-256-10, ReLU, Adam; penalty on every kernel, dropout after each hidden layer"
    defaults = TaskDefaults(epochs=40, batch_size=32, learning_rate=1e-3, train_size=400)
    options = {"width": Option(256, "units per hidden layer", minimum=1)}

    def load_data(self, request: DataRequest) -> Splits:
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        # 20% of the images are the test split, val_fraction of the rest validation; options that
        # shape the model travel to build_model in the splits' meta.
        return Splits.split((x / 16.0).astype("float32"), y.astype("int32"), request, test_fraction=0.2,
                            meta={"width": request.options["width"]})

    def build_model(self, hp: Hyperparams, splits: Splits, learning_rate: float | None):
        import keras
        from keras import layers

        width = splits.meta["width"]
        model = keras.Sequential([
            keras.Input(shape=(64,)),
            layers.Dense(width, activation="relu", kernel_regularizer=hp.kernel_regularizer()),
            layers.Dropout(hp.dropout),
            layers.Dense(width, activation="relu", kernel_regularizer=hp.kernel_regularizer()),
            layers.Dropout(hp.dropout),
            layers.Dense(splits.num_classes, activation="softmax", kernel_regularizer=hp.kernel_regularizer()),
        ], name="digits_mlp")
        model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model
