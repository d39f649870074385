"""The adaptive response-curve design (``sweeper launch TASK --design adaptive``): screen where each
penalty acts, then race its best point against the baseline on fresh seeds, round by round, until
the verdict is decided or the rounds run out. Pure: the plan is replayed from the study's trials
every time it is asked for, so any worker (or a relaunch) can queue the next round, and doing it
twice queues nothing twice.

1. **Bracket** (queued at launch, screening seed 0): the baseline; λ at every decade of the λ range
   per weight penalty; ``points`` dropout rates over its range.
2. **Screen** (seed 1, and seed 0 for new points): per weight penalty, the break λ_b is the smallest
   bracket λ where the model collapses: worse than the baseline on the bracket's seed by more than
   the collapse threshold, ``BREAK_MARGINS`` margins or ``BREAK_SDS`` times the bracket's own noise
   (a robust spread of every bracket point's gain, most of which are no effect), whichever is
   larger, or diverged. The threshold scales with the noise so that a noisy task does not see
   collapses in seed noise. ``points`` new λ values go log-spaced into the ``WINDOW_DECADES`` below
   λ_b, where a penalty that changes the fit without destroying it acts (above the range's top
   when nothing breaks). Bracket points that collapsed on that one seed are dropped after their
   first round (the page says so: a fact about one run, no tested claim); bracket points below the window are left
   there (the model has not started to change).
3. **Confirm** (fresh seeds, ``CONFIRM_OFFSET`` on: never a screening seed): the finalist of each
   type (its best screened point by mean paired gain; the others are dropped as behind it) and the
   baseline get ``repeats`` new seeds per round, for at most ``rounds`` rounds. After each round a
   finalist whose interval (``sweeper.stats.verdicts``, α spent over the planned rounds)
   decides helps, hurts, no difference larger than ±margin or no gain larger than +margin stops
   getting seeds, and so does one whose remaining planned seeds could hardly show help or harm
   (``FUTILITY``) and would less likely than not settle "no gain" (``NO_GAIN_FUTILITY``).
   The verdicts read only the confirmation seeds: the screening data chose the
   finalist, so they are not used to test it. A race that ends with finalists undecided can be
   given more rounds (``sweeper run TASK --rounds N``): they spend the share of α the race kept
   at launch for them (``ALPHA_RESERVE``), so the verdicts hold whenever, and however often, a
   user decides to go on.

Early stopping is judged the same way: the epoch at which each configuration (the finalist, the
baseline) would stop is where the mean of its screening seeds' curves peaks, and the confirmation
seeds score both at those epochs. Taking each run's own best epoch would reward a configuration
whose epochs are noisier (its maximum is higher by chance), on the very scores that judge it.

Every run counts: a run that diverged is scored at the metric's worst value
(``sweeper.stats.verdicts.diverged_score``), on the baseline's side as on the point's.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from sweeper.stats.verdicts import (
    OPEN,
    Comparison,
    Family,
    change,
    compare,
    decidable,
    default_margin,
    diverged_score,
    stopping_epoch,
)
from sweeper.study.design import L1_RATIO, CurveRun, dropout_rates, repeat_of, repeat_seed
from sweeper.study.points import GROUP_LABELS, TrialPoint, group_of
from sweeper.study.space import SearchSpace
from sweeper.tasks.api import Objective
from sweeper.tasks.hyperparams import BASELINE_PARAMS, dropout_of, has_penalty, lambda_of, make_params, penalty_of
from sweeper.tasks.results import StoredResult

SCREEN, CONFIRM = "screen", "confirm"
SCREEN_SEEDS = 2
CONFIRM_OFFSET = 100
WINDOW_DECADES = 2.5
BREAK_MARGINS = 5
# A collapse is a loss of more than BREAK_SDS robust standard deviations of the bracket's gains
# (at least BREAK_MARGINS margins). The spread is estimated from the points' median absolute gain,
# which the few that truly collapse barely move. A Gaussian null point passes 4 sd about once in
# 15,000; heavy-tailed noise (t with 3 df) passes it more often, which on the simulator's
# heavy-tailed row leaves 3.7% of studies with a note about one seed (5 sd gave 3.4%: not worth
# the missed collapses), while a real collapse (-30 pp) clears it even at IMDb's 3.6 pp of noise.
BREAK_SDS = 4.0
# "No difference" is said of a λ only this many decades below the smallest λ of its type seen to
# collapse (or diverge) on any seed, or, when none was, below ten times the largest λ it was tried
# at (a break nobody saw may sit just above the range); of a dropout rate only CLEAR_RATE below a
# rate seen to collapse. Nearer, a collapse on a few percent of seeds (which 6-18 seeds easily
# miss) can pull the mean below -margin: a 30 pp collapse on 3.3% of seeds costs 1 pp. With a break
# that takes the collapse rate from 5% to 50% within a decade (bench/bench_verdicts.py's seed-wise
# collapse rows), 2 decades keep it under 1% of seeds; 1 decade printed a false "no difference" in
# 13-27% of studies.
CLEAR_DECADES = 2.0
CLEAR_RATE = 0.2
WEIGHT_PENALTIES = ("l1", "l2", "l1_l2")
# Each finalist is compared twice: at its last epoch, and at its best epoch against the baseline's
# best epoch (does the penalty help on top of early stopping?).
COMPARISONS_PER_FINALIST = 2
# The share of α a race keeps for rounds added after launch (``sweeper run --rounds N`` on a race
# that left a finalist undecided): the planned rounds spend the rest. Chosen on
# bench/bench_verdicts.py (bench/README.md, issue 30): see the figures there.
ALPHA_RESERVE = 0.1
# A finalist open at a planned look gets no more of the planned rounds' seeds when the chance
# that they decide it (helps, hurts or no gain, ``Comparison.decision_chance``: if its true gain
# is what its seeds show) is below this. Stopping makes no claim, so it cannot add a false one;
# it costs a little power and saves the seeds of finalists that would end undecided anyway.
# 0.05 on bench/bench_verdicts.py (bench/README.md, issue 30): on the 2-round race 4-9% fewer
# trials for 2-3 points of power; on the 3-round default 0.1 saved 3% more and cost 2.6 points.
FUTILITY = 0.05
# In the planned rounds, "no gain larger than +margin" is worth a finalist's seeds only when they
# would more likely than not settle it: a finalist whose seeds can no longer show help or harm
# (less than FUTILITY) stops unless its chance of "no gain" is at least this. On
# bench/bench_verdicts.py (bench/README.md, issue 30) the planned rounds' seeds bought a "no gain"
# below that chance at 69-85 trials a verdict at CIFAR-10's and IMDb's noise; 0.5 saves 10-16% of
# a race's trials and costs no power for a gain. Rounds a user adds (``sweeper run --rounds N``)
# keep the FUTILITY rule alone: the page's command for a "no gain" asks for them.
NO_GAIN_FUTILITY = 0.5

Point = tuple[str, float]  # (group, x): x is λ for a weight penalty, the rate for dropout
BASE: Point = ("baseline", 0.0)


def x_of(params: dict[str, Any]) -> Point | None:
    """The point of a run's parameters; None for parameters that name no point (a trial that
    failed before its parameters were set)."""
    if not has_penalty(params):
        return None
    dropout = dropout_of(params)
    group = group_of(penalty_of(params), dropout)
    if group == "baseline":
        return group, 0.0
    if group == "dropout":
        return group, round(dropout, 6)
    lam = lambda_of(params)
    if lam is None:
        return None
    return group, float(f"{float(lam):.6g}")


def params_of(point: Point, space: SearchSpace) -> dict[str, Any]:
    group, x = point
    if group == "baseline":
        return dict(BASELINE_PARAMS)
    if group == "dropout":
        return make_params("none", dropout=x)
    return make_params(group, x, space.dropout_low, L1_RATIO)


def _round3(x: float) -> float:
    return float(f"{x:.3g}")


def bracket_lambdas(space: SearchSpace) -> list[float]:
    """Every decade of the λ range, and its two ends."""
    lo, hi = math.log10(space.lambda_low), math.log10(space.lambda_high)
    exps = {lo, hi} | {float(k) for k in range(math.ceil(lo), math.floor(hi) + 1)}
    return sorted({_round3(10 ** e) for e in exps})


def window_lambdas(space: SearchSpace, points: int, break_at: float | None) -> list[float]:
    """``points`` λ log-spaced over the ``WINDOW_DECADES`` below the break (the top of the range
    when nothing broke), clipped to the range."""
    top = math.log10(break_at) if break_at is not None else math.log10(space.lambda_high) + WINDOW_DECADES / points
    step = WINDOW_DECADES / points
    lo, hi = math.log10(space.lambda_low), math.log10(space.lambda_high)
    values = [min(max(top - WINDOW_DECADES + i * step, lo), hi) for i in range(points)]
    return sorted({_round3(10 ** v) for v in values})


@dataclass(frozen=True)
class Run:
    """One run the study holds: a point at one repeat, with its values when finished."""

    point: Point
    repeat: int
    state: TrialState
    last: float | None  # the objective at the last epoch (None: not finished, failed, or diverged)
    curve: tuple[float | None, ...] = ()  # the objective per epoch (None where not finite)
    diverged: bool = False  # pruned: a non-finite loss (curve and adaptive designs never prune otherwise)


STATES = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "fail": TrialState.FAIL,
          "running": TrialState.RUNNING, "waiting": TrialState.WAITING}


def runs_of_points(points: Iterable[TrialPoint], objective: Objective) -> list[Run]:
    """The runs of a report's trial points (queued trials no worker took are not among them:
    a stage with such runs reads as not finished, which it is not)."""
    out = []
    for p in points:
        point = x_of(p.params)
        if p.repeat is None or point is None:
            continue
        out.append(_run_of(point, int(p.repeat), STATES[p.state], p.value, p.history.get(objective.log_key)))
    return out


def _run_of(point: Point, repeat: int, state: TrialState, value: float | None,
            history: list[float | None] | None) -> Run:
    curve = tuple(v if v is not None and math.isfinite(v) else None for v in (history or []))
    if state == TrialState.COMPLETE and value is not None and math.isfinite(value):
        return Run(point, repeat, state, float(value), curve)
    if state == TrialState.PRUNED:
        return Run(point, repeat, state, None, curve, diverged=True)
    return Run(point, repeat, state, None, curve)


def runs_of(trials: Iterable[FrozenTrial], objective: Objective) -> list[Run]:
    out = []
    for t in trials:
        repeat = repeat_of(t.user_attrs)
        if repeat is None:
            continue  # a sampled replacement of a failed planned trial: not part of the design
        # The queued parameters are the run's (a trial caught half-way through setting its own
        # has only some of them).
        point = x_of(t.system_attrs.get("fixed_params") or t.params or {})
        if point is None:
            continue
        history = StoredResult.from_attrs(t.user_attrs).history.get(objective.log_key)
        out.append(_run_of(point, int(repeat), t.state, t.value, history))
    return out


@dataclass
class Observations:
    """The study's runs by point and repeat, diverged runs scored at ``score``."""

    sign: int
    score: float | None = None  # what a diverged run scores (None: nothing bounds it, no pair)
    last: dict[Point, dict[int, float]] = field(default_factory=dict)
    curves: dict[Point, dict[int, list[float]]] = field(default_factory=dict)
    diverged: set[tuple[Point, int]] = field(default_factory=set)
    held: set[tuple[Point, int]] = field(default_factory=set)  # any trial, any state
    finished: set[tuple[Point, int]] = field(default_factory=set)  # complete, pruned or only failed

    @classmethod
    def of(cls, runs: list[Run], sign: int, objective: Objective, bracket: set[Point] | None = None) -> Observations:
        obs = cls(sign, _diverged_score(runs, objective, bracket))
        pending: set[tuple[Point, int]] = set()
        for r in runs:
            key = (r.point, r.repeat)
            obs.held.add(key)
            if r.state in (TrialState.WAITING, TrialState.RUNNING):
                pending.add(key)
            elif r.diverged:
                obs.finished.add(key)
                obs.diverged.add(key)
                if obs.score is not None:
                    obs.last.setdefault(r.point, {})[r.repeat] = obs.score
                    obs.curves.setdefault(r.point, {})[r.repeat] = _scored_curve(r.curve, obs.score, diverged=True)
            elif r.last is not None:
                obs.last.setdefault(r.point, {})[r.repeat] = r.last
                obs.curves.setdefault(r.point, {})[r.repeat] = _scored_curve(r.curve or (r.last,), r.last,
                                                                            diverged=False)
                obs.finished.add(key)
        # A key whose trials all failed (and none is queued again) is over: it has no value.
        obs.finished |= {(r.point, r.repeat) for r in runs if r.state == TrialState.FAIL} - pending
        return obs

    def gain(self, point: Point, repeat: int) -> float | None:
        base = self.last.get(("baseline", 0.0), {}).get(repeat)
        value = self.last.get(point, {}).get(repeat)
        if base is None or value is None:
            return None
        return self.sign * (value - base)

    def at_epoch(self, point: Point, epoch: int) -> dict[int, float]:
        """Each finished repeat of ``point`` at ``epoch`` (a shorter run holds its last value)."""
        return {r: c[min(epoch, len(c) - 1)] for r, c in self.curves.get(point, {}).items() if c}


