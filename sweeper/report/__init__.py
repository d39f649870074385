"""The report: ``collect`` reads a study into plain data (tested directly); ``series``, ``curves``
and ``outcomes`` derive what each figure, verdict and sentence shows (the evaluation numbers come
from ``sweeper.evaluation.results``); ``model`` gathers all of it once into a ``StudyReport`` (the
typed objects behind the page, the JSON and the Python API); ``render``, ``curve_figure`` and
``figures`` draw plotly figures (``sections`` names them in page order), ``tables`` lays out the
tables, ``write`` renders self-contained HTML pages from Jinja2 templates (plotly.js embedded:
works offline) and ``png`` a PNG of the headline."""

from __future__ import annotations

from sweeper.errors import ReportError
from sweeper.report.collect import ReportData, collect_report
from sweeper.report.model import SCHEMA_VERSION, StudyReport, Verdict, build_report
from sweeper.report.write import load_study_report, write_reports, write_study_reports
from sweeper.study.points import TrialPoint

__all__ = ["SCHEMA_VERSION", "ReportData", "ReportError", "StudyReport", "TrialPoint", "Verdict", "build_report",
           "collect_report", "load_study_report", "write_reports", "write_study_reports"]
