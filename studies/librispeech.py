"""LibriSpeech speaker identification with the seed's dense DNN on stacked log-mel frames.

Data: an official LibriSpeech subset archive (``<subset>.tar.gz``, openslr resource 12, laid out as
``LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac``); transcripts are not
needed. Default subset ``test-other``; ``--subset`` (or ``--option subset=...``) picks another.

Features: 40 log-mel bands over 25 ms frames every 10 ms, computed with
``keras.layers.MelSpectrogram``. We chose it over librosa and tf.signal because it is maintained
with Keras (already our dependency, so no numba/llvmlite/scikit-learn install for librosa), runs on
whichever Keras backend is configured (tf.signal would tie data loading to TensorFlow and break
``KERAS_BACKEND=jax`` workers), and matches librosa's HTK-style mel scale closely enough for a
speaker DNN. On the 2-core dev machine it prepares the 767 s mirror slice in about 4 s, the FLAC
decode included; the frames are cached on disk so later workers and runs skip that.

An input is a context window: the frame itself and ``context`` frames either side taken every
``context_stride`` frames (so the default 11 frames span 210 ms), flattened, centred on every
``window_hop``-th frame. Neighbouring windows overlap by 90%, so the default hop of 2 loses little
and halves memory: the full test-other (5.3 h) gives about 0.95 M windows, 1.7 GB as float32.
Frames are normalised with per-band mean and standard deviation of the training utterances only.

Splits are by utterance, stratified by speaker: ``test_fraction`` of each speaker's utterances are
the test split, ``val_fraction`` of the rest validation; no window of a validation or test
utterance is in training. The objective is window accuracy; ``utterance_accuracy`` (posteriors
averaged over an utterance's windows) is stored with each trial.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import filelock
import numpy as np

from sweeper.tasks.archives import Archive, open_tar, stratified_split, stratified_subsample
from sweeper.errors import ConfigError, DataError
from sweeper.tasks.hyperparams import Hyperparams
from sweeper.tasks import DataRequest, Option, Splits, Task, TaskDefaults

BASE_URL = "https://www.openslr.org/resources/12"
# Published on https://www.openslr.org/resources/12/md5sum.txt.
OFFICIAL_MD5 = {
    "dev-clean": "42e2234ba48799c1f50f24a7926300a1",
    "dev-other": "c8d0bcc9cca99d4f8b62fcc847357931",
    "test-clean": "32fa31d27d2e1cad72775fee3f4849a9",
    "test-other": "fb5a50374b501bb3bac4815ee91d3135",
    "train-clean-100": "2a93770f6d5c6c964bc36631d331a522",
    "train-clean-360": "c0e676e450a7ff2f54aeade5171606fa",
    "train-other-500": "d1a0fd59409feb2c614ce4d30c387708",
}
SAMPLE_RATE = 16000
_SUBSET = re.compile(r"^[a-z]+-[a-z]+(-\d+)?$")
_UTTERANCE = re.compile(r"^(\d+)-(\d+)-(\d+)\.flac$")


@dataclass(frozen=True)
class FeatureConfig:
    """Everything the cached frames depend on, besides the archive itself."""

    num_mel_bins: int = 40
    frame_length: int = 400  # 25 ms at 16 kHz
    frame_step: int = 160  # 10 ms
    fft_length: int = 512
    min_freq: float = 20.0
    top_db: float = 80.0
    version: int = 1  # bump when the computation changes


@dataclass
class Utterances:
    """Log-mel frames of every utterance, concatenated, with each utterance's speaker and id."""

    frames: np.ndarray  # (total_frames, num_mel_bins) float32
    offsets: np.ndarray  # (n_utterances + 1,) start of each utterance in frames
    speakers: np.ndarray  # (n_utterances,) speaker id as in the file names
    ids: np.ndarray  # (n_utterances,) "<speaker>-<chapter>-<utt>"

    def frames_of(self, i: int) -> np.ndarray:
        return self.frames[self.offsets[i] : self.offsets[i + 1]]


def archive_for(subset: str) -> Archive:
    if not _SUBSET.match(subset):
        raise ConfigError(
            f"LibriSpeech subset {subset!r} is not a subset name: use e.g. --subset test-other "
            "or --subset train-clean-100"
        )
    return Archive(filename=f"{subset}.tar.gz", url=f"{BASE_URL}/{subset}.tar.gz", md5=OFFICIAL_MD5.get(subset))


