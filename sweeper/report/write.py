"""Writing the report pages: one self-contained HTML page per study (plotly.js embedded once, so
it opens offline) plus an index page with each study's verdict."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from pathlib import Path

import optuna
import plotly.graph_objects as go

from sweeper.errors import ReportError
from sweeper.evaluation.eval_study import find_eval_study, is_eval_study, sweep_of
from sweeper.report.collect import ReportData, collect_report
from sweeper.evaluation.results import collect_evaluation
from sweeper.report.figures import (
    evaluation_figure,
    gap_figure,
    history_figure,
    importances_figure,
    lambda_dropout_figure,
    learning_curves_figure,
    sparsity_figure,
)
from sweeper.report.curve_figure import curves_figure
from sweeper.report.curves import ResponseCurves, family_note, response_curves
from sweeper.report.headline import headline as headline_sentence
from sweeper.report.outcomes import study_notes
from sweeper.report.render import accuracy_vs_lambda
from sweeper.report.tables import best_table_html, evaluation_table_html, unfinished_table_html
from sweeper.study.designs import design_of



# (div id, section heading, figure builder): the page order; tests open each div by its id.
def headline(data: ReportData) -> go.Figure:
    """A curve study's response curves with their bands; a search study's trials as points."""
    return curves_figure(data) if design_of(data.design).planned else accuracy_vs_lambda(data)


FIGURES: list[tuple[str, str, Callable[[ReportData], go.Figure]]] = [
    ("fig-accuracy-vs-lambda", "1. {Validation} vs λ", headline),
    ("fig-evaluation", "2. Re-evaluation on the test split",
     lambda d: evaluation_figure(d.evaluation, d.study)),
    ("fig-lambda-dropout", "3. λ × dropout", lambda_dropout_figure),
    ("fig-gap", "4. Generalization gap", gap_figure),
    ("fig-sparsity", "5. Weight sparsity", sparsity_figure),
    ("fig-learning-curves", "6. Learning curves", learning_curves_figure),
    ("fig-history", "7. Optimization history", history_figure),
    ("fig-importances", "8. Parameter importances", importances_figure),
]
FIGURE_IDS = [f[0] for f in FIGURES]


def load_report(storage: optuna.storages.BaseStorage, name: str) -> ReportData:
    """Collect one study and, when ``sweeper evaluate`` has run, its evaluation study."""
    if is_eval_study(name):
        raise ReportError(f"{name!r} holds evaluation runs: report the study it evaluates, "
                          f"`sweeper report {sweep_of(name)}`")
    study = optuna.load_study(study_name=name, storage=storage)
    evaluation_study = find_eval_study(storage, name)
    evaluation = collect_evaluation(evaluation_study) if evaluation_study is not None else None
    return collect_report(study, evaluation)


def write_reports(storage: optuna.storages.BaseStorage, names: list[str], out: Path, *, png: bool = False,
                  skip: Callable[[str], None] | None = None) -> list[Path]:
    """A page per study and the index of every page in ``out``. A study with no ended trial has no
    page: ``ReportError``, or, given ``skip``, a note through it and the next study (a report of
    many studies never fails whole because of one); ``ReportError`` when no study has a page."""
    datas: list[ReportData] = []
    skipped: list[str] = []
    for name in names:
        data = load_report(storage, name)
        if not any(p.state in ("complete", "pruned", "fail") for p in data.points):
            counts = data.counts()
            skipped.append(f"study {name!r} has no ended trials yet ({counts['running']} running, "
                           f"{counts['waiting']} queued): run `sweeper worker` and report again")
        else:
            datas.append(data)
    if skipped and (skip is None or not datas):
        raise ReportError(skipped[0] if len(skipped) == 1 else
                          f"none of the studies {', '.join(names)} has an ended trial yet: run `sweeper worker`, then report")
    for why in skipped:
        skip(f"skipped {why}")  # type: ignore[misc]
    if png:
        from sweeper.report.png import find_browser

        find_browser()  # fail before writing anything when no browser is installed
    out.mkdir(parents=True, exist_ok=True)
    pages = [write_study_page(d, out) for d in datas]
    pages.append(write_index(datas, out))
    if png:
        from sweeper.report.png import write_png

        pages += [write_png(headline(d), out / f"{d.study}-headline.png") for d in datas if d.finished]
    return pages


def counts_line(data: ReportData) -> str:
    c = data.counts()
    return (
        f"{c['complete']} complete, {c['pruned']} pruned (stopped early; hollow markers, value at their "
        f"last epoch), {c['fail']} failed (no value; listed below), {c['running']} running, "
        f"{c['waiting']} queued" + (f" — budget {data.budget}" if data.budget else "")
    )


def notes_html(data: ReportData) -> list[str]:
    notes = study_notes(data)
    if not notes:
        return []
    return ["<div class='warning'>" + "".join(f"<p>{html.escape(n)}</p>" for n in notes) + "</div>"]


def write_study_page(data: ReportData, out: Path) -> Path:
    curves = response_curves(data) if data.finished and design_of(data.design).planned else None
    sections = [f"<h1>{html.escape(data.study)}</h1>"]
    if data.finished:
        sections.append(f"<p class='verdict headline'>{html.escape(headline_sentence(data, curves))}</p>")
    sections += [f"<p>task <b>{html.escape(str(data.task))}</b> · {html.escape(counts_line(data))}</p>",
                 *notes_html(data)]
    if data.finished:
        sections += [*curve_verdicts_html(data, curves), *_figures_html(data)]
    sections.append("<h2>Trials without a result</h2>" if not data.finished else "<h2>10. Trials without a result</h2>")
    sections.append(unfinished_table_html(data))
    page = out / f"{data.study}.html"
    page.write_text(_page(f"sweeper report: {data.study}", "".join(sections)), encoding="utf-8")
    return page


def _figures_html(data: ReportData) -> list[str]:
    sections = []
    first = True
    for div_id, heading, build in FIGURES:
        fig = build(data)
        validation = data.objective.on("validation")
        if div_id == "fig-accuracy-vs-lambda" and design_of(data.design).planned:
            heading = "1. Response curves: {Validation} vs λ and dropout, with 95% bands"
        sections.append(f"<h2>{html.escape(heading.replace('{Validation}', validation[0].upper() + validation[1:]))}</h2>")
        sections.append(fig.to_html(full_html=False, include_plotlyjs=first, div_id=div_id,
                                    config={"displaylogo": False}))
        first = False
        if div_id == "fig-evaluation":
            sections.append(evaluation_table_html(data.evaluation, data.study))
        if div_id == "fig-importances":
            sections.append("<h2>9. Best configuration per penalty type</h2>" + best_table_html(data))
    return sections


def curve_verdicts_html(data: ReportData, curves: ResponseCurves | None = None) -> list[str]:
    """A planned study's verdict per penalty type, read from its curves (validation split)."""
    if not design_of(data.design).planned:
        return []
    curves = curves or response_curves(data)
    if not curves.verdicts:
        return []
    items = "".join(f"<li>{html.escape(v)}</li>" for v in curves.verdicts.values())
    source = design_of(data.design).verdict_source
    dropped = [f"{html.escape(_point_name(g, p.x))}: {html.escape(p.dropped)}"
               for g, pts in [*curves.penalties.items(), ("dropout", curves.dropout)] for p in pts if p.dropped]
    stage = (f"<p class='note'>Race: {html.escape(curves.race_text)}"
             + (" (verdicts may still change)" if curves.stage != "done" else "") + "</p>") if curves.stage else ""
    left = (f"<details><summary>{len(dropped)} point(s) left out of the race, and why</summary><ul>"
            + "".join(f"<li>{d}</li>" for d in dropped) + "</ul></details>") if dropped else ""
    return [f"<div class='curve-verdicts'><b>From {source} ({html.escape(data.objective.on('validation'))}, "
            f"paired by seed against the unregularized baseline):</b><ul>{items}</ul>"
            f"<p class='note'>{html.escape(family_note(curves))}</p>{stage}{left}</div>"]


