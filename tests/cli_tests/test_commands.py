from __future__ import annotations

import json
import socket
from pathlib import Path

import optuna
import pytest

from sweeper.cli import main
from sweeper.settings import Settings
from sweeper.storage import open_storage


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("sweeper: error: ") and "\n" not in err, err
    assert "Traceback" not in err
    return err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_status_against_unreachable_database_is_one_line_naming_the_host(capsys: pytest.CaptureFixture[str]) -> None:
    port = _free_port()
    code = main(["status", "--storage", f"postgresql+psycopg2://u:p@127.0.0.1:{port}/db"])
    assert code != 0
    assert f"127.0.0.1:{port}" in _one_line_error(capsys)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["launch", "mnist"], "unknown task 'mnist'"),
        (["launch", "cifar10", "--trials", "0"], "--trials must be a positive"),
        (["launch", "cifar10", "--trials", "-2"], "--trials must be a positive"),
        (["launch", "cifar10", "--lambda-range", "1e-2", "1e-4"], "low >= high"),
        (["launch", "cifar10", "--lambda-range", "0", "1e-4"], "must be positive"),
        (["launch", "cifar10", "--dropout-range", "0", "1.2"], "dropout range"),
        (["launch", "cifar10", "--storage", "not a url"], "is not a database URL"),
        (["launch", "cifar10", "--option", "oops"], "is not KEY=VALUE"),
        (["launch", "cifar10", "--val-fraction", "1.5"], "--val-fraction must be between 0 and 1"),
        (["launch", "cifar10", "--points", "4"], "--points, --repeats and --margin shape a planned design: add --design curve or --design adaptive"),
        (["launch", "cifar10", "--rounds", "4"], "--rounds sets an adaptive design's race: add --design adaptive"),
        (["launch", "cifar10", "--design", "adaptive", "--repeats", "1"], "an adaptive design needs --points >= 2, --repeats >= 2"),
        (["launch", "cifar10", "--design", "curve", "--margin", "0"], "--margin must be a positive difference"),
        (["launch", "cifar10", "--design", "curve", "--points", "1"], "a curve design needs --points >= 2"),
        (["launch", "cifar10", "--evaluate-seeds", "1"], "--evaluate-seeds 1: use 0 (no evaluation) or at least 2"),
    ],
)
def test_bad_input_is_one_line_and_stores_nothing(argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = tmp_path / "sweeper.db"
    assert main(["launch", "cifar10", "--trials", "3"]) == 0  # something already stored
    capsys.readouterr()
    before = db.read_bytes()
    assert main(argv) != 0
    assert message in _one_line_error(capsys)
    assert db.read_bytes() == before


def test_launch_twice_is_idempotent_and_differences_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["launch", "cifar10", "--trials", "4", "--epochs", "2"]) == 0
    assert main(["launch", "cifar10", "--trials", "4", "--epochs", "2"]) == 0
    assert "already launched" in capsys.readouterr().out
    assert main(["launch", "cifar10", "--trials", "4", "--epochs", "3"]) == 2
    assert "epochs: stored 2, given 3" in _one_line_error(capsys)
    # A sweep can be grown (issue 27: --trials 14 on a 10-trial study was refused), never shrunk.
    assert main(["launch", "cifar10", "--trials", "6", "--epochs", "2"]) == 0
    assert "study cifar10: budget raised from 4 to 6 trials (task cifar10)" in capsys.readouterr().out
    assert main(["launch", "cifar10", "--trials", "5", "--epochs", "2"]) == 2
    assert "has a budget of 6 trials and a budget only grows: give --trials 6 or more" in _one_line_error(capsys)


def test_status_json_lists_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    main(["launch", "cifar10", "--trials", "3"])
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row == {
        "study": "cifar10", "task": "cifar10", "budget": 3, "complete": 0, "pruned": 0, "fail": 0,
        "running": 0, "waiting": 3, "best_value": None, "best_params": None, "best_trial": None, "kind": "search",
        "objective": "val_accuracy", "direction": "maximize", "cannot_run": {}, "race": None, "race_bound": None,
        "full_trials": 0.0,
        "given_up": 0,
    }