def _scored_curve(curve: tuple[float | None, ...], end: float, *, diverged: bool) -> list[float]:
    """A run's curve with a non-finite epoch scored: a diverged run holds ``end`` (the diverged
    score) from its first non-finite epoch on; elsewhere a gap holds the previous value."""
    out: list[float] = []
    for v in curve:
        if v is None:
            if diverged:
                break
            v = out[-1] if out else end
        out.append(v)
    if diverged:
        out.append(end)
    return out or [end]


def _diverged_score(runs: list[Run], objective: Objective, bracket: set[Point] | None) -> float | None:
    """The diverged score: a maximized fraction's 0; otherwise the worst value the bracket's runs
    reached at any epoch (fixed once the bracket has run, so later runs move no earlier look)."""
    seen = [v for r in runs if (bracket is None or r.point in bracket) and r.repeat == 0
            for v in (*r.curve, r.last) if v is not None and math.isfinite(v)]
    worst = (min(seen) if objective.direction == "maximize" else max(seen)) if seen else None
    return diverged_score(objective.in_points, objective.direction, worst)


@dataclass(frozen=True)
class Finalist:
    point: Point
    screen_gain: float  # mean paired gain over the screening seeds
    look: int  # confirmation rounds it took part in
    comparison: Comparison | None  # at its last look, at the last epoch
    # At its last look, each stopped early: the finalist at ``epoch`` against the baseline at
    # ``base_epoch``, epochs chosen on the screening seeds (0-based; None: no curve to choose on).
    early: Comparison | None
    epoch: int | None = None
    base_epoch: int | None = None
    # Stopped before the planned rounds ran out: the chance its remaining seeds had to decide it
    # (``FUTILITY``); None while it races, once decided, or when it ran every round. Stopped by
    # the planned rounds' rule (``NO_GAIN_FUTILITY``): the chance of an effect (helps or hurts),
    # and ``no_gain`` that of no gain larger than +margin.
    stopped: float | None = None
    no_gain: float | None = None


