"""Handing an existing Keras model to sweeper, unchanged.

``make_model`` stands for the model code you already have: written without any weight penalty,
with Dropout layers at whatever rate you once picked. sweeper does not ask you to edit it: for
every trial, ``sweeper.regularize`` clones the model (Keras' own ``clone_model``) with the sampled
penalty on every kernel and every Dropout layer at the sampled rate, and compiles the clone like
the original. Biases and embeddings stay unpenalised (see docs/tasks.md, "Handing over an existing model").

    sweeper check examples/digits_existing_model.py
    sweeper run examples/digits_existing_model.py --trials 24 --workers 2
"""

from __future__ import annotations

from sweeper import DataRequest, Hyperparams, Splits, Task, TaskDefaults, regularize


def make_model(n_features: int, n_classes: int):
    """Your existing model builder: a functional Keras model, compiled, no regularization."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(n_features,), name="pixels")
    x = layers.Dense(256, activation="relu")(inputs)
    x = layers.Dropout(0.5)(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(n_classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs, name="existing_mlp")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


class ExistingDigits(Task):
    name = "digits-existing"
    dataset = "scikit-learn digits: 1,797 8x8 grey images of handwritten digits, 10 classes (bundled)"
    model = "an existing functional MLP 64-256-256-10 handed over unchanged (sweeper.regularize)"
    # learning_rate None: keep the optimizer the existing model was compiled with.
    defaults = TaskDefaults(epochs=40, batch_size=32, learning_rate=None, train_size=400)

    def load_data(self, request: DataRequest) -> Splits:
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        return Splits.split((x / 16.0).astype("float32"), y.astype("int32"), request, test_fraction=0.2)

    def build_model(self, hp: Hyperparams, splits: Splits, learning_rate: float | None):
        return regularize(make_model(64, splits.num_classes), hp, learning_rate=learning_rate)
