"""Verdict simulator: curve studies with a known truth, run through sweeper's own design, race and
verdict code, to measure what users get: false claims of every kind the tool prints, power,
coverage of the quoted point's interval, its bias (winner's curse), and trials spent.

A simulated study is a set of stored trials (``optuna.trial.create_trial``, with the attrs a
worker writes: repeat, stage, per-epoch history, epochs run, and for a diverged run the PRUNED
state and its stop reason). The fixed design's trials are ``sweeper.study.design.curve_runs``; the
adaptive design's are queued round by round by ``sweeper.study.adaptive.plan`` (what a worker
calls when a round finishes). The verdicts are ``sweeper.report.curves.response_curves``: what the
report and the index print. The test-split evaluation is ``sweeper.evaluation.plan.plan_runs``
enqueued in an in-memory Optuna study, taken by two simulated workers in queue order, and read
with ``sweeper.evaluation.results.collect_evaluation`` and ``verdict``.

The world (``bench/verdict_world.py``: learning curves, per-configuration epoch noise, seed-wise
collapse, divergence, heavy tails) and its truth are described there. Scenarios (``--scenarios``):

    null              nothing changes any epoch's mean; epoch noise 0.5 pp everywhere (control)
    harm              each penalty collapses the model above a λ (smooth mean drop); curves shaped
    bump1/2/3         harm, plus L2 +1/+2/+3 pp at its last epoch over λ in [1e-3, 1e-2]
    null-sd2.2/3.6    null at the case studies' paired sd (CIFAR-10 2.2 pp, IMDb 3.6 pp)
    bumpK-sd2.2/3.6   bumpK at those paired sds (power)
    epochs1, -e40     null; penalties' and dropout's epoch noise 1.0 pp against the baseline's 0.5
    epochs0.75        the same at 0.75 pp
    collapse-sdS      harm, each seed of a weight penalty collapsing (-30 pp) or not; paired sd S
    diverge0.5/1/3    null; every configuration, baseline included, diverges on q% of runs
    diverge-l1        null, but L1 diverges on 5% of runs against 0.5% elsewhere (a true "hurts")
    tails             null with t(3) run and epoch noise

Designs per scenario (its ``rows``; ``--designs`` overrides them): every scenario runs the fixed
designs (``--fixed``; the bump scenarios also ``--power-fixed``) and the adaptive ones
(``--adaptive``); ``null`` also a fixed design (``--readings``) whose report is read after every
finished run, the next runs running and the rest waiting, a study counting a false claim if any
reading printed one; ``null``, ``null-sd2.2/3.6``, ``bump2`` and ``diverge1`` also the test-split
evaluation after the CLI's default race, with ``--eval-seeds`` seeds, read after every finished
evaluation run.

    python bench/bench_verdicts.py [--studies 1000] [--power-studies 300] [--scenarios ...] [--jobs 2]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.verdict_world import (  # noqa: E402
    DISTRIBUTIONS,
    MARGIN,
    OBJECTIVE,
    SCENARIOS,
    SPACE,
    Scenario,
    Simulator,
    World,
    finished_trial,
    pending_trial,
)
from sweeper.evaluation.plan import eval_seeds, plan_runs  # noqa: E402
from sweeper.evaluation.results import EvaluationData, collect_evaluation, verdict  # noqa: E402
from sweeper.report.collect import ReportData  # noqa: E402
from sweeper.report.curves import ResponseCurves, response_curves  # noqa: E402
from sweeper.stats.verdicts import HELPS, HURTS, NO_DIFFERENCE, NO_GAIN, OPEN  # noqa: E402
from sweeper.study.adaptive import ALPHA_RESERVE, FUTILITY, NO_GAIN_FUTILITY, plan, runs_of, x_of  # noqa: E402
from sweeper.storage import optuna_private  # noqa: E402
from sweeper.study.choices import SHAPE_DEFAULTS  # noqa: E402
from sweeper.study.config import CONFIG_ATTR, SweepConfig  # noqa: E402
from sweeper.study.design import curve_runs  # noqa: E402
from sweeper.study.designs import design_of  # noqa: E402
from sweeper.study.points import TrialPoint, collect_points  # noqa: E402
from sweeper.study.status import full_trial_equivalents  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


class SimulationError(RuntimeError):
    """The simulator no longer matches the code it drives (not an AssertionError, so that a test
    expected to fail on a false claim cannot pass for this)."""

WORKERS = 2  # runs under way at once while a study is read before it is finished
# The race the CLI launches by default, as POINTSxREPEATSxROUNDS.
CLI_RACE = "x".join(str(SHAPE_DEFAULTS["adaptive"][k]) for k in ("points", "repeats", "rounds"))
# "Collapses the model" is false where the point's true mean gain is above this many margins
# below the baseline: the threshold the note applies (issue 26), whatever noise it is read at.
NOTE_MARGINS = 5


def config_of(design: str, epochs: int, budget: int, **shape: int) -> dict[str, Any]:
    """What ``sweeper launch`` stores for the design (the report reads its plan from it)."""
    return SweepConfig(task="sim", budget=max(1, budget), epochs=epochs, batch_size=1, learning_rate=None,
                       train_size=None, val_fraction=0.2, space=SPACE, pruner="none", design=design, margin=MARGIN,
                       **shape).to_attrs()


def _report(trials: list[FrozenTrial], design: str, config: dict[str, Any]) -> ReportData:
    return _report_of(collect_points(trials, OBJECTIVE), len(trials), design, config)


def _report_of(points: list[TrialPoint], budget: int, design: str, config: dict[str, Any]) -> ReportData:
    """What ``collect_report`` returns for a stored study with these points and config."""
    return ReportData("sim", "sim", budget, "maximize", points, OBJECTIVE, design, config=config)


@dataclass
class Study:
    """A simulated study: the trials it ended with, and each reading of it that was scored."""

    trials: list[FrozenTrial]
    readings: list[ReportData]
    config: dict[str, Any]


def fixed_study(sim: Simulator, points: int, repeats: int, *, every_run: bool = False) -> Study:
    runs = curve_runs(SPACE, points, repeats, 0)
    epochs = sim.world.epochs
    config = config_of("curve", epochs, len(runs), points=points, repeats=repeats)
    done = [finished_trial(r.params, r.user_attrs(), sim.draw(r.params, r.repeat), epochs) for r in runs]
    readings = [_report(done, "curve", config)]
    if every_run:
        # Workers take the queue in order: after the k-th run finished, the next ones are running.
        # ``collect_points`` maps trials one by one (a waiting trial, with no parameters yet, to
        # nothing), so each reading's points are slices of three collections made once.
        running = [pending_trial(r.params, r.user_attrs(), TrialState.RUNNING) for r in runs]
        waiting = [pending_trial(r.params, r.user_attrs(), TrialState.WAITING) for r in runs]
        points = [collect_points(trials, OBJECTIVE) for trials in (done, running, waiting)]
        if not len(points[0]) == len(points[1]) == len(runs) or points[2]:
            raise SimulationError("collect_points no longer maps trials one by one: read each reading whole")
        readings = [_report_of(points[0][:k] + points[1][k:k + WORKERS], len(runs), "curve", config)
                    for k in range(1, len(runs))] + readings
    return Study(done, readings, config)


def adaptive_study(sim: Simulator, points: int, repeats: int, rounds: int, grow: int = 0,
                   reserve: float = ALPHA_RESERVE, futility: float = FUTILITY,
                   no_gain_futility: float = NO_GAIN_FUTILITY) -> Study:
    """The race as workers run it, read once it is done; with ``grow``, a user who finds a
    finalist undecided launches it again with one more round (``sweeper run --rounds N``), up to
    ``grow`` times, and reads it after each: every reading counts."""
    trials: list[FrozenTrial] = []
    epochs = sim.world.epochs
    readings = []
    for total in range(rounds, rounds + grow + 1):
        while True:
            state = plan(SPACE, points, repeats, total, 0, OBJECTIVE, runs_of(trials, OBJECTIVE), MARGIN,
                         planned_rounds=rounds, reserve=reserve, futility=futility,
                         no_gain_futility=no_gain_futility, grown=range(rounds + 1, total + 1))
            if state.stage == "done":
                break
            if not state.queue:
                raise SimulationError(f"stage {state.stage} has nothing to queue and nothing running")
            for r in state.queue:
                trials.append(finished_trial(r.params, r.user_attrs(), sim.draw(r.params, r.repeat), epochs))
        config = config_of("adaptive", epochs, len(trials), points=points, repeats=repeats, rounds=total,
                           planned_rounds=rounds, alpha_reserve=reserve, futility=futility,
                           no_gain_futility=no_gain_futility, rounds_grown=list(range(rounds + 1, total + 1)))
        readings.append(_report(trials, "adaptive", config))
        if not any(f.comparison is not None and f.comparison.outcome(state.margin) == OPEN
                   for f in state.finalists.values()):
            break
    return Study(trials, readings, config)


def evaluation(sim: Simulator, search: Study, seeds: int) -> tuple[list[EvaluationData], int, int]:
    """``sweeper evaluate`` after the search: its runs enqueued in an Optuna study of their own,
    taken in queue order by ``WORKERS`` workers, read after every finished run. Returns the
    readings, the runs and the epochs they ran."""
    config = SweepConfig.from_attrs(search.config)
    design = design_of(config.design)
    runs = plan_runs(search.trials, eval_seeds(config.seed, seeds), OBJECTIVE, by_mean=design.ranks_by_mean,
                     chosen=design.put_forward(config, search.trials))
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage, study_name="sim.eval", direction="maximize")
    study.set_user_attr(CONFIG_ATTR, {**search.config, "kind": "evaluate", "parent": "sim", "design": "search",
                                      "looks": 1})
    for r in runs:
        study.enqueue_trial(r.params, user_attrs=r.user_attrs())
    ids = [optuna_private.trial_id(t) for t in study.get_trials(deepcopy=False)]
    for i in ids[:WORKERS]:
        storage.set_trial_state_values(i, TrialState.RUNNING)
    readings, epochs = [], 0
    for k, (run, i) in enumerate(zip(runs, ids)):
        draw = sim.draw(run.params, ("eval", run.seed))
        epochs += sim.epochs_run(run.params, ("eval", run.seed))
        for key, value in run.params.items():
            dist = DISTRIBUTIONS[key]
            storage.set_trial_param(i, key, dist.to_internal_repr(value), dist)
        if draw.last is None:
            storage.set_trial_user_attr(i, "stop_reason", f"diverged: non-finite loss at epoch {draw.diverged_at}")
            storage.set_trial_state_values(i, TrialState.PRUNED)
        else:
            storage.set_trial_state_values(i, TrialState.COMPLETE, [draw.last])
        if k + WORKERS < len(ids):
            storage.set_trial_state_values(ids[k + WORKERS], TrialState.RUNNING)
        readings.append(collect_evaluation(study))
    return readings, len(runs), epochs


@dataclass
class Claims:
    """The false claims of one reading, by kind."""

    helps: bool = False
    hurts: bool = False
    no_diff: bool = False  # "no difference larger than ±m" or "no gain larger than +m"
    early: bool = False  # on top of early stopping: helps / early stopping alone does better / not better by more than m
    notes: bool = False  # "collapsed on k of n seeds" where no seed truly collapses and the mean is above -5 margins

    def __or__(self, o: Claims) -> Claims:
        return Claims(self.helps or o.helps, self.hurts or o.hurts, self.no_diff or o.no_diff, self.early or o.early,
                      self.notes or o.notes)

    @property
    def any(self) -> bool:
        return self.helps or self.hurts or self.no_diff or self.early or self.notes


def curve_claims(curves: ResponseCurves, world: World) -> Claims:
    """Score every sentence a report prints against the truth."""
    margin = curves.margin or MARGIN
    gain = world.last_gain
    out = Claims()
    for group, v in curves.decisions.items():
        if v.quoted is None:
            continue
        xs = [c.x for c in v.comparisons]
        out.helps |= any(gain(group, x) <= 0 for x in v.helps_at)
        out.hurts |= any(gain(group, x) >= 0 for x in v.hurts_at)
        if v.outcome == NO_DIFFERENCE:
            out.no_diff |= any(abs(gain(group, x)) >= margin for x in xs)
        if v.outcome == NO_GAIN:
            out.no_diff |= any(gain(group, x) >= margin for x in xs if x not in v.hurts_at)
        e = v.early
        if e is not None and e.gain.low is not None:  # what the sentence prints of early stopping
            outcome, true = e.outcome(margin), early_truth(curves, world, group, e.x)
            out.early |= ((outcome == HELPS and true <= 0) or (outcome == HURTS and true >= 0)
                          or (outcome in (NO_DIFFERENCE, NO_GAIN) and true >= margin))
    # A note says which of a point's seeds collapsed or diverged. "Diverged" is what a run did; a
    # "collapsed on" is false where the world never collapses the point and its mean is within 5
    # margins of the baseline's: the seed fell past the threshold by noise.
    for group, points in [*curves.penalties.items(), ("dropout", curves.dropout)]:
        for p in points:
            if p.dropped and "collapsed on" in p.dropped:
                out.notes |= world.point(group, p.x).collapse == 0 and gain(group, p.x) > -NOTE_MARGINS * margin
    return out


def early_truth(curves: ResponseCurves, world: World, group: str, x: float) -> float:
    """The truth of an early-stopping claim. A race states the epochs it stopped each side at
    (chosen on the screening seeds, scored on fresh ones): the claim is about those, the true mean
    at the finalist's epoch against the baseline's at its own. A fixed design stops each seed at
    its own cross-fitted epoch, which the page does not list: the oracle, each side's best
    expected epoch, stands in (stricter for a "helps")."""
    epochs = curves.epochs.get(group)
    if epochs is None:
        return world.early_gain(group, x)
    mine, base = world.point(group, x).mixture, world.point("baseline", 0.0).mixture
    return float(mine[epochs[0] - 1] - base[epochs[1] - 1])


def test_claims(ev: EvaluationData, world: World) -> tuple[Claims, bool]:
    """Score the test split's sentence (``verdict``): a named group that "beats" the baseline
    (counted as helps), each one that "is worse" (hurts). Also whether L2 was said to beat it
    where it truly does (power)."""
    sentence = verdict(ev)
    out, found = Claims(), False
    for g in ev.groups:
        if g.group == "baseline":
            continue
        point = x_of(g.params)
        if point is None:
            raise SimulationError(f"the evaluation's {g.group} row has no point: {g.params}")
        true = world.last_gain(*point)
        if sentence.startswith(f"{g.describe()} beats"):
            out.helps |= true <= 0
            found = g.group == "l2" and true > 0
        if f"; {g.label} is worse" in sentence:
            out.hurts |= true >= 0
    if ("beats the unregularized" in sentence and not sentence.startswith("no penalty")
            and not any(sentence.startswith(f"{g.describe()} beats") for g in ev.groups)):
        raise SimulationError(f"a 'beats' this scorer cannot attribute to a group: {sentence}")
    return out, found


@dataclass
class Tally:
    studies: int = 0
    false_helps: int = 0
    false_hurts: int = 0
    false_no_diff: int = 0
    false_early: int = 0
    false_notes: int = 0
    false_any: int = 0
    found: int = 0  # L2 declared to help (beat the baseline), and only where it truly helps
    covered: int = 0  # quoted intervals holding their point's true gain
    quoted: int = 0
    all_covered: int = 0  # studies where every interval printed holds its true gain
    bias: float = 0.0  # reported minus true gain of L2's quoted point, whatever its verdict
    biased: int = 0
    decided: int = 0  # types with a decided verdict at the last reading (helps, hurts, no difference, no gain)
    trials: int = 0
    epochs: float = 0.0  # full-trial equivalents: epochs run / epochs of a full trial
    seconds: float = 0.0

    def add(self, claims: Claims) -> None:
        self.studies += 1
        self.false_helps += claims.helps
        self.false_hurts += claims.hurts
        self.false_no_diff += claims.no_diff
        self.false_early += claims.early
        self.false_notes += claims.notes
        self.false_any += claims.any

    def line(self, name: str) -> str:
        n = max(self.studies, 1)
        se = lambda k: 1.96 * math.sqrt(max(k / n * (1 - k / n), 1 / n) / n)  # noqa: E731
        pct = lambda k: f"{100 * k / n:>6.1f}%"  # noqa: E731
        cover = f"{100 * self.covered / self.quoted:>6.1f}%" if self.quoted else f"{'-':>7}"
        bias = f"{100 * self.bias / self.biased:>+6.2f}pp" if self.biased else f"{'-':>8}"
        return (f"{name:<44} {self.studies:>6} {pct(self.false_helps)} {pct(self.false_hurts)} {pct(self.false_no_diff)} "
                f"{pct(self.false_early)} {pct(self.false_notes)} {100 * self.false_any / n:>5.1f}%±{100 * se(self.false_any):.1f} "
                f"{pct(self.found)} {cover} {bias} {self.decided / n:>7.2f} {self.trials / n:>7.1f} {self.epochs / n:>7.1f} "
                f"{1000 * self.seconds / n:>6.0f}")


HEADER = (f"{'design / scenario':<44} {'studies':>6} {'F-helps':>7} {'F-hurts':>7} {'F-nodif':>7} {'F-early':>7} "
          f"{'F-notes':>7} {'any false':>11} {'power':>7} {'cover':>7} {'bias':>8} {'decided':>7} {'trials':>7} {'full-eq':>7} "
          f"{'ms/st':>6}")


def _holds(c, true: float) -> bool:  # type: ignore[no-untyped-def]
    if c.gain.low is None or c.gain.high is None:
        return True  # no interval printed, nothing to hold
    return c.gain.low <= true <= c.gain.high


def score(study: Study, world: World, tally: Tally) -> None:
    """A study's claims over all its readings; power, coverage and bias at its last."""
    claims = Claims()
    for data in study.readings:
        curves = response_curves(data)
        claims |= curve_claims(curves, world)
    tally.add(claims)
    tally.trials += len(study.trials)
    # What `sweeper status` prints beside the trials, from the epochs the stored trials ran.
    tally.epochs += full_trial_equivalents(study.trials, world.epochs)
    tally.decided += sum(v.outcome in (HELPS, HURTS, NO_DIFFERENCE, NO_GAIN) for v in curves.decisions.values())
    every_interval_holds = True
    for group, v in curves.decisions.items():
        if v.quoted is None:
            continue
        every_interval_holds &= all(_holds(c, world.last_gain(group, c.x)) for c in v.comparisons)
        if v.early is not None:
            every_interval_holds &= _holds(v.early, early_truth(curves, world, group, v.early.x))
        q, true = v.quoted, world.last_gain(group, v.quoted.x)
        if q.gain.low is not None:
            tally.quoted += 1
            tally.covered += _holds(q, true)
        if group == "l2" and math.isfinite(q.gain.diff):
            # The winner's curse: the quoted point is the best-looking one; is its effect inflated?
            tally.bias += q.gain.diff - true
            tally.biased += 1
        if group == "l2" and v.outcome == HELPS and all(world.last_gain(group, x) > 0 for x in v.helps_at):
            tally.found += 1
    tally.all_covered += every_interval_holds


