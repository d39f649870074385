"""Verdict simulator: curve studies with a known truth, run through sweeper's own design, race and
verdict code, to measure what users get: false "helps"/"hurts", power, coverage of the quoted
best point's interval, its bias (winner's curse), and trials spent.

A simulated study is a set of stored trials (``optuna.trial.create_trial``, with the attrs a
worker writes: repeat, stage, history). The fixed design's trials are ``sweeper.study.design.
curve_runs``; the adaptive design's are queued round by round by ``sweeper.study.adaptive.plan``
(what a worker calls when a round finishes). The verdicts are ``sweeper.report.curves.
response_curves``: what the report and the index print.

Truth (validation accuracy; gains in pp against the unregularized baseline):
- ``null``: no setting has any effect.
- ``harm``: no gain anywhere; each weight penalty collapses the model above a λ (a smooth drop
  to -30 pp: L1 and L1+L2 around 1e-2, L2 around 1e-1), dropout loses 2 pp at its top rate.
- ``bump1``/``bump2``/``bump3``: ``harm``, plus L2 gains +1/+2/+3 pp over λ in [1e-3, 1e-2]
  (half a decade of ramp on each side), the decade and a half below where L2 collapses the model.
Noise at the levels measured in docs/findings.md: the seed shifts every configuration alike by
sd ``--seed-sd`` (2 pp); each run adds its own noise so that the paired difference of two runs on
one seed has sd ``--pair-sd`` (1.5 pp); the best epoch is 1 pp above the last on average
(sd 0.5 pp), alike for every configuration (so best-epoch comparisons share the truth).

    python bench/bench_verdicts.py [--studies 2000] [--power-studies 500] [--seed 0] [--jobs 2]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import optuna
from optuna.trial import TrialState

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sweeper.stats.verdicts import HELPS, HURTS, NO_DIFFERENCE, NO_GAIN  # noqa: E402
from sweeper.report.collect import ReportData  # noqa: E402
from sweeper.report.curves import response_curves  # noqa: E402
from sweeper.study.adaptive import plan, runs_of, x_of  # noqa: E402
from sweeper.study.design import CurveRun, curve_runs  # noqa: E402
from sweeper.study.points import collect_points  # noqa: E402
from sweeper.study.space import SearchSpace  # noqa: E402
from sweeper.tasks.api import Objective  # noqa: E402
from tests.report_tests.known import DISTRIBUTIONS  # noqa: E402

BASE = 0.50
SPACE = SearchSpace()
OBJECTIVE = Objective()
MARGIN = 0.01
DISTS = DISTRIBUTIONS  # the search space's distributions, as the report tests store them
COLLAPSE_AT = {"l1": 1e-2, "l2": 1e-1, "l1_l2": 1e-2}
BUMP = (1e-3, 1e-2)  # L2's plateau


def truth(scenario: str) -> Callable[[str, float], float]:
    """The true gain of a point (group, x) in a scenario."""
    bump = {"bump1": 0.01, "bump2": 0.02, "bump3": 0.03}.get(scenario, 0.0)

    def gain(group: str, x: float) -> float:
        if scenario == "null" or group == "baseline":
            return 0.0
        if group == "dropout":
            return -0.02 * max(0.0, (x - 0.45) / 0.15)
        lx = math.log10(x)
        g = -0.30 / (1 + math.exp(-3 * (lx - math.log10(COLLAPSE_AT[group]))))
        if group == "l2" and bump:
            lo, hi = (math.log10(b) for b in BUMP)
            g += bump * max(0.0, min(1.0, (lx - (lo - 0.5)) / 0.5, ((hi + 0.5) - lx) / 0.5))
        return g

    return gain


@dataclass
class Simulator:
    """One simulated study's seeds: every (point, repeat) drawn once, so a run asked for twice is
    the same run."""

    rng: np.random.Generator
    gain: Callable[[str, float], float]
    seed_sd: float
    pair_sd: float
    seed_shift: dict[int, float] = field(default_factory=dict)

    def trial(self, run: CurveRun) -> optuna.trial.FrozenTrial:
        group, x = x_of(run.params)
        if run.repeat not in self.seed_shift:
            self.seed_shift[run.repeat] = float(self.rng.normal(0, self.seed_sd))
        last = BASE + self.gain(group, x) + self.seed_shift[run.repeat] + float(self.rng.normal(0, self.pair_sd / math.sqrt(2)))
        best = last + float(self.rng.normal(0.01, 0.005))
        attrs = {**run.user_attrs(), "history": {"val_accuracy": [best, last]}}
        return optuna.trial.create_trial(state=TrialState.COMPLETE, params=run.params, value=last, user_attrs=attrs,
                                         distributions={k: DISTS[k] for k in run.params})


def fixed_study(sim: Simulator, points: int, repeats: int) -> tuple[ReportData, int]:
    trials = [sim.trial(r) for r in curve_runs(SPACE, points, repeats, 0)]
    return _report(trials, "curve", {}), len(trials)


def adaptive_study(sim: Simulator, points: int, repeats: int, rounds: int) -> tuple[ReportData, int]:
    trials: list[optuna.trial.FrozenTrial] = []
    while True:
        state = plan(SPACE, points, repeats, rounds, 0, OBJECTIVE, runs_of(trials, OBJECTIVE), MARGIN)
        if state.stage == "done":
            break
        assert state.queue, f"stage {state.stage} has nothing to queue and nothing running"
        trials += [sim.trial(r) for r in state.queue]
    config = {"design": "adaptive", "points": points, "repeats": repeats, "rounds": rounds, "seed": 0,
              "margin": MARGIN, "space": SPACE.to_dict(), "objective": OBJECTIVE.to_dict(), "task": "sim", "budget": len(trials),
              "epochs": 1, "batch_size": 1, "learning_rate": None, "train_size": None, "val_fraction": 0.2}
    return _report(trials, "adaptive", config), len(trials)


def _report(trials: list[optuna.trial.FrozenTrial], design: str, config: dict) -> ReportData:
    return ReportData("sim", "sim", len(trials), "maximize", collect_points(trials, OBJECTIVE), OBJECTIVE, design,
                      config=config or {"margin": MARGIN})


@dataclass
class Tally:
    studies: int = 0
    false_helps: int = 0
    false_hurts: int = 0
    false_any: int = 0
    found: int = 0  # L2 declared to help, and only where it truly helps
    covered: int = 0  # quoted intervals holding their point's true gain
    quoted: int = 0
    all_covered: int = 0  # studies where every interval printed holds its true gain
    bias: float = 0.0  # reported minus true gain of L2's quoted point, whatever its verdict
    biased: int = 0
    trials: int = 0

    def line(self, name: str) -> str:
        n = max(self.studies, 1)
        se = lambda k: 1.96 * math.sqrt(max(k / n * (1 - k / n), 1 / n) / n)  # noqa: E731
        cover = self.covered / max(self.quoted, 1)
        bias = f"{100 * self.bias / self.biased:>+6.2f}pp" if self.biased else f"{'-':>8}"
        return (f"{name:<34} {self.studies:>6} {100 * self.false_helps / n:>6.1f}% {100 * self.false_hurts / n:>6.1f}% "
                f"{100 * self.false_any / n:>5.1f}%±{100 * se(self.false_any):.1f} {100 * self.found / n:>6.1f}% "
                f"{100 * cover:>6.1f}% {100 * self.all_covered / n:>6.1f}% {bias} {self.trials / n:>7.1f}")


HEADER = (f"{'design / scenario':<34} {'studies':>6} {'F-helps':>7} {'F-hurts':>7} {'any false':>11} {'power':>7} "
          f"{'cover':>7} {'allcov':>7} {'bias':>8} {'trials':>7}")


def _holds(c, true: float) -> bool:  # type: ignore[no-untyped-def]
    if c.gain.low is None or c.gain.high is None:
        return True  # no interval printed, nothing to hold
    return c.gain.low <= true <= c.gain.high


def score(data: ReportData, gain: Callable[[str, float], float], tally: Tally, trials: int) -> None:
    curves = response_curves(data)
    tally.studies += 1
    tally.trials += trials
    margin = curves.margin or MARGIN
    false_helps = false_hurts = false_other = False
    every_interval_holds = True
    for group, v in curves.decisions.items():
        if v.quoted is None:
            continue
        xs = [c.x for c in v.comparisons]
        false_helps |= any(gain(group, x) <= 0 for x in v.helps_at)
        false_hurts |= any(gain(group, x) >= 0 for x in v.hurts_at)
        if v.outcome == NO_DIFFERENCE:
            false_other |= any(abs(gain(group, x)) >= margin for x in xs)
        if v.outcome == NO_GAIN:
            false_other |= any(gain(group, x) >= margin for x in xs if x not in v.hurts_at)
        every_interval_holds &= all(_holds(c, gain(group, c.x)) for c in v.comparisons)
        if v.early is not None:
            # The best epoch is as much above the last for every configuration: same truth.
            e, true = v.early.outcome(margin), gain(group, v.early.x)
            false_helps |= e == HELPS and true <= 0
            false_hurts |= e == HURTS and true >= 0
            false_other |= (e == NO_DIFFERENCE and abs(true) >= margin) or (e == NO_GAIN and true >= margin)
            every_interval_holds &= _holds(v.early, true)
        q = v.quoted
        true = gain(group, q.x)
        if q.gain.low is not None:
            tally.quoted += 1
            tally.covered += _holds(q, true)
        if group == "l2" and math.isfinite(q.gain.diff):
            # The winner's curse: the quoted point is the best-looking one; is its effect inflated?
            tally.bias += q.gain.diff - true
            tally.biased += 1
        if group == "l2" and v.outcome == HELPS and all(gain(group, x) > 0 for x in v.helps_at):
            tally.found += 1
    tally.false_helps += false_helps
    tally.false_hurts += false_hurts
    tally.false_any += false_helps or false_hurts or false_other
    tally.all_covered += every_interval_holds


def run(design: str, scenario: str, studies: int, seed: int, *, points: int, repeats: int, rounds: int = 3,
        seed_sd: float = 0.02, pair_sd: float = 0.015) -> Tally:
    rng = np.random.default_rng(seed)
    gain = truth(scenario)
    tally = Tally()
    for _ in range(studies):
        sim = Simulator(rng, gain, seed_sd, pair_sd)
        if design == "fixed":
            data, n = fixed_study(sim, points, repeats)
        else:
            data, n = adaptive_study(sim, points, repeats, rounds)
        score(data, gain, tally, n)
    return tally


def _row(job: tuple[str, str, str, int, int, float, float, dict]) -> str:
    design, name, scenario, studies, seed, seed_sd, pair_sd, shape = job
    start = time.perf_counter()
    tally = run(design, scenario, studies, seed, seed_sd=seed_sd, pair_sd=pair_sd, **shape)
    return tally.line(f"{name} / {scenario}") + f"   ({time.perf_counter() - start:.1f} s)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=2000,
                        help="simulated studies per row of the error-rate scenarios null and harm (default 2000)")
    parser.add_argument("--power-studies", type=int, default=500,
                        help="simulated studies per row of the bump scenarios (default 500)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seed-sd", type=float, default=0.02)
    parser.add_argument("--pair-sd", type=float, default=0.015)
    parser.add_argument("--fixed", nargs="+", default=["5x3", "5x12", "5x24", "7x18"],
                        help="fixed designs as POINTSxREPEATS (default: the old default 5x3, and up to where it finds +2 pp)")
    parser.add_argument("--adaptive", nargs="+", default=["3x6x3", "3x4x3"],
                        help="adaptive designs as POINTSxREPEATSxROUNDS (default: 3x6x3, the CLI's default, and 3x4x3)")
    parser.add_argument("--scenarios", nargs="+", default=["null", "harm", "bump1", "bump2", "bump3"])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="rows simulated in parallel")
    args = parser.parse_args(argv)
    print(f"seed sd {100 * args.seed_sd:.1f} pp, paired sd {100 * args.pair_sd:.1f} pp, margin 1 pp; "
          f"{args.studies} studies per null/harm row, {args.power_studies} per bump row "
          "(± is a 95% binomial interval of the rate)")
    print("F-helps/F-hurts: studies with a false 'helps'/'hurts' (at a point, or the quoted point against early "
          "stopping); any false: also a 'no difference/no gain' that a point's truth contradicts; power: L2 said "
          "to help, only where it does; cover: the quoted point's interval holds its true gain; allcov: studies "
          "where every printed interval holds; bias: reported minus true gain of the point quoted for L2, "
          "whatever its verdict (the winner's curse); trials: per study")
    print(HEADER)
    designs = []
    for spec in args.fixed:
        p, r = (int(v) for v in spec.split("x"))
        designs.append(("fixed", f"fixed {p} points x {r} repeats", dict(points=p, repeats=r)))
    for spec in args.adaptive:
        p, r, k = (int(v) for v in spec.split("x"))
        designs.append(("adaptive", f"adaptive {p} pts, {r} seeds x {k} rounds", dict(points=p, repeats=r, rounds=k)))
    jobs = [(design, name, scenario, args.studies if scenario in ("null", "harm") else args.power_studies,
             args.seed, args.seed_sd, args.pair_sd, shape)
            for scenario in args.scenarios for design, name, shape in designs]
    start = time.perf_counter()
    if args.jobs > 1:
        with multiprocessing.Pool(args.jobs) as pool:
            for line in pool.imap(_row, jobs):
                print(line, flush=True)
    else:
        for job in jobs:
            print(_row(job), flush=True)
    print(f"{sum(j[3] for j in jobs)} simulated studies in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
