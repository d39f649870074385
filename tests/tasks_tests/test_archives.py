from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sweeper.tasks.archives import Archive, fetch, open_tar, stratified_split, stratified_subsample
from sweeper.errors import DataError
from sweeper.settings import Settings
from tests.support.archives import make_cifar10, truncate

ARCHIVE = Archive("cifar-10-python.tar.gz", url="http://127.0.0.1:1/never-used")


@pytest.fixture
def http_mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", folder
    server.shutdown()


def test_mirror_folder_is_used_in_place(tmp_path: Path) -> None:
    path = make_cifar10(tmp_path / "mirror")
    settings = Settings(data_dir=tmp_path / "cache", data_mirror=str(tmp_path / "mirror"))
    assert fetch(ARCHIVE, settings) == path


def test_mirror_folder_without_the_archive_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    settings = Settings(data_dir=tmp_path / "cache", data_mirror=str(tmp_path / "empty"))
    with pytest.raises(DataError, match="cifar-10-python.tar.gz is not in the mirror folder"):
        fetch(ARCHIVE, settings)


def test_mirror_sha256sums_catch_a_corrupt_copy(tmp_path: Path) -> None:
    path = make_cifar10(tmp_path / "mirror")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (tmp_path / "mirror" / "SHA256SUMS").write_text(f"{digest}  {path.name}\n")
    settings = Settings(data_dir=tmp_path / "cache", data_mirror=str(tmp_path / "mirror"))
    assert fetch(ARCHIVE, settings) == path
    truncate(path)
    with pytest.raises(DataError, match="does not match its SHA256SUMS"):
        fetch(ARCHIVE, settings)


def test_download_from_url_mirror_is_cached(tmp_path: Path, http_mirror: tuple[str, Path]) -> None:
    url, folder = http_mirror
    source = make_cifar10(folder)
    settings = Settings(data_dir=tmp_path / "cache", data_mirror=url)
    path = fetch(ARCHIVE, settings, progress=False)
    assert path.read_bytes() == source.read_bytes()
    assert str(path).startswith(str(tmp_path / "cache"))
    source.unlink()  # a second fetch must not need the network
    assert fetch(ARCHIVE, settings, progress=False) == path


def test_official_checksum_mismatch_is_refused(tmp_path: Path, http_mirror: tuple[str, Path]) -> None:
    url, folder = http_mirror
    make_cifar10(folder)
    archive = Archive("cifar-10-python.tar.gz", url=url + "cifar-10-python.tar.gz", md5="0" * 32)
    with pytest.raises(DataError, match="failed its md5 check"):
        fetch(archive, Settings(data_dir=tmp_path / "cache"), progress=False)


def test_unreachable_origin_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot download cifar-10-python.tar.gz") as info:
        fetch(ARCHIVE, Settings(data_dir=tmp_path / "cache"), progress=False)
    assert "\n" not in str(info.value)


def test_truncated_archive_names_the_file(tmp_path: Path) -> None:
    path = truncate(make_cifar10(tmp_path))
    with pytest.raises(DataError, match="cifar-10-python.tar.gz .* is corrupt or truncated"):
        with open_tar(path) as tar:
            for member in tar:
                tar.extractfile(member).read()


def test_stratified_split_keeps_class_proportions_and_is_seeded() -> None:
    labels = np.repeat(np.arange(4), 50)
    keep, held = stratified_split(labels, 0.2, seed=3)
    assert len(set(keep) & set(held)) == 0
    assert len(keep) + len(held) == 200
    assert np.bincount(labels[held]).tolist() == [10, 10, 10, 10]
    again, _ = stratified_split(labels, 0.2, seed=3)
    assert keep.tolist() == again.tolist()


def test_stratified_subsample() -> None:
    labels = np.repeat(np.arange(5), 40)
    idx = stratified_subsample(labels, 50, seed=0)
    assert len(idx) == 50
    assert np.bincount(labels[idx]).tolist() == [10] * 5
    assert len(stratified_subsample(labels, None, seed=0)) == 200
