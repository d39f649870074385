"""The verdict simulator at a small size: it drives sweeper's own design, race and verdict code,
and the error control it shows at 2,000 studies a row (bench/README.md) already shows at 100. The
simulations are seeded, so each figure is deterministic; they fail if the rule loses its error
control (the old unadjusted rule claimed some effect in about 28% of null studies) or the
adaptive race loses its power."""

from __future__ import annotations

import pytest

from bench.bench_verdicts import main, run


@pytest.mark.parametrize(("design", "shape"), [("fixed", dict(points=5, repeats=3)),
                                               ("adaptive", dict(points=3, repeats=6, rounds=3))])
def test_on_a_model_where_nothing_matters_hardly_any_study_claims_anything(design: str, shape: dict) -> None:
    tally = run(design, "null", 100, seed=1, **shape)
    assert tally.studies == 100
    assert tally.false_helps + tally.false_hurts <= 5 and tally.false_any <= 5
    assert tally.covered / tally.quoted >= 0.95 and tally.all_covered >= 95


def test_the_adaptive_race_finds_a_real_gain_with_fewer_trials_than_the_fixed_design() -> None:
    adaptive = run("adaptive", "bump3", 60, seed=2, points=3, repeats=6, rounds=3)
    fixed = run("fixed", "bump3", 60, seed=2, points=5, repeats=12)
    assert adaptive.found >= 0.8 * adaptive.studies
    assert adaptive.trials / adaptive.studies < 0.6 * fixed.trials / fixed.studies
    assert adaptive.found > fixed.found
    assert abs(adaptive.bias / adaptive.biased) < 0.005  # fresh seeds: no winner's curse


def test_the_bench_prints_a_row_per_design_and_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--studies", "5", "--power-studies", "5", "--scenarios", "null", "bump2", "--fixed", "5x3",
          "--adaptive", "3x4x2", "--jobs", "1"])
    out = capsys.readouterr().out.splitlines()
    rows = [line for line in out if line.startswith(("fixed", "adaptive"))]
    assert [r.split(" / ")[1].split()[0] for r in rows] == ["null", "null", "bump2", "bump2"]
    assert out[-1].startswith("20 simulated studies in")
