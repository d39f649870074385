from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from studies import librispeech
from sweeper.cli.configs import sweep_config as _sweep_config
from sweeper.cli.parser import build_parser
from sweeper.errors import ConfigError, DataError
from sweeper.settings import Settings
from sweeper.tasks.hyperparams import Hyperparams
from sweeper.tasks import Splits, load_task
from tests.support.tasks import build, load
from tests.support.archives import make_librispeech

REPO = Path(__file__).resolve().parents[2]
OPTIONS = {"context": 2, "context_stride": 1, "subset": "test-other", "window_hop": 1}
BANDS = librispeech.FeatureConfig().num_mel_bins


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("librispeech")
    make_librispeech(folder, speakers=3, utterances=5)
    return folder


def _load(mirror: Path, cache: Path, train_size: int | None = None, options: dict = OPTIONS) -> Splits:
    settings = Settings(data_dir=cache, data_mirror=str(mirror))
    return load("librispeech", settings, train_size, options)


def test_split_by_utterance_keeps_validation_and_test_out_of_training(mirror: Path, tmp_path: Path) -> None:
    splits = _load(mirror, tmp_path / "cache")
    meta = splits.meta
    ids = np.array(meta["utterance_ids"])
    assert splits.num_classes == 3 and meta["speakers"] == [100, 137, 174]
    val_utts, test_utts = set(ids[meta["val_utterance"]]), set(ids[meta["test_utterance"]])
    train_utts = set(meta["train_utterances"])
    # 5 utterances per speaker: 1 test, 1 validation, 3 training, never shared.
    assert (len(train_utts), len(val_utts), len(test_utts)) == (9, 3, 3)
    assert not train_utts & val_utts and not train_utts & test_utts and not val_utts & test_utts
    # Every frame of a 0.4 s utterance is a window centre (41 frames at 10 ms, centred STFT).
    assert splits.x_train.shape == (9 * 41, 5 * BANDS) and splits.x_val.shape == (3 * 41, 5 * BANDS)
    assert np.bincount(splits.y_val).tolist() == [41, 41, 41]
    # A window's label is its utterance's speaker.
    speaker_of = {u: meta["speakers"].index(int(u.split("-")[0])) for u in ids}
    assert all(speaker_of[ids[u]] == y for u, y in zip(meta["test_utterance"], splits.y_test))

    small = _load(mirror, tmp_path / "cache", train_size=60)
    assert len(small.y_train) == 60 and np.bincount(small.y_train).tolist() == [20, 20, 20]


