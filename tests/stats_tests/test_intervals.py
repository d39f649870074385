"""The evaluation statistics against numbers worked out by hand or published."""

from __future__ import annotations

import math
import statistics

import pytest

from sweeper.stats.intervals import paired, mean_ci, welch

# Welch's t-test, example 1 of the Wikipedia article: t = -2.46, df = 24.99, p = 0.021.
A1 = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4]
A2 = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4]


def test_t_interval_of_one_to_five() -> None:
    ci = mean_ci([1, 2, 3, 4, 5])
    # mean 3, s = sqrt(2.5), t(0.975, 4) = 2.776445: half width 2.776445 * 1.581139 / sqrt(5) = 1.963243
    assert (ci.n, ci.mean) == (5, 3.0)
    assert ci.std == pytest.approx(math.sqrt(2.5))
    assert (ci.low, ci.high) == pytest.approx((3 - 1.963243, 3 + 1.963243), abs=1e-6)


def test_one_value_has_no_interval() -> None:
    ci = mean_ci([0.7])
    assert ci.mean == 0.7 and ci.low is None and ci.high is None
    with pytest.raises(ValueError):
        mean_ci([])


def test_welch_matches_the_published_example() -> None:
    d = welch(A1, A2)
    assert d.diff == pytest.approx(20.82 - 22.99, abs=0.01)
    assert d.t == pytest.approx(-2.46, abs=0.005)
    assert d.df == pytest.approx(24.99, abs=0.01)
    assert d.p_value == pytest.approx(0.021, abs=0.0005)
    # The interval excludes 0 exactly when p < 0.05, and is centred on the difference with half
    # width t(0.975, 24.99) * se: t(0.975, 25) = 2.0595 from the tables, se from the samples.
    assert d.significant and d.high < 0
    assert (d.low + d.high) / 2 == pytest.approx(d.diff)
    se = math.sqrt(statistics.variance(A1) / len(A1) + statistics.variance(A2) / len(A2))
    assert (d.high - d.low) / 2 == pytest.approx(2.0595 * se, rel=1e-3)


def test_welch_without_spread_or_with_one_run() -> None:
    # No spread in either group (deterministic runs, or a coarse metric): nothing bounds the
    # difference, so there is no interval and no claim.
    same = welch([0.5, 0.5, 0.5], [0.4, 0.4])
    assert same.diff == pytest.approx(0.1) and same.low is None and same.p_value is None and not same.significant
    one = welch([0.5], [0.4, 0.45])
    assert one.low is None and one.p_value is None and not one.significant
    noise = welch([0.60, 0.62, 0.61], [0.61, 0.60, 0.62])
    assert not noise.significant and noise.p_value == pytest.approx(1.0)


def test_paired_differences_without_spread_give_no_interval() -> None:
    # The same +1.4 pp on both seeds (e.g. 14 more of 1,000 validation examples right on each):
    # no spread, so no interval, not a zero-width one that would claim certainty.
    same = paired({0: 0.514, 1: 0.614}, {0: 0.500, 1: 0.600})
    assert same is not None and same.diff == pytest.approx(0.014) and same.low is None and not same.significant
