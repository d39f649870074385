"""The report's figures and index as a reader sees them (issue #20, item 9): bands of a bounded
metric stop at 1, the baselines are named where no curve runs, a λ × dropout map of a curve study
has a dropout axis, 60 epochs get a readable axis, and the index's boxes sit below their text."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import optuna

from sweeper.report import collect_report
from sweeper.report.curve_figure import curves_figure
from sweeper.report.figures import lambda_dropout_figure, learning_curves_figure
from sweeper.report.write import write_reports
from sweeper.study.config import CONFIG_ATTR, VERSION_ATTR
from tests.report_tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.report_tests.known import curve_study, known_study


def _near_one(shift: float = 0.33) -> optuna.Study:
    """The known curve study with every value raised to about 0.97-0.99: its t-bands (n = 3)
    reach past 1 (the best point: mean 0.98, interval to 1.005)."""
    source = curve_study("source")
    study = optuna.create_study(study_name="high", direction="maximize")
    for key in (VERSION_ATTR, CONFIG_ATTR):
        study.set_user_attr(key, source.user_attrs[key])
    for t in source.trials:
        raised = copy.deepcopy(t)
        raised.value = t.value + shift
        history = dict(t.user_attrs["history"])
        history["val_accuracy"] = [v + shift for v in history["val_accuracy"]]
        raised.set_user_attr("history", history)
        study.add_trial(raised)
    return study


def test_bands_of_accuracy_stop_at_one_and_baselines_are_named_in_the_legend() -> None:
    fig = curves_figure(collect_report(_near_one()))
    tops = [y for trace in fig.data if trace.yaxis in ("y", "y2") and trace.y is not None
            for y in trace.y if y is not None]
    assert max(tops) == 1.0  # cut at 1, where the interval ran to 1.005
    assert all(shape.y1 <= 1.0 for shape in fig.layout.shapes if shape.type == "rect")
    # On the panels, the baselines' labels sat on the dropout curve (which starts at the baseline).
    assert not [a.text for a in fig.layout.annotations if a.text and a.text.startswith("unregularized")]
    names = [trace.name for trace in fig.data if trace.showlegend is not False]
    assert "unregularized, last epoch (n=3)" in names and "unregularized, stopped early (epoch from its other seeds)" in names


def test_a_planned_study_s_lambda_dropout_map_says_why_it_has_no_grid() -> None:
    """A planned study runs its penalties at dropout 0: the map's panels were one empty-looking row
    of points on adaptive pages (issue 27). It says where the curves are instead."""
    fig = lambda_dropout_figure(collect_report(curve_study()))
    assert not fig.data
    texts = " ".join(a.text for a in fig.layout.annotations)
    assert "a planned study varies λ at dropout 0, and dropout alone: both are drawn in figure 1" in texts
    search = lambda_dropout_figure(collect_report(known_study()))
    assert search.data and search.layout.yaxis.range[1] > 0.5  # a search's dropout axis covers its trials


def test_close_reference_lines_label_on_opposite_sides() -> None:
    """The unregularized and dropout-only lines 0.3 pp apart: their labels used to stack (issue 27);
    now the upper line's label sits above it at one end and the lower one's below it at the other."""
    from optuna.trial import TrialState

    from sweeper.report.render import accuracy_vs_lambda
    from tests.report_tests.known import params

    rows = [(TrialState.COMPLETE, params("none"), 0.612, {}), (TrialState.COMPLETE, params("none", dropout=0.3), 0.615, {}),
            (TrialState.COMPLETE, params("l2", 1e-3), 0.62, {})]
    fig = accuracy_vs_lambda(collect_report(known_study(rows=rows)))
    labels = {a.text.split(" (")[0]: (a.xanchor, a.yanchor) for a in fig.layout.annotations}
    base, drop = labels["unregularized baseline"], labels["dropout only, no weight penalty"]
    assert base[0] != drop[0] and base[1] != drop[1]
    assert drop[1] == "bottom" and base[1] == "top"  # dropout's label above its higher line, baseline's below


def test_sixty_epochs_get_a_readable_axis() -> None:
    data = collect_report(known_study())
    long = [dataclasses.replace(p, history={"val_accuracy": [0.5] * 60, "val_loss": [1.0] * 60})
            if p.state == "complete" else p for p in data.points]
    assert learning_curves_figure(dataclasses.replace(data, points=long)).layout.xaxis.dtick is None  # was 1: 60 labels
    assert learning_curves_figure(data).layout.xaxis.dtick == 1  # 4 epochs: one tick each


def test_index_boxes_sit_below_their_summary(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    storage = optuna.storages.InMemoryStorage()
    known_study("known", storage)
    index = write_reports(storage, ["known"], tmp_path)[-1]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 700})
            page.goto(index.resolve().as_uri())
            gap = page.evaluate("""() => {
                const li = document.querySelector('li'), box = li.querySelector('.verdict');
                const text = document.createRange();
                text.setStart(li, 0);
                text.setEndBefore(box);
                return box.getBoundingClientRect().top - text.getBoundingClientRect().bottom;
            }""")
        finally:
            browser.close()
    assert gap >= 0  # the "not evaluated yet" box overlapped the line above it by its padding


def test_the_evaluation_figure_names_its_metric_and_cuts_its_intervals_at_one() -> None:
    from sweeper.report.figures import evaluation_figure
    from sweeper.report.write import load_report
    from tests.report_tests.known import eval_study, params

    storage = optuna.storages.InMemoryStorage()
    known_study("known", storage)
    eval_study("known", storage, {("baseline", 0): [0.99, 0.95], ("l2", 5): [0.97, 0.98]},
               {"baseline": params("none"), "l2": params("l2", 3e-4, 0.2)})
    fig = evaluation_figure(load_report(storage, "known").evaluation, "known")
    assert fig.layout.xaxis.title.text == "test accuracy"  # was the last configuration's name
    ends = [t.x[0] + t.error_x.array[0] for t in fig.data if t.error_x and t.error_x.array]
    assert ends and max(ends) == 1.0  # the baseline's t-interval (n = 2) runs to about 1.2
