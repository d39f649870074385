"""HTML tables of the report: best configuration per penalty type, the evaluation numbers, and the
trials that have no result (failed, running, queued)."""

from __future__ import annotations

import html

from sweeper.report.collect import ReportData
from sweeper.report.evaluation import EvaluationData
from sweeper.report.series import best_table, unfinished


def _fmt(x: float | None, spec: str = ".4f") -> str:
    return "–" if x is None else format(x, spec)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def best_table_html(data: ReportData) -> str:
    rows = [
        [r.label, str(r.number), _fmt(r.value), _fmt(r.lam, ".2e"), _fmt(r.l1_ratio, ".2f"), f"{r.dropout:.2f}",
         _fmt(r.train_accuracy), _fmt(r.sparsity, ".3f"), str(r.complete)]
        for r in best_table(data)
    ]
    if not rows:
        return "<p class='note'>no complete trial yet</p>"
    return _table(["penalty type", "trial", "val accuracy", "λ", "l1_ratio", "dropout", "train accuracy",
                   "sparsity", "complete trials"], rows)


def evaluation_table_html(ev: EvaluationData | None, study: str) -> str:
    if ev is None or not ev.runs:
        return f"<p class='note'>not evaluated yet: run <code>sweeper evaluate {html.escape(study)}</code></p>"
    pct = f"{int(ev.level * 100)}% CI"
    rows = []
    for g in ev.groups:
        s, d = g.summary, g.vs_baseline
        rows.append([
            g.describe(),
            "–" if g.source_trial is None else str(g.source_trial),
            f"{len(g.values)}" + (f" (+{g.pending} pending)" if g.pending else "") + (f" ({g.other} diverged/failed)" if g.other else ""),
            "–" if s is None else f"{100 * s.mean:.2f}%",
            "–" if s is None or s.low is None else f"{100 * s.low:.2f} to {100 * s.high:.2f}",  # type: ignore[operator]
            "baseline" if g.group == "baseline" else ("–" if d is None else f"{100 * d.diff:+.2f}"),
            "–" if d is None or d.low is None else f"{100 * d.low:+.2f} to {100 * d.high:+.2f}",  # type: ignore[operator]
            "–" if d is None or d.p_value is None else f"{d.p_value:.3g}",
        ])
    return (
        _table(["configuration", "source trial", "seeds", "mean test acc", pct, "Δ vs baseline (pp)",
                f"Δ {pct} (pp)", "p"], rows)
        + f"<p class='note'>Each configuration re-trained on train + validation with several seeds and scored on "
        f"the test split. Intervals: Student t per configuration; differences: {html.escape(ev.test_name)} "
        f"with its Welch–Satterthwaite interval.</p>"
    )


def unfinished_table_html(data: ReportData) -> str:
    rows = [[str(p.number), p.state, p.penalty, _fmt(p.lam, ".2e"), f"{p.dropout:.2f}", p.reason or ""]
            for p in unfinished(data)]
    if not rows:
        return "<p class='note'>none: every trial finished (complete or pruned)</p>"
    return _table(["trial", "state", "penalty", "λ", "dropout", "reason"], rows)
