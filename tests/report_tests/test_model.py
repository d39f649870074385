"""One report model behind the page, the JSON and the objects: the JSON of a constructed study
equals its objects, every sentence the page prints is a field of the same object (and the page
prints every one), and a study stored by an older sweeper (no sweeper attrs at all) still reports."""

from __future__ import annotations

import dataclasses
import json
from html.parser import HTMLParser
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from sweeper.report import SCHEMA_VERSION, StudyReport, build_report, collect_report, load_study_report
from sweeper.report.write import study_page_html, write_reports
from sweeper.settings import Settings
from sweeper.storage import open_storage
from sweeper.study.config import CONFIG_ATTR
from tests.report_tests.known import EVALUATED, GROUP_PARAMS, KNOWN, config, curve_study, eval_study, known_study, params, trial



@pytest.fixture
def storage(tmp_path: Path) -> optuna.storages.BaseStorage:
    storage = open_storage(Settings(storage=f"sqlite:///{tmp_path / 'sweeper.db'}"), create_tables=True)
    known_study("cifar10", storage)
    eval_study("cifar10", storage, EVALUATED, GROUP_PARAMS)
    curve_study("curve", storage, best_epoch_bonus=0.05)
    return storage


class _Said(HTMLParser):
    """The sentences a page prints, by the class of the element that holds each."""

    CLASSES = ("headline", "study-note", "verdict-item", "family-note", "test-verdict")

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str], str]] = []
        self._open: list[tuple[str, str, dict[str, str], list[str]]] = []  # (tag, class, attrs, text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        kind = next((c for c in self.CLASSES if c in a.get("class", "").split()), "")
        self._open.append((tag, kind, a, []))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            t, kind, a, text = self._open.pop()
            if kind:
                self.found.append((kind, a, "".join(text)))
            if self._open:
                self._open[-1][3].extend(text)
            if t == tag:
                return

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][3].append(data)


def said(page: str) -> _Said:
    parser = _Said()
    parser.feed(page)
    return parser


def _printed(report: StudyReport) -> dict[str, list]:  # type: ignore[type-arg]
    """What the page must print, read from the report's JSON (not from the objects)."""
    d = json.loads(report.to_json())
    return {
        "headline": [d["headline"]],
        "study-note": d["notes"],
        "verdict-item": sorted((v["type"], v["split"], v["outcome"], v["sentence"]) for v in d["verdicts"]),
        "family-note": [d["family"]["note"]] if d["family"] else [],
        "test-verdict": [f"Test split: {d['evaluation']['sentence']}"] if d["evaluation"] else [],
    }


@pytest.mark.parametrize("name", ["cifar10", "curve"])
def test_the_json_equals_the_objects(storage, name: str) -> None:  # type: ignore[no-untyped-def]
    report = load_study_report(storage, name)
    data = json.loads(report.to_json())
    assert data["schema_version"] == SCHEMA_VERSION == 1 and data == report.to_dict()
    assert [v for v in data["verdicts"]] == [dataclasses.asdict(v) for v in report.verdicts]
    assert data["trials"] == [dataclasses.asdict(t) for t in report.trials]
    assert data["headline"] == report.headline and data["notes"] == report.notes
    # Nothing of the collected data or the figures' inputs leaks into the JSON.
    assert "data" not in data and "response" not in data


def test_the_page_prints_exactly_the_sentences_of_the_json(storage) -> None:  # type: ignore[no-untyped-def]
    for name in ("cifar10", "curve"):
        report = load_study_report(storage, name)
        page = said(study_page_html(report))
        expected = _printed(report)
        got = {kind: [text for k, _, text in page.found if k == kind] for kind in expected}
        got["verdict-item"] = sorted((a["data-type"], a["data-split"], a["data-outcome"], text)
                                     for k, a, text in page.found if k == "verdict-item")
        assert got == expected
    # The constructed studies say something in every kind of sentence between them.
    cifar, curve = load_study_report(storage, "cifar10"), load_study_report(storage, "curve")
    assert cifar.notes and cifar.evaluation and [v.split for v in cifar.verdicts] == ["test", "test"]
    assert curve.family and [v.split for v in curve.verdicts] == ["validation"] * 3


def test_verdicts_carry_type_point_outcome_effect_interval_and_seeds(storage) -> None:  # type: ignore[no-untyped-def]
    report = load_study_report(storage, "cifar10")
    l2 = report.verdict("l2", "test")
    assert l2 is not None and l2.outcome == "helps" and l2.point == pytest.approx(3e-4)
    assert l2.effect == pytest.approx(0.045) and l2.effect_text == "+4.5 pp" and l2.seeds == 3
    assert l2.interval.low == pytest.approx(0.005, abs=5e-4) and l2.interval.high == pytest.approx(0.085, abs=5e-4)
    assert l2.interval.level == report.evaluation.pair_level < 0.99  # Bonferroni over the 2 types
    assert report.verdict("l1", "test").outcome == "undecided"
    curve = load_study_report(storage, "curve")
    v = curve.verdict("l2")
    # tests/report_tests/test_curves.py works this interval out by hand.
    assert (v.outcome, v.point, v.effect_text, v.seeds, v.scope) == ("undecided", pytest.approx(1e-3), "+4.0 pp", 3, "curve")
    assert v.interval.low == pytest.approx(-0.122, abs=1e-3) and v.interval.high == pytest.approx(0.202, abs=1e-3)
    assert v.early_stopping is not None and v.more_seeds == 13
    assert (curve.family.hypotheses, curve.family.looks, curve.family.alpha) == (24, None, 0.05)


