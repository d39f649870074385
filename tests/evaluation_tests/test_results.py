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
    # By hand, paired by seed: differences 0.030, 0.030, 0.015, 0.023, 0.027 have mean 0.025 and
    # sd 0.0062849 (variance 158e-6 / 4), se 0.0028107 over df = 4; t = 8.89, p = 0.00088. Two
    # types are compared (L1, L2), at the first look at the test split, which spends
    # 6 * 5% / pi^2 = 3.04% of the 5%: each interval at 1 - 0.0304/2 = 98.48%, t(0.9924, 4) =
    # 4.072, and the interval is 0.025 -+ 0.011445: +1.4 to +3.6 pp.
    assert l2.vs_baseline.df == 4 and l2.vs_baseline.p_value == pytest.approx(0.00088, abs=1e-5)
    assert (l2.vs_baseline.low, l2.vs_baseline.high) == pytest.approx((0.013555, 0.036445), abs=2e-6)
    assert ev.compared == 2 and ev.pair_level == pytest.approx(0.98480, abs=1e-5)
    assert re.fullmatch(
        r"L2 \(λ ≈ 3e-4, dropout 0\.2\) beats the unregularized baseline by \+2\.5 pp test accuracy "
        r"\(95% simultaneous CI \+1\.4 to \+3\.6, 5 vs 5 seeds\)", ev.verdict()), ev.verdict()


def test_an_unadjusted_welch_winner_is_not_a_winner_after_pairing_and_correction() -> None:
    # Three types against the baseline, 3 seeds each. L1's seeds sit 2.0, 2.5 and 1.5 pp above
    # the baseline's (se 0.2887 pp): its own paired 95% interval (t(0.975, 2) = 4.303: +0.8 to
    # +3.2 pp) clears zero, but not the 98.99% interval that three comparisons at the first look
    # need (1 - 0.0304/3; t(0.99493, 2) = 9.859: -0.8 to +4.8).
    ev, _ = _evaluation({
        ("baseline", 0): [0.600, 0.610, 0.620],
        ("l1", 4): [0.620, 0.635, 0.635],
        ("l2", 5): [0.600, 0.605, 0.625],
        ("dropout", 2): [0.590, 0.615, 0.615],
    })
    from sweeper.stats.intervals import paired

    l1 = next(g for g in ev.groups if g.group == "l1")
    alone = paired({0: 0.620, 1: 0.635, 2: 0.635}, {0: 0.600, 1: 0.610, 2: 0.620}, 0.95)
    assert alone is not None and alone.significant  # the unadjusted rule would say "beats"
    assert not l1.vs_baseline.significant
    assert (l1.vs_baseline.low, l1.vs_baseline.high) == pytest.approx((-0.00846, 0.04846), abs=1e-4)
    assert ev.verdict().startswith("no penalty type beats the unregularized baseline beyond noise")


def test_noise_only_says_so_and_names_the_closest() -> None:
    ev, _ = _evaluation({
        ("baseline", 0): [0.60, 0.62, 0.61],
        ("dropout", 2): [0.59, 0.64, 0.62],
        ("l1_l2", 7): [0.58, 0.61, 0.59],
    })
    text = ev.verdict()
    # Paired by seed: dropout's differences -0.01, +0.02, +0.01 have mean +0.67 pp, sd 0.015275,
    # se 0.0088192; two types compared at the first look, t(0.9924, 2) = 8.019: +0.7 -+ 7.1 pp.
    assert text.startswith("no penalty type beats the unregularized baseline beyond noise (closest: dropout only "
                           "(dropout 0.3), +0.7 pp, 95% simultaneous CI -6.4 to +7.7)")
    assert "is worse" not in text
    ev, _ = _evaluation({("baseline", 0): [0.60, 0.62, 0.61], ("l1_l2", 7): [0.50, 0.51, 0.52]})
    # One type compared: differences -0.10, -0.11, -0.09, se 0.005774; at the first look
    # 1 - 0.0304 = 96.96%, t(0.9848, 2) = 5.604: -10.0 -+ 3.2 pp.
    assert ev.verdict() == ("no penalty type beats the unregularized baseline beyond noise; "
                            "L1+L2 is worse by -10.0 pp (95% CI -13.2 to -6.8)")


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
    # Read while a planned run is pending: no verdict (it would be a look the 95% does not
    # count), though the finished L2 row alone would already print one.
    assert ev.pending == 1
    assert ev.verdict() == ("1 evaluation run still pending: the test split's verdict is read once all have "
                            "finished (a reading before would be a look its 95% does not count)")
    # Its family counts the planned configurations, results or not: L2's two rows.
    assert ev.compared == 2


def test_a_minimized_error_is_named_with_its_sign() -> None:
    from sweeper.evaluation.results import Run, summarize
    from sweeper.tasks.api import Objective

    rows = {"baseline": ([50.0, 52.0, 51.0, 49.5], params("none")),
            "l2": ([48.0, 49.8, 49.1, 47.9], params("l2", 1e-3)),
            "l1": ([52.5, 54.0, 53.5, 51.5], params("l1", 1e-4))}
    runs = [Run(10 * i + s, "complete", g, None, s, p, v)
            for i, (g, (values, p)) in enumerate(rows.items()) for s, v in enumerate(values)]
    text = summarize("diabetes", runs, Objective("mae", "minimize")).verdict()
    # L2 lowers the error on every seed by 2.0, 2.2, 1.9, 1.6: -1.925 on average.
    assert text.startswith("L2 (λ ≈ 1e-3, dropout 0) beats the unregularized baseline: test mae -1.93 "
                           "(lower is better; 95% simultaneous CI -2.55 to -1.3, 4 vs 4 seeds)"), text
    # Without a winner the losers are named, with the sign of the error: L1 adds 2.5, 2.0, 2.5, 2.0.
    text = summarize("diabetes", [r for r in runs if r.group != "l2"], Objective("mae", "minimize")).verdict()
    assert text.startswith("no penalty type beats the unregularized baseline beyond noise; "
                           "L1 is worse: test mae +2.25 (95% CI"), text


def test_a_diverged_test_run_is_in_its_pair_on_either_side_at_the_metric_s_worst() -> None:
    """The estimand is the mean change with every run in it: a baseline seed that diverged is
    scored 0 (accuracy's worst), not dropped, so a type is not flattered by losing the baseline's
    bad seeds; the same rule holds for the type's own seeds."""
    from sweeper.evaluation.results import Run, summarize

    base = [0.80, 0.81, 0.79, 0.80]
    l2 = [0.81, 0.82, 0.80, 0.81]
    runs = [Run(s, "complete", "baseline", None, s, GROUP_PARAMS["baseline"], v) for s, v in enumerate(base)]
    runs += [Run(10 + s, "complete", "l2", None, s, GROUP_PARAMS["l2"], v) for s, v in enumerate(l2)]
    clean = summarize("x", runs).groups[1].vs_baseline
    assert clean is not None and clean.diff == pytest.approx(0.01)
    runs[3] = Run(3, "pruned", "baseline", None, 3, GROUP_PARAMS["baseline"], None, "diverged: nan")
    d = summarize("x", runs).groups[1].vs_baseline
    assert d is not None and d.diff == pytest.approx((0.01 * 3 + 0.81) / 4)
