"""The evaluation statistics against numbers worked out by hand or published."""

from __future__ import annotations

import math

import pytest

from sweeper.stats.intervals import paired, mean_ci



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


def test_paired_differences_without_spread_give_no_interval() -> None:
    # The same +1.4 pp on both seeds (e.g. 14 more of 1,000 validation examples right on each):
    # no spread, so no interval, not a zero-width one that would claim certainty.
    same = paired({0: 0.514, 1: 0.614}, {0: 0.500, 1: 0.600})
    assert same is not None and same.diff == pytest.approx(0.014) and same.low is None and not same.significant
