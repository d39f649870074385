"""The adaptive response-curve design (``sweeper launch TASK --design adaptive``): screen where each
penalty acts, then race its best point against the baseline on fresh seeds, round by round, until
the verdict is decided or the rounds run out. Pure: the plan is replayed from the study's trials
every time it is asked for, so any worker (or a relaunch) can queue the next round, and doing it
twice queues nothing twice.

1. **Bracket** (queued at launch, screening seed 0): the baseline; λ at every decade of the λ range
   per weight penalty; ``points`` dropout rates over its range.
2. **Screen** (seed 1, and seed 0 for new points): per weight penalty, the break λ_b is the smallest
   bracket λ where the model collapses (worse than the baseline by more than ``BREAK_MARGINS``
   margins, or diverged); ``points`` new λ values go log-spaced into the ``WINDOW_DECADES`` below
   λ_b, where a penalty that changes the fit without destroying it acts (above the range's top
   when nothing breaks). Bracket points that collapse are dropped after their first round; bracket
   points below the window are left there (the model has not started to change).
3. **Confirm** (fresh seeds, ``CONFIRM_OFFSET`` on: never a screening seed): the finalist of each
   type (its best screened point by mean paired gain; the others are dropped as behind it) and the
   baseline get ``repeats`` new seeds per round, for at most ``rounds`` rounds. After each round a
   finalist whose interval (``sweeper.stats.verdicts``, α spent over the planned rounds)
   decides helps, hurts, no difference larger than ±margin or no gain larger than +margin stops
   getting seeds. The verdicts read only the confirmation seeds: the screening data chose the
   finalist, so they are not used to test it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from optuna.trial import FrozenTrial, TrialState

from sweeper.stats.verdicts import OPEN, Comparison, Family, change, compare, default_margin
from sweeper.study.design import L1_RATIO, CurveRun, dropout_rates, repeat_of, repeat_seed
from sweeper.study.points import GROUP_LABELS, TrialPoint, group_of
from sweeper.study.space import SearchSpace
from sweeper.tasks.api import Objective
from sweeper.tasks.hyperparams import BASELINE_PARAMS, dropout_of, has_penalty, lambda_of, make_params, penalty_of
from sweeper.tasks.results import StoredResult

if TYPE_CHECKING:
    from sweeper.study.config import SweepConfig

SCREEN, CONFIRM = "screen", "confirm"
SCREEN_SEEDS = 2
CONFIRM_OFFSET = 100
WINDOW_DECADES = 2.5
BREAK_MARGINS = 5
WEIGHT_PENALTIES = ("l1", "l2", "l1_l2")
# Each finalist is compared twice: at its last epoch, and at its best epoch against the baseline's
# best epoch (does the penalty help on top of early stopping?).
COMPARISONS_PER_FINALIST = 2

Point = tuple[str, float]  # (group, x): x is λ for a weight penalty, the rate for dropout


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
    last: float | None  # the objective at the last epoch (None: not finished, or failed)
    best: float | None  # at the best epoch


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
        last = best = None
        if p.state == "complete" and p.value is not None and math.isfinite(p.value):
            last = float(p.value)
            best = _best(p.history.get(objective.log_key) or [], objective, last)
        elif p.state == "pruned":
            last = best = objective.worst()
        out.append(Run(point, int(p.repeat), STATES[p.state], last, best))
    return out


def _best(history: list[float | None], objective: Objective, last: float) -> float:
    finite = [v for v in history if v is not None and math.isfinite(v)]
    if not finite:
        return last
    return max(finite) if objective.direction == "maximize" else min(finite)


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
        last = best = None
        if t.state == TrialState.COMPLETE and t.value is not None and math.isfinite(t.value):
            last = float(t.value)
            best = _best(StoredResult.from_attrs(t.user_attrs).history.get(objective.log_key) or [], objective, last)
        elif t.state == TrialState.PRUNED:  # diverged: the worst value there is
            last = best = objective.worst()
        out.append(Run(point, int(repeat), t.state, last, best))
    return out


@dataclass
class Observations:
    """The study's runs by point and repeat."""

    sign: int
    last: dict[Point, dict[int, float]] = field(default_factory=dict)
    best: dict[Point, dict[int, float]] = field(default_factory=dict)
    held: set[tuple[Point, int]] = field(default_factory=set)  # any trial, any state
    finished: set[tuple[Point, int]] = field(default_factory=set)  # complete, pruned or only failed

    @classmethod
    def of(cls, runs: list[Run], sign: int) -> Observations:
        obs = cls(sign)
        pending: set[tuple[Point, int]] = set()
        for r in runs:
            key = (r.point, r.repeat)
            obs.held.add(key)
            if r.state in (TrialState.WAITING, TrialState.RUNNING):
                pending.add(key)
            elif r.last is not None:
                obs.last.setdefault(r.point, {})[r.repeat] = r.last
                obs.best.setdefault(r.point, {})[r.repeat] = r.best  # type: ignore[assignment]
                obs.finished.add(key)
        # A key whose trials all failed (and none is queued again) is over: it has no value.
        obs.finished |= {(r.point, r.repeat) for r in runs if r.state == TrialState.FAIL} - pending
        return obs

    def gain(self, point: Point, repeat: int) -> float | None:
        base = self.last.get(("baseline", 0.0), {}).get(repeat)
        value = self.last.get(point, {}).get(repeat)
        if base is None or value is None or not math.isfinite(base):
            return None
        if not math.isfinite(value):
            return -math.inf
        return self.sign * (value - base)


