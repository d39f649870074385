"""The report: ``collect`` reads a study into plain data (tested directly), ``render`` turns that
into plotly figures and self-contained HTML pages (plotly.js embedded, so they work offline)."""

from __future__ import annotations

from sweeper.report.collect import ReportData, TrialPoint, collect_report
from sweeper.report.write import write_reports

__all__ = ["ReportData", "TrialPoint", "collect_report", "write_reports"]
