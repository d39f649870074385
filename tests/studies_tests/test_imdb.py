from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

from studies import imdb
from sweeper.errors import DataError
from sweeper.settings import Settings
from sweeper.tasks.hyperparams import Hyperparams
from sweeper.tasks import Splits
from tests.support.tasks import build, load
from tests.support.archives import make_imdb

OPTIONS = {"sequence_length": 12, "vocab_size": 50}
UNSEEN = "aclImdb/test/pos/99_10.txt"
NOT_UTF8 = "aclImdb/train/pos/98_9.txt"


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("imdb")
    make_imdb(folder, extra={UNSEEN: b"zyzzyva quixotic", NOT_UTF8: b"Caf\xe9 was great \xff<br />loved it"})
    return folder


def _load(mirror: Path, tmp_path: Path, train_size: int | None = None) -> Splits:
    settings = Settings(data_dir=tmp_path / "cache", data_mirror=str(mirror))
    return load("imdb", settings, train_size, OPTIONS)


def test_reads_reviews_through_the_mirror(mirror: Path, tmp_path: Path) -> None:
    splits = _load(mirror, tmp_path)
    # 12 + 1 (the non-UTF-8 one) train reviews per the archive, unsup/ and bag-of-words skipped.
    assert len(splits.y_train) + len(splits.y_val) == 25 and len(splits.y_test) == 9
    assert np.bincount(splits.y_val).tolist() == [2, 3]
    assert splits.x_train.shape == (len(splits.y_train), 12) and splits.x_train.dtype == np.int32
    assert splits.num_classes == 2
    small = _load(mirror, tmp_path, train_size=10)
    assert np.bincount(small.y_train).tolist() == [5, 5]


def test_review_text_is_cleaned_and_never_crashes_on_bad_bytes(mirror: Path) -> None:
    reviews = imdb.read_reviews(mirror / "aclImdb_v1.tar.gz")
    texts, labels = reviews["train"]
    assert not any("<br" in t for t in texts)
    bad = [t for t in texts if t.startswith("Caf")]
    assert bad == ["Caf\ufffd was great \ufffd loved it"]
    assert labels[texts.index(bad[0])] == 1
    assert "an unlabelled review" not in texts


def test_vocabulary_comes_from_training_reviews_only(mirror: Path, tmp_path: Path) -> None:
    splits = _load(mirror, tmp_path)
    # The last test review holds only words no training review has: all out-of-vocabulary (1),
    # right-aligned after padding (0).
    assert splits.x_test[-1].tolist() == [0] * 10 + [1, 1]
    # Praise and complaint words are in the vocabulary.
    assert (splits.x_train > 1).any(axis=1).all()


def test_long_reviews_keep_their_last_tokens() -> None:
    rows = np.array([[5, 6, 7, 8, 0, 0], [9, 0, 0, 0, 0, 0], [1, 2, 3, 4, 5, 6]], dtype=np.int32)
    assert imdb.fit_length(rows, 3).tolist() == [[6, 7, 8], [0, 0, 9], [4, 5, 6]]
    assert imdb.fit_length(rows[:, :2], 4).tolist() == [[0, 0, 5, 6], [0, 0, 0, 9], [0, 0, 1, 2]]


def test_archive_without_test_reviews_names_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    with tarfile.open(tmp_path / "m" / "aclImdb_v1.tar.gz", "w:gz") as tar:
        for name in ("aclImdb/train/pos/0_9.txt", "aclImdb/train/neg/0_2.txt", "imdb/test/pos/0_9.txt"):
            info = tarfile.TarInfo(name)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"good"))
    with pytest.raises(DataError, match=r"no reviews under aclImdb/test/pos/ and aclImdb/test/neg/"):
        _load(tmp_path / "m", tmp_path)


def test_model_fits_one_step(mirror: Path, tmp_path: Path) -> None:
    import keras

    splits = _load(mirror, tmp_path)
    model = build("imdb", Hyperparams("l2", lam=1e-4, dropout=0.3), splits, 1e-3)
    lstm = next(layer for layer in model.layers if isinstance(layer, keras.layers.LSTM))
    assert lstm.units == 128 and lstm.dropout == 0.3
    assert len(model.losses) == 3  # LSTM kernel, LSTM recurrent kernel, Dense kernel
    assert sum(isinstance(layer, keras.layers.Dropout) for layer in model.layers) == 1
    history = model.fit(splits.x_train[:8], splits.y_train[:8], batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    scores = model.evaluate(splits.x_val, splits.y_val, verbose=0, return_dict=True)
    # The accuracy Keras reports is the share of validation reviews on the right side of 0.5.
    predicted = (model.predict(splits.x_val, verbose=0).ravel() > 0.5).astype(int)
    assert scores["accuracy"] == pytest.approx(np.mean(predicted == splits.y_val), abs=1e-6)
    assert len(build("imdb", Hyperparams(), splits, 1e-3).losses) == 0
