"""Response curves of a planned study (pure): per weight penalty, the objective's mean over the
repeats at each λ with its 95% t-band; the same against the dropout rate; the generalization gap
on the same axes; the unregularized baseline, at its last epoch and at its best epoch (what
stopping early would have given); and a verdict per penalty type that holds at its stated level.

The bands describe each point's spread over seeds. The verdicts are read from comparisons with
the baseline paired by seed, at the family-wise level of ``sweeper.stats.verdicts``: in a
fixed curve design every point of every type is a comparison (at its last epoch, and at its best
epoch against the baseline's best epoch), and all of them hold at once with 95% probability; in an
adaptive design only each type's finalist is compared, on its confirmation seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sweeper.stats.intervals import Difference, MeanCI, mean_ci, paired
from sweeper.stats.verdicts import (
    ALPHA,
    HELPS,
    HURTS,
    NO_DIFFERENCE,
    NO_GAIN,
    OPEN,
    Comparison,
    Family,
    GroupVerdict,
    change,
    compare,
    curve_verdict,
    default_margin,
    finalist_verdict,
)
from sweeper.report.collect import ReportData
from sweeper.study.points import GROUP_LABELS, TrialPoint
from sweeper.tasks.api import Objective

LEVEL = 0.95
WEIGHT_PENALTIES = ("l1", "l2", "l1_l2")
# Each point of a fixed design is compared at its last epoch and at its best epoch.
COMPARISONS_PER_POINT = 2


@dataclass(frozen=True)
class CurvePoint:
    x: float  # λ, or the dropout rate
    values: dict[int, float]  # repeat -> the objective on validation
    value: MeanCI
    gap: MeanCI | None  # train − validation (the objective's better side first), when recorded
    vs_baseline: Difference | None  # paired by repeat, unadjusted 95% (descriptive); None for the baseline
    best_values: dict[int, float] = field(default_factory=dict)  # repeat -> the objective at the best epoch
    dropped: str | None = None  # an adaptive race left this point, why

    @property
    def n(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class ResponseCurves:
    objective: Objective
    penalties: dict[str, list[CurvePoint]]  # weight penalty -> points by increasing λ
    dropout: list[CurvePoint]  # by increasing rate (penalty none)
    baseline: CurvePoint | None  # penalty none, dropout 0: its last epoch
    best_epoch: MeanCI | None  # the baseline at its best epoch: early stopping
    verdicts: dict[str, str] = field(default_factory=dict)  # group -> sentence
    decisions: dict[str, GroupVerdict] = field(default_factory=dict)  # group -> what the sentence says
    family: Family | None = None
    margin: float | None = None
    stage: str | None = None  # an adaptive study's race: bracket | screen | confirm | done
    race_text: str = ""  # where the race stands, in words (``RacePlan.describe``)

    @property
    def early_stopping_gain(self) -> float | None:
        """How much better the baseline's best epoch is than its last (≥ 0)."""
        if self.best_epoch is None or self.baseline is None:
            return None
        sign = 1 if self.objective.direction == "maximize" else -1
        return sign * (self.best_epoch.mean - self.baseline.value.mean)