class LibriSpeech(Task):
    name = "librispeech"
    dataset = "LibriSpeech (openslr 12) subset, default test-other: speaker ID from 16 kHz FLAC utterances"
    model = "DNN on 11 stacked 40-band log-mel frames: Dense512-Dense256-softmax(speakers), ReLU, Adam"
    defaults = TaskDefaults(epochs=20, batch_size=256, learning_rate=1e-3, val_fraction=0.2)
    options = {
        "subset": Option("test-other", "LibriSpeech subset archive, e.g. train-clean-100"),
        "context": Option(5, "frames stacked on each side of the centre frame", minimum=0),
        "context_stride": Option(2, "take every n-th frame within the context", minimum=1),
        "window_hop": Option(2, "a window centred on every n-th frame", minimum=1),
        "test_fraction": Option(0.2, "fraction of each speaker's utterances held out for test", minimum=0.01, maximum=0.9),
    }

    def check_options(self, options: Any) -> None:
        archive_for(options["subset"])

    def archives(self, options: Any) -> list[Archive]:
        return [archive_for(options["subset"])]

    def load_data(self, request: DataRequest) -> Splits:
        o = request.options
        subset = o["subset"]
        path = request.file(archive_for(subset).filename)
        utts, from_cache = cached_utterances(path, subset, FeatureConfig(), Path(request.cache_dir))

        speakers = np.unique(utts.speakers)
        labels = np.searchsorted(speakers, utts.speakers).astype(np.int32)
        rest, test_utts = stratified_split(labels, o["test_fraction"], request.seed)
        train_pos, val_pos = stratified_split(labels[rest], request.val_fraction, request.seed + 1)
        train_utts, val_utts = rest[train_pos], rest[val_pos]

        mean, std = normalisation(utts, train_utts)
        shape = (mean, std, o["context"], o["context_stride"], o["window_hop"])
        x_train, y_train, _ = windows(utts, train_utts, labels, *shape)
        x_val, y_val, val_of = windows(utts, val_utts, labels, *shape)
        x_test, y_test, test_of = windows(utts, test_utts, labels, *shape)
        keep = stratified_subsample(y_train, request.train_size, request.seed)
        return Splits(
            x_train=x_train[keep],
            y_train=y_train[keep],
            x_val=x_val,
            y_val=y_val,
            x_test=x_test,
            y_test=y_test,
            num_classes=len(speakers),
            meta={
                "speakers": speakers.tolist(),
                # Per window, the utterance it came from (an index into utterance_ids).
                "val_utterance": val_of,
                "test_utterance": test_of,
                "utterance_ids": utts.ids.tolist(),
                "train_utterances": sorted(utts.ids[train_utts].tolist()),
                "feature_mean": mean,
                "feature_std": std,
                "features_from_cache": from_cache,
            },
        )

    def build_model(self, hp: Hyperparams, splits: Splits, learning_rate: float | None) -> Any:
        import keras
        from keras import layers

        def dense(units: int, activation: str) -> layers.Layer:
            return layers.Dense(units, activation=activation, kernel_regularizer=hp.kernel_regularizer())

        model = keras.Sequential(
            [
                keras.Input(shape=(splits.x_train.shape[1],)),
                dense(512, "relu"),
                layers.Dropout(hp.dropout),
                dense(256, "relu"),
                layers.Dropout(hp.dropout),
                dense(splits.num_classes, "softmax"),
            ],
            name="librispeech_dnn",
        )
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    def extra_metrics(self, model: Any, splits: Splits) -> dict[str, float]:
        """Utterance accuracy on the split the objective was measured on (test under evaluation)."""
        utterance_of = splits.meta["test_utterance" if splits.meta.get("evaluation") else "val_utterance"]
        return {"utterance_accuracy": utterance_accuracy(model, splits.x_val, splits.y_val, utterance_of)}


def normalisation(utts: Utterances, train_utts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-band mean and standard deviation over the frames of the training utterances only."""
    frames = np.concatenate([utts.frames_of(int(i)) for i in train_utts])
    mean = frames.mean(axis=0)
    std = frames.std(axis=0)
    return mean.astype(np.float32), np.maximum(std, 1e-5).astype(np.float32)


def windows(
    utts: Utterances,
    chosen: np.ndarray,
    labels: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    context: int,
    stride: int,
    hop: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Context windows centred on every ``hop``-th frame of the chosen utterances (edges padded by
    repeating the first/last frame), their labels and the utterance each came from."""
    offsets = np.arange(-context, context + 1) * stride
    pad = context * stride
    xs, ys, of = [], [], []
    for i in np.sort(chosen):
        frames = (utts.frames_of(int(i)) - mean) / std
        padded = np.pad(frames, ((pad, pad), (0, 0)), mode="edge")
        centres = np.arange(0, len(frames), hop) + pad
        xs.append(padded[centres[:, None] + offsets[None, :]].reshape(len(centres), -1))
        ys.append(np.full(len(centres), labels[i], dtype=np.int32))
        of.append(np.full(len(centres), i, dtype=np.int32))
    width = len(offsets) * utts.frames.shape[1]
    if not xs:
        return np.zeros((0, width), np.float32), np.zeros(0, np.int32), np.zeros(0, np.int32)
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys), np.concatenate(of)


