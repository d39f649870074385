"""The Python API: ``sweeper.run`` launches, runs real local workers and returns the report that
``sweeper.load`` reads back; arguments are checked as the CLI's flags are, with one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sweeper
from sweeper.errors import ConfigError, NoStudyError
from tests.support.procs import REPO
from tests.support.quick_task import Quick


@pytest.mark.slow
def test_run_returns_the_report_and_load_reads_the_same(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # The workers import the task by its reference, as a user's would from their own package.
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    url = f"sqlite:///{tmp_path / 'api.db'}"
    report = sweeper.run(Quick, trials=4, workers=2, epochs=1, sampler="random", pruner="none", storage=url,
                         options={"epoch_sleep": 0.0}, out=tmp_path / "out")
    assert isinstance(report, sweeper.StudyReport) and report.study == "quick" and report.design == "search"
    assert report.counts["complete"] == 4 and report.headline.startswith("Best validation accuracy per type")
    assert report.verdicts == []  # a search ranks single runs: it claims nothing
    assert (tmp_path / "out" / "quick.html").is_file()
    err = capsys.readouterr().err
    assert "quick: 100%" in err and "4/4" in err  # the progress bar (text outside a notebook)
    loaded = sweeper.load("quick", storage=url)
    assert loaded.to_dict() == report.to_dict()
    assert json.loads(loaded.to_json()) == report.to_dict()
    # By the task reference it was launched from, as on the command line.
    assert sweeper.load("tests.support.quick_task:Quick", storage=url).study == "quick"
    trials = loaded.to_frame("trials")
    assert len(trials) == 4 and set(trials["state"]) == {"complete"}
    # Launched again with the same settings: joined, nothing more to run.
    again = sweeper.run(Quick, trials=4, workers=1, epochs=1, sampler="random", pruner="none", storage=url,
                        options={"epoch_sleep": 0.0})
    assert again.counts == report.counts


def test_a_task_class_the_workers_cannot_import_is_refused_saying_how_to_fix() -> None:
    class Mine(Quick):
        name = "mine"

    with pytest.raises(ConfigError, match=r"put it in a \.py file and pass its path, e\.g\. sweeper\.run\('my_task\.py'\)"):
        sweeper.run(Mine)


def test_bad_arguments_are_one_line_errors_before_anything_is_stored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    with pytest.raises(ConfigError, match="--rounds sets an adaptive design's race"):
        sweeper.run(Quick, design="curve", rounds=2, storage=url)
    with pytest.raises(ConfigError, match="--trials must be a positive number of trials, got 0"):
        sweeper.run(Quick, trials=0, storage=url)
    with pytest.raises(ConfigError, match="--workers must be at least 1"):
        sweeper.run(Quick, workers=0, storage=url)
    assert not (tmp_path / "bad.db").exists()


def test_load_of_an_unknown_study_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    with pytest.raises(NoStudyError) as raised:
        sweeper.load("nothing", storage=url)
    assert "\n" not in str(raised.value)
