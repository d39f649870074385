"""Figures 2-7 of the report, each drawn from a pure series (``sweeper.report.series``) or from
the evaluation numbers; no storage access here."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sweeper.report.collect import ReportData
from sweeper.study.designs import design_of
from sweeper.study.points import GROUP_LABELS
from sweeper.evaluation.results import EvaluationData
from sweeper.report.render import PENALTY_COLOURS, PENALTY_LABELS, STATE_SYMBOLS, bounds_of
from sweeper.report.series import (
    LambdaSeries,
    gap_vs_lambda,
    lambda_dropout_map,
    learning_curves,
    optimization_history,
    sparsity_vs_lambda,
)

GROUP_COLOURS = {"baseline": "#222222", "dropout": "#ff7f0e", **{k: v for k, v in PENALTY_COLOURS.items() if k != "none"}}
LAYOUT = dict(template="plotly_white", height=460, margin=dict(t=70, l=70, r=30, b=60))


def _empty(title: str, note: str) -> go.Figure:
    """A figure that says why it has nothing to show, instead of silently missing."""
    fig = go.Figure()
    fig.add_annotation(text=note, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font=dict(size=14))
    fig.update_layout(title=title, xaxis=dict(visible=False), yaxis=dict(visible=False), **{**LAYOUT, "height": 260})
    return fig


def lambda_dropout_figure(data: ReportData) -> go.Figure:
    maps = lambda_dropout_map(data)
    o = data.objective
    title = f"λ × dropout: {o.on('validation')} per penalty type (hollow: pruned, value at its last epoch)"
    if design_of(data.design).planned:
        # Its weight penalties all run at dropout 0: the panels would be one row of points.
        return _empty(title, "a planned study varies λ at dropout 0, and dropout alone: both are drawn in "
                             "figure 1, with their bands; there is no λ × dropout grid to map")
    if not maps:
        return _empty(title, "no L1 / L2 / L1+L2 trials have finished yet")
    values = [v for traces in maps.values() for t in traces for v in t.values]
    fig = make_subplots(rows=1, cols=len(maps), shared_yaxes=True,
                        subplot_titles=[PENALTY_LABELS[p] for p in maps], horizontal_spacing=0.04)
    for col, (penalty, traces) in enumerate(maps.items(), start=1):
        for t in traces:
            fig.add_trace(
                go.Scatter(
                    x=t.x, y=t.y, mode="markers", name=f"{PENALTY_LABELS[penalty]} ({t.state})",
                    showlegend=False,
                    marker=dict(color=t.values, coloraxis="coloraxis", size=11, symbol=STATE_SYMBOLS[t.state],
                                line=dict(width=2 if t.state == "pruned" else 0.5, color="#333333" if t.state == "complete" else None)),
                    text=[f"trial {n} ({t.state})<br>λ={x:.2e}<br>dropout={y:.2f}<br>{o.log_key}={v:.4f}"
                          for n, x, y, v in zip(t.numbers, t.x, t.y, t.values)],
                    hovertemplate="%{text}<extra></extra>",
                ),
                row=1, col=col,
            )
        fig.update_xaxes(type="log", exponentformat="power", title_text="λ (log)", row=1, col=col)
    # Dropout is a rate in [0, 1): left alone, plotly draws -1 to 1 around points all at dropout 0
    # (a curve study varies λ without dropout).
    top = max([0.1, *(d for traces in maps.values() for t in traces for d in t.y)])
    fig.update_yaxes(range=[-0.05 * top, 1.08 * top], row=1)
    fig.update_yaxes(title_text="dropout", row=1, col=1)
    fig.update_layout(title=title, coloraxis=dict(colorscale="Viridis", cmin=min(values), cmax=max(values),
                                                 colorbar=dict(title=o.log_key)), **LAYOUT)
    return fig


def _lambda_figure(series: LambdaSeries, title: str, ytitle: str, what: str) -> go.Figure:
    if not series.traces and series.reference is None:
        return _empty(title, f"no complete trial has recorded {what} yet")
    fig = go.Figure()
    ref = series.reference
    if ref is not None:
        fig.add_hrect(y0=ref.low, y1=ref.high if ref.high > ref.low else ref.low + 1e-4,
                      fillcolor="#999999", opacity=0.25, line_width=0)
        fig.add_hline(y=sum(ref.values) / len(ref.values), line_dash="dash", line_color="#555555",
                      annotation_text=f"unregularized (n={len(ref.values)})")
    for t in series.traces:
        fig.add_trace(
            go.Scatter(
                x=t.x, y=t.y, mode="markers", name=PENALTY_LABELS[t.key],
                marker=dict(color=PENALTY_COLOURS[t.key], size=[7 + 14 * d for d in t.dropout], opacity=0.8),
                text=[f"trial {n}<br>λ={x:.2e}<br>dropout={d:.2f}<br>{ytitle}={y:.4f}"
                      for n, x, d, y in zip(t.numbers, t.x, t.dropout, t.y)],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    hidden = ", ".join(f"{n} {s}" for s, n in series.not_shown.items())
    fig.update_layout(
        title=title + (f"<br><sup>not shown (no finished model): {hidden}</sup>" if hidden else ""),
        xaxis=dict(type="log", exponentformat="power", title="λ (log scale); marker size: dropout"),
        yaxis=dict(title=ytitle), **LAYOUT,
    )
    return fig


def gap_figure(data: ReportData) -> go.Figure:
    o = data.objective
    gap = f"train − validation {o.name}" if o.direction == "maximize" else f"validation − train {o.name}"
    return _lambda_figure(gap_vs_lambda(data), f"Generalization gap ({gap}) vs λ", gap, o.on("train"))


def sparsity_figure(data: ReportData) -> go.Figure:
    return _lambda_figure(sparsity_vs_lambda(data), "Weight sparsity (fraction of kernel weights with |w| < 1e-3) vs λ: L1 against L2",
                          "near-zero weight fraction", "sparsity")


def learning_curves_figure(data: ReportData) -> go.Figure:
    curves = learning_curves(data)
    title = "Learning curves of the best trial per penalty type against the best unregularized trial"
    if not curves:
        return _empty(title, "no complete trial yet")
    fig = make_subplots(rows=1, cols=2, subplot_titles=[data.objective.on("validation"), "validation loss"])
    for c in curves:
        style = dict(color=GROUP_COLOURS[c.group], width=3 if c.group == "baseline" else 2,
                     dash="dash" if c.group == "baseline" else "solid")
        for col, ys in ((1, c.val_value), (2, c.val_loss)):
            fig.add_trace(go.Scatter(x=list(range(1, len(ys) + 1)), y=ys, mode="lines+markers", name=c.label,
                                     legendgroup=c.group, showlegend=col == 1, line=style), row=1, col=col)
    epochs = max(len(c.val_value) for c in curves)
    # One tick per epoch up to 15 epochs; beyond, plotly's own whole-number ticks stay readable.
    fig.update_xaxes(title_text="epoch", dtick=1 if epochs <= 15 else None, tickformat="d")
    fig.update_layout(title=title, **LAYOUT)
    return fig


def history_figure(data: ReportData) -> go.Figure:
    hist = optimization_history(data)
    title = "Optimization history (hollow: pruned, value at its last epoch; ×: failed, no value)"
    if not hist.points:
        return _empty(title, "no finished trial yet")
    fig = go.Figure()
    for group in GROUP_LABELS:
        for state in ("complete", "pruned"):
            pts = [p for p in hist.points if p.group == group and p.state == state]
            if pts:
                fig.add_trace(go.Scatter(
                    x=[p.number for p in pts], y=[p.value for p in pts], mode="markers",
                    name=f"{GROUP_LABELS[group]} ({state})", legendgroup=group,
                    marker=dict(color=GROUP_COLOURS[group], symbol=STATE_SYMBOLS[state], size=9,
                                line=dict(width=1.5, color=GROUP_COLOURS[group])),
                ))
    if hist.best_so_far:
        fig.add_trace(go.Scatter(x=[b[0] for b in hist.best_so_far], y=[b[1] for b in hist.best_so_far],
                                 mode="lines", line=dict(shape="hv", color="#2ca02c"), name="best so far"))
    if hist.failed:
        floor = min(p.value for p in hist.points)
        fig.add_trace(go.Scatter(x=hist.failed, y=[floor] * len(hist.failed), mode="markers", name="failed",
                                 marker=dict(symbol="x-thin-open", size=12, color="#000000", line=dict(width=2))))
    fig.update_layout(title=title, xaxis=dict(title="trial number"), yaxis=dict(title=data.objective.on("validation")), **LAYOUT)
    return fig


def importances_figure(data: ReportData) -> go.Figure:
    title = f"Parameter importances for {data.objective.on('validation')}"
    if not data.importances:
        return _empty(title, data.importance_note or "no importances")
    items = sorted(data.importances.items(), key=lambda kv: kv[1])
    fig = go.Figure(go.Bar(x=[v for _, v in items], y=[k for k, _ in items], orientation="h",
                           marker_color="#1f77b4", text=[f"{v:.2f}" for _, v in items], textposition="auto"))
    fig.update_layout(title=f"{title}<br><sup>{data.importance_note}</sup>", xaxis=dict(title="importance"),
                      **{**LAYOUT, "height": 320})
    return fig


def evaluation_figure(ev: EvaluationData | None, study: str) -> go.Figure:
    name = ev.objective.on("test") if ev is not None else "test score"
    title = f"{name[0].upper()}{name[1:]} on re-training (train + validation), mean and 95% CI per configuration"
    if ev is None or not any(g.values for g in ev.groups):
        return _empty(title, f"not evaluated yet: run `sweeper evaluate {study}`")
    fig = go.Figure()
    bounds = bounds_of(ev.objective.metric)
    for g in ev.groups:
        if not g.values or g.summary is None:
            continue
        s = g.summary
        label = g.describe() + (f" · trial {g.source_trial}" if g.source_trial is not None else "")
        low, high = s.low, s.high
        if bounds is not None and low is not None and high is not None:
            low, high = max(bounds[0], low), min(bounds[1], high)
        err = dict(type="data", symmetric=False, array=[high - s.mean], arrayminus=[s.mean - low]) if low is not None else None
        fig.add_trace(go.Scatter(x=[s.mean], y=[label], mode="markers", name=label, legendgroup=label,
                                 marker=dict(color=GROUP_COLOURS.get(g.group, "#333"), size=13, symbol="diamond"),
                                 error_x=err, showlegend=False))
        fig.add_trace(go.Scatter(x=g.values, y=[label] * len(g.values), mode="markers", legendgroup=label,
                                 marker=dict(color=GROUP_COLOURS.get(g.group, "#333"), size=6, opacity=0.5),
                                 showlegend=False, hovertemplate="seed run: %{x:.4f}<extra></extra>"))
    fig.update_layout(title=title, xaxis=dict(title=name), yaxis=dict(autorange="reversed"),
                      **{**LAYOUT, "height": 160 + 60 * len(ev.groups), "margin": dict(t=60, l=280, r=30, b=50)})
    return fig
