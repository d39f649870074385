"""sweeper.regularize: an existing unregularized model, cloned with the sampled penalty on every
kernel and every Dropout at the sampled rate; checked on the weights Keras actually built."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from sweeper import Hyperparams, regularize
from sweeper.errors import TaskError
from sweeper.tasks.regularize import dropout_rates, penalised_weights


def sequential() -> keras.Model:
    model = keras.Sequential([
        keras.Input(shape=(8, 8, 1)),
        layers.Conv2D(4, 3, activation="relu"),
        layers.SpatialDropout2D(0.1),
        layers.SeparableConv2D(4, 3, activation="relu"),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(16, activation="relu"),
        layers.Dropout(0.0),
        layers.Dense(3, activation="softmax"),
    ], name="existing_cnn")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def functional() -> keras.Model:
    tokens = keras.Input(shape=(6,), dtype="int32")
    x = layers.Embedding(20, 4)(tokens)
    x = layers.Bidirectional(layers.LSTM(3, return_sequences=True))(x)
    x = layers.GRU(3)(x)
    x = layers.Dropout(0.2)(x)
    head = keras.Sequential([keras.Input((3,)), layers.Dense(4, activation="relu"), layers.Dropout(0.3)], name="head")
    out = layers.Dense(1, activation="sigmoid")(head(x))
    model = keras.Model(tokens, out, name="existing_rnn")
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    return model


# Every kernel Keras builds for these models: (layer, weight) as penalised_weights reports them.
SEQUENTIAL_KERNELS = 5  # conv kernel, separable depthwise + pointwise, dense, dense
FUNCTIONAL_KERNELS = 8  # 2 LSTM cells x (kernel, recurrent), GRU (kernel, recurrent), dense in head, output dense


@pytest.mark.parametrize(("build", "kernels", "dropouts", "x", "y"), [
    (sequential, SEQUENTIAL_KERNELS, 3, np.random.default_rng(0).random((32, 8, 8, 1), dtype=np.float32),
     np.random.default_rng(1).integers(0, 3, 32)),
    (functional, FUNCTIONAL_KERNELS, 2, np.random.default_rng(0).integers(0, 20, (32, 6)),
     np.random.default_rng(1).integers(0, 2, 32)),
], ids=["sequential", "functional"])
@pytest.mark.slow
@pytest.mark.parametrize(("penalty", "l1", "l2"), [("l1", 3e-3, 0.0), ("l2", 0.0, 3e-3), ("l1_l2", 3e-3 * 0.25, 3e-3 * 0.75)])
def test_every_kernel_gets_the_penalty_and_every_dropout_the_rate(build, kernels, dropouts, x, y, penalty, l1, l2) -> None:  # type: ignore[no-untyped-def]
    original = build()
    model = regularize(original, Hyperparams(penalty, lam=3e-3, l1_ratio=0.25, dropout=0.35))
    weights = penalised_weights(model, embeddings=False)
    assert len(weights) == kernels
    assert all(w.l1 == pytest.approx(l1) and w.l2 == pytest.approx(l2) for w in weights), weights
    assert [rate for _, rate in dropout_rates(model)] == [pytest.approx(0.35)] * dropouts
    # The embedding is left alone (see sweeper/tasks/regularize.py for why), and so are the biases.
    assert all(w.l1 == w.l2 == 0 for w in penalised_weights(model) if w.weight == "embeddings")
    assert not any(getattr(layer, "bias_regularizer", None) for layer in model._flatten_layers())
    # Keras counts one regularization loss per penalised kernel.
    model(x[:2])
    assert len(model.losses) == kernels
    # The original is untouched.
    assert all(w.l1 == w.l2 == 0 for w in penalised_weights(original))
    assert len(original.losses) == 0
    # Compiled like the original (a new optimizer instance), and it trains.
    assert model.compiled and type(model.optimizer) is type(original.optimizer)
    assert model.optimizer is not original.optimizer
    before = [np.array(v) for v in model.trainable_weights]
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
    assert any(not np.allclose(a, np.array(b)) for a, b in zip(before, model.trainable_weights))


def test_no_penalty_means_no_regularizer_and_learning_rate_is_applied() -> None:
    model = regularize(sequential(), Hyperparams("none", dropout=0.0), learning_rate=5e-4)
    assert all(w.l1 == w.l2 == 0 for w in penalised_weights(model))
    assert [rate for _, rate in dropout_rates(model)] == [0.0, 0.0, 0.0]
    assert float(model.optimizer.learning_rate) == pytest.approx(5e-4)
    kept = regularize(sequential(), Hyperparams("l2", lam=1e-4))
    assert float(kept.optimizer.learning_rate) == pytest.approx(1e-2)  # the model's own


def test_embeddings_only_when_asked() -> None:
    model = regularize(functional(), Hyperparams("l2", lam=1e-3), embeddings=True)
    (embedding,) = [w for w in penalised_weights(model) if w.weight == "embeddings"]
    assert embedding.l2 == pytest.approx(1e-3)


def test_an_uncompiled_model_stays_uncompiled() -> None:
    plain = keras.Sequential([keras.Input((4,)), layers.Dense(2)])
    assert not regularize(plain, Hyperparams("l1", lam=1e-3)).compiled


def test_a_subclassed_model_is_a_one_line_error() -> None:
    class Custom(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.dense = layers.Dense(2)

        def call(self, x):  # type: ignore[no-untyped-def]
            return self.dense(x)

    model = Custom()
    model(np.zeros((1, 3), dtype="float32"))
    with pytest.raises(TaskError, match="is a subclassed keras.Model, which Keras cannot clone"):
        regularize(model, Hyperparams("l2", lam=1e-3))
    with pytest.raises(TaskError, match="regularize\\(\\) needs a keras.Model, got str"):
        regularize("model", Hyperparams("l2", lam=1e-3))  # type: ignore[arg-type]