@dataclass(frozen=True)
class RacePlan:
    stage: str  # bracket | screen | confirm | done
    round: int  # confirmation round under way (0 before confirmation)
    rounds: int
    queue: list[CurveRun]  # runs of the current stage that no trial holds yet
    waiting_for: int  # runs of the current stage not finished yet
    margin: float
    finalists: dict[str, Finalist] = field(default_factory=dict)
    dropped: dict[str, dict[float, str]] = field(default_factory=dict)  # group -> x -> why
    family: Family | None = None
    screen_bound: int = 0  # at the bracket: at most this many screening trials follow
    groups: int = len(WEIGHT_PENALTIES) + 1  # the types the race may have a finalist of
    stopped: str = ""  # why the race ended before its rounds (a model that never learns)
    reach: str = ""  # once the bracket has run: what the race's seeds can decide at its noise (race_reach)

    @property
    def open_points(self) -> list[Point]:
        return [f.point for f in self.finalists.values()
                if self.stage == CONFIRM and _outcome(f, self.margin) == OPEN and f.stopped is None]

    def trials_left(self, repeats: int) -> int:
        """At most this many more trials: the open finalists and the baseline for the rounds left."""
        if self.stage == "done":
            return 0
        open_ = len(self.open_points) if self.stage == CONFIRM else len(self.finalists) or self.groups
        return self.waiting_for + self.screen_bound + (self.rounds - self.round) * (open_ + 1) * repeats

    def describe(self, repeats: int) -> str:
        if self.stage == "done":
            return f"race stopped: {self.stopped}" if self.stopped else "race finished"
        what = {"bracket": "bracketing each penalty's λ range", "screen": "screening the transition"}.get(
            self.stage, f"confirmation round {self.round}/{self.rounds}")
        opened = ", ".join(point_label(p) for p in self.open_points)
        return (f"{what}; {self.waiting_for} run(s) of this stage to finish"
                + (f"; racing {opened}" if opened else "") + f"; at most {self.trials_left(repeats)} more trials")


