"""Response curves of a curve study: bands equal to the t-intervals of the stored repeats, worked
out by hand, and verdicts at the study's family-wise level on a constructed case where the old,
unadjusted rule (each point's own 95% paired interval) said "helps"."""

from __future__ import annotations

import math

import pytest

from sweeper.report import collect_report
from sweeper.report.curves import response_curves
from tests.report_tests.known import CURVE_BASELINE, CURVE_OFFSETS, curve_study

T_975_DF2 = 4.302652729749464  # Student's t quantile for 95% and 2 degrees of freedom (tables)
# The stored design plans 12 points (3 penalties x 3 λ, 3 dropout rates; 8 of them have trials),
# each compared at its last epoch and stopped early: 24 comparisons. A fixed design may be looked at
# again with more repeats, so its α is spent as 6α/(π² k²) at look k: 3.04% at the first. Each
# interval is at 1 - a with a = 0.0304/24. With 2 degrees of freedom the t quantile has a closed
# form (F(t) = 1/2 + t / (2 sqrt(2 + t^2))): t^2 = 2 (1 - a)^2 / (1 - (1 - a)^2), t = 28.07.
A = 0.05 * 6 / math.pi ** 2 / 24
T_FAMILY_DF2 = math.sqrt(2 * (1 - A) ** 2 / (1 - (1 - A) ** 2))
HALF = T_FAMILY_DF2 * 0.01 / math.sqrt(3)  # every offset triple has sd 0.01: ±16.2 pp


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


def test_a_point_the_unadjusted_rule_calls_helps_is_not_called_so_after_the_family_correction() -> None:
    curves = response_curves(collect_report(curve_study()))
    # The old rule: L2 at λ = 1e-3 has its own 95% paired interval +1.5 to +6.5 pp, clear of zero.
    l2 = next(p for p in curves.penalties["l2"] if p.x == pytest.approx(1e-3))
    assert l2.vs_baseline.significant and l2.vs_baseline.low > 0
    # The family: 24 comparisons, each interval +4.0 -+ 16.2 pp.
    assert curves.family is not None and curves.family.hypotheses == 24
    assert T_FAMILY_DF2 == pytest.approx(28.07, abs=0.01) and HALF == pytest.approx(0.1621, abs=2e-4)
    v = curves.decisions["l2"]
    assert v.outcome == "undecided" and v.helps_at == ()
    assert (v.quoted.x, v.quoted.gain.low, v.quoted.gain.high) == pytest.approx((1e-3, 0.04 - HALF, 0.04 + HALF))
    assert curves.verdicts["l2"].startswith(
        "L2: undecided, no λ helps beyond noise yet (closest: +4.0 pp at λ ≈ 1e-3, 95% simultaneous CI -12.2 to +20.2)")
    # With 3 seeds even -11 pp is inside the corrected interval (-27.2 to +5.2): not "hurts" yet.
    l1 = curves.decisions["l1"]
    assert l1.outcome == "undecided" and l1.hurts_at == ()
    assert curves.decisions["dropout"].outcome == "undecided"
    assert "helps" not in " ".join(v.outcome for v in curves.decisions.values())


def test_the_quoted_point_is_also_compared_with_early_stopping() -> None:
    # The baseline's best epoch is 5 pp above its last; L2's point at 1e-3 peaks at its last epoch:
    # at their best epochs L2 is 4 - 5 = -1 pp against the baseline, -1.0 -+ 16.2.
    curves = response_curves(collect_report(curve_study(best_epoch_bonus=0.05)))
    assert curves.early_stopping_gain == pytest.approx(0.05)
    early = curves.decisions["l2"].early
    assert (early.gain.diff, early.gain.low, early.gain.high) == pytest.approx((-0.01, -0.01 - HALF, -0.01 + HALF))
    assert curves.verdicts["l2"].endswith(
        "with early stopping on both sides, each seed stopped at the epoch where the mean curve of its "
        "configuration's other seeds peaks: -1.0 pp (95% simultaneous CI -17.2 to +15.2), not decided")


