"""The headline of a curve study: response curves with their 95% bands (from
``sweeper.report.curves``), the objective against λ and against the dropout rate, and the
generalization gap on the same axes; the baseline, at its last epoch and stopped early, as bands
across each panel."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sweeper.report.collect import ReportData
from sweeper.report.curves import CurvePoint, ResponseCurves, response_curves
from sweeper.report.render import PENALTY_COLOURS, PENALTY_LABELS, bounds_of
from sweeper.stats.intervals import MeanCI

DROPOUT_COLOUR = "#ff7f0e"


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _band(fig: go.Figure, points: list[CurvePoint], stat: str, name: str, colour: str, row: int, col: int,
          legend: bool, bounds: tuple[float, float] | None = None) -> None:
    """Mean line with markers, and its interval as a filled band (collapsed where n < 2), cut at
    ``bounds`` (those of a fraction such as accuracy: an interval past 1 says nothing more)."""
    cis: list[MeanCI | None] = [getattr(p, stat) for p in points]
    pts = [(p, ci) for p, ci in zip(points, cis) if ci is not None]
    if not pts:
        return
    xs = [p.x for p, _ in pts]
    low = [ci.low if ci.low is not None else ci.mean for _, ci in pts]
    high = [ci.high if ci.high is not None else ci.mean for _, ci in pts]
    if bounds is not None:
        low, high = [max(bounds[0], v) for v in low], [min(bounds[1], v) for v in high]
    fig.add_trace(go.Scatter(x=xs, y=high, mode="lines", line=dict(width=0), hoverinfo="skip", showlegend=False,
                             legendgroup=name), row=row, col=col)
    fig.add_trace(go.Scatter(x=xs, y=low, mode="lines", line=dict(width=0), fill="tonexty",
                             fillcolor=_rgba(colour, 0.2), hoverinfo="skip", showlegend=False, legendgroup=name,
                             name=f"{name} 95% CI"), row=row, col=col)
    fig.add_trace(go.Scatter(
        x=xs, y=[ci.mean for _, ci in pts], mode="lines+markers", name=name, legendgroup=name, showlegend=legend,
        line=dict(color=colour, width=2), marker=dict(color=colour, size=7),
        text=[f"{name}<br>x={p.x:.3g}<br>mean {ci.mean:.4f} (n={ci.n})"
              + (f"<br>95% CI {ci.low:.4f} to {ci.high:.4f}" if ci.low is not None else "") for p, ci in pts],
        hovertemplate="%{text}<extra></extra>",
    ), row=row, col=col)


def _dropped(fig: go.Figure, points: list[CurvePoint], name: str, colour: str, row: int, col: int) -> None:
    """An adaptive race's points that stopped getting seeds, crossed out, with why on hover."""
    out = [p for p in points if p.dropped]
    if not out:
        return
    fig.add_trace(go.Scatter(
        x=[p.x for p in out], y=[p.value.mean for p in out], mode="markers", name=f"{name}: left out of the race",
        legendgroup=name, showlegend=False, marker=dict(symbol="x-thin-open", size=13, color=colour, line=dict(width=2)),
        text=[f"{name} at {p.x:.3g}: left out of the race, {p.dropped} (n={p.n})" for p in out],
        hovertemplate="%{text}<extra></extra>",
    ), row=row, col=col)


def _reference(fig: go.Figure, ci: MeanCI | None, colour: str, dash: str, row: int, col: int,
               bounds: tuple[float, float] | None = None) -> None:
    """A baseline as a line with its band across a panel; named in the legend (``_legend_line``),
    not on the panel, where its label would sit on the curves that start at the baseline."""
    if ci is None:
        return
    if ci.low is not None and ci.high is not None and ci.high > ci.low:
        low, high = (ci.low, ci.high) if bounds is None else (max(bounds[0], ci.low), min(bounds[1], ci.high))
        fig.add_hrect(y0=low, y1=high, fillcolor=colour, opacity=0.12, line_width=0, row=row, col=col)
    fig.add_hline(y=ci.mean, line_dash=dash, line_color=colour, row=row, col=col)


def _legend_line(fig: go.Figure, label: str, colour: str, dash: str) -> None:
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=label, line=dict(color=colour, dash=dash),
                             hoverinfo="skip"), row=1, col=1)


def curves_figure(data: ReportData, curves: ResponseCurves | None = None) -> go.Figure:
    curves = curves or response_curves(data)
    o = data.objective
    gap = f"train − validation {o.name}" if o.direction == "maximize" else f"validation − train {o.name}"
    fig = make_subplots(
        rows=2, cols=2, shared_xaxes="columns", vertical_spacing=0.1, horizontal_spacing=0.08,
        subplot_titles=[f"{o.on('validation')} vs λ (no dropout)", f"{o.on('validation')} vs dropout rate (no penalty)",
                        f"generalization gap ({gap}) vs λ", "generalization gap vs dropout rate"],
    )
    bounds = bounds_of(o.metric)
    for penalty, points in curves.penalties.items():
        colour = PENALTY_COLOURS[penalty]
        _band(fig, points, "value", PENALTY_LABELS[penalty], colour, 1, 1, True, bounds)
        _band(fig, points, "gap", PENALTY_LABELS[penalty], colour, 2, 1, False)
        _dropped(fig, points, PENALTY_LABELS[penalty], colour, 1, 1)
    _dropped(fig, curves.dropout, "dropout", DROPOUT_COLOUR, 1, 2)
    dropout = list(curves.dropout)
    if curves.baseline is not None and dropout:
        dropout = [curves.baseline, *dropout]  # rate 0 is the baseline
    _band(fig, dropout, "value", "dropout", DROPOUT_COLOUR, 1, 2, True, bounds)
    _band(fig, dropout, "gap", "dropout", DROPOUT_COLOUR, 2, 2, False)
    base = curves.baseline
    if base is not None:
        _legend_line(fig, f"unregularized, last epoch (n={base.value.n})", "#555555", "dash")
        if curves.best_epoch is not None:
            _legend_line(fig, "unregularized, stopped early (epoch from its other seeds)", "#2ca02c", "dot")
        for col in (1, 2):
            _reference(fig, base.value, "#555555", "dash", 1, col, bounds)
            _reference(fig, curves.best_epoch, "#2ca02c", "dot", 1, col, bounds)
            _reference(fig, base.gap, "#555555", "dash", 2, col)
    fig.update_xaxes(type="log", exponentformat="power", row=1, col=1)
    fig.update_xaxes(type="log", exponentformat="power", title_text="λ (log scale)", row=2, col=1)
    fig.update_xaxes(title_text="dropout rate", row=2, col=2)
    fig.update_yaxes(title_text=o.on("validation"), row=1, col=1)
    fig.update_yaxes(title_text=gap, row=2, col=1)
    # An adaptive study's points have from 1 seed (bracket) to 20 (a finalist): say the range, not
    # the most, which would read as if every point had it.
    ns = [p.n for pts in curves.penalties.values() for p in pts] + [p.n for p in curves.dropout] or [0]
    repeats = f"{max(ns)}" if min(ns) == max(ns) else f"{min(ns)}–{max(ns)}"
    fig.update_layout(
        title=f"{data.study}: response curves, mean over {repeats} seeds per point with 95% bands",
        template="plotly_white", height=820, legend=dict(orientation="h", x=0, y=1.04, yanchor="bottom"),
        margin=dict(t=110, l=70, r=30, b=60),
    )
    return fig
