"""The collector and the per-figure series, on a study of known trials in every state."""

from __future__ import annotations

import pytest
from optuna.trial import TrialState

from sweeper.report.collect import collect_report
from sweeper.report.series import binned_median, lambda_scatter
from sweeper.report.series import (
    best_table,
    gap_vs_lambda,
    lambda_dropout_map,
    learning_curves,
    optimization_history,
    sparsity_vs_lambda,
    unfinished,
)
from tests.report_tests.known import KNOWN, known_study, params


@pytest.fixture
def data():  # type: ignore[no-untyped-def]
    study = known_study()
    study.enqueue_trial(params("l2", 1e-3))  # queued, not taken: not a point yet
    return collect_report(study)


def test_every_trial_keeps_its_state_and_queued_ones_are_left_out(data) -> None:  # type: ignore[no-untyped-def]
    assert [p.number for p in data.points] == list(range(len(KNOWN)))
    assert data.counts() == {"complete": 8, "pruned": 2, "fail": 1, "running": 1, "waiting": 0}
    assert [p.number for p in data.finished] == list(range(10))
    pruned = {p.number: p for p in data.by_state("pruned")}
    # A pruned trial's value is its last reported epoch, and its reason comes along.
    assert pruned[8].value == 0.25 and pruned[8].reason.startswith("pruned by the median")
    assert pruned[9].value == 0.1 and pruned[9].reason.startswith("diverged")
    failed = data.by_state("fail")[0]
    assert failed.value is None and failed.reason == "ResourceExhaustedError: OOM"


def test_groups_and_the_best_trial_of_each(data) -> None:  # type: ignore[no-untyped-def]
    assert [p.group for p in data.points[:8]] == ["baseline", "baseline", "dropout", "l1", "l1", "l2", "l2", "l1_l2"]
    best = data.best_per_group()
    assert {g: p.number for g, p in best.items()} == {"baseline": 1, "dropout": 2, "l1": 4, "l2": 5, "l1_l2": 7}
    assert list(best) == ["baseline", "dropout", "l1", "l2", "l1_l2"]
    assert data.baseline_values() == [0.60, 0.62]
    assert best["l2"].params == {"penalty": "l2", "lambda": 3e-4, "dropout": 0.2}
    assert best["baseline"].lam is None  # no lambda without a penalty


def test_best_table_has_trial_numbers_and_group_sizes(data) -> None:  # type: ignore[no-untyped-def]
    rows = {r.group: r for r in best_table(data)}
    assert rows["l2"].number == 5 and rows["l2"].value == 0.70 and rows["l2"].lam == 3e-4
    assert rows["l1_l2"].l1_ratio == 0.4 and rows["l1"].l1_ratio is None
    assert {g: r.complete for g, r in rows.items()} == {"baseline": 2, "dropout": 1, "l1": 2, "l2": 2, "l1_l2": 1}


def test_lambda_dropout_map_keeps_pruned_apart(data) -> None:  # type: ignore[no-untyped-def]
    maps = lambda_dropout_map(data)
    assert set(maps) == {"l1", "l2", "l1_l2"}
    l2 = {t.state: t for t in maps["l2"]}
    assert l2["complete"].numbers == [5, 6] and l2["complete"].y == [0.2, 0.0] and l2["complete"].values == [0.70, 0.55]
    assert l2["pruned"].numbers == [8] and l2["pruned"].values == [0.25]
    assert [t.state for t in maps["l1_l2"]] == ["complete"]  # the failed l1_l2 trial has no value


def test_gap_and_sparsity_use_finished_models_only_and_say_what_is_left_out(data) -> None:  # type: ignore[no-untyped-def]
    gap = gap_vs_lambda(data)
    by_key = {t.key: t for t in gap.traces}
    assert by_key["l2"].numbers == [5, 6]
    assert by_key["l2"].y == pytest.approx([0.02, 0.01])
    assert gap.reference is not None and gap.reference.values == pytest.approx([0.20, 0.22])
    assert gap.not_shown == {"pruned": 2, "fail": 1, "running": 1}
    sparsity = {t.key: t for t in sparsity_vs_lambda(data).traces}
    assert sparsity["l1"].y == [0.30, 0.80] and sparsity["l2"].y == [0.02, 0.03]


def test_learning_curves_are_the_best_of_each_group(data) -> None:  # type: ignore[no-untyped-def]
    curves = learning_curves(data)
    assert [(c.group, c.number) for c in curves] == [("baseline", 1), ("dropout", 2), ("l1", 4), ("l2", 5), ("l1_l2", 7)]
    assert curves[3].val_value[-1] == pytest.approx(0.70) and len(curves[3].val_loss) == 4


def test_optimization_history_marks_pruned_and_failed(data) -> None:  # type: ignore[no-untyped-def]
    hist = optimization_history(data)
    # #9 diverged: its epoch-1 value is no result to draw (it would set the scale), it is listed.
    assert [p.number for p in hist.points] == list(range(9))
    assert hist.failed == [10]
    assert [b for _, b in hist.best_so_far] == [0.60, 0.62, 0.64, 0.64, 0.65, 0.70, 0.70, 0.70, 0.70]
    assert [p.number for p in unfinished(data)] == [9, 10, 11]


def test_importances_need_enough_complete_trials() -> None:
    few = collect_report(known_study(rows=KNOWN[:3]))
    assert few.importances is None and "at least 5 complete trials" in few.importance_note
    data = collect_report(known_study())
    assert data.importances is not None
    assert set(data.importances) <= {"penalty", "lambda", "l1_ratio", "dropout"}
    assert sum(data.importances.values()) == pytest.approx(1.0)
    assert "8 complete trials" in data.importance_note


def test_a_study_with_only_unfinished_trials_has_nothing_finished() -> None:
    data = collect_report(known_study(rows=[r for r in KNOWN if r[0] in (TrialState.FAIL, TrialState.RUNNING)]))
    assert data.finished == [] and data.best_per_group() == {}
    assert learning_curves(data) == [] and optimization_history(data).points == []


def test_binned_median_per_decade() -> None:
    rows = [(TrialState.COMPLETE, params("l2", lam), v, {}) for lam, v in [(1e-5, 0.5), (2e-5, 0.7), (3e-3, 0.4)]]
    trend = binned_median([p for p in collect_report(known_study(rows=rows)).points])
    assert [round(v, 3) for _, v in trend] == [0.6, 0.4]
    assert trend[0][0] == pytest.approx((1e-5 * 2e-5) ** 0.5)


def test_the_headline_of_a_search_study_is_collected_before_it_is_drawn(data) -> None:  # type: ignore[no-untyped-def]
    scatter = lambda_scatter(data)
    # Known study: L1 #3 (1e-5) and #4 (1e-3) complete, #9 (1e-1) diverged (not drawn); L2 #5, #6
    # complete, #8 pruned.
    assert {p: {s: [t.number for t in pts] for s, pts in states.items()} for p, states in scatter.points.items()} == {
        "l1": {"complete": [3, 4]}, "l2": {"complete": [5, 6], "pruned": [8]},
        "l1_l2": {"complete": [7]}}
    assert scatter.trends["l2"] == [(pytest.approx(3e-4), 0.70), (pytest.approx(1e-2), 0.55)]
    assert (scatter.baseline.median, scatter.baseline.low, scatter.baseline.high, scatter.baseline.n) == (
        pytest.approx(0.61), 0.60, 0.62, 2)
    assert (scatter.dropout_only.median, scatter.dropout_only.n) == (0.64, 1)
    assert scatter.lambda_range == (1e-5, 1e-1)