def test_a_type_undecided_at_its_last_epoch_that_beats_early_stopping_is_not_said_to_help_too() -> None:
    """IMDb's race (docs/findings.md): L2 undecided at its last epoch, yet ahead of the baseline
    stopped at its best epoch. The sentence says the second, without a "too" that reads as a help."""
    from sweeper.report.curves import sentence
    from sweeper.stats.verdicts import compare, finalist_verdict

    curves = response_curves(collect_report(curve_study()))
    base = {r: 0.75 for r in range(6)}
    last = compare(1e-2, {r: 0.75 + (0.03 if r % 2 else -0.01) for r in range(6)}, base, 0.95, 1)
    early = compare(1e-2, {r: 0.77 + 0.001 * r for r in range(6)}, base, 0.95, 1)
    v = finalist_verdict("l2", last, 0.01, racing=False, early=early)
    assert v.outcome == "undecided" and early.outcome(0.01) == "helps"
    text = sentence(v, curves, [])
    assert "undecided after the last round" in text
    assert "; it helps on top of early stopping (with early stopping on both sides, " in text
    assert "too" not in text
    helped = finalist_verdict("l2", early, 0.01, racing=False, early=early)
    assert "; it helps on top of early stopping too (" in sentence(helped, curves, [])


def _study_of(histories: dict[tuple[str, float], list[list[float]]], budget: int | None = None,
              pruned: set[tuple[tuple[str, float], int]] = frozenset(), points: int = 3):  # type: ignore[assignment,no-untyped-def]
    """A fixed curve study whose runs have the given per-epoch validation accuracies (repeat r of
    each point: ``histories[point][r]``); ``pruned``: (point, repeat) runs that diverged."""
    import optuna
    from optuna.trial import TrialState

    from sweeper.study.config import CONFIG_ATTR, VERSION_ATTR, current_versions
    from tests.report_tests.known import config, params, trial

    runs = sum(len(h) for h in histories.values())
    study = optuna.create_study(study_name="curve", direction="maximize")
    study.set_user_attr(VERSION_ATTR, current_versions())
    study.set_user_attr(CONFIG_ATTR, config(budget=budget or runs, design="curve", points=points, repeats=1,
                                            pruner="none", sampler="random").to_attrs())
    for (group, x), curves in histories.items():
        p = params("none") if group == "baseline" else params("none", dropout=x) if group == "dropout" else params(group, x)
        for repeat, curve in enumerate(curves):
            attrs = {"role": "curve", "repeat": repeat}
            if ((group, x), repeat) in pruned:
                cut = [*curve[:2], None]
                t = trial(TrialState.PRUNED, p, attrs={**attrs, "history": {"val_accuracy": cut},
                                                         "stop_reason": "diverged: non-finite loss at epoch 3"})
            else:
                t = trial(TrialState.COMPLETE, p, curve[-1], attrs=attrs)
                t.set_user_attr("history", {**t.user_attrs["history"], "val_accuracy": curve})
            study.add_trial(t)
    return study


def test_noisier_epochs_do_not_win_on_top_of_early_stopping_under_a_null() -> None:
    """No setting changes the expected score at any epoch, but L2's epochs are noisier (sd 1.5 pp
    against 0.1 pp): its own best epoch is about +2.8 pp above its mean on every seed, which the
    old rule (each run's maximum, on the scores that judge it) called "helps on top of early
    stopping" (+2.6 pp, its family-wise interval clear of 0). Stopped where the other seeds' mean
    curve peaks, its seeds land on noise of either sign."""
    import numpy as np

    from sweeper.stats.verdicts import compare

    rng = np.random.default_rng(7)
    seeds, epochs = 12, 20
    shift = rng.normal(0, 0.02, seeds)
    base = [list(0.6 + shift[r] + rng.normal(0, 0.001, epochs)) for r in range(seeds)]
    l2 = [list(0.6 + shift[r] + rng.normal(0, 0.015, epochs)) for r in range(seeds)]
    curves = response_curves(collect_report(_study_of({("baseline", 0.0): base, ("l2", 1e-3): l2})))
    early = curves.decisions["l2"].early
    assert early is not None and early.outcome(0.01) != "helps"
    assert abs(early.gain.diff) < 0.01
    assert "helps on top of early stopping" not in curves.verdicts["l2"]
    # What the old rule saw: each run's own maximum, at the same family-wise level: "helps".
    old = compare(1e-3, {r: max(c) for r, c in enumerate(l2)}, {r: max(c) for r, c in enumerate(base)},
                  early.level, 1)
    assert old is not None and old.gain.diff > 0.02 and old.outcome(0.01) == "helps"


