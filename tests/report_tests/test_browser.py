"""The written pages in a real headless Chromium (Debian's), and the PNG export through kaleido."""

from __future__ import annotations

import shutil
from pathlib import Path

import optuna
import pytest

from sweeper.cli import main
from sweeper.report.png import find_browser
from sweeper.report.write import FIGURE_IDS, ReportError, write_reports
from sweeper.storage import open_storage
from sweeper.settings import Settings
from tests.report_tests.browser import open_page, pixel_std
from tests.report_tests.known import EVALUATED, GROUP_PARAMS, curve_study, eval_study, known_study

# Every test here starts Chromium, which runs as many processes.
pytestmark = pytest.mark.slow



@pytest.fixture
def storage(tmp_path: Path) -> optuna.storages.BaseStorage:
    storage = open_storage(Settings(storage=f"sqlite:///{tmp_path / 'sweeper.db'}"), create_tables=True)
    known_study("cifar10", storage)
    known_study("plain", storage)
    eval_study("cifar10", storage, EVALUATED, GROUP_PARAMS)
    return storage


def test_pages_render_every_figure_without_console_errors_or_network(storage, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pages = write_reports(storage, ["cifar10", "plain"], tmp_path / "out")
    assert [p.name for p in pages] == ["cifar10.html", "plain.html", "index.html"]
    for page in pages[:2]:
        check = open_page(page, FIGURE_IDS)
        assert check.console_errors == []
        assert check.requests == []  # plotly.js is embedded: nothing is fetched
        assert check.rendered == {div: True for div in FIGURE_IDS}
        assert pixel_std(check.screenshot) > 10  # a blank page has ~0
    html = pages[0].read_text()
    assert "L2 (λ ≈ 3e-4, dropout 0.2) beats the unregularized baseline by +4.5 pp" in html
    assert "paired t-test by seed, Bonferroni over the types compared" in html and "ResourceExhaustedError: OOM" in html
    # The page of a study with no evaluation leads with what its search shows, not with a pointer.
    assert "Best validation accuracy per type, one run each" in pages[1].read_text()
    assert "not evaluated yet" not in pages[1].read_text().split("<h2>")[0]
    index = open_page(pages[2], [])
    assert index.console_errors == [] and pixel_std(index.screenshot) > 1
    text = pages[2].read_text()
    assert text.count("beats the unregularized baseline") == 1 and "On the test split: " in text
    assert "Best validation accuracy per type, one run each" in text


def test_headline_screenshot_is_not_blank(storage, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = write_reports(storage, ["cifar10"], tmp_path / "out")[0]
    check = open_page(page, ["fig-accuracy-vs-lambda"], screenshot_of="fig-accuracy-vs-lambda")
    assert check.rendered["fig-accuracy-vs-lambda"] and pixel_std(check.screenshot) > 10


def test_report_png_through_the_cli(storage, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 'sweeper.db'}"
    assert main(["report", "cifar10", "--out", str(tmp_path / "png"), "--png", "--storage", db]) == 0
    png = tmp_path / "png" / "cifar10-headline.png"
    assert str(png) in capsys.readouterr().out
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and pixel_std(data) > 10


def test_no_browser_is_one_line_saying_what_to_install(storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ReportError, match="apt-get install chromium"):
        find_browser({"PATH": str(tmp_path)}, candidates=(str(tmp_path / "chromium"), "chromium"))
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-chromium"))
    db = f"sqlite:///{tmp_path / 'sweeper.db'}"
    assert main(["report", "cifar10", "--out", str(tmp_path / "none"), "--png", "--storage", db]) == 7
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "apt-get install chromium" in err
    assert not (tmp_path / "none").exists()  # checked before anything is written


def test_report_refuses_an_evaluation_study_and_names_the_parent(storage, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ReportError, match="sweeper report cifar10"):
        write_reports(storage, ["cifar10.eval"], tmp_path / "out")


def test_find_browser_prefers_browser_path(tmp_path: Path) -> None:
    fake = tmp_path / "my-chromium"
    shutil.copy("/bin/true", fake)
    assert find_browser({"BROWSER_PATH": str(fake), "PATH": ""}) == str(fake)


def test_a_curve_study_page_draws_bands_and_lists_its_verdicts(tmp_path: Path) -> None:
    storage = open_storage(Settings(storage=f"sqlite:///{tmp_path / 'c.db'}"), create_tables=True)
    curve_study("curve", storage, best_epoch_bonus=0.05)
    page, index = write_reports(storage, ["curve"], tmp_path / "out")
    check = open_page(page, FIGURE_IDS, screenshot_of="fig-accuracy-vs-lambda")
    assert check.console_errors == [] and check.requests == []
    assert check.rendered == {div: True for div in FIGURE_IDS}
    assert pixel_std(check.screenshot) > 10
    html = page.read_text()
    assert "1. Response curves: Validation accuracy vs λ and dropout, with 95% bands" in html
    assert '"fill":"tonexty"' in html  # the bands
    assert "unregularized, stopped early (epoch from its other seeds)" in html
    # 3 seeds per point cannot decide a 4 pp effect once the study's 24 comparisons share the 5%
    # (tests/report_tests/test_curves.py works the interval out by hand).
    assert ("L2: undecided, no λ helps beyond noise yet (closest: +4.0 pp at λ ≈ 1e-3, 95% simultaneous CI "
            "-12.2 to +20.2)") in html
    assert "All intervals in these verdicts hold at once with 95% probability: 24 comparisons" in html
    text = index.read_text()
    assert "L1: undecided, no λ helps beyond noise yet" in text and "Dropout only: undecided" in text
