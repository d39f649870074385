"""The examples, run as a user would: `sweeper run` on each file, and the plugin package installed
by pip and found through its entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from sweeper.cli import main
from sweeper.settings import Settings
from sweeper.storage import open_storage
from tests.support import procs

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.slow
@pytest.mark.parametrize(("example", "study"), [("digits.py", "digits"), ("digits_existing_model.py", "digits-existing")])
def test_run_an_example_file_to_its_report(example: str, study: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(EXAMPLES / example), "--trials", "5", "--workers", "2", "--epochs", "3",
                 "--sampler", "random", "--pruner", "none", "--out", str(tmp_path / "report")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "5/5 finished" in out
    trials = optuna.load_study(study_name=study, storage=open_storage(Settings())).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 5
    penalised = [t for t in trials if t.params["penalty"] != "none"]
    assert penalised and all(t.user_attrs["sparsity"] is not None for t in penalised)
    page = (tmp_path / "report" / f"{study}.html").read_text()
    assert "Validation accuracy vs λ" in page and 'id="fig-accuracy-vs-lambda"' in page


@pytest.mark.slow
def test_an_installed_package_registers_its_task_through_the_entry_point(tmp_path: Path) -> None:
    """pip installs examples/plugin (offline: no build isolation, no dependencies fetched); the
    `sweeper.tasks` entry point then lists it in `sweeper tasks` and runs it by name."""
    site = tmp_path / "site"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(site), str(EXAMPLES / "plugin")],
        capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stderr[-2000:]
    env = procs.sweeper_env(f"sqlite:///{tmp_path / 's.db'}")
    env["PYTHONPATH"] = str(site) + os.pathsep + env["PYTHONPATH"]
    listed = procs.run(["studies", "--json"], env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["digits-cnn"]["origin"] == "entry point of sweeper-digits-plugin"
    assert rows["digits-cnn"]["reference"] == "digits-cnn" and "CNN" in rows["digits-cnn"]["model"]
    run = procs.run(["run", "digits-cnn", "--trials", "2", "--workers", "1", "--epochs", "1", "--out", "report"],
                    env, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "2/2 finished" in run.stdout and (tmp_path / "report" / "digits-cnn.html").is_file()
