from __future__ import annotations

import pytest

from sweeper.cli.progress import format_progress
from sweeper.study.status import StudyStatus


def _status(kind: str, finished: int = 3, best: float | None = 0.61, objective: str = "val_accuracy") -> StudyStatus:
    return StudyStatus(study="cifar10", task="cifar10", budget=12, complete=max(0, finished - 1), pruned=min(1, finished), fail=0,
                       running=2, waiting=0, best_value=best, best_params=None, best_trial=None, kind=kind,
                       objective="test_" + objective[4:] if kind == "evaluate" else objective)


@pytest.mark.parametrize(("kind", "label"), [("search", "best val_accuracy 0.6100"),
                                             ("evaluate", "best single-run test_accuracy 0.6100")])
def test_progress_names_the_metric_the_study_optimizes(kind: str, label: str) -> None:
    line = format_progress(_status(kind), elapsed=90)
    assert line.startswith("[cifar10] 3/12 finished | 2 running | 1 pruned | 0 failed | ")
    assert label in line
    assert line.endswith("elapsed 1:30 | 4:30 left")  # 30 s per finished trial, 9 to go


def test_progress_before_any_trial_finishes() -> None:
    line = format_progress(_status("search", finished=0, best=None), elapsed=5)
    assert "best val_accuracy -" in line and line.endswith("estimating")


def test_progress_names_a_task_s_own_objective() -> None:
    line = format_progress(_status("search", objective="val_auc"), elapsed=90)
    assert "best val_auc 0.6100" in line


def test_an_adaptive_study_s_progress_states_the_race_s_upper_bound() -> None:
    """Issue 27: an adaptive run announced "budget 22 trials" and "1:05 left", then grew to 122
    trials and 10 minutes."""
    import dataclasses

    status = dataclasses.replace(_status("search"), budget=22, race_bound=122,
                                 race="bracketing each penalty's λ range; 19 run(s) of this stage to finish; at most 119 more trials")
    line = format_progress(status, elapsed=90)
    assert line.startswith("[cifar10] 3/22 finished (budget grows round by round, to at most 122) | ")
    # 30 s per finished trial: 19 to go in this stage, at most 119 in all.
    assert "| 9:30 left in this stage, at most 59:30 in all | bracketing each penalty's λ range" in line
