from __future__ import annotations

import pytest

import gc
import subprocess
import sys
from pathlib import Path

import optuna

from sweeper.worker import collector
from sweeper.study.launch import launch
from sweeper.settings import Settings
from sweeper.study.config import SweepConfig
from sweeper.worker.loop import Worker
from tests.support import procs

PROBE = "tests.support.gc_probe_task"

# Run in a fresh interpreter: the process must be owned, and the test process must keep its heap.
SEMANTICS = r"""
import gc, weakref
from sweeper.worker import collector

class Node:
    pass

def cycle():
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)

collector.own_process()
before_garbage = cycle()          # garbage from before long_lived: collected, not frozen
start = gc.get_freeze_count()
with collector.long_lived():
    paused = not gc.isenabled()
    import json, decimal, fractions  # noqa: E401  (imports that live until exit)
    kept = Node()
frozen_after_imports = gc.get_freeze_count()
new_garbage = cycle()             # garbage left by a data load: collected by freeze_survivors
survivor = [Node() for _ in range(1000)]
collector.freeze_survivors()
print(paused, gc.isenabled(), before_garbage() is None, new_garbage() is None,
      frozen_after_imports > start, gc.get_freeze_count() >= frozen_after_imports + 1000)
"""


def test_long_lived_pauses_then_freezes_and_never_freezes_old_garbage() -> None:
    out = subprocess.run([sys.executable, "-c", SEMANTICS], capture_output=True, text=True, check=True,
                         env=procs.sweeper_env("sqlite://"))
    paused, enabled_after, old_collected, new_collected, froze, froze_survivors = out.stdout.split()
    assert paused == "True" and enabled_after == "True"
    assert old_collected == "True" and new_collected == "True"
    assert froze == "True" and froze_survivors == "True"


def test_a_process_it_does_not_own_is_left_alone() -> None:
    assert not collector.owns_process()
    start = gc.get_freeze_count()
    with collector.long_lived():
        assert gc.isenabled()
    collector.freeze_survivors()
    assert gc.get_freeze_count() == start


@pytest.mark.slow
def test_a_worker_process_freezes_keras_and_its_data_and_keeps_collecting(tmp_path: Path) -> None:
    env = procs.sweeper_env(f"sqlite:///{tmp_path / 's.db'}")
    launched = procs.run(["launch", PROBE, "--study-name", "probe", "--trials", "2", "--epochs", "1"], env)
    assert launched.returncode == 0, launched.stderr
    worked = procs.run(["worker"], env, timeout=300)
    assert worked.returncode == 0, worked.stderr
    study = optuna.load_study(study_name="probe", storage=f"sqlite:///{tmp_path / 's.db'}")
    assert len(study.trials) == 2
    for trial in study.trials:
        # TensorFlow and Keras alone are about 350,000 objects; a trial's model is not frozen.
        assert trial.user_attrs["frozen_objects"] > 100_000
        assert trial.user_attrs["collector_enabled"] is True


@pytest.mark.slow
def test_a_data_set_loaded_after_a_trial_ran_is_not_frozen(tmp_path: Path) -> None:
    # Two studies with different data, served by one worker process: the second data set is
    # loaded after the first study's trial ran, when a freeze could keep that trial's leftovers.
    env = procs.sweeper_env(f"sqlite:///{tmp_path / 's.db'}")
    for name, size in (("first", "240"), ("second", "120")):
        launched = procs.run(["launch", PROBE, "--study-name", name, "--trials", "2", "--epochs", "1",
                              "--train-size", size], env)
        assert launched.returncode == 0, launched.stderr
    worked = procs.run(["worker"], env, timeout=300)
    assert worked.returncode == 0, worked.stderr
    storage = f"sqlite:///{tmp_path / 's.db'}"
    trials = {name: optuna.load_study(study_name=name, storage=storage).trials for name in ("first", "second")}
    frozen = {name: [t.user_attrs["frozen_objects"] for t in ts] for name, ts in trials.items()}
    assert len(frozen["first"]) == len(frozen["second"]) == 2
    # Frozen once, before the first trial. Objects leave the frozen set when reference counting
    # frees them, and only a freeze adds to it: so no count may ever rise from one trial to the
    # next. (A freeze after the first trial added about 19,000 objects, its leftovers among them.)
    in_order = sorted(trials["first"] + trials["second"], key=lambda t: t.datetime_start)  # the studies alternate
    counts = [t.user_attrs["frozen_objects"] for t in in_order]
    assert min(counts) > 100_000, frozen
    assert all(later <= earlier for earlier, later in zip(counts, counts[1:])), frozen


def test_a_worker_inside_another_process_does_not_freeze_its_heap(tmp_path: Path) -> None:
    settings = Settings(storage=f"sqlite:///{tmp_path / 's.db'}")
    launch(settings, "probe", SweepConfig.for_task(PROBE, budget=1, epochs=1, pruner="none"))
    start = gc.get_freeze_count()
    assert Worker(settings, sampler_seed=1, log=lambda line: None).run() == 0
    (trial,) = optuna.load_study(study_name="probe", storage=settings.storage).trials
    assert trial.user_attrs["frozen_objects"] == start == gc.get_freeze_count()
    assert trial.user_attrs["collector_enabled"] is True
