"""Response curves of a curve study (pure): per weight penalty, the objective's mean over the
repeats at each λ with its 95% t-interval; the same against the dropout rate; the generalization
gap on the same axes; the unregularized baseline, at its last epoch and at its best epoch (what
stopping early would have given); and a verdict per penalty type read from the curve.

Each point is compared with the baseline repeat by repeat (``stats.paired``): repeat r of every
configuration was trained with the same seed, so the pair shares its initial weights and batch
order and their difference is the configuration's effect plus less noise than two independent
runs would carry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sweeper.report.collect import ReportData
from sweeper.study.points import GROUP_LABELS, TrialPoint
from sweeper.evaluation.stats import Difference, MeanCI, mean_ci, paired
from sweeper.tasks.api import Objective

LEVEL = 0.95
WEIGHT_PENALTIES = ("l1", "l2", "l1_l2")


@dataclass(frozen=True)
class CurvePoint:
    x: float  # λ, or the dropout rate
    values: dict[int, float]  # repeat -> the objective on validation
    value: MeanCI
    gap: MeanCI | None  # train − validation (the objective's better side first), when recorded
    vs_baseline: Difference | None  # paired by repeat; None for the baseline itself

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

    @property
    def early_stopping_gain(self) -> float | None:
        """How much better the baseline's best epoch is than its last (≥ 0)."""
        if self.best_epoch is None or self.baseline is None:
            return None
        sign = 1 if self.objective.direction == "maximize" else -1
        return sign * (self.best_epoch.mean - self.baseline.value.mean)


def response_curves(data: ReportData) -> ResponseCurves:
    complete = [p for p in data.by_state("complete") if p.value is not None and p.repeat is not None]
    baseline_runs = [p for p in complete if p.penalty == "none" and p.dropout == 0.0]
    baseline_values = {p.repeat: p.value for p in baseline_runs}  # type: ignore[misc]
    baseline = _point(0.0, baseline_runs, {}) if baseline_runs else None
    penalties = {}
    for penalty in WEIGHT_PENALTIES:
        runs = [p for p in complete if p.penalty == penalty and p.lam]
        if runs:
            penalties[penalty] = _curve(runs, lambda p: float(f"{p.lam:.6g}"), baseline_values)
    dropout_runs = [p for p in complete if p.penalty == "none" and p.dropout > 0.0]
    dropout = _curve(dropout_runs, lambda p: round(p.dropout, 6), baseline_values) if dropout_runs else []
    best = [_best_epoch(p, data.objective) for p in baseline_runs]
    best_values = [b for b in best if b is not None]
    curves = ResponseCurves(data.objective, penalties, dropout, baseline,
                            mean_ci(best_values, LEVEL) if best_values else None)
    verdicts = {g: curve_verdict(g, pts, curves) for g, pts in penalties.items()}
    if dropout:
        verdicts["dropout"] = curve_verdict("dropout", dropout, curves)
    return ResponseCurves(curves.objective, penalties, dropout, baseline, curves.best_epoch, verdicts)


def _curve(runs: list[TrialPoint], x_of, baseline: dict[int, float]) -> list[CurvePoint]:  # type: ignore[no-untyped-def]
    by_x: dict[float, list[TrialPoint]] = {}
    for p in runs:
        by_x.setdefault(x_of(p), []).append(p)
    return [_point(x, pts, baseline) for x, pts in sorted(by_x.items())]


def _point(x: float, runs: list[TrialPoint], baseline: dict[int, float]) -> CurvePoint:
    values = {int(p.repeat): float(p.value) for p in runs}  # type: ignore[arg-type]
    gaps = [p.gap for p in runs if p.gap is not None]
    return CurvePoint(
        x=x,
        values=values,
        value=mean_ci(list(values.values()), LEVEL),
        gap=mean_ci(gaps, LEVEL) if gaps else None,
        vs_baseline=paired(values, baseline, LEVEL) if baseline else None,
    )


