"""``sweeper evaluate`` end to end on the tiny CIFAR-10 archive: a real sweep, then real evaluation
workers (spawned by the CLI) training on train + validation and scoring the test split, a resume
that does nothing, and the report picking the numbers up."""

from __future__ import annotations

import re
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from sweeper.cli import main
from sweeper.settings import Settings
from sweeper.storage import open_storage
from sweeper.worker.loop import Worker
from tests.support.archives import make_cifar10


def _count_of(score: float, images: int) -> bool:
    return abs(score * images - round(score * images)) < 1e-4

# 7 test images per class: a score on the test split is k/70, one on validation (40 images) k/40.
TEST_PER_CLASS, TEST_IMAGES, VAL_IMAGES = 7, 70, 40


@pytest.mark.slow
def test_evaluate_retrains_on_test_split_resumes_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cifar_mirror = tmp_path / "mirror"
    make_cifar10(cifar_mirror, per_class_test=TEST_PER_CLASS)
    db = f"sqlite:///{tmp_path / 'sweeper.db'}"
    flags = ["--storage", db, "--data-mirror", str(cifar_mirror)]
    assert main(["launch", "cifar10", "--trials", "3", "--epochs", "2", "--train-size", "100",
                 "--sampler", "random", "--pruner", "none", "--batch-size", "32", *flags]) == 0
    settings = Settings.resolve({"storage": db, "data_mirror": str(cifar_mirror)})
    assert Worker(settings, ["cifar10"], sampler_seed=3, log=lambda _: None).run() == 0
    sweep = optuna.load_study(study_name="cifar10", storage=open_storage(settings))
    groups = {("baseline" if t.params["penalty"] == "none" and t.params.get("dropout", 0) == 0 else
               "dropout" if t.params["penalty"] == "none" else t.params["penalty"])
              for t in sweep.get_trials(states=(TrialState.COMPLETE,))}
    capsys.readouterr()

    assert main(["evaluate", "cifar10", "--seeds", "2", "--workers", "1", *flags]) == 0
    out = capsys.readouterr().out
    assert "evaluation study cifar10.eval created" in out
    runs = optuna.load_study(study_name="cifar10.eval", storage=open_storage(settings)).get_trials()
    assert len(runs) == 2 * len(groups | {"baseline"})
    scores = []
    for run in runs:
        assert run.state == TrialState.COMPLETE
        assert run.user_attrs["seed"] == run.user_attrs["eval_seed"] in (0, 1)
        assert run.value == run.user_attrs["val_accuracy"] == run.user_attrs["history"]["val_accuracy"][-1]
        assert run.user_attrs["epochs_run"] == 2
        scores += run.user_attrs["history"]["val_accuracy"]
    # Every score is a count of the 70 test images; at least one is no count of the 40
    # validation images (a multiple of 1/10 would fit both), so the runs scored the test split.
    assert all(_count_of(v, TEST_IMAGES) for v in scores), scores
    assert any(not _count_of(v, VAL_IMAGES) for v in scores), scores
    assert {r.user_attrs["penalty_group"] for r in runs} == groups | {"baseline"}
    # The verdict, whatever it says about these tiny runs: one of its two well-formed sentences.
    last_line = out.strip().splitlines()[-1]
    assert re.fullmatch(r".+ beats the unregularized baseline by [+-]\d+\.\d pp test accuracy \(95% CI .+\)"
                        r"|no penalty type beats the unregularized baseline beyond noise.*", last_line), last_line

    # A second evaluate finds every seed done: nothing enqueued, no worker started.
    assert main(["evaluate", "cifar10", "--seeds", "2", *flags]) == 0
    assert "resumed: 0 runs enqueued" in capsys.readouterr().out
    assert len(optuna.load_study(study_name="cifar10.eval", storage=open_storage(settings)).get_trials()) == len(runs)

    assert main(["report", "cifar10", "--out", str(tmp_path / "reports"), *flags]) == 0
    page = (tmp_path / "reports" / "cifar10.html").read_text()
    assert "mean test acc" in page and "not evaluated yet" not in page
    assert main(["status", "--storage", db]) == 0
    assert "cifar10.eval" in capsys.readouterr().out