def test_normalisation_statistics_come_from_training_utterances_only(mirror: Path, tmp_path: Path) -> None:
    splits = _load(mirror, tmp_path / "cache")
    utts, _ = librispeech.cached_utterances(mirror / "test-other.tar.gz", "test-other", librispeech.FeatureConfig(), tmp_path / "cache")
    train = [i for i, u in enumerate(utts.ids) if u in splits.meta["train_utterances"]]
    train_frames = np.concatenate([utts.frames_of(i) for i in train])
    np.testing.assert_allclose(splits.meta["feature_mean"], train_frames.mean(axis=0), rtol=1e-5, atol=1e-4)
    assert not np.allclose(splits.meta["feature_mean"], utts.frames.mean(axis=0), atol=1e-3)
    # The centre frame of the training windows is then exactly standardised; validation is not.
    centre = slice(2 * BANDS, 3 * BANDS)
    np.testing.assert_allclose(splits.x_train[:, centre].mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(splits.x_train[:, centre].std(axis=0), 1.0, atol=1e-3)
    assert not np.allclose(splits.x_val[:, centre].mean(axis=0), 0.0, atol=1e-2)


def test_second_load_reads_the_feature_cache(tmp_path: Path) -> None:
    make_librispeech(tmp_path / "m", speakers=2, utterances=4)
    first = _load(tmp_path / "m", tmp_path / "cache")
    assert first.meta["features_from_cache"] is False
    assert len(list((tmp_path / "cache" / "features").glob("librispeech-test-other-*.npz"))) == 1
    # Damage the archive's audio but keep its size and time: a recomputation would now fail, so
    # a successful load proves the frames came from the cache.
    archive = tmp_path / "m" / "test-other.tar.gz"
    stat = archive.stat()
    data = bytearray(archive.read_bytes())
    data[200:-200] = bytes(len(data) - 400)
    archive.write_bytes(bytes(data))
    os.utime(archive, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    other_windows = (("context", 1), ("context_stride", 3), ("subset", "test-other"), ("window_hop", 2))
    second = _load(tmp_path / "m", tmp_path / "cache", options=other_windows)
    assert second.meta["features_from_cache"] is True
    assert set(second.meta["train_utterances"]) == set(first.meta["train_utterances"])
    # Context and hop only change how cached frames are stacked: 3 frames, every other centre.
    assert second.x_train.shape == (len(first.y_train) // 41 * 21, 3 * BANDS)
    # A changed archive (new time) is a new key: recomputed, and here the damage is reported.
    os.utime(archive, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(DataError, match="test-other.tar.gz"):
        _load(tmp_path / "m", tmp_path / "cache")


def test_unreadable_audio_names_the_file(tmp_path: Path) -> None:
    bad = "LibriSpeech/test-other/100/2000/100-2000-0099.flac"
    make_librispeech(tmp_path / "m", speakers=1, utterances=1, extra={bad: b"not a flac file at all"})
    with pytest.raises(DataError, match=f"{bad} in .* is not readable FLAC audio"):
        _load(tmp_path / "m", tmp_path / "cache")


@pytest.mark.parametrize(
    ("member", "expected"),
    [
        ("LibriSpeech/test-other/100-2000-0001.flac", "is not laid out as LibriSpeech/test-other/<speaker>"),
        ("LibriSpeech/test-other/100/2000/101-2000-0001.flac", "101-2000-0001.flac in .* is not laid out"),
        ("test-other/100/2000/100-2000-0001.flac", "test-other/100/2000/100-2000-0001.flac in .* is not laid out"),
    ],
)
def test_wrong_layout_names_the_file(tmp_path: Path, member: str, expected: str) -> None:
    make_librispeech(tmp_path / "m", speakers=1, utterances=1, extra={member: b"x"})
    with pytest.raises(DataError, match=expected):
        _load(tmp_path / "m", tmp_path / "cache")


def test_archive_without_audio_is_not_librispeech(tmp_path: Path) -> None:
    make_librispeech(tmp_path / "m", speakers=0)
    with pytest.raises(DataError, match="holds no LibriSpeech/test-other/<speaker>/<chapter>"):
        _load(tmp_path / "m", tmp_path / "cache")


def test_subset_flag_chooses_the_archive(tmp_path: Path) -> None:
    args = build_parser().parse_args(["launch", "librispeech", "--subset", "dev-clean", "--option", "context=3"])
    config = _sweep_config(load_task("librispeech"), args)
    assert config.options["subset"] == "dev-clean" and config.options["context"] == 3
    assert librispeech.archive_for("dev-clean").filename == "dev-clean.tar.gz"
    assert librispeech.archive_for("dev-clean").md5 == "42e2234ba48799c1f50f24a7926300a1"
    make_librispeech(tmp_path / "m", subset="dev-clean", speakers=2, utterances=3)
    splits = _load(tmp_path / "m", tmp_path / "cache", options={"subset": "dev-clean"})
    assert splits.num_classes == 2
    with pytest.raises(ConfigError, match="not a subset name"):
        librispeech.archive_for("../etc")
    # Checked at launch, before anything is stored.
    with pytest.raises(ConfigError, match="not a subset name"):
        _sweep_config(load_task("librispeech"), build_parser().parse_args(["launch", "librispeech", "--subset", "../etc"]))


def test_model_fits_one_step_and_scores_utterances(mirror: Path, tmp_path: Path) -> None:
    import keras

    splits = _load(mirror, tmp_path / "cache")
    model = build("librispeech", Hyperparams("l1_l2", lam=1e-4, l1_ratio=0.3, dropout=0.25), splits, 1e-3)
    assert [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)] == [512, 256, 3]
    assert len(model.losses) == 3  # every kernel penalised
    assert sum(isinstance(layer, keras.layers.Dropout) for layer in model.layers) == 2
    history = model.fit(splits.x_train[:64], splits.y_train[:64], batch_size=64, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    # Utterance accuracy: one vote per validation utterance over its windows' posteriors...
    score = librispeech.LibriSpeech().extra_metrics(model, splits)["utterance_accuracy"]
    probs = model.predict(splits.x_val, verbose=0)
    assert score == librispeech.vote(probs, splits.y_val, splits.meta["val_utterance"])
    assert len(np.unique(splits.meta["val_utterance"])) == 3 and score in (0.0, 1 / 3, 2 / 3, 1.0)
    # ...and under `sweeper evaluate` one per test utterance, over the test windows.
    evaluation = splits.for_evaluation()
    test_score = librispeech.LibriSpeech().extra_metrics(model, evaluation)["utterance_accuracy"]
    test_probs = model.predict(splits.x_test, verbose=0)
    assert test_score == librispeech.vote(test_probs, splits.y_test, splits.meta["test_utterance"])


def test_utterance_vote_averages_posteriors() -> None:
    # Utterance 7 (speaker 0): two weak wrong windows and one confident right one -> right.
    # Utterance 9 (speaker 1): its windows lean to speaker 0 on average -> wrong.
    probs = np.array([[0.4, 0.6], [0.45, 0.55], [0.99, 0.01], [0.6, 0.4], [0.7, 0.3]])
    y = np.array([0, 0, 0, 1, 1])
    assert librispeech.vote(probs, y, np.array([7, 7, 7, 9, 9])) == 0.5
    assert librispeech.vote(probs, y, np.array([7, 7, 7, 9, 8])) == 1 / 3


JAX_STEP = """
import numpy as np, keras
assert keras.backend.backend() == "jax", keras.backend.backend()
from sweeper.settings import Settings
from sweeper.tasks.hyperparams import Hyperparams
from tests.support.tasks import build, fit, load
from studies import librispeech
splits = load("librispeech", Settings(data_mirror={mirror!r}, data_dir={cache!r}))
assert splits.meta["features_from_cache"] is False
model = build("librispeech", Hyperparams("l2", lam=1e-4, dropout=0.2), splits, 1e-3)
result = fit(model, splits, epochs=1, batch_size=128)
assert result.epochs_run == 1 and np.isfinite(result.final["val_loss"])
print("jax-ok", librispeech.LibriSpeech().extra_metrics(model, splits))
"""


@pytest.mark.slow
def test_features_and_one_epoch_under_jax(mirror: Path, tmp_path: Path) -> None:
    code = JAX_STEP.format(mirror=str(mirror), cache=str(tmp_path / "jax-cache"))
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "jax-ok" in out.stdout