def test_index_entry_and_page_come_from_the_same_report(storage, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page, _, index = write_reports(storage, ["cifar10", "curve"], tmp_path / "out")
    entries = said(index.read_text())
    for name in ("cifar10", "curve"):
        report = load_study_report(storage, name)
        assert ("headline", report.headline) in {(k, t) for k, _, t in entries.found}
    assert "<script>alert" not in page.read_text()


def test_names_and_reasons_are_escaped(tmp_path: Path) -> None:
    storage = open_storage(Settings(storage=f"sqlite:///{tmp_path / 's.db'}"), create_tables=True)
    rows = [*KNOWN[:8], (TrialState.FAIL, params("l2", 1e-2), None, {"attrs": {"fail_reason": "<script>alert(1)</script>"}})]
    known_study("x<b>", storage, rows=rows)
    html = write_reports(storage, ["x<b>"], tmp_path / "out")[0].read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<h1>x&lt;b&gt;</h1>" in html


def test_a_study_stored_without_any_sweeper_attrs_still_reports(tmp_path: Path) -> None:
    """A study from before sweeper stored its config, versions or planned attrs: plain Optuna
    trials with only the params and the value."""
    storage = open_storage(Settings(storage=f"sqlite:///{tmp_path / 'old.db'}"), create_tables=True)
    study = optuna.create_study(study_name="old", storage=storage, direction="maximize")
    for state, p, value, _ in KNOWN[:8]:
        t = trial(state, p, value)
        study.add_trial(optuna.trial.create_trial(state=t.state, params=t.params, distributions=t.distributions,
                                                  value=t.value))
    report = load_study_report(storage, "old")
    assert report.design == "search" and report.task is None and report.config == {}
    assert report.counts["complete"] == 8 and report.headline.startswith("Best validation accuracy per type")
    assert json.loads(report.to_json())["trials"][0]["value"] == 0.60
    pages = write_reports(storage, ["old"], tmp_path / "out")
    assert "Best configuration per penalty type" in pages[0].read_text()


def test_figures_by_name_and_a_clear_error_for_an_unknown_one(storage) -> None:  # type: ignore[no-untyped-def]
    import plotly.graph_objects as go

    from sweeper.errors import ReportError
    from sweeper.report.sections import FIGURE_NAMES

    report = load_study_report(storage, "curve")
    figs = {name: report.figure(name) for name in FIGURE_NAMES}
    assert all(isinstance(f, go.Figure) for f in figs.values())
    assert "response curves" in figs["headline"].layout.title.text
    with pytest.raises(ReportError, match="no figure named 'nope': choose one of headline, evaluation"):
        report.figure("nope")


def test_to_frame_of_verdicts_and_trials(storage) -> None:  # type: ignore[no-untyped-def]
    report = load_study_report(storage, "cifar10")
    verdicts = report.to_frame("verdicts")
    assert list(verdicts["type"]) == ["l1", "l2"] and list(verdicts["outcome"]) == ["undecided", "helps"]
    assert verdicts.loc[1, "low"] == pytest.approx(report.verdict("l2", "test").interval.low)
    trials = report.to_frame("trials")
    assert len(trials) == len(KNOWN) and list(trials["state"])[:2] == ["complete", "complete"]
    from sweeper.errors import ReportError

    with pytest.raises(ReportError, match="choose 'verdicts' or 'trials'"):
        report.to_frame("points")


def test_build_report_works_out_the_curves_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import sweeper.report.model as model

    calls = []
    real = model.response_curves
    monkeypatch.setattr(model, "response_curves", lambda data: calls.append(1) or real(data))
    report = build_report(collect_report(curve_study()))
    study_page_html(report)
    assert calls == [1]


def test_to_frame_without_pandas_says_which_extra_to_install(storage, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import sys

    from sweeper.errors import ReportError

    report = load_study_report(storage, "cifar10")
    monkeypatch.setitem(sys.modules, "pandas", None)  # what `import pandas` meets where it is not installed
    with pytest.raises(ReportError) as raised:
        report.to_frame()
    assert str(raised.value) == "to_frame needs pandas, which is not installed: pip install 'sweeper[notebook]'"


def test_the_report_counts_the_compute_in_full_trial_equivalents(tmp_path: Path) -> None:
    """Epochs run ÷ epochs of a full trial (4 here): two full trials and one pruned after 2 epochs
    are 2.5 full trials, in the objects, the JSON and the page's counts line."""
    study = optuna.create_study(study_name="compute", direction="maximize")
    study.set_user_attr(CONFIG_ATTR, config().to_attrs())
    study.add_trial(trial(TrialState.COMPLETE, params("none"), 0.6, intermediate={0: 0.3, 1: 0.4, 2: 0.5, 3: 0.6}))
    study.add_trial(trial(TrialState.COMPLETE, params("l2", 1e-4), 0.62, intermediate={0: 0.3, 1: 0.4, 2: 0.5, 3: 0.62}))
    study.add_trial(trial(TrialState.PRUNED, params("l1", 1e-2), 0.2, intermediate={0: 0.1, 1: 0.2}))
    report = build_report(collect_report(study))
    assert report.full_trials == pytest.approx(2.5)
    assert json.loads(report.to_json())["full_trials"] == pytest.approx(2.5)
    assert "compute 2.5 full-trial equivalents" in report.counts_text
