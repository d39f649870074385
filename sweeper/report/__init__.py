"""The report: ``collect`` reads a study into plain data (tested directly), ``series`` and
``evaluation`` derive what each figure and table shows, ``render``/``figures`` turn that into
plotly figures and ``write`` into self-contained HTML pages (plotly.js embedded: works offline)."""

from __future__ import annotations

from sweeper.report.collect import ReportData, collect_report
from sweeper.study.points import TrialPoint
from sweeper.errors import ReportError
from sweeper.report.write import write_reports

__all__ = ["ReportData", "ReportError", "TrialPoint", "collect_report", "write_reports"]
