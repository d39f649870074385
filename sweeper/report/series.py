"""What each figure plots, as plain data computed from ``ReportData`` (pure; tests check these).

Pruned trials keep their state: they appear hollow where a value at their last epoch means
something (accuracy vs lambda, lambda x dropout, history) and are counted, not plotted, where it
does not (the generalization gap and sparsity need a finished model)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sweeper.report.collect import ReportData
from sweeper.study.points import GROUP_LABELS, GROUPS, TrialPoint

WEIGHT_PENALTIES = ("l1", "l2", "l1_l2")


@dataclass(frozen=True)
class XY:
    """One trace: points of one penalty type (or group) in one trial state."""

    key: str
    state: str
    x: list[float]
    y: list[float]
    numbers: list[int]
    dropout: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)  # colour of a map point


def plotted(p: TrialPoint) -> bool:
    """A trial with a value worth a marker: complete, or pruned by the pruner (its value at the
    epoch it was stopped). A diverged trial's last finite value (an epoch-1 loss of 18,486, say)
    would set the chart's scale: it is listed with its reason instead."""
    return p.state in ("complete", "pruned") and p.value is not None and not (p.reason or "").startswith("diverged")


def lambda_dropout_map(data: ReportData) -> dict[str, list[XY]]:
    """Per weight penalty: (lambda, dropout) of each complete or pruned trial, value as colour."""
    out: dict[str, list[XY]] = {}
    for penalty in WEIGHT_PENALTIES:
        traces = []
        for state in ("complete", "pruned"):
            pts = [p for p in data.points if p.penalty == penalty and p.state == state and p.lam and plotted(p)]
            if pts:
                traces.append(XY(penalty, state, x=[p.lam for p in pts], y=[p.dropout for p in pts],  # type: ignore[misc]
                                 numbers=[p.number for p in pts], values=[p.value for p in pts]))  # type: ignore[misc]
        if traces:
            out[penalty] = traces
    return out


@dataclass(frozen=True)
class Reference:
    """Values of the unregularized complete trials, drawn as a band."""

    values: list[float]

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)


@dataclass(frozen=True)
class LambdaSeries:
    traces: list[XY]
    reference: Reference | None
    not_shown: dict[str, int]  # state -> count of trials that cannot be plotted here


def _lambda_series(data: ReportData, penalties: tuple[str, ...], metric: str) -> LambdaSeries:
    def value(p: TrialPoint) -> float | None:
        return p.gap if metric == "gap" else p.sparsity

    traces = []
    for penalty in penalties:
        pts = [p for p in data.by_state("complete") if p.penalty == penalty and p.lam and value(p) is not None]
        if pts:
            traces.append(XY(penalty, "complete", [p.lam for p in pts], [value(p) for p in pts],  # type: ignore[misc]
                             [p.number for p in pts], [p.dropout for p in pts]))
    base = [value(p) for p in data.by_state("complete") if p.group == "baseline" and value(p) is not None]
    not_shown = {s: n for s in ("pruned", "fail", "running") if (n := len(data.by_state(s)))}
    return LambdaSeries(traces, Reference(base) if base else None, not_shown)  # type: ignore[arg-type]


def gap_vs_lambda(data: ReportData) -> LambdaSeries:
    """How much better train is than validation (train re-measured without dropout) per weight
    penalty, in the objective's units."""
    return _lambda_series(data, WEIGHT_PENALTIES, "gap")


def sparsity_vs_lambda(data: ReportData) -> LambdaSeries:
    """Fraction of near-zero kernel weights: L1 against L2 (and their mix)."""
    return _lambda_series(data, WEIGHT_PENALTIES, "sparsity")


@dataclass(frozen=True)
class Curve:
    group: str
    number: int
    label: str
    val_value: list[float | None]  # the objective per epoch
    val_loss: list[float | None]


def learning_curves(data: ReportData) -> list[Curve]:
    """Per-epoch validation curves of the best complete trial of each group; the unregularized
    baseline first so that every other curve is read against it."""
    curves = []
    for group, p in data.best_per_group().items():
        history = p.history or {}
        curves.append(
            Curve(group, p.number, f"{GROUP_LABELS[group]} (trial {p.number})",
                  list(history.get(data.objective.log_key) or []), list(history.get("val_loss") or []))
        )
    return curves


@dataclass(frozen=True)
class HistoryPoint:
    number: int
    state: str
    value: float
    group: str


