"""Bad inputs at the command line: one line naming the problem and the fix, a non-zero exit, and
nothing already stored is changed. (Range, budget, task and URL errors: tests/test_cli.py.)"""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from sweeper.cli import main
from sweeper.settings import Settings
from sweeper.storage import open_storage
from sweeper.study.config import PROBLEM_PREFIX, VERSION_ATTR
from tests.support.archives import make_cifar10, truncate
from tests.support.postgres import PASSWORD, PostgresServer


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("sweeper: error: ") and "\n" not in err, err
    return err


def _snapshot(db: Path) -> bytes:
    return db.read_bytes() if db.exists() else b""


def _stored(db: Path) -> list:
    """Every stored trial and every study attr except the notes workers leave for status."""
    storage = open_storage(Settings(storage=f"sqlite:///{db}"))
    out = []
    for summary in storage.get_all_studies():
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        attrs = {k: v for k, v in study.user_attrs.items() if not k.startswith(PROBLEM_PREFIX)}
        out.append((summary.study_name, attrs, [(t.number, t.state, t.params, t.user_attrs, t.system_attrs) for t in study.trials]))
    return out


def _cannot_run_note(capsys: pytest.CaptureFixture[str], text: str) -> None:
    """`sweeper status` says why the study is not progressing."""
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "cannot run it (no trial of it runs there)" in out and text in out, out


def test_run_with_a_truncated_archive_names_it_and_creates_no_study(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truncate(make_cifar10(tmp_path / "mirror"))
    code = main(["run", "cifar10", "--trials", "2", "--data-mirror", str(tmp_path / "mirror")])
    assert code != 0
    assert "cifar-10-python.tar.gz" in (err := _error(capsys)) and "corrupt or truncated" in err
    assert not (tmp_path / "sweeper.db").exists()


def test_run_with_a_mirror_lacking_the_archive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mirror").mkdir()
    assert main(["launch", "cifar10", "--trials", "2"]) == 0
    before = _snapshot(tmp_path / "sweeper.db")
    capsys.readouterr()
    assert main(["run", "cifar10", "--trials", "2", "--data-mirror", str(tmp_path / "mirror")]) != 0
    assert "is not in the mirror folder" in _error(capsys)
    assert _snapshot(tmp_path / "sweeper.db") == before


def test_worker_with_a_corrupt_archive_claims_no_trial(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = make_cifar10(tmp_path / "mirror")
    archive.write_bytes(b"\x1f\x8b" + b"not really gzip" * 100)
    assert main(["launch", "cifar10", "--trials", "2"]) == 0
    before = _stored(tmp_path / "sweeper.db")
    capsys.readouterr()
    assert main(["worker", "--data-mirror", str(tmp_path / "mirror")]) == 4
    assert "cifar-10-python.tar.gz" in _error(capsys)
    assert _stored(tmp_path / "sweeper.db") == before
    _cannot_run_note(capsys, "cifar-10-python.tar.gz")


def test_worker_on_a_study_of_another_version_names_both_versions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["launch", "cifar10", "--trials", "2"]) == 0
    study = optuna.load_study(study_name="cifar10", storage=open_storage(Settings()))
    study.set_user_attr(VERSION_ATTR, {"sweeper": "0.9.0", "optuna": "4.5.0"})
    before = _stored(tmp_path / "sweeper.db")
    capsys.readouterr()
    assert main(["worker"]) == 2
    err = _error(capsys)
    assert "sweeper 0.9.0 with optuna 4.5.0" in err and f"optuna {optuna.__version__}" in err
    assert _stored(tmp_path / "sweeper.db") == before
    _cannot_run_note(capsys, "sweeper 0.9.0 with optuna 4.5.0")


def test_wrong_password_is_one_line(postgres_server: PostgresServer, capsys: pytest.CaptureFixture[str]) -> None:
    url = postgres_server.url("postgres", password=PASSWORD + "x")
    assert main(["status", "--storage", url]) == 3
    err = _error(capsys)
    assert "password authentication failed for user 'postgres'" in err and PASSWORD not in err
