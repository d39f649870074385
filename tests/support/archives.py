"""Tiny archives in the official layouts, built by the tests (no network, no ../shared)."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def make_cifar10(folder: Path, per_class_train: int = 20, per_class_test: int = 5, seed: int = 0) -> Path:
    """``cifar-10-python.tar.gz`` as upstream packs it: pickled dicts with b"data" (N x 3072 uint8,
    R/G/B planes), b"labels", b"filenames". Each class gets its own mean colour so that a model can
    learn something in a few steps."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cifar-10-python.tar.gz"

    def batch(per_class: int) -> dict[bytes, object]:
        labels = np.repeat(np.arange(10), per_class)
        rng.shuffle(labels)
        images = rng.integers(0, 80, size=(len(labels), 3, 32, 32), dtype=np.int64)
        for i, label in enumerate(labels):
            images[i, label % 3] += 25 * (label + 1) % 170
        data = np.clip(images, 0, 255).astype(np.uint8).reshape(len(labels), 3072)
        return {
            b"batch_label": b"tiny",
            b"labels": labels.tolist(),
            b"data": data,
            b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))],
        }

    with tarfile.open(path, "w:gz") as tar:
        for i in range(1, 6):
            _add_bytes(tar, f"cifar-10-batches-py/data_batch_{i}", pickle.dumps(batch(per_class_train // 5 or 1)))
        _add_bytes(tar, "cifar-10-batches-py/test_batch", pickle.dumps(batch(per_class_test)))
        _add_bytes(tar, "cifar-10-batches-py/batches.meta", pickle.dumps({b"label_names": [b"c%d" % i for i in range(10)]}))
    return path


def truncate(path: Path, keep_fraction: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    return path


def make_librispeech(
    folder: Path,
    subset: str = "test-other",
    speakers: int = 3,
    utterances: int = 5,
    seconds: float = 0.4,
    seed: int = 0,
    extra: dict[str, bytes] | None = None,
) -> Path:
    """``<subset>.tar.gz`` in the openslr layout, ``LibriSpeech/<subset>/<spk>/<chapter>/
    <spk>-<chapter>-<utt>.flac``: real 16 kHz mono FLAC files (soundfile/libsndfile), no
    transcripts. Each speaker hums at its own pitch with its own overtones, so a model can tell
    them apart. ``extra`` adds members as they are (e.g. a damaged file)."""
    import soundfile

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{subset}.tar.gz"
    t = np.arange(int(16000 * seconds)) / 16000
    with tarfile.open(path, "w:gz") as tar:
        _add_bytes(tar, "LibriSpeech/SPEAKERS.TXT", b";ID |SEX| SUBSET | MINUTES | NAME\n")
        for s in range(speakers):
            speaker, chapter = 100 + 37 * s, 2000 + s
            pitch = 120.0 * (1.5**s)
            for u in range(utterances):
                wave = sum(np.sin(2 * np.pi * pitch * k * t * (1 + 0.01 * u)) / k for k in range(1, 4 + s))
                wave = 0.3 * wave / np.abs(wave).max() + 0.01 * rng.standard_normal(len(t))
                buf = io.BytesIO()
                soundfile.write(buf, wave.astype(np.float32), 16000, format="FLAC", subtype="PCM_16")
                name = f"{speaker}-{chapter}-{u:04d}"
                _add_bytes(tar, f"LibriSpeech/{subset}/{speaker}/{chapter}/{name}.flac", buf.getvalue())
        for name, data in (extra or {}).items():
            _add_bytes(tar, name, data)
    return path


def make_imdb(
    folder: Path, per_class_train: int = 12, per_class_test: int = 4, extra: dict[str, bytes] | None = None
) -> Path:
    """``aclImdb_v1.tar.gz`` in the official layout, ``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt``,
    with the ``unsup/`` reviews and bag-of-words files a reader must skip. Positive reviews use
    praise words, negative ones complaints, with ``<br />`` markup as in the real files."""
    rng = np.random.default_rng(0)
    good = ["great", "wonderful", "moving", "brilliant", "loved"]
    bad = ["awful", "boring", "dull", "terrible", "hated"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "aclImdb_v1.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        _add_bytes(tar, "aclImdb/imdb.vocab", b"the\nand\n")
        _add_bytes(tar, "aclImdb/train/labeledBow.feat", b"0 0:1\n")
        _add_bytes(tar, "aclImdb/train/unsup/0_0.txt", b"an unlabelled review")
        for split, per_class in (("train", per_class_train), ("test", per_class_test)):
            for label, words, ratings in (("pos", good, (7, 10)), ("neg", bad, (1, 4))):
                for i in range(per_class):
                    chosen = " ".join(rng.choice(words, size=6))
                    text = f"The film was {chosen}.<br /><br />Really {chosen}!"
                    rating = int(rng.integers(ratings[0], ratings[1] + 1))
                    _add_bytes(tar, f"aclImdb/{split}/{label}/{i}_{rating}.txt", text.encode())
        for name, data in (extra or {}).items():
            _add_bytes(tar, name, data)
    return path