def _outcome(f: Finalist, margin: float) -> str:
    return f.comparison.outcome(margin) if f.comparison is not None else OPEN


def point_label(point: Point) -> str:
    group, x = point
    if group == "dropout":
        return f"dropout {x:g}"
    if group == "baseline":
        return "baseline"
    return f"{GROUP_LABELS[group]} λ ≈ {short_lambda(x)}"


def short_lambda(x: float) -> str:
    """``1e-4``, ``1.5e-4``: two significant digits at most, since window points fall between
    the decades."""
    return f"{x:.1e}".replace(".0e", "e").replace("e-0", "e-").replace("e+0", "e")


def bracket_runs(space: SearchSpace, points: int, base_seed: int) -> list[CurveRun]:
    """The runs queued at launch: the bracket, on screening seed 0."""
    pts: list[Point] = [("baseline", 0.0)]
    pts += [(g, lam) for g in WEIGHT_PENALTIES if g in space.penalties for lam in bracket_lambdas(space)]
    if "none" in space.penalties:
        pts += [("dropout", r) for r in dropout_rates(space, points)]
    return [_run(p, 0, space, base_seed, SCREEN) for p in pts]


def _run(point: Point, repeat: int, space: SearchSpace, base_seed: int, stage: str) -> CurveRun:
    return CurveRun(params_of(point, space), repeat, repeat_seed(base_seed, repeat), stage)


def race_family(finalists: int, rounds: int, reserve: float = 0.0) -> Family:
    """The race's verdict family: each finalist compared twice (``COMPARISONS_PER_FINALIST``),
    α spent over the ``rounds`` planned at launch, less the share ``reserve`` kept for rounds
    added later (``ALPHA_RESERVE``)."""
    return Family(max(1, COMPARISONS_PER_FINALIST * finalists), rounds, reserve=reserve)


@dataclass(frozen=True)
class _Replay:
    """What every step of the race reads: the study's runs (``obs``) and the race's settings, the
    margin among them (fixed by the bracket's baseline run)."""

    space: SearchSpace
    points: int
    repeats: int
    rounds: int
    base_seed: int
    objective: Objective
    obs: Observations
    margin: float
    groups: int  # the types the race may have a finalist of
    family_rounds: int  # the rounds planned at launch, over which the family spends α
    reserve: float  # the share of α kept for rounds past those
    futility: float  # a finalist whose planned seeds would decide it with less chance stops
    no_gain_futility: float  # ... unless "no gain" is at least this likely (0: any decision counts alike)
    grown: tuple[int, ...]  # the race's rounds after each time a user added rounds, in order

    def horizon(self, k: int) -> int:
        """The last round round ``k`` was planned toward: the launch's rounds for the planned
        ones, else the total of the first growth that reached ``k``. Fixed once ``k`` is
        queued, whatever is added later, so a replay is the race that ran."""
        if k <= self.family_rounds:
            return self.family_rounds
        return next((t for t in self.grown if t >= k), self.rounds)

    def family(self, finalists: int) -> Family:
        return race_family(finalists, self.family_rounds, self.reserve)

    def run(self, point: Point, repeat: int, stage: str) -> CurveRun:
        return _run(point, repeat, self.space, self.base_seed, stage)

    def pending(self, name: str, wanted: list[CurveRun], round_: int = 0, **extra: Any) -> RacePlan | None:
        """The stage ``name`` while any of its ``wanted`` runs is unfinished (queueing those no
        trial holds yet); None once every one has finished."""
        keys = [(x_of(r.params), r.repeat) for r in wanted]
        unfinished = [k for k in keys if k not in self.obs.finished]
        if not unfinished:
            return None
        queue = [r for r, k in zip(wanted, keys) if k not in self.obs.held]
        return RacePlan(name, round_, self.rounds, queue, len(unfinished), self.margin, groups=self.groups, **extra)