def response_curves(data: ReportData) -> ResponseCurves:
    complete = [p for p in data.by_state("complete") if p.value is not None and p.repeat is not None]
    objective = data.objective
    baseline_runs = [p for p in complete if p.penalty == "none" and p.dropout == 0.0]
    baseline_values = {p.repeat: p.value for p in baseline_runs}  # type: ignore[misc]
    baseline = _point(0.0, baseline_runs, {}, objective) if baseline_runs else None
    race = _race(data)
    dropped = race.dropped if race is not None else {}
    penalties = {}
    for penalty in WEIGHT_PENALTIES:
        runs = [p for p in complete if p.penalty == penalty and p.lam]
        if runs:
            penalties[penalty] = _curve(runs, lambda p: float(f"{p.lam:.6g}"), baseline_values, objective,
                                        dropped.get(penalty, {}))
    dropout_runs = [p for p in complete if p.penalty == "none" and p.dropout > 0.0]
    dropout = (_curve(dropout_runs, lambda p: round(p.dropout, 6), baseline_values, objective, dropped.get("dropout", {}))
               if dropout_runs else [])
    best = [_best_epoch(p, objective) for p in baseline_runs]
    best_values = [b for b in best if b is not None]
    best_epoch = mean_ci(best_values, LEVEL) if best_values else None
    base_mean = baseline.value.mean if baseline else None
    margin = _margin(data, base_mean)
    groups = {**penalties, **({"dropout": dropout} if dropout else {})}
    if race is not None:
        margin = race.margin
        decisions = {g: finalist_verdict(g, f.comparison, margin, racing=race.stage != "done", early=f.early,
                                         x=f.point[1])
                     for g, f in race.finalists.items()}
        for g in groups:
            decisions.setdefault(g, GroupVerdict(g, "too few", None, scope="finalist"))
        family, stage = race.family, race.stage
        race_text = race.describe(int((data.config or {}).get("repeats", 1)))
    else:
        diverged = _diverged(data)
        decisions, family = _fixed_decisions(groups, baseline, margin, objective, diverged, _looks(data),
                                             _planned_points(data))
        stage, race_text = None, ""
    curves = ResponseCurves(objective, penalties, dropout, baseline, best_epoch, {}, decisions, family, margin, stage,
                            race_text)
    verdicts = {g: sentence(decisions[g], curves, groups.get(g, [])) for g in list(groups) if g in decisions}
    return ResponseCurves(objective, penalties, dropout, baseline, best_epoch, verdicts, decisions, family, margin, stage,
                          race_text)


def _race(data: ReportData):  # type: ignore[no-untyped-def]
    """An adaptive study's race replayed from its trials; None for a fixed design."""
    if data.design != "adaptive" or not data.config:
        return None
    from sweeper.study.adaptive import race, runs_of_points
    from sweeper.study.config import SweepConfig

    return race(SweepConfig.from_attrs(data.config), runs_of_points(data.points, data.objective))


def _margin(data: ReportData, baseline_mean: float | None) -> float:
    given = (data.config or {}).get("margin")
    return float(given) if given is not None else default_margin(data.objective.in_points, baseline_mean)


def _planned_points(data: ReportData) -> int | None:
    """The points a fixed design plans (every configuration but the baseline), from its config."""
    if data.design != "curve" or not data.config or not data.config.get("points"):
        return None
    from sweeper.study.config import SweepConfig
    from sweeper.study.design import curve_configs

    config = SweepConfig.from_attrs(data.config)
    configs = curve_configs(config.space, config.points)
    return sum(1 for c in configs if not (c.get("penalty") == "none" and float(c.get("dropout", 0.0)) == 0.0))


def _looks(data: ReportData) -> int:
    """How often a fixed design has been looked at with more seeds: each relaunch with more
    ``--repeats`` is a look, and α is spent over an open-ended sequence of them."""
    return int((data.config or {}).get("looks", 1) or 1)


def _diverged(data: ReportData) -> dict[tuple[str, float], set[int]]:
    """Per point, the repeats on which it diverged (pruned: a non-finite loss)."""
    out: dict[tuple[str, float], set[int]] = {}
    for p in data.by_state("pruned"):
        if p.repeat is None:
            continue
        x = round(p.dropout, 6) if p.group == "dropout" else (float(f"{p.lam:.6g}") if p.lam else 0.0)
        out.setdefault((p.group, x), set()).add(int(p.repeat))
    return out


def _fixed_decisions(groups: dict[str, list[CurvePoint]], baseline: CurvePoint | None, margin: float,
                     objective: Objective, diverged: dict[tuple[str, float], set[int]], looks: int,
                     planned: int | None = None) -> tuple[dict[str, GroupVerdict], Family | None]:
    """Every point of every type against the baseline, at one family-wise level: the family is
    every planned point (at its last and at its best epoch), whether or not it has pairs yet."""
    if baseline is None:
        return {g: GroupVerdict(g, "too few", None) for g in groups}, None
    sign = 1 if objective.direction == "maximize" else -1
    points_planned = max(planned or 0, sum(len(pts) for pts in groups.values()))
    family = Family(max(1, COMPARISONS_PER_POINT * points_planned), looks=None)
    level = family.level(looks)
    decisions = {}
    for group, points in groups.items():
        def lost(x: float) -> int:
            return len(diverged.get((group, x), set()) & set(baseline.values))

        last = [c for c in (compare(p.x, p.values, baseline.values, level, sign, lost(p.x)) for p in points)
                if c is not None]
        early = {p.x: c for p in points
                 if (c := compare(p.x, p.best_values, baseline.best_values, level, sign, lost(p.x))) is not None}
        decisions[group] = curve_verdict(group, last, margin, early)
    return decisions, family