def test_status_of_an_adaptive_study_says_where_its_race_stands(capsys: pytest.CaptureFixture[str]) -> None:
    main(["launch", "cifar10", "--design", "adaptive", "--lambda-range", "1e-4", "1e-2"])
    out = capsys.readouterr().out
    # The bracket: the baseline, 3 decades for each of 3 penalties, 3 dropout rates.
    assert "study cifar10 created (task cifar10, budget 13 trials)" in out
    # Issue 27: the budget at launch is only the bracket; the announcement says how far it may grow.
    assert "study cifar10: the budget grows round by round as the race needs, to at most 182 trials in all (0 finished so far)" in out
    assert main(["status"]) == 0
    # At most: the 13 queued; screening 3 penalties x (3 new points x 2 seeds + up to 4 bracket
    # points x 1) + 3 dropout rates + the baseline = 34; 3 rounds x (4 finalists + baseline) x 9 = 135.
    assert ("cifar10: race: bracketing each penalty's λ range; 13 run(s) of this stage to finish; "
            "at most 182 more trials") in capsys.readouterr().out


def test_launching_a_race_again_takes_its_stored_shape_and_grows_it_by_more_rounds(capsys: pytest.CaptureFixture[str]) -> None:
    """A race launched with its own --repeats/--rounds (or under older defaults) is launched again
    without repeating them; --rounds N adds rounds; fewer rounds or other seeds per round are refused."""
    race = ["launch", "cifar10", "--design", "adaptive", "--lambda-range", "1e-4", "1e-2"]
    assert main([*race, "--repeats", "6", "--rounds", "3"]) == 0
    capsys.readouterr()
    assert main(race) == 0
    assert "study cifar10 already launched with these settings: (task cifar10, budget 13 trials)" in capsys.readouterr().out
    assert main([*race, "--rounds", "4"]) == 0
    assert "study cifar10: the race may now run 4 rounds (task cifar10, budget 13 trials so far)" in capsys.readouterr().out
    assert main([*race, "--rounds", "2"]) == 2
    assert "study 'cifar10' may already race 4 rounds: a race's rounds only grow" in capsys.readouterr().err
    assert main([*race, "--repeats", "9"]) == 2
    assert "repeats: stored 6, given 9" in capsys.readouterr().err


def test_launch_says_when_the_penalties_leave_no_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["launch", "cifar10", "--trials", "3", "--penalties", "l1", "l2"]) == 0
    assert "no unregularized baseline trial: --penalties leaves out none" in capsys.readouterr().out
    assert main(["launch", "imdb", "--trials", "3"]) == 0
    assert "baseline" not in capsys.readouterr().out


def test_report_on_a_study_without_finished_trials_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    main(["launch", "cifar10", "--trials", "3"])
    capsys.readouterr()
    assert main(["report", "cifar10", "--out", "out"]) != 0
    assert "has no ended trials yet" in _one_line_error(capsys)
    assert main(["report", "nosuch", "--out", "out"]) != 0
    assert "no study named 'nosuch'" in _one_line_error(capsys)


def test_tasks_lists_each_task_with_data_model_and_defaults_and_studies_is_its_old_name(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "--json"]) == 0
    listed = capsys.readouterr().out
    assert main(["studies", "--json"]) == 0
    assert capsys.readouterr().out == listed
    rows = {r["name"]: r for r in json.loads(listed)}
    assert set(rows) >= {"cifar10", "librispeech", "imdb"}
    assert "Conv32" in rows["cifar10"]["model"] and rows["cifar10"]["origin"] == "built-in"
    assert rows["cifar10"]["defaults"]["epochs"] == 20
    assert rows["imdb"]["options"]["vocab_size"]["default"] == 20000
    assert rows["imdb"]["objective"] == {"metric": "accuracy", "direction": "maximize", "label": None}


