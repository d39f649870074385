"""Writing the report pages: one self-contained HTML page per study (plotly.js embedded once, so
it opens offline) plus an index page with each study's verdict. Each page is the study's
``StudyReport`` (``sweeper.report.model``) through a Jinja2 template in ``templates/`` with
autoescaping, so every sentence on it is a field of the report's JSON too."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import jinja2
import optuna
from markupsafe import Markup

from sweeper.errors import ReportError
from sweeper.evaluation.eval_study import find_eval_study, is_eval_study, sweep_of
from sweeper.evaluation.results import collect_evaluation
from sweeper.report.collect import ReportData, collect_report
from sweeper.report.model import StudyReport, build_report
from sweeper.report.sections import FIGURE_IDS, FIGURES, heading
from sweeper.report.tables import best_table, evaluation_table, unfinished_table
from sweeper.study.points import GROUP_LABELS

__all__ = ["FIGURE_IDS", "ReportError", "load_report", "load_study_report", "write_reports"]


def load_report(storage: optuna.storages.BaseStorage, name: str) -> ReportData:
    """Collect one study and, when ``sweeper evaluate`` has run, its evaluation study."""
    if is_eval_study(name):
        raise ReportError(f"{name!r} holds evaluation runs: report the study it evaluates, "
                          f"`sweeper report {sweep_of(name)}`")
    study = optuna.load_study(study_name=name, storage=storage)
    evaluation_study = find_eval_study(storage, name)
    evaluation = collect_evaluation(evaluation_study) if evaluation_study is not None else None
    return collect_report(study, evaluation)


def load_study_report(storage: optuna.storages.BaseStorage, name: str) -> StudyReport:
    """The report of one study, collected once: what the pages, the JSON and the API show."""
    return build_report(load_report(storage, name))


def write_reports(storage: optuna.storages.BaseStorage, names: list[str], out: Path, *, png: bool = False,
                  skip: Callable[[str], None] | None = None) -> list[Path]:
    """A page per study and the index of every page in ``out``. A study with no ended trial has no
    page: ``ReportError``, or, given ``skip``, a note through it and the next study (a report of
    many studies never fails whole because of one); ``ReportError`` when no study has a page."""
    return write_study_reports([load_study_report(storage, name) for name in names], out, png=png, skip=skip)


def write_study_reports(reports: list[StudyReport], out: Path, *, png: bool = False,
                        skip: Callable[[str], None] | None = None) -> list[Path]:
    """``write_reports`` of reports already built (``sweeper run`` prints from the same ones)."""
    kept: list[StudyReport] = []
    skipped: list[str] = []
    names = [r.study for r in reports]
    for report in reports:
        if not any(t.state in ("complete", "pruned", "fail") for t in report.trials):
            counts = report.counts
            skipped.append(f"study {report.study!r} has no ended trials yet ({counts['running']} running, "
                           f"{counts['waiting']} queued): run `sweeper worker` and report again")
        else:
            kept.append(report)
    if skipped and (skip is None or not kept):
        raise ReportError(skipped[0] if len(skipped) == 1 else
                          f"none of the studies {', '.join(names)} has an ended trial yet: run `sweeper worker`, then report")
    for why in skipped:
        skip(f"skipped {why}")  # type: ignore[misc]
    if png:
        from sweeper.report.png import find_browser

        find_browser()  # fail before writing anything when no browser is installed
    out.mkdir(parents=True, exist_ok=True)
    pages = [write_study_page(r, out) for r in kept]
    pages.append(write_index(kept, out))
    if png:
        from sweeper.report.png import write_png

        pages += [write_png(r.figure("headline"), out / f"{r.study}-headline.png") for r in kept if r.finished]
    return pages


@lru_cache(maxsize=1)
def _templates() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("sweeper.report", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def study_page_html(report: StudyReport) -> str:
    """The study's page: every sentence from ``report``, every figure from ``report.figure``."""
    sections = []
    if report.finished:
        for i, section in enumerate(FIGURES):
            fig = section.build(report)
            sections.append({
                "name": section.name,
                "heading": heading(section, report),
                # plotly's own HTML (plotly.js embedded in the first figure only): trusted markup.
                "figure": Markup(fig.to_html(full_html=False, include_plotlyjs=i == 0, div_id=section.div_id,
                                             config={"displaylogo": False})),
            })
    return _templates().get_template("study.html.j2").render(
        title=f"sweeper report: {report.study}", report=report, sections=sections, labels=GROUP_LABELS,
        best_table=best_table(report), unfinished_table=unfinished_table(report),
        evaluation_table=evaluation_table(report) if report.evaluation is not None else None)


def write_study_page(report: StudyReport, out: Path) -> Path:
    page = out / f"{report.study}.html"
    page.write_text(study_page_html(report), encoding="utf-8")
    return page


# What the index says of each page in the folder, kept beside the pages, so that reporting one
# study keeps the other studies' entries (each as it was when its page was written).
INDEX_ENTRIES = ".sweeper-index.json"


def index_entry(report: StudyReport) -> str:
    """A study's item on the index page, as HTML."""
    return _templates().get_template("entry.html.j2").render(report=report)


def write_index(reports: list[StudyReport], out: Path) -> Path:
    """The index of every study page in ``out``: those written now, and those written before (their
    entry as it was then; a page from an older sweeper gets a plain link)."""
    store = out / INDEX_ENTRIES
    try:
        entries: dict[str, str] = json.loads(store.read_text(encoding="utf-8"))
        if not isinstance(entries, dict):
            entries = {}
    except (OSError, ValueError):
        entries = {}
    entries.update({r.study: index_entry(r) for r in reports})
    pages = {p.stem for p in out.glob("*.html") if p.name != "index.html"}
    entries = {name: entry for name, entry in entries.items() if name in pages}
    plain = _templates().from_string('<a href="{{ n }}.html">{{ n }}</a> <span class="summary">(a page written earlier)</span>')
    for name in pages - entries.keys():
        entries[name] = plain.render(n=name)
    store.write_text(json.dumps(entries, indent=1, sort_keys=True), encoding="utf-8")
    page = out / "index.html"
    # The stored entries were rendered (and escaped) by entry.html.j2 when their page was written.
    page.write_text(_templates().get_template("index.html.j2").render(
        title="sweeper reports", entries=[Markup(entries[n]) for n in sorted(entries)]), encoding="utf-8")
    return page
