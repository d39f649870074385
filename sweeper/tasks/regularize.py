"""Putting a sampled regularization on a model that was written without any, unchanged.

``regularize(model, hp)`` clones the model with Keras' own ``keras.models.clone_model`` and a
clone function that rebuilds each layer from its config with:

- the penalty on every kernel: ``kernel_regularizer`` (Dense, convolutions, EinsumDense,
  attention), ``recurrent_regularizer`` (LSTM, GRU, SimpleRNN, also inside Bidirectional), and the
  depthwise and pointwise kernels of separable convolutions;
- every ``Dropout`` layer (and its subclasses, the spatial dropouts) at rate ``hp.dropout``.

Left alone, on purpose: biases and normalisation scales (penalising them only shifts the
model's offsets; the common practice of Keras' examples and of the literature), activity
regularizers, and embeddings, whose rows are updated only for the tokens in a batch, so an L1/L2
penalty on them acts very differently from one on a kernel; pass ``embeddings=True`` to include
them. A recurrent layer's own ``dropout``/``recurrent_dropout`` arguments stay as written. The
clone gets freshly initialised weights (each trial trains from its own seed) and, when the model
was compiled, the same optimizer, loss and metrics (a new optimizer instance).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sweeper.errors import TaskError

if TYPE_CHECKING:
    import keras

    from sweeper.tasks.hyperparams import Hyperparams

# (weight attribute, regularizer argument) of the kernels sweeper penalises.
KERNELS = (
    ("kernel", "kernel_regularizer"),
    ("recurrent_kernel", "recurrent_regularizer"),
    ("depthwise_kernel", "depthwise_regularizer"),
    ("pointwise_kernel", "pointwise_regularizer"),
)
EMBEDDINGS = ("embeddings", "embeddings_regularizer")
DROPOUT_CLASSES = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D")


def regularize(model: keras.Model, hp: Hyperparams, *, learning_rate: float | None = None,
               embeddings: bool = False) -> keras.Model:
    """A copy of ``model`` with ``hp``'s penalty on every kernel and every Dropout at
    ``hp.dropout``, compiled like ``model`` (with ``learning_rate`` when given)."""
    import keras

    if not isinstance(model, keras.Model):
        raise TaskError(f"regularize() needs a keras.Model, got {type(model).__name__}")
    regularizer = keras.regularizers.serialize(hp.kernel_regularizer()) if hp.kernel_regularizer() else None
    arguments = [arg for _, arg in KERNELS] + ([EMBEDDINGS[1]] if embeddings else [])

    def clone_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        _rewrite(config, isinstance(layer, keras.layers.Dropout), arguments, regularizer, hp.dropout)
        return layer.__class__.from_config(config)

    try:
        clone = keras.models.clone_model(model, clone_function=clone_layer, recursive=True)
    except ValueError as exc:
        # Keras refuses a clone function for a subclassed model (its layers are built in code).
        if "only supported for Sequential models or Functional models" in str(exc):
            raise TaskError(
                f"regularize() needs a Sequential or functional model; {model.name} is a subclassed "
                "keras.Model, which Keras cannot clone: build hp.kernel_regularizer() and hp.dropout "
                "into it instead"
            ) from None
        raise
    if model.compiled:
        clone.compile_from_config(model.get_compile_config())
        if learning_rate is not None:
            clone.optimizer.learning_rate = learning_rate
    return clone


def _rewrite(config: dict[str, Any], is_dropout: bool, arguments: list[str], regularizer: Any, rate: float) -> None:
    """Set the penalty and dropout rate in a layer config, and in the configs of the layers it
    wraps (Bidirectional, TimeDistributed, RNN cells)."""
    for argument in arguments:
        if argument in config:
            config[argument] = regularizer
    if is_dropout and "rate" in config:
        config["rate"] = float(rate)
    for value in config.values():
        for inner in value if isinstance(value, list) else [value]:
            if isinstance(inner, dict) and "class_name" in inner and isinstance(inner.get("config"), dict):
                _rewrite(inner["config"], inner["class_name"] in DROPOUT_CLASSES, arguments, regularizer, rate)


@dataclass(frozen=True)
class PenalisedWeight:
    layer: str
    weight: str  # kernel, recurrent_kernel, ..., embeddings
    l1: float
    l2: float


def penalised_weights(model: keras.Model, *, embeddings: bool = True) -> list[PenalisedWeight]:
    """Every kernel (and embedding matrix) of ``model`` with the L1 and L2 factors on it (0 when it
    carries no penalty): what ``sweeper check`` and the tests read back."""
    import keras

    found = []
    pairs = KERNELS + ((EMBEDDINGS,) if embeddings else ())
    for layer in _layers(model):
        for weight, argument in pairs:
            variable = _own_variable(layer, weight)
            if variable is None:
                continue
            reg = getattr(layer, argument, None)
            l1 = l2 = 0.0
            if isinstance(reg, keras.regularizers.Regularizer):
                config = reg.get_config()
                l1, l2 = float(config.get("l1", 0.0)), float(config.get("l2", 0.0))
            found.append(PenalisedWeight(layer.name, weight, l1, l2))
    return found


def dropout_rates(model: keras.Model) -> list[tuple[str, float]]:
    """(layer name, rate) of every Dropout layer (spatial dropouts included)."""
    import keras

    return [(layer.name, float(layer.rate)) for layer in _layers(model) if isinstance(layer, keras.layers.Dropout)]


def _layers(model: keras.Model) -> Iterator[keras.layers.Layer]:
    # Keras' own walk over nested models, wrappers and RNN cells (each once).
    yield from model._flatten_layers(include_self=False, recursive=True)


def _own_variable(layer: Any, weight: str) -> Any:
    """The layer's own variable of that name (a wrapper's inner layer owns its kernels)."""
    try:
        variable = getattr(layer, weight, None)
    except (AttributeError, ValueError):  # an unbuilt layer's kernel property
        return None
    if variable is None or not hasattr(variable, "path"):
        return None
    return variable if any(v is variable for v in layer._trainable_variables + layer._non_trainable_variables) else None
