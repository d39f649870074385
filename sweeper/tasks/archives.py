"""Download, verify and cache the official data set archives, and split them reproducibly.

An archive comes from ``settings.data_mirror`` when set (a local folder or a URL base holding files
named like the official archives), otherwise from its official origin. Official archives are
checked against their published checksum; a mirror's copy (often a subset) is checked against the
mirror's own ``SHA256SUMS`` when it has one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sweeper.errors import DataError
from sweeper.settings import Settings


@dataclass(frozen=True)
class Archive:
    filename: str
    url: str
    md5: str | None = None  # the official archive's published checksum
    sha256: str | None = None


def fetch(archive: Archive, settings: Settings, *, progress: bool = True) -> Path:
    """The local path of ``archive``: from the mirror folder, the cache, or a fresh download."""
    mirror = settings.data_mirror
    if mirror and _is_local(mirror):
        folder = Path(_local_path(mirror)).expanduser()
        path = folder / archive.filename
        if not path.is_file():
            raise DataError(
                f"{archive.filename} is not in the mirror folder {folder}: copy it there, "
                "or unset SWEEPER_DATA_MIRROR to download it from the official origin"
            )
        _verify_against_sums(path, folder / "SHA256SUMS")
        return path

    cache = Path(settings.data_dir)
    if mirror:
        key = hashlib.sha256(mirror.encode()).hexdigest()[:12]
        cache = cache / f"mirror-{key}"
        url = mirror.rstrip("/") + "/" + archive.filename
    else:
        url = archive.url
    path = cache / archive.filename
    if path.is_file():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    _download(url, path, progress=progress)
    if not mirror:
        _verify_official(archive, path)
    return path


def verify_readable(path: Path) -> None:
    """Read the whole gzip stream once, so truncation is reported before any training starts."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            for _ in tar:
                pass
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise corrupt(path, exc) from None


def corrupt(path: Path, exc: BaseException) -> DataError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return DataError(
        f"{path.name} at {path} is corrupt or truncated ({reason}): delete it and run again "
        "to download a fresh copy (or replace it in SWEEPER_DATA_MIRROR)"
    )


@contextmanager
def open_tar(path: Path) -> Iterator[tarfile.TarFile]:
    """Open a .tar.gz archive, translating read errors into one ``DataError``."""
    try:
        tar = tarfile.open(path, "r:gz")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise corrupt(path, exc) from None
    try:
        yield tar
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise corrupt(path, exc) from None
    finally:
        tar.close()


def stratified_split(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (keep, held_out) with ``fraction`` of every class held out, shuffled by ``seed``."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    keep: list[np.ndarray] = []
    held: list[np.ndarray] = []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        rng.shuffle(idx)
        n_held = int(round(len(idx) * fraction))
        if len(idx) > 1:
            n_held = min(max(n_held, 1), len(idx) - 1)
        held.append(idx[:n_held])
        keep.append(idx[n_held:])
    keep_idx = np.concatenate(keep)
    held_idx = np.concatenate(held)
    rng.shuffle(keep_idx)
    rng.shuffle(held_idx)
    return keep_idx, held_idx


def stratified_subsample(labels: np.ndarray, size: int | None, seed: int) -> np.ndarray:
    """Indices of a stratified subsample of exactly ``size`` items (all of them when size is None):
    each class's share rounded by largest remainder, every class kept while ``size`` allows."""
    labels = np.asarray(labels)
    n = len(labels)
    if size is None or size >= n:
        return np.arange(n)
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    exact = counts * size / n
    quota = np.floor(exact).astype(int)
    if size >= len(classes):
        quota = np.maximum(quota, 1)
    while quota.sum() > size:  # the minimum of one per class overshot: take from the largest
        quota[np.argmax(quota)] -= 1
    short = size - int(quota.sum())
    room = counts - quota
    for k in np.argsort(-(exact - quota), kind="stable"):
        if short == 0:
            break
        if room[k] > 0:
            quota[k] += 1
            short -= 1
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(np.flatnonzero(inverse == k))[:q] for k, q in enumerate(quota)]
    return np.sort(np.concatenate(chosen))


def _is_local(location: str) -> bool:
    scheme = urllib.parse.urlparse(location).scheme
    return scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt")


def _local_path(location: str) -> str:
    parsed = urllib.parse.urlparse(location)
    return urllib.parse.unquote(parsed.path) if parsed.scheme == "file" else location


def _download(url: str, dest: Path, *, progress: bool) -> None:
    from tqdm import tqdm

    tmp = tempfile.NamedTemporaryFile(dir=dest.parent, prefix=dest.name, suffix=".part", delete=False)
    try:
        with urllib.request.urlopen(url, timeout=60) as response, tmp:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(
                total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress
            ) as bar:
                while chunk := response.read(1 << 20):
                    tmp.write(chunk)
                    bar.update(len(chunk))
        os.replace(tmp.name, dest)
    except (urllib.error.URLError, OSError) as exc:
        Path(tmp.name).unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise DataError(
            f"cannot download {dest.name} from {url} ({reason}): check the network, or set "
            "SWEEPER_DATA_MIRROR to a folder holding the archive"
        ) from None
    finally:
        Path(tmp.name).unlink(missing_ok=True)


def _digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _verify_official(archive: Archive, path: Path) -> None:
    for algorithm, expected in (("sha256", archive.sha256), ("md5", archive.md5)):
        if expected and _digest(path, algorithm) != expected:
            bad = path.with_suffix(path.suffix + ".corrupt")
            shutil.move(path, bad)
            raise DataError(
                f"{archive.filename} failed its {algorithm} check (moved to {bad}): "
                "run again to download a fresh copy"
            )


def _verify_against_sums(path: Path, sums_file: Path) -> None:
    if not sums_file.is_file():
        return
    for line in sums_file.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == path.name:
            if _digest(path, "sha256") != parts[0]:
                raise DataError(
                    f"{path.name} in the mirror {path.parent} does not match its SHA256SUMS "
                    "entry: the copy is corrupt or truncated; replace it"
                )
            return
