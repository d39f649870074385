"""The report's tables as rows of display strings (pure, from ``StudyReport``): best configuration
per penalty type, the evaluation numbers, and the trials that have no result (failed, running,
queued). The templates lay them out; autoescaping escapes every cell."""

from __future__ import annotations

from dataclasses import dataclass

from sweeper.report.model import Evaluation, StudyReport


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]


def _fmt(x: float | None, spec: str = ".4f") -> str:
    return "–" if x is None else format(x, spec)


def best_table(report: StudyReport) -> Table:
    rows = [
        [r.label, str(r.number), _fmt(r.value), _fmt(r.lam, ".2e"), _fmt(r.l1_ratio, ".2f"), f"{r.dropout:.2f}",
         _fmt(r.train_value), _fmt(r.sparsity, ".3f"), str(r.complete)]
        for r in report.best
    ]
    o = report.data.objective
    return Table(["penalty type", "trial", o.on("validation"), "λ", "l1_ratio", "dropout", o.on("train"),
                  "sparsity", "complete trials"], rows)


def evaluation_table(report: StudyReport) -> Table:
    ev: Evaluation = report.evaluation  # type: ignore[assignment]
    o = report.data.objective
    pct = f"{int(ev.level * 100)}% CI"
    diff_pct = f"{int(ev.level * 100)}% simultaneous CI" if ev.compared > 1 else pct
    scale, unit = (100, "%") if o.in_points else (1, "")
    delta = "pp" if o.in_points else o.metric
    v, dv = (".2f", "+.2f") if o.in_points else (".4g", "+.3g")
    # The table shows the change in the objective (its sign as the metric moves), the model keeps
    # the gain (positive = better): the same number for a maximized objective.
    sign = 1 if o.direction == "maximize" else -1
    rows = []
    for r in ev.rows:
        i, d = r.interval, r.vs_baseline_interval
        ends = sorted(sign * x for x in (d.low, d.high)) if d is not None and d.low is not None else None  # type: ignore[operator]
        rows.append([
            r.configuration,
            "–" if r.source_trial is None else str(r.source_trial),
            f"{r.seeds}" + (f" (+{r.pending} pending)" if r.pending else "") + (f" ({r.other} diverged/failed)" if r.other else ""),
            "–" if r.mean is None else f"{scale * r.mean:{v}}{unit}",
            "–" if i is None or i.low is None else f"{scale * i.low:{v}} to {scale * i.high:{v}}",  # type: ignore[operator]
            "baseline" if r.type == "baseline" else ("–" if r.vs_baseline is None else f"{scale * sign * r.vs_baseline:{dv}}"),
            "–" if ends is None else f"{scale * ends[0]:{dv}} to {scale * ends[1]:{dv}}",
            "–" if r.p_value is None else f"{r.p_value:.3g}",
        ])
    return Table(["configuration", "source trial", "seeds", f"mean {o.on('test')}", pct,
                  f"Δ vs baseline ({delta})", f"Δ {diff_pct} ({delta})", "p"], rows)


def unfinished_table(report: StudyReport) -> Table:
    listed = set(report.unfinished)
    rows = [[str(t.number), t.state, t.penalty, _fmt(t.lam, ".2e"), f"{t.dropout:.2f}", t.reason or ""]
            for t in report.trials if t.number in listed]
    return Table(["trial", "state", "penalty", "λ", "dropout", "reason"], rows)