def plan(space: SearchSpace, points: int, repeats: int, rounds: int, base_seed: int, objective: Objective,
         runs: list[Run], margin: float | None = None, *, planned_rounds: int | None = None,
         reserve: float = 0.0, futility: float = 0.0, no_gain_futility: float = 0.0,
         grown: Sequence[int] = ()) -> RacePlan:
    """Where the race stands and what to queue next, replayed from the study's runs: the bracket,
    then (unless the model learns nothing) screening each type's transition window, then
    confirmation rounds for the finalists it chooses. ``rounds``: the rounds it may run now;
    ``planned_rounds`` (default ``rounds``) those planned at launch, over which α is spent, the
    share ``reserve`` kept for the rounds added since (``sweeper run --rounds N``), ``grown`` the
    rounds after each such growth; ``futility``:
    a finalist stops before the planned rounds run out when their seeds would decide it with less
    than this chance (``FUTILITY``; 0: never); ``no_gain_futility``: in the planned rounds, when
    they would show an effect with less than ``futility`` and no gain with less than this
    (``NO_GAIN_FUTILITY``; 0: any decision counts alike). A study keeps the values it was
    launched with, so that its replay is the race its workers ran."""
    bracket = bracket_runs(space, points, base_seed)
    bracket_points: list[Point] = [x_of(r.params) for r in bracket]  # type: ignore[misc]
    obs = Observations.of(runs, 1 if objective.direction == "maximize" else -1, objective, set(bracket_points))
    planned = planned_rounds or rounds
    if rounds > planned and not reserve:
        raise ValueError(f"a race planned for {planned} rounds that keeps no α cannot run {rounds}")
    race = _Replay(space, points, repeats, rounds, base_seed, objective, obs, race_margin(obs, objective, margin),
                   racing_groups(space, points), planned, reserve, futility, no_gain_futility, tuple(grown))
    pending = race.pending("bracket", bracket, screen_bound=screening_bound(space, points, len(bracket)))
    if pending:
        return pending
    stuck = never_learns(obs, bracket_points, objective)
    if stuck:
        # Screening and racing it would spend ~100 trials to learn that nothing differs.
        return RacePlan("done", 0, rounds, [], 0, race.margin, {}, {}, None, groups=race.groups, stopped=stuck)
    threshold = collapse_threshold(obs, bracket_points[1:], race.margin)
    reach = race_reach(race, bracket_points[1:])
    candidates, dropped = transition_windows(race, threshold)
    pending = race.pending("screen", screening_runs(race, candidates), dropped=dropped, reach=reach)
    if pending:
        return pending
    chosen = choose_finalists(race, candidates, threshold, dropped)
    return dataclasses.replace(confirmation(race, chosen, threshold, dropped), reach=reach)


def race_reach(race: _Replay, points: list[Point]) -> str:
    """What the race's fresh seeds can decide at the noise the bracket shows, in words, said
    before the race spends them ("" when the bracket shows no spread): the gain a finalist's seeds
    find with 80% power at the last look, and the margin "no difference" needs. The noise is the
    bracket's robust spread of gains (``bracket_noise``); the level is the last look's with a
    finalist for every type (at most that many compete)."""
    sd = bracket_noise(race.obs, points)
    if not sd:
        return ""
    n = race.rounds * race.repeats
    d = decidable(sd, n, race.family(race.groups).level(race.rounds))
    o = race.objective
    amount = (lambda x: f"{100 * x:.1f} pp") if o.in_points else (lambda x: f"{x:.3g}")
    study = (f"this study's: ±{amount(race.margin)}" if d.half_width < race.margin
             else f"wider than this study's ±{amount(race.margin)}")
    return (f"at the bracket's noise (paired sd ≈ {amount(sd)}), a finalist's {n} fresh seeds find a gain of "
            f"about {change(o, d.effect)} with 80% power; 'no difference' needs a margin of "
            f"±{amount(d.half_width)} or more ({study})")


def race_margin(obs: Observations, objective: Objective, margin: float | None) -> float:
    """The margin given, else the default one, fixed by the bracket's baseline run alone: every
    decision after it (where the model collapses, the window, the finalist) must not move with
    later data."""
    if margin is not None:
        return margin
    first = obs.last.get(BASE, {}).get(0)
    return default_margin(objective.in_points, first if first is not None and math.isfinite(first) else None)


