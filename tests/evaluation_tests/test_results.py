"""Evaluation summaries and the one-sentence verdict, from evaluation studies of known runs."""

from __future__ import annotations

import re

import optuna
import pytest
from optuna.trial import TrialState

from sweeper.evaluation.results import collect_evaluation, verdict
from tests.report_tests.known import eval_study, params

GROUP_PARAMS = {
    "baseline": params("none"),
    "dropout": params("none", dropout=0.3),
    "l1": params("l1", 1e-3),
    "l2": params("l2", 3e-4, 0.2),
    "l1_l2": params("l1_l2", 1e-4, 0.1, 0.4),
}


def _evaluation(values):  # type: ignore[no-untyped-def]
    storage = optuna.storages.InMemoryStorage()
    return collect_evaluation(eval_study("cifar10", storage, values, GROUP_PARAMS)), storage


def test_a_clear_winner_is_named_with_its_interval_and_test() -> None:
    ev, _ = _evaluation({
        ("baseline", 0): [0.600, 0.610, 0.620, 0.605, 0.615],
        ("l2", 5): [0.630, 0.640, 0.635, 0.628, 0.642],
        ("l1", 4): [0.605, 0.612, 0.618, 0.600, 0.620],
    })
    assert [g.group for g in ev.groups] == ["baseline", "l1", "l2"]
    l2 = ev.groups[2]
    assert l2.summary.mean == 0.635 and l2.summary.n == 5
    assert l2.vs_baseline.diff == 0.635 - 0.61
    assert l2.vs_baseline.significant and l2.vs_baseline.p_value < 0.01
    assert not ev.groups[1].vs_baseline.significant
    # By hand: variances 37e-6 and 62.5e-6 over 5 runs each give se = 0.0044609 and Welch's
    # df = 7.507; t(0.975, 7.5) = 2.335 between the table's 2.365 (7) and 2.306 (8), so the
    # interval is 0.025 -+ 0.0104: +1.5 to +3.5 pp; t = 0.025 / se = 5.60, p < 0.001.
    assert l2.vs_baseline.df == pytest.approx(7.507, abs=1e-3)
    assert (l2.vs_baseline.low, l2.vs_baseline.high) == pytest.approx((0.0146, 0.0354), abs=2e-4)
    assert re.fullmatch(
        r"L2 \(λ ≈ 3e-4, dropout 0\.2\) beats the unregularized baseline by \+2\.5 pp test accuracy "
        r"\(95% CI \+1\.5 to \+3\.5, Welch's t-test p = 0\.000\d+, 5 vs 5 seeds\)", ev.verdict()), ev.verdict()


def test_noise_only_says_so_and_names_the_closest() -> None:
    ev, _ = _evaluation({
        ("baseline", 0): [0.60, 0.62, 0.61],
        ("dropout", 2): [0.59, 0.64, 0.62],
        ("l1_l2", 7): [0.58, 0.60, 0.59],
    })
    text = ev.verdict()
    # dropout 0.3 vs baseline: means 0.6167 and 0.61, variances 6.333e-4 and 1e-4 over 3 runs:
    # se = 0.01563, df = 2.62, t(0.975, 2.62) = 3.46 (tables: 4.30 at 2, 3.18 at 3): +0.7 -+ 5.4 pp.
    assert text.startswith("no penalty type beats the unregularized baseline beyond noise (closest: dropout only "
                           "(dropout 0.3), +0.7 pp, 95% CI -4.7 to +6.1)")
    assert "is worse" not in text
    ev, _ = _evaluation({("baseline", 0): [0.60, 0.62, 0.61], ("l1_l2", 7): [0.50, 0.51, 0.52]})
    assert ev.verdict() == ("no penalty type beats the unregularized baseline beyond noise; "
                            "L1+L2 is worse by -10.0 pp (95% CI -12.3 to -7.7)")


def test_not_evaluated_and_too_few_seeds() -> None:
    assert verdict(None, "cifar10") == "not evaluated yet: run `sweeper evaluate cifar10`"
    ev, _ = _evaluation({("baseline", 0): [0.6], ("l2", 5): [0.7]})
    assert ev.verdict().startswith("too few evaluation runs for a confidence interval")


def test_pending_runs_are_counted_and_a_changed_best_keeps_its_own_row() -> None:
    ev, storage = _evaluation({
        ("baseline", 0): [0.60, 0.61],
        ("l2", 5): [0.70, 0.71],
    })
    study = optuna.load_study(study_name="cifar10.eval", storage=storage)
    # A later `sweeper evaluate` found another best L2 trial (#9): queued, and one run failed.
    newer = params("l2", 1e-2, 0.0)
    attrs = {"role": "evaluation", "source_trial": 9, "penalty_group": "l2"}
    study.enqueue_trial(newer, user_attrs={**attrs, "eval_seed": 0})
    study.add_trial(optuna.trial.create_trial(
        state=TrialState.FAIL, params=newer, distributions={k: optuna.distributions.FloatDistribution(0, 1) if k != "penalty"
                                                              else optuna.distributions.CategoricalDistribution(["none", "l1", "l2", "l1_l2"]) for k in newer},
        user_attrs={**attrs, "eval_seed": 1, "fail_reason": "OOM"}))
    ev = collect_evaluation(study)
    l2_rows = [g for g in ev.groups if g.group == "l2"]
    assert [(g.source_trial, len(g.values), g.pending, g.other) for g in l2_rows] == [(5, 2, 0, 0), (9, 0, 1, 1)]
    assert ev.pending == 1 and ev.verdict().endswith("(1 evaluation run still pending)")
