"""The verdict arithmetic of sweeper/stats/verdicts.py, on cases worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from sweeper.stats.intervals import Difference
from sweeper.stats.verdicts import Comparison, Family, compare, decidable, diverged_score, stopping_epoch


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


# Family: how a study's α is shared among its comparisons and looks.


def test_a_family_s_planned_looks_spend_alpha_in_proportion_to_the_look() -> None:
    f = Family(1, 3)  # α_k = k / 6 of α: the first look, with a third of the seeds, spends least
    assert [f.alpha_at(k) for k in (1, 2, 3)] == pytest.approx([0.05 / 6, 0.05 * 2 / 6, 0.05 * 3 / 6])
    # Each later look has more α, so a narrower interval for the same data.
    assert f.level(1) > f.level(2) > f.level(3)
    assert Family(1, 1).level(1) == pytest.approx(0.95)


def test_a_family_shares_alpha_among_its_hypotheses() -> None:
    """Bonferroni: m comparisons each get α_k / m."""
    one, eight = Family(1, 3), Family(8, 3)
    for k in (1, 2, 3):
        assert 1 - eight.level(k) == pytest.approx((1 - one.level(k)) / 8)
    assert eight.level(3) == pytest.approx(1 - 0.05 * 3 / 6 / 8)


def test_an_open_ended_family_spends_less_at_each_later_look() -> None:
    """A fixed design may be relaunched with more repeats any number of times: α_k = 6α/(π² k²)."""
    f = Family(2, None)
    assert f.alpha_at(1) == pytest.approx(6 * 0.05 / math.pi ** 2)
    assert f.alpha_at(2) == pytest.approx(f.alpha_at(1) / 4)
    assert f.level(1) < f.level(2) < f.level(10)
    assert f.alpha_at(0) == f.alpha_at(1)  # no look before the first


def test_a_family_that_keeps_a_reserve_spends_at_most_alpha_however_many_looks_are_added() -> None:
    """A race may be given more rounds after its launch (``--rounds N``): its planned looks spend
    (1 - reserve) α, the j-th added look reserve α 6/(π² j²); together never more than α."""
    f = Family(8, 2, reserve=0.2)
    planned = [f.alpha_at(k) for k in (1, 2)]
    assert planned == pytest.approx([0.8 * 0.05 / 3, 0.8 * 0.05 * 2 / 3])
    added = [f.alpha_at(2 + j) for j in range(1, 10_000)]
    assert added[0] == pytest.approx(0.2 * 0.05 * 6 / math.pi ** 2) and added[1] == pytest.approx(added[0] / 4)
    assert sum(planned) + sum(added) == pytest.approx(0.05, rel=1e-3) and sum(planned) + sum(added) < 0.05
    # An added look is stricter than the planned ones, and the planned ones pay for the reserve.
    assert f.level(3) > f.level(2) > Family(8, 2).level(2)
    # Without a reserve there is no look past the plan.
    with pytest.raises(ValueError, match="look 3 is past the 2 planned"):
        Family(8, 2).alpha_at(3)
    with pytest.raises(ValueError, match="a reserve only with planned looks"):
        Family(8, None, reserve=0.2)


def test_a_family_with_other_alpha_scales_every_look() -> None:
    assert Family(3, 2, alpha=0.10).alpha_at(2) == pytest.approx(2 * Family(3, 2).alpha_at(2))


@pytest.mark.parametrize("bad", [dict(hypotheses=0), dict(hypotheses=2, looks=0), dict(hypotheses=2, alpha=0.0),
                                 dict(hypotheses=2, alpha=1.0)])
def test_a_family_refuses_what_spends_no_alpha_or_all_of_it(bad: dict) -> None:
    with pytest.raises(ValueError, match="a family needs hypotheses >= 1"):
        Family(**bad)


def test_every_interval_of_a_family_covers_its_truth_at_once_in_95_percent_of_null_studies() -> None:
    """The guarantee itself, by simulation: 4 null comparisons sharing the baseline's seeds, read
    at 3 planned looks of 6 new seeds each; a study errs if any interval at any look misses 0.
    Per-interval 95% intervals (no family) err in about a third of such studies."""
    rng = np.random.default_rng(30)
    studies, hypotheses, looks, per_look = 2000, 4, 3, 6
    family = Family(hypotheses, looks)
    wrong = naive_wrong = 0
    for _ in range(studies):
        base = rng.normal(0.0, 0.02, looks * per_look)
        points = rng.normal(0.0, 0.02, (hypotheses, looks * per_look)) + base * 0.5
        missed = naive = False
        for k in range(1, looks + 1):
            seeds = range(k * per_look)
            theirs = {r: float(base[r]) for r in seeds}
            for h in range(hypotheses):
                mine = {r: float(points[h][r]) for r in seeds}
                c = compare(0.0, mine, theirs, family.level(k), 1)
                n = compare(0.0, mine, theirs, 0.95, 1)
                assert c is not None and n is not None
                missed |= not c.gain.low < 0 < c.gain.high  # type: ignore[operator]
                naive |= not n.gain.low < 0 < n.gain.high  # type: ignore[operator]
        wrong += missed
        naive_wrong += naive
    se = math.sqrt(0.05 * 0.95 / studies)
    assert wrong / studies <= 0.05 + 2 * se, f"{wrong} of {studies} null studies had an interval miss"
    assert naive_wrong / studies > 0.15  # the simulation can tell a family from none


def test_what_a_plan_can_decide_follows_the_noise_and_the_seeds() -> None:
    """The oracle of issue 30: a paired t at α = 0.05 finds +2 pp at a paired sd of 2.2 pp with
    80% power at 12 pairs (the noncentral t gives 81.7%); the approximation lands within 0.1 pp."""
    d = decidable(0.022, 12, 0.95)
    assert d.effect == pytest.approx(0.02, abs=0.001)
    assert d.half_width == pytest.approx(sps.t.ppf(0.975, 11) * 0.022 / math.sqrt(12))
    # Checked against the noncentral t: at that gain the power is 80% within a point.
    nc = d.effect / (0.022 / math.sqrt(12))
    assert 1 - sps.nct.cdf(sps.t.ppf(0.975, 11), 11, nc) == pytest.approx(0.80, abs=0.01)
    # More seeds decide smaller gains; a stricter level, larger ones.
    assert decidable(0.022, 18, 0.95).effect < d.effect < decidable(0.022, 12, 0.995).effect
    with pytest.raises(ValueError, match="n >= 2"):
        decidable(0.022, 1, 0.95)


# The race's futility stop and its growth (issue 30).

def _gain(diff: float, sd: float, n: int) -> Comparison:
    return Comparison(x=1e-3, gain=Difference(diff, diff - 0.05, diff + 0.05, 0.5, 0.0, n - 1), level=0.99, n=n, sd=sd)


def test_the_chance_to_decide_is_about_even_where_the_seeds_that_would_settle_it_end() -> None:
    """rounds_to_settle finds where the interval, if the mean stays, just decides; under the
    current trend that final mean falls on either side about equally: ~50%, whichever way
    (helps, or no gain larger than +margin) it decides."""
    family = Family(8, 2, reserve=0.1)
    for diff in (-0.008, 0.003, 0.02):
        c = _gain(diff, 0.024, 9)
        rounds = c.rounds_to_settle(0.01, family, 2, 9)
        assert rounds is not None
        n = c.n + rounds * 9
        assert 0.4 < c.decision_chance(0.01, n, family.level(2 + rounds)) < 0.65
        # A round short of it the chance is lower, and it only grows with the seeds.
        if rounds > 1:
            assert c.decision_chance(0.01, n - 9, family.level(1 + rounds)) < 0.5
    # A comparison whose every final mean decides (the margin wider than twice the half width).
    assert _gain(0.0, 0.001, 9).decision_chance(0.01, 18, 0.99) == 1.0
    # A mean far from both edges with noisy seeds: hopeless within one more round.
    assert _gain(0.004, 0.03, 9).decision_chance(0.01, 18, family.level(2)) < 0.05


def test_the_chance_to_decide_splits_into_an_effect_and_no_gain() -> None:
    """The planned rounds' stop (issue 30) weighs "helps or hurts" apart from "no gain": a null
    finalist at CIFAR-10's noise can hardly show an effect, and reaches "no gain larger than
    +1 pp" only if its final mean ends well below the margin."""
    family = Family(8, 3, reserve=0.1)
    c = _gain(0.0, 0.022, 9)
    chances = c.decision_chances(0.01, 27, family.level(3))
    assert chances.any == pytest.approx(c.decision_chance(0.01, 27, family.level(3)))
    assert chances.effect < 0.05 < chances.no_gain < 0.5
    # Helps and no gain exclude each other, so the two add up to the whole (hurts is within no gain).
    helps = chances.any - chances.no_gain
    assert 0 <= helps <= chances.effect
    # A finalist gaining 2 pp: an effect is likely, no gain unlikely.
    strong = _gain(0.02, 0.022, 9).decision_chances(0.01, 27, family.level(3))
    assert strong.effect > 0.5 and strong.no_gain < 0.05
    # One losing 2 pp: hurts is an effect and a no gain alike.
    weak = _gain(-0.02, 0.022, 9).decision_chances(0.01, 27, family.level(3))
    assert weak.effect > 0.5 and weak.no_gain >= weak.effect
