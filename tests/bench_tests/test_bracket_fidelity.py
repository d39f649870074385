"""bench/bracket_fidelity.py replays sweeper's own race on a stored bracket cut at fewer epochs: it
must see the same choices when nothing changes late in training, and different ones when a
penalty breaks the model only late (what the real CIFAR-10 and IMDb brackets showed at some
fractions, bench/README.md)."""

from __future__ import annotations

import numpy as np
import optuna

from bench.bracket_fidelity import main
from bench.verdict_world import SPACE, Draw, finished_trial
from sweeper.study.adaptive import bracket_runs, x_of
from sweeper.study.config import CONFIG_ATTR
from bench.bench_verdicts import config_of

EPOCHS = 8


def bracket_study(url: str, late_break: bool) -> None:
    """The default space's bracket: every run at 0.5 (small seeded noise), but L1 and L1+L2 at
    λ >= 1e-2 and L2 at 1e-1 collapsed at every epoch; with ``late_break``, L1 at 1e-3 too, from
    the fifth epoch on."""
    rng = np.random.default_rng(0)
    study = optuna.create_study(study_name="race", storage=url, direction="maximize")
    study.set_user_attr(CONFIG_ATTR, config_of("adaptive", EPOCHS, 100, points=3, repeats=9, rounds=3))
    for run in bracket_runs(SPACE, 3, 0):
        group, x = x_of(run.params)
        values = 0.5 + rng.normal(0, 0.005, EPOCHS)
        if (group in ("l1", "l1_l2") and x >= 1e-2) or (group == "l2" and x >= 1e-1):
            values[:] = 0.2
        if late_break and group == "l1" and abs(x - 1e-3) < 1e-9:
            values[4:] = 0.2
        study.add_trial(finished_trial(run.params, run.user_attrs(), Draw(values, None), EPOCHS))


def test_the_same_choices_when_nothing_changes_late(tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    bracket_study(url, late_break=False)
    main([url, "--fractions", "0.25", "1"])
    out = capsys.readouterr().out
    assert "22 bracket runs of 8 epochs" in out
    assert out.count("the same choices as the full bracket") == 2


def test_a_penalty_that_breaks_late_moves_its_window_at_reduced_fidelity(tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    bracket_study(url, late_break=True)
    main([url, "--fractions", "0.5", "1"])
    out = capsys.readouterr().out
    short, full = out.split("\n\n")[1:3]
    assert "DIFFERENT choices" in short and "(full bracket:" in short
    assert "the same choices as the full bracket" in full
    assert "l1       collapsed at [0.001, 0.01, 0.1]" in full and "l1       collapsed at [0.01, 0.1]" in short
