"""When a stored race decided each type: trials finished, full-trial equivalents and wall time (from
the first trial's start) at the moment each type's verdict was settled, and when each stage ended.
The race is replayed with sweeper's own code (``AdaptiveDesign.race``, what workers and the report
call) on the trials finished up to each trial's completion, in the order they completed, so the
figures are those a user watching ``sweeper status`` would have seen.

    python bench/race_timeline.py STORAGE_URL [--study NAME] [--no-gain-futility 0.5]

``--no-gain-futility P`` replays instead the race a launch with that rule would have run on the
same runs (``sweeper.study.adaptive.NO_GAIN_FUTILITY``; training is deterministic per seed, so
the runs it asks for are the stored ones): each stage takes the stored trials of the runs it
queues, and the figures are its trials and full-trial equivalents (no wall time: it did not run).

A type is settled when its finalist's verdict is decided (helps, hurts, no difference, no gain),
when it stops getting seeds (the futility stop: undecided), or when the race ends with it open.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import datetime
import sys
from dataclasses import dataclass
from pathlib import Path

from optuna.trial import FrozenTrial

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sweeper.stats.verdicts import OPEN  # noqa: E402
from sweeper.study.adaptive import FUTILITY, point_label, runs_of, x_of  # noqa: E402
from bench.common import stored_race  # noqa: E402
from sweeper.study.config import SweepConfig  # noqa: E402
from sweeper.study.designs import design_of  # noqa: E402
from sweeper.study.status import full_trial_equivalents  # noqa: E402


@dataclass(frozen=True)
class Moment:
    what: str
    trials: int
    full_eq: float
    seconds: float


def timeline(trials: list[FrozenTrial], config: SweepConfig) -> list[Moment]:
    design = design_of("adaptive")
    done = sorted((t for t in trials if t.datetime_complete is not None), key=lambda t: t.datetime_complete)
    if not done:
        return []
    start = min(t.datetime_start for t in done if t.datetime_start is not None)
    moments: list[Moment] = []
    settled: set[str] = set()
    stage = None
    for i in range(1, len(done) + 1):
        prefix = done[:i]
        state = design.race(config, runs_of(prefix, config.goal))
        at = dict(trials=i, full_eq=full_trial_equivalents(prefix, config.epochs),
                  seconds=(done[i - 1].datetime_complete - start).total_seconds())
        where = state.stage if state.stage != "confirm" else f"confirm round {state.round}"
        if where != stage:
            if stage is not None:
                moments.append(Moment(f"{stage} finished", **at))
            stage = where
        for group, f in state.finalists.items():
            if group in settled or f.comparison is None:
                continue
            outcome = f.comparison.outcome(state.margin)
            if outcome != OPEN:
                why = outcome
            elif f.stopped is not None and f.no_gain is not None:
                why = f"undecided: stopped ({100 * f.stopped:.1f}% chance of an effect, {100 * f.no_gain:.0f}% of no gain)"
            elif f.stopped is not None:
                why = f"undecided: stopped ({100 * f.stopped:.1f}% chance to decide)"
            elif state.stage == "done":
                why = "undecided: the rounds ran out"
            else:
                continue
            settled.add(group)
            moments.append(Moment(f"{point_label(f.point)}: {why} ({f.comparison.n} seeds)", **at))
    moments.append(Moment(f"{stage} ({'the race is done' if stage == 'done' else 'not finished'})",
                          len(done), full_trial_equivalents(done, config.epochs),
                          (done[-1].datetime_complete - start).total_seconds()))
    return moments


def replayed(trials: list[FrozenTrial], config: SweepConfig) -> list[FrozenTrial]:
    """The stored trials a race under ``config`` would have run, in the order it would have
    queued them: each stage's queue taken from the stored runs. Stops with a message if it asks
    for a run the study does not hold."""
    design = design_of("adaptive")
    pool = {}
    for t in trials:
        if t.datetime_complete is None:
            continue
        (run,) = runs_of([t], config.goal) or (None,)
        if run is not None:
            pool.setdefault((run.point, run.repeat), t)
    taken: list[FrozenTrial] = []
    while True:
        state = design.race(config, runs_of(taken, config.goal))
        if state.stage == "done":
            return taken
        wanted = [(p, r.repeat) for r in state.queue if (p := x_of(r.params)) is not None]
        missing = [w for w in wanted if w not in pool]
        if not wanted or missing:
            raise SystemExit(f"the replayed race asks for runs the study does not hold ({missing[:3]}): it ran "
                             "another race")
        taken += [pool[w] for w in wanted]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("storage", help="the race's storage URL, e.g. sqlite:///sweeper.db")
    parser.add_argument("--study", default=None, help="the study (default: the storage's only one)")
    parser.add_argument("--no-gain-futility", type=float, default=None,
                        help="replay the race a launch with this no-gain futility rule would have run on the same runs")
    args = parser.parse_args(argv)
    study, config = stored_race(args.storage, args.study, "a timeline")
    name = study.study_name
    trials = study.get_trials(deepcopy=False)
    rule = ""
    if args.no_gain_futility is not None:
        config = dataclasses.replace(config, no_gain_futility=args.no_gain_futility,
                                     futility=config.futility or FUTILITY)
        start = min(t.datetime_start for t in trials if t.datetime_start is not None)
        # In queue order, one a second: the wall column then counts runs, not time.
        trials = [_at(t, start, i) for i, t in enumerate(replayed(trials, config))]
        rule = f", replayed with no-gain futility {args.no_gain_futility:g} (wall: not run)"
    print(f"study {name}: {config.rounds} rounds of {config.repeats} seeds, {config.epochs} epochs a trial{rule}")
    print(f"{'event':<90} {'trials':>6} {'full-eq':>7} {'wall':>8}")
    for m in timeline(trials, config):
        wall = f"{m.seconds / 60:>6.1f}min" if not rule else f"{'-':>9}"
        print(f"{m.what:<90} {m.trials:>6} {m.full_eq:>7.1f} {wall}")


def _at(trial: FrozenTrial, start: datetime.datetime, i: int) -> FrozenTrial:
    t = copy.copy(trial)
    t.datetime_start = start + datetime.timedelta(seconds=i)
    t.datetime_complete = start + datetime.timedelta(seconds=i + 1)
    return t


if __name__ == "__main__":
    main()
