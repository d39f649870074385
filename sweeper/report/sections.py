"""The figures of a study's report, in page order, by name: what ``StudyReport.figure(name)``
returns and what the page embeds (each under its div id; the templates number the sections)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import plotly.graph_objects as go

from sweeper.report.curve_figure import curves_figure
from sweeper.report.figures import (
    evaluation_figure,
    gap_figure,
    history_figure,
    importances_figure,
    lambda_dropout_figure,
    learning_curves_figure,
    sparsity_figure,
)
from sweeper.report.render import accuracy_vs_lambda



class StudyReport(Protocol):
    """What the figures read of ``sweeper.report.model.StudyReport`` (a protocol, so that the
    model, whose ``figure`` builds them, and this module do not import each other)."""

    study: str
    data: Any
    response: Any
    validation_name: str


@dataclass(frozen=True)
class FigureSection:
    name: str  # what ``StudyReport.figure`` takes
    div_id: str  # the page's div (tests open each by it)
    heading: str  # "{Validation}" stands for the objective on validation, capitalised
    build: Callable[[StudyReport], go.Figure]


def _headline(r: StudyReport) -> go.Figure:
    """A planned study's response curves with their bands; a search study's trials as points."""
    if r.response is not None:
        return curves_figure(r.data, r.response)
    return accuracy_vs_lambda(r.data)


FIGURES: list[FigureSection] = [
    FigureSection("headline", "fig-accuracy-vs-lambda", "{Validation} vs λ", _headline),
    FigureSection("evaluation", "fig-evaluation", "Re-evaluation on the test split",
                  lambda r: evaluation_figure(r.data.evaluation, r.study)),
    FigureSection("lambda-dropout", "fig-lambda-dropout", "λ × dropout", lambda r: lambda_dropout_figure(r.data)),
    FigureSection("gap", "fig-gap", "Generalization gap", lambda r: gap_figure(r.data)),
    FigureSection("sparsity", "fig-sparsity", "Weight sparsity", lambda r: sparsity_figure(r.data)),
    FigureSection("learning-curves", "fig-learning-curves", "Learning curves", lambda r: learning_curves_figure(r.data)),
    FigureSection("history", "fig-history", "Optimization history", lambda r: history_figure(r.data)),
    FigureSection("importances", "fig-importances", "Parameter importances", lambda r: importances_figure(r.data)),
]
FIGURE_NAMES = [f.name for f in FIGURES]
FIGURE_IDS = [f.div_id for f in FIGURES]
PLANNED_HEADLINE = "Response curves: {Validation} vs λ and dropout, with 95% bands"


def heading(section: FigureSection, report: StudyReport) -> str:
    text = PLANNED_HEADLINE if section.name == "headline" and report.response is not None else section.heading
    validation = report.validation_name
    return text.replace("{Validation}", validation[0].upper() + validation[1:])


def build_figure(report: StudyReport, name: str) -> go.Figure:
    """The figure ``name`` (one of ``FIGURE_NAMES``) of ``report``."""
    section = next((f for f in FIGURES if f.name == name), None)
    if section is None:
        from sweeper.errors import ReportError

        raise ReportError(f"no figure named {name!r}: choose one of {', '.join(FIGURE_NAMES)}")
    return section.build(report)
