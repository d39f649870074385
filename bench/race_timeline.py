"""When a stored race decided each type: trials finished, full-trial equivalents and wall time (from
the first trial's start) at the moment each type's verdict was settled, and when each stage ended.
The race is replayed with sweeper's own code (``AdaptiveDesign.race``, what workers and the report
call) on the trials finished up to each trial's completion, in the order they completed, so the
figures are those a user watching ``sweeper status`` would have seen.

    python bench/race_timeline.py STORAGE_URL [--study NAME]

A type is settled when its finalist's verdict is decided (helps, hurts, no difference, no gain),
when it stops getting seeds (the futility stop: undecided), or when the race ends with it open.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sweeper.stats.verdicts import OPEN  # noqa: E402
from sweeper.study.adaptive import point_label, runs_of  # noqa: E402
from sweeper.study.config import CONFIG_ATTR, SweepConfig  # noqa: E402
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("storage", help="the race's storage URL, e.g. sqlite:///sweeper.db")
    parser.add_argument("--study", default=None, help="the study (default: the storage's only one)")
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    names = optuna.get_all_study_names(args.storage)
    name = args.study or (names[0] if len(names) == 1 else None)
    if name is None:
        raise SystemExit(f"{args.storage} holds {len(names)} studies ({', '.join(names)}): name one with --study")
    study = optuna.load_study(study_name=name, storage=args.storage)
    config = SweepConfig.from_attrs(study.user_attrs[CONFIG_ATTR])
    if config.design != "adaptive":
        raise SystemExit(f"study {name} is a {config.design} design: only an adaptive race has a timeline")
    print(f"study {name}: {config.rounds} rounds of {config.repeats} seeds, {config.epochs} epochs a trial")
    print(f"{'event':<72} {'trials':>6} {'full-eq':>7} {'wall':>8}")
    for m in timeline(study.get_trials(deepcopy=False), config):
        print(f"{m.what:<72} {m.trials:>6} {m.full_eq:>7.1f} {m.seconds / 60:>6.1f}min")


if __name__ == "__main__":
    main()