def _curve(runs: list[TrialPoint], x_of, baseline: dict[int, float], objective: Objective,  # type: ignore[no-untyped-def]
           dropped: dict[float, str]) -> list[CurvePoint]:
    by_x: dict[float, list[TrialPoint]] = {}
    for p in runs:
        by_x.setdefault(x_of(p), []).append(p)
    return [_point(x, pts, baseline, objective, dropped.get(x)) for x, pts in sorted(by_x.items())]


def _point(x: float, runs: list[TrialPoint], baseline: dict[int, float], objective: Objective,
           dropped: str | None = None) -> CurvePoint:
    values = {int(p.repeat): float(p.value) for p in runs}  # type: ignore[arg-type]
    best = {int(p.repeat): b for p in runs if (b := _best_epoch(p, objective)) is not None}  # type: ignore[arg-type]
    gaps = [p.gap for p in runs if p.gap is not None]
    return CurvePoint(
        x=x,
        values=values,
        value=mean_ci(list(values.values()), LEVEL),
        gap=mean_ci(gaps, LEVEL) if gaps else None,
        vs_baseline=paired(values, baseline, LEVEL) if baseline else None,
        best_values=best,
        dropped=dropped,
    )


def _best_epoch(p: TrialPoint, objective: Objective) -> float | None:
    history = [v for v in (p.history.get(objective.log_key) or []) if v is not None and math.isfinite(v)]
    if not history:
        return None
    return max(history) if objective.direction == "maximize" else min(history)




def interval_text(objective: Objective, c: Comparison, label: str) -> str:
    """``95% simultaneous CI +0.4 to +3.8`` (the interval of the change, lower end first)."""
    if c.diverged:
        return f"diverged on {c.diverged} of {c.n + c.diverged} seeds"
    if c.gain.low is None or c.gain.high is None:
        return "no interval: every seed gave the same difference"
    ends = sorted([change(objective, c.gain.low, False), change(objective, c.gain.high, False)],
                  key=lambda s: float(s.split()[-1]))
    return f"{label} {ends[0]} to {ends[1]}"


def _x(group: str, x: float) -> str:
    from sweeper.study.adaptive import short_lambda

    return short_lambda(x) if group != "dropout" else f"{x:g}"


