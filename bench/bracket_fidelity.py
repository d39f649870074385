"""Would a bracket at reduced fidelity (fewer epochs) choose what the full bracket chose? Issue 30
lists a reduced-fidelity bracket as a lever: the bracket only asks where each penalty starts to
act and where it breaks, so it might run a fraction of the epochs. This reads a real race's bracket
runs from its study, cuts each run's curve at a fraction of the epochs (as if it had stopped
there), and replays sweeper's own race code (``sweeper.study.adaptive.plan``) on the cut runs: the
collapse threshold, which bracket points collapse, and each type's screening window, against what
the same runs gave at their last epoch.

    python bench/bracket_fidelity.py STORAGE_URL [--study NAME] [--fractions 0.25 0.5 1]

What it saves, at best: the bracket is 1 + 6 λ per weight penalty + the dropout rates (22 runs in
the default space with 3 points), of which the baseline and the window's bracket points would need
a full-length run anyway (they are screening's seed 0, and the margin is read off the baseline's).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sweeper.study.adaptive import Run, bracket_runs, plan, runs_of, x_of  # noqa: E402
from bench.common import stored_race  # noqa: E402
from sweeper.study.config import SweepConfig  # noqa: E402


def cut(run: Run, epochs: int) -> Run:
    """The run as if it had stopped after ``epochs`` epochs: its value there is its last."""
    curve = run.curve[:epochs]
    if run.diverged and len(run.curve) <= epochs:
        return run  # it diverged before the cut: it diverges in the short run too
    last = curve[-1] if curve else None
    if last is None or not math.isfinite(last):
        return Run(run.point, run.repeat, run.state, None, curve, diverged=True)
    return Run(run.point, run.repeat, run.state, float(last), curve)


def choices(config: SweepConfig, bracket: list[Run]) -> tuple[dict[str, list[float]], dict[str, dict[float, str]]]:
    """What the race does after this bracket: each type's screening points, and the points it
    dropped (with why), from ``plan`` on the bracket runs alone."""
    shape = config.to_attrs()
    state = plan(config.space, shape["points"], shape["repeats"], shape["rounds"], 0, config.goal, bracket,
                 config.margin)
    if state.stage != "screen":
        raise SystemExit(f"the bracket's replay went to stage {state.stage!r}, not to screening: is this an "
                         "adaptive race whose bracket has finished?")
    screened: dict[str, list[float]] = {}
    for r in state.queue:
        point = x_of(r.params)
        if point is not None and point[0] != "baseline":
            screened.setdefault(point[0], []).append(point[1])
    return {g: sorted(set(xs)) for g, xs in screened.items()}, state.dropped


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("storage", help="the race's storage URL, e.g. sqlite:///sweeper.db")
    parser.add_argument("--study", default=None, help="the study (default: the storage's only one)")
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    args = parser.parse_args(argv)
    study, config = stored_race(args.storage, args.study, "a bracket")
    name = study.study_name
    shape = config.to_attrs()
    wanted = {(x_of(r.params), r.repeat) for r in bracket_runs(config.space, shape["points"], 0)}
    runs = [r for r in runs_of(study.get_trials(deepcopy=False), config.goal) if (r.point, r.repeat) in wanted]
    epochs = max(len(r.curve) for r in runs)
    print(f"study {name}: {len(runs)} bracket runs of {epochs} epochs")
    full = choices(config, runs)
    for fraction in args.fractions:
        e = max(1, round(fraction * epochs))
        screened, dropped = choices(config, [cut(r, e) for r in runs])
        same = (screened, dropped.keys()) == (full[0], full[1].keys()) and all(
            set(dropped[g]) == set(full[1][g]) for g in dropped)
        print(f"\n{e} of {epochs} epochs ({fraction:g}): {'the same choices as the full bracket' if same else 'DIFFERENT choices'}")
        for group in sorted(set(screened) | set(full[0])):
            collapsed = sorted(x for x, why in dropped.get(group, {}).items() if "collapse" in why or "diverge" in why)
            mark = "" if screened.get(group) == full[0].get(group) else f"   (full bracket: {full[0].get(group)})"
            print(f"  {group:<8} collapsed at {collapsed or '-'}; screened at {screened.get(group, '-')}{mark}")


if __name__ == "__main__":
    main()