def cached_utterances(path: Path, subset: str, config: FeatureConfig, data_dir: Path) -> tuple[Utterances, bool]:
    """The frames of every utterance in the archive, from the feature cache when an earlier
    process computed them with the same archive and settings. Returns (utterances, from_cache)."""
    stat = path.stat()
    key_source = {"archive": path.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                  "subset": subset, "features": asdict(config)}
    key = hashlib.sha256(json.dumps(key_source, sort_keys=True).encode()).hexdigest()[:16]
    cache = data_dir / "features" / f"librispeech-{subset}-{key}.npz"
    cached = _read_cache(cache)
    if cached is not None:
        return cached, True
    cache.parent.mkdir(parents=True, exist_ok=True)
    # Workers starting together take turns: the first computes, the others then read its file.
    with filelock.FileLock(cache.with_suffix(".lock")):
        cached = _read_cache(cache)
        if cached is not None:
            return cached, True
        utts = compute_utterances(path, subset, config)
        # Written to a temporary file and renamed into place, so no reader (on a file system
        # without working locks, say) ever sees half a file.
        tmp = tempfile.NamedTemporaryFile(dir=cache.parent, prefix=cache.name, suffix=".tmp", delete=False)
        try:
            with tmp:
                np.savez(tmp, frames=utts.frames, offsets=utts.offsets, speakers=utts.speakers, ids=utts.ids)
            os.chmod(tmp.name, 0o644)  # temporary files are private; the cache is for every worker
            os.replace(tmp.name, cache)
        finally:
            Path(tmp.name).unlink(missing_ok=True)
    return utts, False


def _read_cache(cache: Path) -> Utterances | None:
    if not cache.is_file():
        return None
    try:
        with np.load(cache) as data:
            return Utterances(data["frames"], data["offsets"], data["speakers"], data["ids"])
    except (OSError, ValueError, KeyError, EOFError):
        return None  # a damaged cache file is recomputed and replaced


def compute_utterances(path: Path, subset: str, config: FeatureConfig) -> Utterances:
    import keras
    import soundfile

    mel = keras.layers.MelSpectrogram(
        fft_length=config.fft_length,
        sequence_stride=config.frame_step,
        sequence_length=config.frame_length,
        sampling_rate=SAMPLE_RATE,
        num_mel_bins=config.num_mel_bins,
        min_freq=config.min_freq,
        max_freq=SAMPLE_RATE / 2,
        power_to_db=True,
        top_db=config.top_db,
    )
    prefix = f"LibriSpeech/{subset}/"
    found: list[tuple[str, int, np.ndarray]] = []
    started = time.perf_counter()
    with open_tar(path) as tar:
        for member in tar:
            if not member.isfile() or not member.name.endswith(".flac"):
                continue
            utt_id = _check_layout(member.name, prefix, path)
            try:
                audio, rate = soundfile.read(io.BytesIO(tar.extractfile(member).read()), dtype="float32")
            except (soundfile.LibsndfileError, RuntimeError, ValueError) as exc:
                raise DataError(
                    f"{member.name} in {path} is not readable FLAC audio ({exc}): the archive is "
                    "damaged; delete it (or replace it in SWEEPER_DATA_MIRROR) and run again"
                ) from None
            if rate != SAMPLE_RATE or audio.ndim != 1:
                raise DataError(
                    f"{member.name} in {path} is {rate} Hz with {audio.ndim} dimension(s), not 16 kHz "
                    "mono as in LibriSpeech: use the official archive"
                )
            frames = keras.ops.convert_to_numpy(mel(audio[None, :]))[0].T
            found.append((utt_id, int(utt_id.split("-")[0]), frames.astype(np.float32)))
    if not found:
        raise DataError(
            f"{path} holds no {prefix}<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac files: "
            f"it is not the LibriSpeech {subset} archive; use the official {subset}.tar.gz"
        )
    found.sort()
    lengths = [len(f) for _, _, f in found]
    print(
        f"librispeech: {len(found)} utterances, {sum(lengths)} frames prepared in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return Utterances(
        frames=np.concatenate([f for _, _, f in found]),
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        speakers=np.array([s for _, s, _ in found], dtype=np.int64),
        ids=np.array([u for u, _, _ in found]),
    )


def _check_layout(name: str, prefix: str, path: Path) -> str:
    """The utterance id of an audio file in the official layout, else a DataError naming it."""
    parts = name[len(prefix) :].split("/") if name.startswith(prefix) else []
    match = _UTTERANCE.match(parts[-1]) if len(parts) == 3 else None
    if match is None or match.group(1) != parts[0] or match.group(2) != parts[1]:
        raise DataError(
            f"{name} in {path} is not laid out as {prefix}<speaker>/<chapter>/"
            "<speaker>-<chapter>-<utt>.flac: use the official LibriSpeech archive for this subset"
        )
    return parts[-1][: -len(".flac")]


def utterance_accuracy(model: Any, x: np.ndarray, y: np.ndarray, utterance_of: np.ndarray) -> float:
    """Average the posteriors of each utterance's windows, then score one decision per utterance."""
    if len(y) == 0:
        return float("nan")
    return vote(np.asarray(model.predict(x, batch_size=1024, verbose=0)), y, utterance_of)


def vote(probs: np.ndarray, y: np.ndarray, utterance_of: np.ndarray) -> float:
    """Accuracy of one decision per utterance: the argmax of its windows' summed posteriors."""
    utts, index = np.unique(utterance_of, return_inverse=True)
    sums = np.zeros((len(utts), probs.shape[1]))
    np.add.at(sums, index, probs)
    truth = np.zeros(len(utts), dtype=np.int64)
    truth[index] = y
    return float(np.mean(sums.argmax(axis=1) == truth))