def sentence(v: GroupVerdict, curves: ResponseCurves, points: list[CurvePoint]) -> str:
    """One sentence per penalty type that says no more than its verdict."""
    objective = curves.objective
    label = GROUP_LABELS.get(v.group, v.group)
    axis = "rate" if v.group == "dropout" else "λ"
    ci = "95% simultaneous CI" if curves.family is not None else "95% CI"
    margin = curves.margin or 0.0
    m = change(objective, margin).lstrip("+")
    c = v.quoted
    if c is None:
        if v.scope == "finalist":
            if v.finalist_x is not None:
                text = (f"{label}: finalist {axis} ≈ {_x(v.group, v.finalist_x)} (ranked first in screening), "
                        "first confirmation round under way")
            elif points and all(p.dropped for p in points):
                text = (f"{label}: every {axis} screened looked collapsed on 1–2 screening seeds (not a tested "
                        "claim); nothing left to confirm")
            else:
                text = f"{label}: not screened yet"
        else:
            text = f"{label}: too few repeats to compare with the unregularized baseline (need 2 seeds per point)"
        return text
    at = f"{axis} ≈ {_x(v.group, c.x)}"
    quoted = f"{change(objective, c.gain.diff)}, {interval_text(objective, c, ci)}"
    quoted_at = f"{change(objective, c.gain.diff)} at {at}, {interval_text(objective, c, ci)}"
    tried = [p.x for p in points if p.x in {x.x for x in v.comparisons}]
    span = (f"any of the {len(tried)} {axis} tried ({_x(v.group, min(tried))} to {_x(v.group, max(tried))})"
            if len(tried) > 1 else f"the {axis} tried")
    if v.scope == "finalist":
        seeds = f"{c.n} fresh seeds"
        ranked = f"{at}, the {axis} screening ranked first"
        text = {
            HELPS: f"{label} helps at {at}: {quoted}, {seeds}",
            HURTS: f"{label} hurts at {ranked} ({quoted}, {seeds}; other {axis} values were not confirmed)",
            NO_DIFFERENCE: f"{label} at {ranked}: no difference larger than ±{m} ({quoted}, {seeds})",
            NO_GAIN: f"{label} at {ranked}: no gain larger than +{m} ({quoted}, {seeds})",
            OPEN: f"{label} at {at}: still racing ({quoted} after {seeds})",
            "undecided": f"{label} at {at}: undecided after the last round ({quoted}, {seeds})",
        }[v.outcome]
    else:
        text = {
            HELPS: f"{label} helps {_where(v.group, axis, v.helps_at, points)} (best: {quoted_at})",
            HURTS: f"{label} hurts at every {axis} tried (least harm: {quoted_at})",
            NO_DIFFERENCE: f"{label}: no difference larger than ±{m} at {span} (closest: {quoted_at})",
            NO_GAIN: f"{label}: no gain larger than +{m} at {span} (closest: {quoted_at})",
            "undecided": f"{label}: undecided, no {axis} helps beyond noise yet (closest: {quoted_at})",
        }[v.outcome]
        if v.hurts_at and v.outcome != HURTS:
            worst = min((x for x in v.comparisons if x.x in v.hurts_at), key=lambda x: x.gain.diff)
            text += (f"; it hurts {_where(v.group, axis, v.hurts_at, points)} (worst: {change(objective, worst.gain.diff)} "
                     f"at {axis} ≈ {_x(v.group, worst.x)})")
    if v.more_seeds:
        per = "" if v.scope == "finalist" else " per point"
        text += f"; about {v.more_seeds} more seeds{per} (with the baseline's) would settle it"
    e = v.early
    if e is not None and e.gain.low is not None:
        stopped = f"against the unregularized model stopped at its best epoch, each at its best epoch: {change(objective, e.gain.diff)} ({interval_text(objective, e, ci)})"
        outcome = e.outcome(margin)
        if outcome == HELPS:
            # "too" only after a "helps": an undecided type can still beat early stopping at
            # their best epochs (IMDb's L2 in docs/findings.md), which must not read as a second help.
            also = " too" if v.outcome == HELPS else ""
            text += f"; it helps on top of early stopping{also} ({stopped})"
        elif outcome == HURTS:
            text += f"; early stopping alone does better ({stopped})"
        else:
            text += f"; {stopped}, " + (f"not better than early stopping by more than {m}"
                                         if outcome in (NO_DIFFERENCE, NO_GAIN) else "not decided")
    return text[0].upper() + text[1:]


def _where(group: str, axis: str, chosen: tuple[float, ...], points: list[CurvePoint]) -> str:
    """Only the points tried, never what lies between or beyond them: ``at each of the 3 λ
    tried from a to b`` for a run of neighbouring points, else ``at λ = a, b``."""
    xs = [p.x for p in points]
    idx = sorted(xs.index(x) for x in chosen if x in xs)
    if not idx:
        return f"at {axis} = " + ", ".join(_x(group, x) for x in chosen)
    contiguous = idx == list(range(idx[0], idx[-1] + 1))
    lo, hi = _x(group, xs[idx[0]]), _x(group, xs[idx[-1]])
    if contiguous and len(idx) > 1:
        return f"at each of the {len(idx)} {axis} tried from {lo} to {hi}"
    return f"at {axis} = " + ", ".join(_x(group, xs[i]) for i in idx)


def family_note(curves: ResponseCurves) -> str:
    """What the verdicts' level means, for the page."""
    f = curves.family
    if f is None:
        return ""
    what = ("every point of every type, at its last and at its best epoch" if curves.stage is None
            else "each type's finalist on its confirmation seeds, at its last and at its best epoch, at each of "
                 f"{f.looks} planned rounds")
    return (f"All intervals in these verdicts hold at once with {100 * (1 - ALPHA):.0f}% probability: "
            f"{f.hypotheses} comparisons ({what}), Bonferroni-adjusted.")