def test_a_fixed_design_read_while_runs_are_pending_prints_no_verdict() -> None:
    """L2 already helps on its 3 finished seeds, but 2 planned runs are still to come: the page
    waits, since a reading now would be a look that the stated 95% does not count."""
    base = [[0.60, 0.60], [0.62, 0.62], [0.61, 0.61]]
    l2 = [[0.70, 0.70], [0.72, 0.72], [0.705, 0.705]]
    curves = response_curves(collect_report(_study_of({("baseline", 0.0): base, ("l2", 1e-3): l2}, budget=8)))
    assert curves.pending == 2 and curves.decisions["l2"].outcome == "pending"
    assert curves.verdicts["l2"] == ("L2: verdict once all 8 planned runs have finished (2 to go); a verdict read "
                                     "earlier would be a look the stated 95% does not count")
    done = response_curves(collect_report(_study_of({("baseline", 0.0): base, ("l2", 1e-3): l2})))
    assert done.pending == 0 and done.decisions["l2"].outcome != "pending"


def test_divergence_on_both_sides_is_inside_the_interval_and_a_point_that_diverges_alike_does_not_hurt() -> None:
    """Every configuration diverges now and then: one L2 seed and one baseline seed. The old rule
    called L2 "hurts" for its one diverged seed and dropped the baseline's; scored at accuracy's
    worst (0) on both sides, the pairs are in one interval, which is wide and claims nothing."""
    values = [0.60, 0.62, 0.61, 0.63, 0.60, 0.62, 0.61, 0.60]
    base = [[v, v, v] for v in values]
    l2 = [[v + 0.001, v + 0.001, v + 0.001] for v in values]
    study = _study_of({("baseline", 0.0): base, ("l2", 1e-3): l2},
                      pruned={(("l2", 1e-3), 2), (("baseline", 0.0), 5)})
    curves = response_curves(collect_report(study))
    v = curves.decisions["l2"]
    (c,) = v.comparisons
    assert c.n == 8 and c.diverged == 2
    # Seed 2: L2 diverged, 0 - 0.61; seed 5: the baseline did, 0.621 - 0; the other 6: +0.001.
    assert c.gain.diff == pytest.approx((0.001 * 6 - 0.61 + 0.621) / 8)
    assert v.outcome == "undecided" and v.hurts_at == ()
    assert "2 of 8 pairs with a diverged run, scored as the metric's worst" in curves.verdicts["l2"]


def test_a_finalist_stopped_for_no_sign_of_an_effect_says_both_chances() -> None:
    """Issue 30: in a race's planned rounds a finalist races on for "no gain" only when that is
    more likely than not; its sentence says the chance of each, and that it stopped for that."""
    from sweeper.report.curves import sentence
    from sweeper.stats.verdicts import compare, finalist_verdict

    curves = response_curves(collect_report(curve_study()))
    base = {r: 0.75 for r in range(9)}
    c = compare(1e-3, {r: 0.75 + 0.02 * math.sin(r) for r in range(9)}, base, 0.99, 1)
    v = finalist_verdict("l1", c, 0.01, racing=False, stopped=(0.004, 1, 0.17))
    text = sentence(v, curves, [])
    assert "undecided, stopped after 1 round (" in text
    assert ("would have found it helps or hurts with less than 1% probability, and no gain larger than +1.0 pp "
            "with only 17% (the race spends seeds on that only when it is more likely than not)") in text
    before = sentence(finalist_verdict("l1", c, 0.01, racing=False, stopped=(0.004, 1, None)), curves, [])
    assert "would have decided it with less than 1% probability" in before and "no gain larger" not in before