def racing_groups(space: SearchSpace, points: int) -> int:
    """The types the race may have a finalist of: each weight penalty in the space, and dropout
    when the space has its range."""
    types = sum(g in space.penalties for g in WEIGHT_PENALTIES)
    return types + (1 if "none" in space.penalties and dropout_rates(space, points) else 0)


def screening_bound(space: SearchSpace, points: int, bracket: int) -> int:
    """At most this many screening trials follow a bracket of ``bracket`` runs: per type its new
    points (2 seeds) and the bracket points in its window (1 more); the dropout rates and the
    baseline once more."""
    types = sum(g in space.penalties for g in WEIGHT_PENALTIES)
    in_window = math.ceil(WINDOW_DECADES) + 1
    return SCREEN_SEEDS * types * points + types * in_window + bracket - 1 - types * len(bracket_lambdas(space)) + 1


def transition_windows(race: _Replay, threshold: float) -> tuple[dict[str, list[float]], dict[str, dict[float, str]]]:
    """Where each type is screened, from the bracket's one seed: a weight penalty at the bracket's
    λ from its window up and the window's new λ, below the smallest λ that collapsed (its break);
    dropout at every rate that did not collapse. Also the points dropped, and why."""
    obs, space, objective = race.obs, race.space, race.objective
    collapse = -threshold
    dropped: dict[str, dict[float, str]] = {}
    candidates: dict[str, list[float]] = {}
    for group in WEIGHT_PENALTIES:
        if group not in space.penalties:
            continue
        lams = bracket_lambdas(space)
        gains = {lam: obs.gain((group, lam), 0) for lam in lams}
        broken = [lam for lam in lams if gains[lam] is not None and gains[lam] < collapse]  # type: ignore[operator]
        break_at = broken[0] if broken else None
        window = [lam for lam in window_lambdas(space, race.points, break_at) if break_at is None or lam < break_at]
        # An empty window: the model collapses from the bottom of the range on, nothing to screen.
        low = window[0] if window else math.inf
        for lam in lams:
            if lam in broken:
                dropped.setdefault(group, {})[lam] = _collapsed(gains[lam], threshold, objective,
                                                                ((group, lam), 0) in obs.diverged)
            elif lam < low:
                dropped.setdefault(group, {})[lam] = "below the transition window (screened on 1 seed)"
        if window:
            candidates[group] = sorted(set(window) | {lam for lam in lams if low <= lam and lam not in broken})
    if "none" in space.penalties:
        kept = []
        for rate in dropout_rates(space, race.points):
            g = obs.gain(("dropout", rate), 0)
            if g is not None and g < collapse:
                dropped.setdefault("dropout", {})[rate] = _collapsed(g, threshold, objective,
                                                                     (("dropout", rate), 0) in obs.diverged)
            else:
                kept.append(rate)
        if kept:
            candidates["dropout"] = kept
    return candidates, dropped


def screening_runs(race: _Replay, candidates: dict[str, list[float]]) -> list[CurveRun]:
    """The baseline and every candidate on the screening seeds."""
    runs = [race.run(BASE, r, SCREEN) for r in range(SCREEN_SEEDS)]
    return runs + [race.run((g, x), r, SCREEN) for g, xs in candidates.items() for x in xs for r in range(SCREEN_SEEDS)]


def choose_finalists(race: _Replay, candidates: dict[str, list[float]], threshold: float,
                     dropped: dict[str, dict[float, str]]) -> dict[str, tuple[Point, float]]:
    """Each type's finalist, with its mean paired gain over the screening seeds: its best
    candidate by that mean. A candidate whose mean fell past the collapse threshold is dropped
    as collapsed, the others as behind the finalist (``dropped`` gets why: no tested claim)."""
    obs, objective = race.obs, race.objective
    chosen: dict[str, tuple[Point, float]] = {}
    for group, xs in candidates.items():
        means = {}
        for x in xs:
            gains = [obs.gain((group, x), r) for r in range(SCREEN_SEEDS)]
            known = [g for g in gains if g is not None]
            if not known:
                continue
            mean = sum(known) / len(known)
            if mean < -threshold:  # so at least one seed fell past the threshold
                dropped.setdefault(group, {})[x] = _collapsed_in_screening(obs, (group, x), threshold, objective)
            else:
                means[x] = mean
        if not means:
            continue
        best = max(means, key=lambda x: means[x])
        chosen[group] = ((group, best), means[best])
        for x, mean in means.items():
            if x != best:
                dropped.setdefault(group, {})[x] = (f"behind the finalist {point_label((group, best))} in screening "
                                                   f"({_gain_text(mean, objective)} against {_gain_text(means[best], objective)}, "
                                                   f"{SCREEN_SEEDS} seeds each; not a tested claim)")
    return chosen


def confirm_repeats(round_: int, repeats: int) -> list[int]:
    """The fresh seeds of confirmation round ``round_`` (1-based): never a screening seed."""
    return [CONFIRM_OFFSET + (round_ - 1) * repeats + j for j in range(repeats)]