@dataclass(frozen=True)
class Finalist:
    point: Point
    screen_gain: float  # mean paired gain over the screening seeds
    look: int  # confirmation rounds it took part in
    comparison: Comparison | None  # at its last look, at the last epoch
    early: Comparison | None  # at its last look, best epoch against the baseline's best epoch


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

    @property
    def open_points(self) -> list[Point]:
        return [f.point for f in self.finalists.values() if self.stage == CONFIRM and _outcome(f, self.margin) == OPEN]

    def trials_left(self, repeats: int) -> int:
        """At most this many more trials: the open finalists and the baseline for the rounds left."""
        if self.stage == "done":
            return 0
        open_ = len(self.open_points) if self.stage == CONFIRM else len(self.finalists) or self.groups
        return self.waiting_for + self.screen_bound + (self.rounds - self.round) * (open_ + 1) * repeats

    def describe(self, repeats: int) -> str:
        if self.stage == "done":
            return "race finished"
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


def race(config: SweepConfig, runs: list[Run]) -> RacePlan:
    """An adaptive study's race, from its stored config and its runs."""
    return plan(config.space, config.points, config.repeats, config.rounds, config.seed, config.goal, runs,
                config.margin)


def plan(space: SearchSpace, points: int, repeats: int, rounds: int, base_seed: int, objective: Objective,
         runs: list[Run], margin: float | None = None) -> RacePlan:
    """Where the race stands and what to queue next, replayed from the study's runs."""
    obs = Observations.of(runs, 1 if objective.direction == "maximize" else -1)
    base = ("baseline", 0.0)
    # The margin is fixed by the bracket's baseline run alone: every decision after it (where the
    # model collapses, the window, the finalist) must not move with later data.
    first = obs.last.get(base, {}).get(0)
    margin = margin if margin is not None else default_margin(
        objective.in_points, first if first is not None and math.isfinite(first) else None)

    def stage(name: str, wanted: list[CurveRun], round_: int = 0, **extra: Any) -> RacePlan | None:
        keys = [(x_of(r.params), r.repeat) for r in wanted]
        unfinished = [k for k in keys if k not in obs.finished]
        if not unfinished:
            return None
        queue = [r for r, k in zip(wanted, keys) if k not in obs.held]
        return RacePlan(name, round_, rounds, queue, len(unfinished), margin, groups=groups, **extra)

    bracket = bracket_runs(space, points, base_seed)
    types = sum(g in space.penalties for g in WEIGHT_PENALTIES)
    groups = types + (1 if "none" in space.penalties and dropout_rates(space, points) else 0)
    # Screening: per type its new points (2 seeds) and the bracket points in its window (1 more).
    in_window = math.ceil(WINDOW_DECADES) + 1
    bound = SCREEN_SEEDS * types * points + types * in_window + len(bracket) - 1 - types * len(bracket_lambdas(space)) + 1
    pending = stage("bracket", bracket, screen_bound=bound)
    if pending:
        return pending

    collapse = -BREAK_MARGINS * margin
    dropped: dict[str, dict[float, str]] = {}
    candidates: dict[str, list[Point]] = {}
    for group in WEIGHT_PENALTIES:
        if group not in space.penalties:
            continue
        lams = bracket_lambdas(space)
        gains = {lam: obs.gain((group, lam), 0) for lam in lams}
        broken = [lam for lam in lams if gains[lam] is not None and gains[lam] < collapse]  # type: ignore[operator]
        break_at = broken[0] if broken else None
        window = [lam for lam in window_lambdas(space, points, break_at) if break_at is None or lam < break_at]
        # An empty window: the model collapses from the bottom of the range on, nothing to screen.
        low = window[0] if window else math.inf
        for lam in lams:
            if lam in broken:
                dropped.setdefault(group, {})[lam] = _collapsed(gains[lam], objective)
            elif lam < low:
                dropped.setdefault(group, {})[lam] = "below the transition window (screened on 1 seed)"
        if window:
            candidates[group] = sorted(set(window) | {lam for lam in lams if low <= lam and lam not in broken})
    if "none" in space.penalties:
        rates = dropout_rates(space, points)
        kept = []
        for rate in rates:
            g = obs.gain(("dropout", rate), 0)
            if g is not None and g < collapse:
                dropped.setdefault("dropout", {})[rate] = _collapsed(g, objective)
            else:
                kept.append(rate)
        if kept:
            candidates["dropout"] = kept
    screen = [_run(base, r, space, base_seed, SCREEN) for r in range(SCREEN_SEEDS)]
    screen += [_run((g, x), r, space, base_seed, SCREEN) for g, xs in candidates.items() for x in xs for r in range(SCREEN_SEEDS)]
    pending = stage("screen", screen, dropped=dropped)
    if pending:
        return pending

    chosen: dict[str, tuple[Point, float]] = {}
    for group, xs in candidates.items():
        means = {}
        for x in xs:
            gains = [obs.gain((group, x), r) for r in range(SCREEN_SEEDS)]
            known = [g for g in gains if g is not None]
            if not known:
                continue
            mean = sum(known) / len(known)
            if mean < collapse:
                dropped.setdefault(group, {})[x] = f"collapses the model in screening ({_gain_text(mean, objective)})"
            else:
                means[x] = mean
        if not means:
            continue
        best = max(means, key=lambda x: means[x])
        chosen[group] = ((group, best), means[best])
        for x, mean in means.items():
            if x != best:
                dropped.setdefault(group, {})[x] = (f"behind the finalist {point_label((group, best))} in screening "
                                                   f"({_gain_text(mean, objective)} against {_gain_text(means[best], objective)})")
    family = Family(max(1, COMPARISONS_PER_FINALIST * len(chosen)), rounds)
    looks = {g: 0 for g in chosen}

    def confirm_repeats(k: int) -> list[int]:
        return [CONFIRM_OFFSET + (k - 1) * repeats + j for j in range(repeats)]

    def finalists(upto: dict[str, int]) -> dict[str, Finalist]:
        out = {}
        for g, (point, screen_gain) in chosen.items():
            k = upto[g]
            comparison = early = None
            if k:
                reps = set(r for i in range(1, k + 1) for r in confirm_repeats(i))
                level = family.level(k)
                comparison = _compare(obs.last, point, base, reps, level, obs.sign)
                early = _compare(obs.best, point, base, reps, level, obs.sign)
            out[g] = Finalist(point, screen_gain, k, comparison, early)
        return out

    for k in range(1, rounds + 1):
        current = finalists(looks)
        open_groups = [g for g, f in current.items() if _outcome(f, margin) == OPEN]
        if not open_groups:
            break
        wanted = [_run(base, r, space, base_seed, CONFIRM) for r in confirm_repeats(k)]
        wanted += [_run(current[g].point, r, space, base_seed, CONFIRM) for g in open_groups for r in confirm_repeats(k)]
        for g in open_groups:
            looks[g] = k
        pending = stage(CONFIRM, wanted, k, finalists=finalists({**looks, **{g: k - 1 for g in open_groups}}),
                        dropped=dropped, family=family)
        if pending:
            return pending
    return RacePlan("done", rounds, rounds, [], 0, margin, finalists(looks), dropped, family, groups=groups)


def _compare(values: dict[Point, dict[int, float]], point: Point, base: Point, reps: set[int], level: float,
             sign: int) -> Comparison | None:
    """The point against the baseline on the repeats ``reps``: a repeat on which the point
    diverged and the baseline did not counts against the point; one on which the baseline
    diverged gives no pair."""
    theirs = {r: v for r, v in values.get(base, {}).items() if r in reps and math.isfinite(v)}
    mine_all = {r: v for r, v in values.get(point, {}).items() if r in reps}
    mine = {r: v for r, v in mine_all.items() if math.isfinite(v)}
    diverged = sum(1 for r, v in mine_all.items() if not math.isfinite(v) and r in theirs)
    return compare(point[1], mine, theirs, level, sign, diverged)


def _collapsed(gain: float | None, objective: Objective) -> str:
    return f"collapses the model in the bracket ({_gain_text(gain, objective)}, 1 seed)"


def _gain_text(gain: float | None, objective: Objective) -> str:
    if gain is None:
        return "no result"
    if not math.isfinite(gain):
        return "diverged"
    return change(objective, gain)
