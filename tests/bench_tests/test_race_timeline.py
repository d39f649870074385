"""bench/race_timeline.py: a simulated race stored as trials that finished one second apart, in
the order the race queued them, replayed to when each type was settled."""

from __future__ import annotations

import copy
import datetime

import numpy as np

from bench.bench_verdicts import adaptive_study
from bench.race_timeline import timeline
from bench.verdict_world import SCENARIOS, Simulator, World
from sweeper.study.choices import SHAPE_DEFAULTS
from sweeper.study.config import SweepConfig


def test_each_type_is_settled_once_in_race_order_and_the_last_moment_is_the_whole_race() -> None:
    world = World(SCENARIOS["bump3"], 0.015, 20)
    study = adaptive_study(Simulator(np.random.default_rng(3), world, 0.02), **SHAPE_DEFAULTS["adaptive"])
    t0 = datetime.datetime(2026, 1, 1)
    trials = []
    for i, t in enumerate(study.trials):
        t = copy.deepcopy(t)
        t.datetime_start = t0 + datetime.timedelta(seconds=i)
        t.datetime_complete = t0 + datetime.timedelta(seconds=i + 1)
        trials.append(t)
    moments = timeline(trials, SweepConfig.from_attrs(study.config))
    events = [m.what for m in moments]
    stages = [e for e in events if e.endswith("finished")]
    assert stages[:3] == ["bracket finished", "screen finished", "confirm round 1 finished"]
    settled = [e for e in events if ": " in e]
    assert sorted(e.split(" ")[0] for e in settled) == ["L1", "L1+L2", "L2", "dropout"]
    assert any(e.startswith("L2") and ": helps" in e for e in settled)  # +3 pp at 1.5 pp of noise
    assert [m.trials for m in moments] == sorted(m.trials for m in moments)
    last = moments[-1]
    assert last.what == "done (the race is done)" and last.trials == len(trials) and last.seconds == len(trials)