def confirmation(race: _Replay, chosen: dict[str, tuple[Point, float]], threshold: float,
                 dropped: dict[str, dict[float, str]]) -> RacePlan:
    """The confirmation rounds: each round gives the baseline and every finalist still open new
    seeds; a finalist whose interval decides stops getting them. The race is done when no
    finalist is open or the rounds are spent."""
    family = race.family(len(chosen))
    looks = {g: 0 for g in chosen}
    stopped: dict[str, tuple[float, float | None]] = {}
    for k in range(1, race.rounds + 1):
        current = finalists_at(race, chosen, looks, family, threshold)
        open_groups = [g for g, f in current.items() if _outcome(f, race.margin) == OPEN]
        stopped = futile(race, current, open_groups, k, family)
        open_groups = [g for g in open_groups if g not in stopped]
        if not open_groups:
            if stopped and k < race.rounds:
                continue  # a later horizon (rounds the user added) may give a stopped finalist its chance
            break
        wanted = [race.run(BASE, r, CONFIRM) for r in confirm_repeats(k, race.repeats)]
        wanted += [race.run(current[g].point, r, CONFIRM) for g in open_groups for r in confirm_repeats(k, race.repeats)]
        for g in open_groups:
            looks[g] = k
        pending = race.pending(CONFIRM, wanted, k, dropped=dropped, family=family,
                               finalists=_marked(finalists_at(race, chosen, {**looks, **{g: k - 1 for g in open_groups}},
                                                              family, threshold), stopped))
        if pending:
            return pending
    return RacePlan("done", race.rounds, race.rounds, [], 0, race.margin,
                    _marked(finalists_at(race, chosen, looks, family, threshold), stopped), dropped, family,
                    groups=race.groups)


def futile(race: _Replay, current: dict[str, Finalist], open_groups: list[str], k: int,
           family: Family) -> dict[str, tuple[float, float | None]]:
    """The open finalists that round ``k``'s seeds and the rounds after it, up to the race's
    horizon at ``k`` (``_Replay.horizon``), would decide with less chance than
    ``race.futility``, with that chance; judged from their last look, so never before their
    first. In the planned rounds of a race launched with ``no_gain_futility``, those that would
    show an effect with less chance than ``race.futility`` and no gain with less than that,
    with both chances. A finalist stopped in the planned rounds races again in rounds a user
    adds, if they give it the chance of any decision."""
    out: dict[str, tuple[float, float | None]] = {}
    horizon = race.horizon(k)
    for g in open_groups:
        c = current[g].comparison
        if c is None:
            continue
        n_final = c.n + (horizon - k + 1) * race.repeats
        chances = c.decision_chances(race.margin, n_final, family.level(horizon))
        if race.no_gain_futility and k <= race.family_rounds:
            if chances.effect < race.futility and chances.no_gain < race.no_gain_futility:
                out[g] = (chances.effect, chances.no_gain)
        elif chances.any < race.futility:
            out[g] = (chances.any, None)
    return out


def _marked(finalists: dict[str, Finalist], stopped: dict[str, tuple[float, float | None]]) -> dict[str, Finalist]:
    return {g: dataclasses.replace(f, stopped=stopped[g][0], no_gain=stopped[g][1]) if g in stopped else f
            for g, f in finalists.items()}


def finalists_at(race: _Replay, chosen: dict[str, tuple[Point, float]], looks: dict[str, int], family: Family,
                 threshold: float) -> dict[str, Finalist]:
    """Each finalist at its look ``looks[group]`` (0: not compared yet): against the baseline on
    the confirmation seeds of its first rounds, at the last epoch and each stopped at the epoch
    its screening seeds' mean curve chose."""
    obs = race.obs
    screening = set(range(SCREEN_SEEDS))
    base_epoch = _stopping_epoch(obs, BASE, screening)
    out = {}
    for g, (point, screen_gain) in chosen.items():
        k = looks[g]
        comparison = early = None
        epoch = _stopping_epoch(obs, point, screening)
        if k:
            reps = set(r for i in range(1, k + 1) for r in confirm_repeats(i, race.repeats))
            level = family.level(k)
            clear = clear_of_break(obs, point, threshold)
            comparison = _compare(obs, obs.last, point, BASE, reps, level, clear)
            if epoch is not None and base_epoch is not None:
                early = _compare(obs, {point: obs.at_epoch(point, epoch), BASE: obs.at_epoch(BASE, base_epoch)},
                                 point, BASE, reps, level, clear)
        out[g] = Finalist(point, screen_gain, k, comparison, early, epoch, base_epoch)
    return out


def never_learns(obs: Observations, points: list[Point], objective: Objective) -> str:
    """Why the model learns nothing, or "": every bracket run (the baseline's and each penalty's)
    ended at the same value, and none moved over its epochs (a model at chance whatever its
    settings: unscaled inputs, a learning rate far too high, labels that do not match the loss)."""
    finals = [v for p in points for v in obs.last.get(p, {}).values()]
    curves = [c for p in points for c in obs.curves.get(p, {}).values()]
    if len(finals) < 2 or len(obs.diverged) >= len(finals):
        return ""
    values = finals + [v for c in curves for v in c]
    if max(values) - min(values) > 1e-9:
        return ""
    return (f"the model does not learn: all {len(finals)} bracket runs, the unregularized baseline's too, ended at "
            f"{objective.on('validation')} {finals[0]:.4g} and never moved over their epochs, so no setting can be "
            "told from another; check the data and the model (`sweeper check` probes it)")