def run(design: str, scenario: str | Scenario, studies: int, seed: int, *, points: int, repeats: int, rounds: int = 3,
        seed_sd: float = 0.02, pair_sd: float = 0.015, epochs: int = 20, seeds: int = 5, grow: int = 0,
        reserve: float = ALPHA_RESERVE, futility: float = FUTILITY, no_gain_futility: float = NO_GAIN_FUTILITY) -> Tally:
    """``studies`` simulated studies of ``design`` (fixed | readings | adaptive | evaluate) in
    ``scenario``. An evaluation follows the adaptive race ``points`` x ``repeats`` x ``rounds``
    with ``seeds`` seeds."""
    sc = SCENARIOS[scenario] if isinstance(scenario, str) else scenario
    world = World(sc, sc.pair_sd or pair_sd, sc.epochs or epochs)
    rng = np.random.default_rng(seed)
    tally = Tally()
    start = time.perf_counter()
    for _ in range(studies):
        sim = Simulator(rng, world, seed_sd)
        if design in ("fixed", "readings"):
            score(fixed_study(sim, points, repeats, every_run=design == "readings"), world, tally)
        elif design == "adaptive":
            score(adaptive_study(sim, points, repeats, rounds, grow, reserve, futility, no_gain_futility), world, tally)
        elif design == "evaluate":
            readings, n, used = evaluation(sim, adaptive_study(sim, points, repeats, rounds, reserve=reserve,
                                                               futility=futility, no_gain_futility=no_gain_futility),
                                           seeds)
            claims = Claims()
            for ev in readings:
                claims |= test_claims(ev, world)[0]
            tally.add(claims)
            tally.found += test_claims(readings[-1], world)[1]
            tally.trials += n
            tally.epochs += used / world.epochs
        else:
            raise ValueError(f"unknown design {design!r}: fixed, readings, adaptive or evaluate")
    tally.seconds = time.perf_counter() - start
    return tally


