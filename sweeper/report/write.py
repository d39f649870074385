"""Writing the report pages: one self-contained HTML page per study plus an index page."""

from __future__ import annotations

import html
from pathlib import Path

import optuna

from sweeper.errors import SweeperError
from sweeper.report.collect import ReportData, collect_report
from sweeper.report.render import accuracy_vs_lambda


class ReportError(SweeperError):
    exit_code = 7


def write_reports(storage: optuna.storages.BaseStorage, names: list[str], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    datas: list[ReportData] = []
    for name in names:
        study = optuna.load_study(study_name=name, storage=storage)
        data = collect_report(study)
        if not data.finished:
            counts = data.counts()
            raise ReportError(
                f"study {name!r} has no finished trials yet ({counts['running']} running, "
                f"{counts['fail']} failed): run `sweeper worker` and report again"
            )
        datas.append(data)
    pages = [write_study_page(d, out) for d in datas]
    pages.append(write_index(datas, out))
    return pages


def write_study_page(data: ReportData, out: Path) -> Path:
    fig = accuracy_vs_lambda(data)
    body = fig.to_html(full_html=False, include_plotlyjs=True, div_id="fig-accuracy-vs-lambda")
    page = out / f"{data.study}.html"
    page.write_text(_page(f"sweeper report: {data.study}", f"<h1>{html.escape(data.study)}</h1>{body}"))
    return page


def write_index(datas: list[ReportData], out: Path) -> Path:
    items = "".join(
        f'<li><a href="{html.escape(d.study)}.html">{html.escape(d.study)}</a> '
        f"(task {html.escape(str(d.task))}, {len(d.finished)} finished trials)</li>"
        for d in datas
    )
    page = out / "index.html"
    page.write_text(_page("sweeper reports", f"<h1>sweeper reports</h1><ul>{items}</ul>"))
    return page


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}</style>"
        f"</head><body>{body}</body></html>"
    )