def bracket_noise(obs: Observations, points: list[Point]) -> float | None:
    """The paired sd the bracket shows: 1.4826 × the median absolute gain of its points on their
    one seed (the normal's sd when most points have no effect; a few that collapse barely move
    it). None without a gain."""
    gains = sorted(abs(g) for p in points if (g := obs.gain(p, 0)) is not None)
    if not gains:
        return None
    mid = len(gains) // 2
    return 1.4826 * (gains[mid] if len(gains) % 2 else (gains[mid - 1] + gains[mid]) / 2)


def collapse_threshold(obs: Observations, points: list[Point], margin: float) -> float:
    """How much worse than the baseline on its seed a run must be to count as collapsed: at least
    ``BREAK_MARGINS`` margins, and ``BREAK_SDS`` robust standard deviations of the bracket's gains
    (1.4826 × their median absolute value: the normal's sd when most points have no effect)."""
    gains = sorted(abs(g) for p in points if (g := obs.gain(p, 0)) is not None)
    if not gains:
        return BREAK_MARGINS * margin
    mid = len(gains) // 2
    median = gains[mid] if len(gains) % 2 else (gains[mid - 1] + gains[mid]) / 2
    return max(BREAK_MARGINS * margin, BREAK_SDS * 1.4826 * median)


def clear_of_break(obs: Observations, point: Point, threshold: float) -> bool:
    """Whether ``point`` is far enough below every run of its type that collapsed, on any seed at
    any stage (or, when none did, below the top of the λ it was tried at), for "no difference" to
    be said of it (``CLEAR_DECADES``, ``CLEAR_RATE``). A run
    collapsed when it fell more than ``threshold`` below the baseline's run of the same seed; a
    diverged run, scored at the metric's worst, does whenever the baseline's did not."""
    group, x = point
    broke = [p[1] for p, reps in obs.last.items() if p[0] == group
             for r in reps if (g := obs.gain(p, r)) is not None and g < -threshold]
    if group == "dropout":
        return not broke or x <= min(broke) - CLEAR_RATE
    tried = [p[1] for p in obs.last if p[0] == group]
    ceiling = min([*broke, 10 * max(tried, default=x)])
    return x <= ceiling / 10 ** CLEAR_DECADES


def _stopping_epoch(obs: Observations, point: Point, repeats: set[int]) -> int | None:
    sign = obs.sign
    return stopping_epoch([c for r, c in obs.curves.get(point, {}).items() if r in repeats], sign)


def _compare(obs: Observations, values: dict[Point, dict[int, float]], point: Point, base: Point, reps: set[int],
             level: float, clear: bool) -> Comparison | None:
    """The point against the baseline on the repeats ``reps``, diverged runs (on either side)
    in the pairs at their score."""
    theirs = {r: v for r, v in values.get(base, {}).items() if r in reps}
    mine = {r: v for r, v in values.get(point, {}).items() if r in reps}
    diverged = sum(1 for r in set(mine) & set(theirs) if (point, r) in obs.diverged or (base, r) in obs.diverged)
    return compare(point[1], mine, theirs, level, obs.sign, diverged, clear)


def _collapsed(gain: float | None, threshold: float, objective: Objective, diverged: bool) -> str:
    """What happened on the bracket's one seed, in words: a fact about that run, not a tested claim
    about the point (its other seeds might not collapse)."""
    if diverged:
        return "diverged on the bracket's one seed (a non-finite loss); not run again"
    return (f"collapsed on the bracket's one seed ({_gain_text(gain, objective)}, past the collapse threshold "
            f"{change(objective, -threshold)}); not run again")


def _collapsed_in_screening(obs: Observations, point: Point, threshold: float, objective: Objective) -> str:
    """Which of the point's screening seeds collapsed or diverged: facts about those runs."""
    seeds = range(SCREEN_SEEDS)
    div = sum((point, r) in obs.diverged for r in seeds)
    fell = [g for r in seeds if (point, r) not in obs.diverged and (g := obs.gain(point, r)) is not None and g < -threshold]
    parts = []
    if fell:
        worst = min(fell)
        parts.append(f"collapsed on {len(fell)} of its {SCREEN_SEEDS} screening seeds "
                     f"({_gain_text(worst, objective)}{' at worst' if len(fell) > 1 else ''})")
    if div:
        parts.append(f"diverged on {div} of its {SCREEN_SEEDS} screening seeds")
    return " and ".join(parts) + "; not raced (no tested claim about its other seeds)"


def _gain_text(gain: float | None, objective: Objective) -> str:
    if gain is None:
        return "no result"
    if not math.isfinite(gain):
        return "diverged"
    return change(objective, gain)
