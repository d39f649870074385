"""The headline of a search study, drawn from ``series.lambda_scatter``; no storage access and no
computation here beyond layout."""

from __future__ import annotations

import math
import re

import plotly.graph_objects as go

from sweeper.report.collect import ReportData
from sweeper.report.series import lambda_scatter
from sweeper.study.points import TrialPoint

PENALTY_COLOURS = {"none": "#555555", "l1": "#d62728", "l2": "#1f77b4", "l1_l2": "#9467bd"}
PENALTY_LABELS = {"none": "none", "l1": "L1", "l2": "L2", "l1_l2": "L1+L2"}
STATE_SYMBOLS = {"complete": "circle", "pruned": "circle-open", "fail": "x-thin-open"}
# Metrics that are fractions: their confidence bands are cut at 0 and 1, which no value passes.
BOUNDED = re.compile(r"(^|_)(accuracy|auc|precision|recall|f1_score|fbeta_score|iou)$")


def bounds_of(metric: str) -> tuple[float, float] | None:
    """(0, 1) for a metric that is a fraction (accuracy, AUC, precision, recall, F1, IoU)."""
    return (0.0, 1.0) if BOUNDED.search(metric) else None


def accuracy_vs_lambda(data: ReportData) -> go.Figure:
    """The objective on validation against λ per penalty type, shaded by dropout, a binned-median
    trend per type, and the unregularized and dropout-only trials as reference lines."""
    scatter = lambda_scatter(data)
    fig = go.Figure()
    base = scatter.baseline
    drop = scatter.dropout_only
    # The two reference lines are labelled at opposite ends, the upper one's label above it and
    # the lower one's below, so that close lines never stack their labels.
    drop_above = drop is not None and base is not None and drop.median >= base.median
    if base is not None:
        fig.add_hrect(y0=base.low, y1=base.high if base.high > base.low else base.low + 1e-4,
                      fillcolor="#999999", opacity=0.2, line_width=0)
        fig.add_hline(y=base.median, line_dash="dash", line_color="#555555",
                      annotation_text=f"unregularized baseline (n={base.n}): {base.median:.3f}",
                      annotation_position="bottom left" if drop_above else "top left")
    if drop is not None:
        fig.add_hline(y=drop.median, line_dash="dot", line_color="#ff7f0e",
                      annotation_text=f"dropout only, no weight penalty (n={drop.n}): {drop.median:.3f}",
                      annotation_position="top right" if drop_above or base is None else "bottom right")
    key = data.objective.log_key
    for penalty, by_state in scatter.points.items():
        for state, pts in by_state.items():
            fig.add_trace(
                go.Scatter(
                    x=[p.lam for p in pts],
                    y=[p.value for p in pts],
                    mode="markers",
                    name=f"{PENALTY_LABELS[penalty]} ({state})",
                    legendgroup=penalty,
                    marker=dict(
                        color=PENALTY_COLOURS[penalty],
                        symbol=STATE_SYMBOLS[state],
                        size=[7 + 14 * p.dropout for p in pts],
                        opacity=[0.45 + 0.55 * (1 - p.dropout) for p in pts],
                        line=dict(width=1.5, color=PENALTY_COLOURS[penalty]),
                    ),
                    text=[_hover(p, key) for p in pts],
                    hovertemplate="%{text}<extra></extra>",
                )
            )
        trend = scatter.trends.get(penalty)
        if trend:
            fig.add_trace(
                go.Scatter(x=[t[0] for t in trend], y=[t[1] for t in trend], mode="lines",
                           name=f"{PENALTY_LABELS[penalty]} median trend", legendgroup=penalty,
                           line=dict(color=PENALTY_COLOURS[penalty], width=2))
            )
    counts = data.counts()
    x_lo, x_hi = scatter.lambda_range
    fig.update_layout(
        title=f"{data.study}: {data.objective.on('validation')} vs regularization strength "
        f"({counts['complete']} complete, {counts['pruned']} pruned (hollow), {counts['fail']} failed, "
        f"{counts['running']} running)",
        xaxis=dict(title="λ (log scale); marker size and fade: dropout", type="log", exponentformat="power",
                   range=[math.log10(x_lo) - 0.3, math.log10(x_hi) + 0.3]),
        yaxis=dict(title=data.objective.on("validation")),
        template="plotly_white",
        height=520,
    )
    return fig


def _hover(p: TrialPoint, key: str) -> str:
    parts = [f"trial {p.number} ({p.state})", f"λ={p.lam:.2e}" if p.lam else "λ=0", f"dropout={p.dropout:.2f}"]
    if p.l1_ratio is not None and p.penalty == "l1_l2":
        parts.append(f"l1_ratio={p.l1_ratio:.2f}")
    parts.append(f"{key}={p.value:.4f}" if p.value is not None else f"{key}=-")
    if p.reason:
        parts.append(p.reason)
    return "<br>".join(parts)
