"""IMDb review sentiment with the seed's LSTM.

Data: the official ``aclImdb_v1.tar.gz`` (``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt``;
``unsup/`` and the bag-of-words files are ignored). Reviews are decoded as UTF-8 with replacement
(a stray byte never stops a sweep) and the ``<br />`` markup is stripped. Validation is a
stratified, seeded slice of the training reviews; the test reviews are only used by
``sweeper evaluate``.

Text: Keras ``TextVectorization`` (options ``vocab_size``, default 20,000, and ``sequence_length``,
default 200) adapted on the training split only. It runs once in ``load_data``, so the model sees
integer sequences holding the *last* ``sequence_length`` tokens of each review, right-aligned
(left padding), as ``pad_sequences`` does, so the LSTM's last state follows the review's last
words rather than a run of padding.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from sweeper.tasks.archives import Archive, open_tar, stratified_split, stratified_subsample
from sweeper.errors import DataError
from sweeper.tasks.hyperparams import Hyperparams
from sweeper.tasks import DataRequest, Option, Splits, Task, TaskDefaults

ARCHIVE = Archive(
    filename="aclImdb_v1.tar.gz",
    url="https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
    md5="7c2ac02c03563afcf9b574c7e56c153a",
)
EMBEDDING_DIM = 128
_REVIEW = re.compile(r"^aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
_MARKUP = re.compile(r"<br\s*/?>", re.IGNORECASE)


class Imdb(Task):
    name = "imdb"
    dataset = "IMDb Large Movie Review Dataset v1.0 (aclImdb): 25,000 train + 25,000 test reviews, pos/neg"
    model = "TextVectorization -> Embedding128 -> LSTM128 -> Dense1 sigmoid, Adam"
    defaults = TaskDefaults(epochs=5, batch_size=32, learning_rate=1e-3, val_fraction=0.2)
    options = {
        "vocab_size": Option(20000, "vocabulary size of the TextVectorization layer", minimum=3),
        "sequence_length": Option(200, "tokens kept from the end of each review", minimum=1),
    }

    def archives(self, options: Any) -> list[Archive]:
        return [ARCHIVE]

    def load_data(self, request: DataRequest) -> Splits:
        vocab_size = request.options["vocab_size"]
        sequence_length = request.options["sequence_length"]
        reviews = read_reviews(request.file(ARCHIVE.filename))
        texts, labels = reviews["train"]
        train_idx, val_idx = stratified_split(labels, request.val_fraction, request.seed)
        train_idx = train_idx[stratified_subsample(labels[train_idx], request.train_size, request.seed)]
        test_texts, test_labels = reviews["test"]

        vectorize = vectorizer([texts[i] for i in train_idx], vocab_size, sequence_length)
        return Splits(
            x_train=vectorize([texts[i] for i in train_idx]),
            y_train=labels[train_idx],
            x_val=vectorize([texts[i] for i in val_idx]),
            y_val=labels[val_idx],
            x_test=vectorize(test_texts),
            y_test=test_labels,
            num_classes=2,
            meta={"vocab_size": vocab_size, "sequence_length": sequence_length},
        )

    def build_model(self, hp: Hyperparams, splits: Splits, learning_rate: float | None) -> Any:
        import keras
        from keras import layers

        model = keras.Sequential(
            [
                keras.Input(shape=(splits.x_train.shape[1],), dtype="int32"),
                layers.Embedding(splits.meta["vocab_size"], EMBEDDING_DIM),
                # The LSTM's own input dropout keeps one mask across time steps and still lets Keras
                # use the fused cuDNN kernel on GPU (only recurrent_dropout rules it out).
                layers.LSTM(
                    128,
                    dropout=hp.dropout,
                    kernel_regularizer=hp.kernel_regularizer(),
                    recurrent_regularizer=hp.kernel_regularizer(),
                ),
                layers.Dropout(hp.dropout),
                layers.Dense(1, activation="sigmoid", kernel_regularizer=hp.kernel_regularizer()),
            ],
            name="imdb_lstm",
        )
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss="binary_crossentropy",
            metrics=["accuracy"],
        )
        return model


def read_reviews(path: Path) -> dict[str, tuple[list[str], np.ndarray]]:
    """Texts and labels (1 = pos) of each split, in archive order."""
    found: dict[str, tuple[list[str], list[int]]] = {"train": ([], []), "test": ([], [])}
    with open_tar(path) as tar:
        for member in tar:
            match = _REVIEW.match(member.name)
            if match is None or not member.isfile():
                continue
            raw = tar.extractfile(member).read()
            texts, labels = found[match.group(1)]
            texts.append(clean(raw.decode("utf-8", errors="replace")))
            labels.append(1 if match.group(2) == "pos" else 0)
    for split, (_, labels) in found.items():
        if set(labels) != {0, 1}:
            raise DataError(
                f"{path} has no reviews under aclImdb/{split}/pos/ and aclImdb/{split}/neg/ "
                "(<id>_<rating>.txt): it is not the official aclImdb_v1.tar.gz; delete it (or fix "
                "SWEEPER_DATA_MIRROR) and run again"
            )
    return {split: (texts, np.asarray(labels, dtype=np.int32)) for split, (texts, labels) in found.items()}


def clean(text: str) -> str:
    return _MARKUP.sub(" ", text)


def vectorizer(train_texts: list[str], vocab_size: int, sequence_length: int) -> Any:
    """A function texts -> int32 (n, sequence_length), left-padded, with the vocabulary of the
    training texts only."""
    import keras

    # No fixed output length: each chunk comes back padded to its longest review, and
    # ``fit_length`` keeps the last ``sequence_length`` tokens (reviews tend to end on the verdict).
    layer = keras.layers.TextVectorization(max_tokens=vocab_size)
    layer.adapt(train_texts, batch_size=1024)

    def vectorize(texts: list[str]) -> np.ndarray:
        chunks = [
            fit_length(np.asarray(keras.ops.convert_to_numpy(layer(texts[i : i + 2048])), dtype=np.int32),
                       sequence_length)
            for i in range(0, len(texts), 2048)
        ]
        return np.concatenate(chunks) if chunks else np.zeros((0, sequence_length), dtype=np.int32)

    return vectorize


def fit_length(sequences: np.ndarray, length: int) -> np.ndarray:
    """Right-aligned rows of exactly ``length`` ids: each row's tokens (the non-zero ids, which
    TextVectorization puts first) moved to its end, keeping the last ``length`` of them."""
    width = sequences.shape[1]
    lengths = (sequences != 0).sum(axis=1)
    cols = (np.arange(width)[None, :] - (width - lengths)[:, None]) % max(width, 1)
    right = np.take_along_axis(sequences, cols, axis=1)
    if width >= length:
        return right[:, width - length :]
    return np.pad(right, ((0, 0), (length - width, 0)))
