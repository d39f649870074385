"""HTML tables of the report: best configuration per penalty type, the evaluation numbers, and the
trials that have no result (failed, running, queued)."""

from __future__ import annotations

import html

from sweeper.report.collect import ReportData
from sweeper.evaluation.results import EvaluationData
from sweeper.report.series import best_table, unfinished
from sweeper.study.points import GROUP_LABELS


def _fmt(x: float | None, spec: str = ".4f") -> str:
    return "–" if x is None else format(x, spec)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def best_table_html(data: ReportData) -> str:
    rows = [
        [r.label, str(r.number), _fmt(r.value), _fmt(r.lam, ".2e"), _fmt(r.l1_ratio, ".2f"), f"{r.dropout:.2f}",
         _fmt(r.train_value), _fmt(r.sparsity, ".3f"), str(r.complete)]
        for r in best_table(data)
    ]
    if not rows:
        return "<p class='note'>no complete trial yet</p>"
    o = data.objective
    return _table(["penalty type", "trial", o.on("validation"), "λ", "l1_ratio", "dropout", o.on("train"),
                   "sparsity", "complete trials"], rows)


def evaluation_table_html(ev: EvaluationData | None, study: str) -> str:
    if ev is None or not ev.runs:
        return f"<p class='note'>not evaluated yet: run <code>sweeper evaluate {html.escape(study)}</code></p>"
    pct = f"{int(ev.level * 100)}% CI"
    diff_pct = f"{int(ev.level * 100)}% simultaneous CI" if ev.compared > 1 else pct
    scale = 100 if ev.objective.in_points else 1
    unit = "%" if ev.objective.in_points else ""
    delta = "pp" if ev.objective.in_points else ev.objective.metric
    v, dv = (".2f", "+.2f") if ev.objective.in_points else (".4g", "+.3g")
    rows = []
    said = f"<p class='verdict'>Test split: {html.escape(ev.verdict())}</p>"
    for g in ev.groups:
        s, d = g.summary, g.vs_baseline
        rows.append([
            g.describe(),
            "–" if g.source_trial is None else str(g.source_trial),
            f"{len(g.values)}" + (f" (+{g.pending} pending)" if g.pending else "") + (f" ({g.other} diverged/failed)" if g.other else ""),
            "–" if s is None else f"{scale * s.mean:{v}}{unit}",
            "–" if s is None or s.low is None else f"{scale * s.low:{v}} to {scale * s.high:{v}}",  # type: ignore[operator]
            "baseline" if g.group == "baseline" else ("–" if d is None else f"{scale * d.diff:{dv}}"),
            "–" if d is None or d.low is None else f"{scale * d.low:{dv}} to {scale * d.high:{dv}}",  # type: ignore[operator]
            "–" if d is None or d.p_value is None else f"{d.p_value:.3g}",
        ])
    return (
        said
        + _table(["configuration", "source trial", "seeds", f"mean {ev.objective.on('test')}", pct,
                f"Δ vs baseline ({delta})", f"Δ {diff_pct} ({delta})", "p"], rows)
        + f"<p class='note'>Each configuration re-trained on train + validation with the same seeds and scored on "
        f"the test split. Intervals: Student t per configuration; differences: {html.escape(ev.test_name)} "
        f"({ev.compared} comparison{'s' if ev.compared != 1 else ''}, and α spent over the looks at the test "
        f"split, each later <code>evaluate --seeds</code> one more: every Δ interval at {100 * ev.pair_level:.4g}%, "
        f"so that all hold at once with {int(ev.level * 100)}% probability); p unadjusted. A run that diverged "
        f"is scored at the metric's worst value in its pair, on the baseline's side as on the type's; the verdict "
        f"is read only once no planned run is pending.</p>"
        + "".join(f"<p class='note'>{html.escape(GROUP_LABELS.get(g, g))} not evaluated: {html.escape(why)}.</p>"
                  for g, why in ev.left_out.items())
    )


def unfinished_table_html(data: ReportData) -> str:
    rows = [[str(p.number), p.state, p.penalty, _fmt(p.lam, ".2e"), f"{p.dropout:.2f}", p.reason or ""]
            for p in unfinished(data)]
    if not rows:
        return "<p class='note'>none: every trial finished (complete or pruned)</p>"
    return _table(["trial", "state", "penalty", "λ", "dropout", "reason"], rows)
