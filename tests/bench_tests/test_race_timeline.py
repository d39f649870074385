"""bench/race_timeline.py: a simulated race stored as trials that finished one second apart, in
the order the race queued them, replayed to when each type was settled."""

from __future__ import annotations

import copy
import dataclasses
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


def test_a_replay_under_its_own_rule_takes_every_run_and_under_the_no_gain_rule_a_subset() -> None:
    from bench.race_timeline import replayed

    world = World(SCENARIOS["null-sd2.2"], 0.022, 20)
    study = adaptive_study(Simulator(np.random.default_rng(5), world, 0.02), **SHAPE_DEFAULTS["adaptive"],
                           no_gain_futility=0.0)  # the rule before: any decision alike
    config = SweepConfig.from_attrs(study.config)
    same = replayed(study.trials, config)
    assert len(same) == len(study.trials) and {id(t) for t in same} == {id(t) for t in study.trials}
    fewer = replayed(study.trials, dataclasses.replace(config, no_gain_futility=0.5))
    assert {id(t) for t in fewer} < {id(t) for t in study.trials}  # null finalists stop sooner