def _row(job: tuple[str, str, str, int, int, float, float, int, dict]) -> str:
    design, name, scenario, studies, seed, seed_sd, pair_sd, epochs, shape = job
    tally = run(design, scenario, studies, seed, seed_sd=seed_sd, pair_sd=pair_sd, epochs=epochs, **shape)
    return tally.line(f"{name} / {scenario}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="scenarios: " + "; ".join(f"{s.name}: {s.about}" for s in SCENARIOS.values()))
    parser.add_argument("--studies", type=int, default=1000,
                        help="simulated studies per row of an error-rate scenario (default 1000: a 5%% rate within ±1.4 pp)")
    parser.add_argument("--power-studies", type=int, default=300,
                        help="simulated studies per row of a bump scenario (default 300)")
    parser.add_argument("--readings-studies", type=int, default=None,
                        help="studies per row read after every run (default: --studies)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seed-sd", type=float, default=0.02)
    parser.add_argument("--pair-sd", type=float, default=0.015, help="paired sd of scenarios that set none (default 0.015)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs of scenarios that set none (default 20)")
    parser.add_argument("--fixed", nargs="*", default=["5x3", "5x12"],
                        help="fixed designs as POINTSxREPEATS (default: the old default 5x3, and 5x12)")
    parser.add_argument("--power-fixed", nargs="*", default=["7x18"],
                        help="fixed designs run in the bump scenarios only (default 7x18: what the fixed design "
                             "needs for +2 pp, against the race's trials)")
    parser.add_argument("--adaptive", nargs="*", default=[CLI_RACE],
                        help=f"adaptive designs as POINTSxREPEATSxROUNDS (default: {CLI_RACE}, the CLI's default); "
                             "POINTSxREPEATSxROUNDS+G: a user who finds a finalist undecided after the race adds one "
                             "round at a time (sweeper run --rounds N), at most G times, reading it after each")
    parser.add_argument("--reserve", type=float, default=ALPHA_RESERVE,
                        help=f"share of α a race keeps for added rounds (default {ALPHA_RESERVE}, the CLI's)")
    parser.add_argument("--futility", type=float, default=FUTILITY,
                        help=f"a finalist stops when its planned seeds would decide it with less chance (default "
                             f"{FUTILITY}, the CLI's; 0: never)")
    parser.add_argument("--no-gain-futility", type=float, default=NO_GAIN_FUTILITY,
                        help=f"in the planned rounds, a finalist whose seeds would show help or harm with less than "
                             f"--futility stops unless 'no gain' is at least this likely (default {NO_GAIN_FUTILITY}, "
                             f"the CLI's; 0: any decision counts alike, the rule before)")
    parser.add_argument("--readings", nargs="*", default=["5x3"],
                        help="fixed designs read after every finished run, as POINTSxREPEATS (default 5x3)")
    parser.add_argument("--eval-seeds", nargs="*", type=int, default=[3, 5],
                        help=f"seeds of the test-split evaluation after the race {CLI_RACE} (default 3 5)")
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS), metavar="SCENARIO",
                        help="rows to run, by name (default: all; see the list below)")
    parser.add_argument("--designs", nargs="+", choices=["fixed", "adaptive", "readings", "evaluate"], default=None,
                        help="run these kinds of rows in every scenario chosen (default: each scenario's own)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="rows simulated in parallel")
    args = parser.parse_args(argv)
    print(f"seed sd {100 * args.seed_sd:.1f} pp, paired sd {100 * args.pair_sd:.1f} pp unless the scenario sets it, "
          f"{args.epochs} epochs unless it sets them, margin 1 pp; {args.studies} studies per error-rate row, "
          f"{args.power_studies} per bump row (± is a 95% binomial interval of the rate)")
    print("F-helps/F-hurts: studies with a false 'helps'/'hurts' at some reading (evaluate rows: the test split's "
          "'beats'/'is worse'); F-nodif: a false 'no difference/no gain'; F-early: a false claim against early "
          "stopping (helps on top / early stopping alone does better / not better by more than 1 pp); F-notes: "
          "'collapsed on a seed' at a point that never truly collapses, its mean above -5 margins; any false: any of these; power: L2 "
          "said to help (beat the baseline), only where it does; cover: the quoted point's interval holds its true "
          "gain; bias: reported minus true gain of the point quoted for L2; decided: types with a decided verdict per study (of 4); trials and full-eq (epochs run / epochs "
          "of a full trial) per study; ms/st: time per study")
    print(HEADER)
    designs: dict[str, list[tuple[str, str, dict]]] = {"fixed": [], "power": [], "adaptive": [], "readings": [],
                                                       "evaluate": []}
    for kind, specs in (("fixed", args.fixed), ("power", args.power_fixed)):
        for spec in specs:
            p, r = (int(v) for v in spec.split("x"))
            designs[kind].append(("fixed", f"fixed {p} points x {r} repeats", dict(points=p, repeats=r)))
    for spec in args.adaptive:
        shape, _, grow = spec.partition("+")
        p, r, k = (int(v) for v in shape.split("x"))
        g = int(grow or 0)
        designs["adaptive"].append(("adaptive", f"adaptive {p} pts, {r} seeds x {k} rounds" + (f" +{g} added" if g else ""),
                                    dict(points=p, repeats=r, rounds=k, grow=g, reserve=args.reserve,
                                         futility=args.futility, no_gain_futility=args.no_gain_futility)))
    for spec in args.readings:
        p, r = (int(v) for v in spec.split("x"))
        designs["readings"].append(("readings", f"fixed {p} x {r}, read after each run", dict(points=p, repeats=r)))
    for s in args.eval_seeds:
        designs["evaluate"].append(("evaluate", f"test split, {s} seeds, read after each run",
                                    dict(**SHAPE_DEFAULTS["adaptive"], seeds=s, reserve=args.reserve,
                                         futility=args.futility, no_gain_futility=args.no_gain_futility)))
    jobs = []
    for name in args.scenarios:
        sc = SCENARIOS[name]
        kinds = list(args.designs or sc.rows)
        if sc.power and "fixed" in kinds:
            kinds.insert(kinds.index("fixed") + 1, "power")
        for kind in kinds:
            for design, label, shape in designs[kind]:
                studies = args.power_studies if sc.power else (
                    args.readings_studies or args.studies if kind == "readings" else args.studies)
                jobs.append((design, label, name, studies, args.seed, args.seed_sd, args.pair_sd, args.epochs, shape))
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