@dataclass(frozen=True)
class OptimizationHistory:
    points: list[HistoryPoint]
    best_so_far: list[tuple[int, float]]  # (trial number, best complete value up to it)
    failed: list[int]  # trial numbers, drawn as marks on the axis: they have no value


def optimization_history(data: ReportData) -> OptimizationHistory:
    points, best_line, failed = [], [], []
    best: float | None = None
    for p in sorted(data.points, key=lambda p: p.number):
        if p.state == "fail":
            failed.append(p.number)
        if not plotted(p):
            continue
        points.append(HistoryPoint(p.number, p.state, p.value, p.group))  # type: ignore[arg-type]
        if p.state == "complete" and (best is None or data.objective.better(p.value, best)):
            best = p.value
        if best is not None:
            best_line.append((p.number, best))
    return OptimizationHistory(points, best_line, failed)


@dataclass(frozen=True)
class BestRow:
    group: str
    label: str
    number: int
    value: float
    lam: float | None
    l1_ratio: float | None
    dropout: float
    train_value: float | None
    sparsity: float | None
    complete: int  # complete trials in the group


def best_table(data: ReportData) -> list[BestRow]:
    counts = {g: 0 for g in GROUPS}
    for p in data.by_state("complete"):
        counts[p.group] += 1
    return [
        BestRow(g, GROUP_LABELS[g], p.number, p.value, p.lam,  # type: ignore[arg-type]
                p.l1_ratio if p.penalty == "l1_l2" else None, p.dropout, p.train_value, p.sparsity, counts[g])
        for g, p in data.best_per_group().items()
    ]


def unfinished(data: ReportData) -> list[TrialPoint]:
    """Failed, running and waiting trials, and diverged ones (with or without a value from the
    epochs before), listed with their reason on the page."""
    return [p for p in data.points if p.state in ("fail", "running", "waiting") or (p.state == "pruned" and not plotted(p))]


@dataclass(frozen=True)
class Line:
    """A horizontal reference: the median of a group's complete trials, with their range."""

    median: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class LambdaScatter:
    """The headline of a search study: every trial with a λ and a value, per weight penalty and
    state; a binned-median trend per penalty; the unregularized trials and the dropout-only
    trials (no λ) as horizontal references."""

    points: dict[str, dict[str, list[TrialPoint]]]  # penalty -> state -> trials
    trends: dict[str, list[tuple[float, float]]]  # penalty -> (λ, median value) per decade
    baseline: Line | None
    dropout_only: Line | None
    lambda_range: tuple[float, float]


def lambda_scatter(data: ReportData) -> LambdaScatter:
    points: dict[str, dict[str, list[TrialPoint]]] = {}
    trends = {}
    for penalty in WEIGHT_PENALTIES:
        by_state = {state: [p for p in data.points if p.penalty == penalty and p.state == state and p.lam
                            and plotted(p)] for state in ("complete", "pruned")}
        if any(by_state.values()):
            points[penalty] = {s: pts for s, pts in by_state.items() if pts}
        trend = binned_median(by_state["complete"])
        if trend:
            trends[penalty] = trend
    lams = [p.lam for p in data.points if p.lam]
    dropout = [p.value for p in data.by_state("complete") if p.group == "dropout" and p.value is not None]
    return LambdaScatter(points, trends, _line(data.baseline_values()), _line(dropout),  # type: ignore[arg-type]
                         (min(lams), max(lams)) if lams else (1e-6, 1e-1))


def _line(values: list[float]) -> Line | None:
    if not values:
        return None
    return Line(float(np.median(values)), min(values), max(values), len(values))


def binned_median(points: list[TrialPoint], bins_per_decade: float = 1.0) -> list[tuple[float, float]]:
    """(geometric bin centre, median value) for each log-lambda bin with at least one point."""
    if not points:
        return []
    logs = np.log10([p.lam for p in points])
    values = np.array([p.value for p in points], dtype=float)
    edges = np.arange(math.floor(logs.min()), math.ceil(logs.max()) + 1e-9 + 1 / bins_per_decade, 1 / bins_per_decade)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        mask = (logs >= lo) & (logs < hi) if hi < edges[-1] else (logs >= lo) & (logs <= hi)
        if mask.any():
            out.append((10 ** float(np.median(logs[mask])), float(np.median(values[mask]))))
    return out