def _best_epoch(p: TrialPoint, objective: Objective) -> float | None:
    history = [v for v in (p.history.get(objective.log_key) or []) if v is not None and math.isfinite(v)]
    if not history:
        return None
    return max(history) if objective.direction == "maximize" else min(history)


def _amount(objective: Objective, x: float, unit: bool = True) -> str:
    if objective.in_points:
        return f"{100 * x:+.1f}" + (" pp" if unit else "")
    return f"{x:+.3g}"


def _x(group: str, x: float) -> str:
    return f"{x:.0e}".replace("e-0", "e-").replace("e+0", "e") if group != "dropout" else f"{x:g}"


def curve_verdict(group: str, points: list[CurvePoint], curves: ResponseCurves) -> str:
    """One sentence per penalty type, from its points' paired differences with the baseline:
    where it helps beyond noise, where it hurts, how it compares with stopping early."""
    objective = curves.objective
    label = GROUP_LABELS.get(group, group)
    axis = "rate" if group == "dropout" else "λ"
    pct = f"{int(LEVEL * 100)}% CI"
    sign = 1 if objective.direction == "maximize" else -1
    compared = [p for p in points if p.vs_baseline is not None and p.vs_baseline.low is not None]
    if not compared:
        return f"{label}: too few repeats to compare with the unregularized baseline (need 2 seeds per point)"

    def gain(p: CurvePoint) -> float:
        return sign * p.vs_baseline.diff  # type: ignore[union-attr]

    def interval(d: Difference) -> str:
        return f"{pct} {_amount(objective, d.low, False)} to {_amount(objective, d.high, False)}"  # type: ignore[arg-type]

    helps = [p for p in compared if p.vs_baseline.significant and gain(p) > 0]  # type: ignore[union-attr]
    hurts = [p for p in compared if p.vs_baseline.significant and gain(p) < 0]  # type: ignore[union-attr]
    best = max(compared, key=gain)
    d = best.vs_baseline
    assert d is not None
    if helps:
        where = _where(group, axis, helps, points)
        sentence = (f"{label} helps {where} (best {_amount(objective, d.diff)} at {axis} ≈ {_x(group, best.x)}, "
                    f"{interval(d)})")
    else:
        sentence = f"{label}: no {axis} helps beyond noise"
        if best not in hurts:
            sentence += f" (closest: {_amount(objective, d.diff)} at {axis} ≈ {_x(group, best.x)}, {interval(d)})"
    if hurts:
        worst = min(hurts, key=gain)
        sentence += (f"; it hurts {_where(group, axis, hurts, points)} ({_amount(objective, worst.vs_baseline.diff)} "  # type: ignore[union-attr]
                     f"at {axis} ≈ {_x(group, worst.x)})")
    es = curves.early_stopping_gain
    if es is not None and es > 0 and gain(best) <= es:
        sentence += (f"; stopping the unregularized model at its best epoch gives {_amount(objective, sign * es)} "
                     "without any penalty")
    return sentence[0].upper() + sentence[1:]


def _where(group: str, axis: str, chosen: list[CurvePoint], points: list[CurvePoint]) -> str:
    """``for λ in [a, b]`` for a run of neighbouring points, ``at λ ≥ a`` for a run up to the
    last point, else ``at λ = a, b``."""
    xs = [p.x for p in points]
    idx = sorted(xs.index(p.x) for p in chosen)
    contiguous = idx == list(range(idx[0], idx[-1] + 1))
    lo, hi = _x(group, xs[idx[0]]), _x(group, xs[idx[-1]])
    if contiguous and len(idx) > 1 and idx[-1] == len(xs) - 1 and idx[0] > 0:
        return f"at {axis} ≥ {lo}"
    if contiguous and len(idx) > 1:
        return f"for {axis} in [{lo}, {hi}]"
    return f"at {axis} = " + ", ".join(_x(group, xs[i]) for i in idx)
