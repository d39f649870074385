"""The report: ``collect`` reads a study into plain data (tested directly); ``series``, ``curves``
and ``outcomes`` derive what each figure, verdict and sentence shows (the evaluation numbers come
from ``sweeper.evaluation.results``); ``render``, ``curve_figure`` and ``figures`` turn that into
plotly figures, ``tables`` into HTML tables, ``write`` into self-contained HTML pages (plotly.js
embedded: works offline) and ``png`` into a PNG of the headline."""

from __future__ import annotations

from sweeper.report.collect import ReportData, collect_report
from sweeper.study.points import TrialPoint
from sweeper.errors import ReportError
from sweeper.report.write import write_reports

__all__ = ["ReportData", "ReportError", "TrialPoint", "collect_report", "write_reports"]
