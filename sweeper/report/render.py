"""Plotly figures from ``ReportData``; no storage access here."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from sweeper.report.collect import ReportData, TrialPoint

PENALTY_COLOURS = {"none": "#555555", "l1": "#d62728", "l2": "#1f77b4", "l1_l2": "#9467bd"}
PENALTY_LABELS = {"none": "none", "l1": "L1", "l2": "L2", "l1_l2": "L1+L2"}
STATE_SYMBOLS = {"complete": "circle", "pruned": "circle-open", "fail": "x-thin-open"}


def accuracy_vs_lambda(data: ReportData) -> go.Figure:
    """The headline: validation accuracy against lambda per penalty type, shaded by dropout,
    a binned-median trend per type, and the unregularized trials as a reference band."""
    fig = go.Figure()
    lams = [p.lam for p in data.points if p.lam]
    x_lo, x_hi = (min(lams), max(lams)) if lams else (1e-6, 1e-1)
    base = data.baseline_values()
    if base:
        lo, hi, mid = min(base), max(base), float(np.median(base))
        fig.add_hrect(y0=lo, y1=hi if hi > lo else lo + 1e-4, fillcolor="#999999", opacity=0.2, line_width=0)
        fig.add_hline(y=mid, line_dash="dash", line_color="#555555",
                      annotation_text=f"unregularized baseline (n={len(base)}): {mid:.3f}")
    # Dropout without a weight penalty has no λ: its median is a reference line like the baseline.
    drop = [p.value for p in data.by_state("complete") if p.group == "dropout" and p.value is not None]
    if drop:
        fig.add_hline(y=float(np.median(drop)), line_dash="dot", line_color="#ff7f0e",
                      annotation_text=f"dropout only, no weight penalty (n={len(drop)}): {float(np.median(drop)):.3f}",
                      annotation_position="bottom right")
    for penalty in ("l1", "l2", "l1_l2"):
        for state in ("complete", "pruned"):
            pts = [p for p in data.points if p.penalty == penalty and p.state == state and p.lam and p.value is not None]
            if not pts:
                continue
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
                    text=[_hover(p, data.objective.log_key) for p in pts],
                    hovertemplate="%{text}<extra></extra>",
                )
            )
        trend = binned_median([p for p in data.by_state("complete") if p.penalty == penalty and p.lam and p.value is not None])
        if trend:
            fig.add_trace(
                go.Scatter(x=[t[0] for t in trend], y=[t[1] for t in trend], mode="lines",
                           name=f"{PENALTY_LABELS[penalty]} median trend", legendgroup=penalty,
                           line=dict(color=PENALTY_COLOURS[penalty], width=2))
            )
    counts = data.counts()
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


def _hover(p: TrialPoint, key: str) -> str:
    parts = [f"trial {p.number} ({p.state})", f"λ={p.lam:.2e}" if p.lam else "λ=0", f"dropout={p.dropout:.2f}"]
    if p.l1_ratio is not None and p.penalty == "l1_l2":
        parts.append(f"l1_ratio={p.l1_ratio:.2f}")
    parts.append(f"{key}={p.value:.4f}" if p.value is not None else f"{key}=-")
    if p.reason:
        parts.append(p.reason)
    return "<br>".join(parts)
