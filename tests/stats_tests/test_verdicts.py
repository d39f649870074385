"""The verdict arithmetic of sweeper/stats/verdicts.py, on cases worked out by hand."""

from __future__ import annotations

import math

import pytest
from scipy import stats as sps

from sweeper.stats.verdicts import Family, compare, diverged_score, stopping_epoch


def test_seeds_to_settle_uses_student_s_t_at_the_larger_sample() -> None:
    """IMDb-like: -0.5 pp over 18 seeds with a 2.3 pp spread. "No gain larger than +1 pp" needs a
    half-width under 1.5 pp; the normal approximation said 1 more seed would do, Student's t
    (df 18, 19, ...) needs several: the first count whose t half-width is below 1.5 pp."""
    base = {r: 0.60 for r in range(18)}
    values = {r: 0.60 - 0.005 + 0.023 * (1 if r % 2 else -1) for r in range(18)}
    level = Family(8, 3).level(3)
    c = compare(1e-3, values, base, level, 1)
    assert c is not None and c.outcome(0.01) == "open"
    more = c.seeds_to_settle(0.01)
    sd = c.sd
    half = lambda n: float(sps.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)  # noqa: E731
    assert half(18 + more) < 0.015 <= half(18 + more - 1)
    assert more > 1


def test_no_spread_gives_no_estimate_of_seeds_to_come() -> None:
    c = compare(1e-3, {r: 0.1 for r in range(6)}, {r: 0.1 for r in range(6)}, 0.99, 1)
    assert c is not None and c.gain.low is None and c.seeds_to_settle(0.01) is None


def test_a_point_near_a_break_says_no_gain_where_its_interval_would_say_no_difference() -> None:
    base = {r: 0.60 + 0.001 * r for r in range(12)}
    values = {r: v + 0.001 * (1 if r % 2 else -1) for r, v in base.items()}
    clear = compare(1e-4, values, base, 0.99, 1)
    near = compare(1e-4, values, base, 0.99, 1, clear_of_break=False)
    assert clear.outcome(0.01) == "no difference" and near.outcome(0.01) == "no gain"
    assert (near.gain.low, near.gain.high) == (clear.gain.low, clear.gain.high)


def test_a_diverged_run_scores_the_metric_s_worst() -> None:
    assert diverged_score(True, "maximize", 0.4) == 0.0
    assert diverged_score(False, "minimize", 18486.0) == 18486.0
    assert diverged_score(False, "minimize", None) is None


def test_the_stopping_epoch_is_where_the_mean_curve_peaks_earliest_on_ties() -> None:
    assert stopping_epoch([[0.5, 0.7, 0.6], [0.5, 0.6, 0.7]], 1) == 1  # means 0.5, 0.65, 0.65
    assert stopping_epoch([[3.0, 2.0, 2.5]], -1) == 1  # a minimized loss
    assert stopping_epoch([[0.5, 0.9], [0.6]], 1) == 1  # a shorter run holds its last value
    assert stopping_epoch([], 1) is None


@pytest.mark.parametrize("looks", [1, 3, 5])
def test_a_family_s_alpha_adds_up_over_its_planned_looks(looks: int) -> None:
    f = Family(4, looks)
    assert sum(f.alpha_at(k) for k in range(1, looks + 1)) == pytest.approx(0.05)
    assert f.level(looks) == pytest.approx(1 - f.alpha_at(looks) / 4)
    open_ended = Family(4, None)
    assert sum(open_ended.alpha_at(k) for k in range(1, 10_000)) == pytest.approx(0.05, rel=1e-3)