def _point_name(group: str, x: float) -> str:
    from sweeper.study.adaptive import point_label

    return point_label((group, x))


# What the index says of each page in the folder, kept beside the pages, so that reporting one
# study keeps the other studies' entries (each as it was when its page was written).
INDEX_ENTRIES = ".sweeper-index.json"


def index_entry(data: ReportData) -> str:
    """A study's item on the index page, as HTML."""
    curves = response_curves(data) if data.finished and design_of(data.design).planned else None
    verdict_html = (f"<div class='verdict headline'>{html.escape(headline_sentence(data, curves))}</div>"
                    if data.finished else "")
    return (f'<a href="{html.escape(data.study)}.html">{html.escape(data.study)}</a> '
            f"<span class='summary'>(task {html.escape(str(data.task))}; {html.escape(counts_line(data))})</span>"
            + verdict_html + "".join(notes_html(data)) + "".join(curve_verdicts_html(data, curves)))


def write_index(datas: list[ReportData], out: Path) -> Path:
    """The index of every study page in ``out``: those written now, and those written before (their
    entry as it was then; a page from an older sweeper gets a plain link)."""
    store = out / INDEX_ENTRIES
    try:
        entries: dict[str, str] = json.loads(store.read_text(encoding="utf-8"))
        if not isinstance(entries, dict):
            entries = {}
    except (OSError, ValueError):
        entries = {}
    entries.update({d.study: index_entry(d) for d in datas})
    pages = {p.stem for p in out.glob("*.html") if p.name != "index.html"}
    entries = {name: entry for name, entry in entries.items() if name in pages}
    for name in pages - entries.keys():
        entries[name] = f'<a href="{html.escape(name)}.html">{html.escape(name)}</a> <span class="summary">(a page written earlier)</span>'
    store.write_text(json.dumps(entries, indent=1, sort_keys=True), encoding="utf-8")
    rows = "".join(f"<li>{entries[name]}</li>" for name in sorted(entries))
    page = out / "index.html"
    page.write_text(_page("sweeper reports", f"<h1>sweeper reports</h1><ul>{rows}</ul>"), encoding="utf-8")
    return page


STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:1200px}"
    "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
    "th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
    ".verdict{font-size:1.15em;background:#eef5ff;padding:0.6em 0.9em;border-left:4px solid #1f77b4}"
    "li{margin-bottom:1.5em}.note{color:#555}"
    ".warning{background:#fff4e5;padding:0.4em 0.9em;border-left:4px solid #e67e22;margin:0.6em 0}"
    "li .verdict,li .curve-verdicts,li .warning{display:block;margin-top:0.4em}"
)


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style>"
        f"</head><body>{body}</body></html>"
    )
