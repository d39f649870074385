"""Response curves of a curve study: bands equal to the t-intervals of the stored repeats, worked
out by hand, and verdicts on a constructed case where one penalty helps and another hurts."""

from __future__ import annotations

import math

import pytest

from sweeper.report import collect_report
from sweeper.report.curves import response_curves
from tests.report_tests.known import CURVE_BASELINE, CURVE_OFFSETS, curve_study

T_975_DF2 = 4.302652729749464  # Student's t quantile for 95% and 2 degrees of freedom (tables)


def _hand_interval(values: list[float]) -> tuple[float, float, float]:
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = T_975_DF2 * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def test_each_band_is_the_t_interval_of_its_stored_repeats() -> None:
    curves = response_curves(collect_report(curve_study()))
    assert set(curves.penalties) == {"l1", "l2"} and [p.x for p in curves.dropout] == [0.2, 0.4]
    for (group, x), offsets in CURVE_OFFSETS.items():
        points = curves.dropout if group == "dropout" else curves.penalties[group]
        (point,) = [p for p in points if p.x == pytest.approx(x)]
        stored = [round(b + o, 6) for b, o in zip(CURVE_BASELINE, offsets)]
        mean, low, high = _hand_interval(stored)
        assert (point.value.n, point.value.mean, point.value.low, point.value.high) == pytest.approx((3, mean, low, high))
        d_mean, d_low, d_high = _hand_interval(offsets)
        assert (point.vs_baseline.diff, point.vs_baseline.low, point.vs_baseline.high) == pytest.approx((d_mean, d_low, d_high), abs=1e-9)
    base = curves.baseline
    assert (base.value.mean, base.value.low, base.value.high) == pytest.approx(_hand_interval(CURVE_BASELINE))


def test_verdicts_name_where_a_penalty_helps_and_where_one_hurts() -> None:
    verdicts = response_curves(collect_report(curve_study())).verdicts
    assert verdicts["l2"] == "L2 helps for λ in [1e-4, 1e-3] (best +4.0 pp at λ ≈ 1e-3, 95% CI +1.5 to +6.5)"
    assert verdicts["l1"] == ("L1: no λ helps beyond noise (closest: +0.0 pp at λ ≈ 1e-4, 95% CI -2.5 to +2.5); "
                              "it hurts at λ ≥ 1e-3 (-11.0 pp at λ ≈ 1e-2)")
    assert verdicts["dropout"] == ("Dropout only: no rate helps beyond noise "
                                   "(closest: +1.0 pp at rate ≈ 0.2, 95% CI -1.5 to +3.5)")


def test_a_penalty_no_better_than_stopping_early_is_told_so() -> None:
    curves = response_curves(collect_report(curve_study(best_epoch_bonus=0.05)))
    assert curves.early_stopping_gain == pytest.approx(0.05)
    assert curves.verdicts["l2"].endswith("; stopping the unregularized model at its best epoch gives +5.0 pp "
                                          "without any penalty")
    # Without a better epoch than the last there is nothing to compare with.
    assert "stopping" not in response_curves(collect_report(curve_study())).verdicts["l2"]