@pytest.mark.slow
def test_run_launches_trains_and_reports(cifar_mirror: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import sweeper.report.write as write

    collected = []  # the study's collections: one for the page, the notes and the verdicts
    real = write.collect_report
    monkeypatch.setattr(write, "collect_report", lambda *a, **k: collected.append(a[0].study_name) or real(*a, **k))
    code = main(["run", "cifar10", "--trials", "3", "--workers", "2", "--epochs", "1", "--batch-size", "32",
                 "--data-mirror", str(cifar_mirror), "--out", str(tmp_path / "report")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "3/3 finished" in out
    assert (tmp_path / "report" / "cifar10.html").stat().st_size > 100_000  # plotly.js embedded
    study = optuna.load_study(study_name="cifar10", storage=open_storage(Settings()))
    assert len(study.trials) == 3
    assert collected == ["cifar10"]


def test_a_study_is_named_by_its_task_file_too_and_typos_get_a_suggestion(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`sweeper evaluate diabetes.py` said "no study named 'diabetes.py' ... run `sweeper launch
    diabetes.py` first" where `run` and `check` take the file (issue #20, item 6)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_task.py").write_text(
        (Path(__file__).resolve().parents[1] / "support" / "sleep_task.py").read_text().replace('name = "sleep"', 'name = "mine"'))
    assert main(["launch", "my_task.py", "--trials", "2"]) == 0
    capsys.readouterr()
    assert main(["status", "my_task.py", "--json"]) == 0
    assert [row["study"] for row in json.loads(capsys.readouterr().out)] == ["mine"]
    assert main(["evaluate", "my_task.py", "--no-run"]) == 5
    assert "study 'mine' has no complete trials to evaluate yet" in _one_line_error(capsys)
    assert main(["report", "./my_task.py", "--out", "out"]) == 7
    assert "study 'mine' has no ended trials yet" in _one_line_error(capsys)
    assert main(["status", "mien"]) == 5
    assert "no study named 'mien'" in (err := _one_line_error(capsys)) and "did you mean 'mine'?" in err
    assert main(["check", "my_tsk.py"]) == 2
    assert "task file my_tsk.py not found: did you mean my_task.py?" in _one_line_error(capsys)
    assert main(["run", "cifr10"]) == 2
    assert "unknown task 'cifr10': did you mean cifar10?" in _one_line_error(capsys)


@pytest.mark.parametrize("argv", [["evaluate", "nosuchstudy"], ["evaluate", "nosuchstudy", "--no-run"], ["status"],
                                  ["status", "nosuch"], ["report", "nosuch", "--out", "r"], ["report", "--out", "r"]])
def test_a_read_only_command_in_an_empty_folder_creates_no_database(argv: list[str], tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 27: `sweeper evaluate nosuchstudy` left an empty sweeper.db (and its lock file) behind."""
    assert main(argv) == 5
    assert "no database at sweeper.db yet: run `sweeper launch TASK` first" in _one_line_error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == []


def test_evaluate_of_an_unknown_study_names_the_known_ones_and_adds_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["launch", "cifar10", "--trials", "3"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "nosuchstudy"]) == 5
    assert "no study named 'nosuchstudy'" in _one_line_error(capsys)
    storage = open_storage(Settings())
    assert [s.study_name for s in storage.get_all_studies()] == ["cifar10"]


def test_report_png_without_kaleido_is_one_line_naming_the_extra(monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "kaleido", None)  # what `import kaleido` meets when it is not installed
    assert main(["report", "cifar10", "--out", "r", "--png"]) == 7
    assert "--png needs the kaleido package, which is not installed: pip install 'sweeper[png]'" in _one_line_error(capsys)


def test_sweeper_debug_is_read_as_settings_read_it(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """SWEEPER_DEBUG=false is off, as for every boolean setting; =yes is on (a traceback)."""
    monkeypatch.setenv("SWEEPER_DEBUG", "false")
    assert main(["status", "nosuch"]) == 5
    _one_line_error(capsys)
    monkeypatch.setenv("SWEEPER_DEBUG", "yes")
    from sweeper.errors import NoStudyError

    with pytest.raises(NoStudyError):
        main(["status", "nosuch"])
