"""Response curves of a planned study (pure): per weight penalty, the objective's mean over the
repeats at each λ with its 95% t-band; the same against the dropout rate; the generalization gap
on the same axes; the unregularized baseline, at its last epoch and stopped early (what
stopping early would have given); and a verdict per penalty type that holds at its stated level.

The bands describe each point's spread over seeds. The verdicts are read from comparisons with
the baseline paired by seed, at the family-wise level of ``sweeper.stats.verdicts``: in a
fixed curve design every point of every type is a comparison (at its last epoch, and stopped
early against the baseline stopped early), and all of them hold at once with 95% probability; in an
adaptive design only each type's finalist is compared, on its confirmation seeds.

Every run counts (a diverged one at the metric's worst value, on either side). A fixed design's
verdicts are read only once its planned runs have all finished: a reading of a study still running
would be a look that the stated level does not count. Early stopping is scored on seeds that did
not choose the epoch: in a fixed design seed r stops where the mean curve of the configuration's
other seeds peaks (cross-fitting); in an adaptive race each configuration stops where its screening
seeds' mean curve peaks, and its confirmation seeds are scored there.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from sweeper.stats.intervals import Difference, MeanCI, mean_ci, paired
from sweeper.stats.verdicts import (
    ALPHA,
    HELPS,
    HURTS,
    NO_DIFFERENCE,
    NO_GAIN,
    OPEN,
    Comparison,
    Family,
    GroupVerdict,
    change,
    compare,
    curve_verdict,
    default_margin,
    finalist_verdict,
    stopping_epoch,
)
from sweeper.report.collect import ReportData
from sweeper.study.designs import CURVE, design_of
from sweeper.study.points import GROUP_LABELS, TrialPoint
from sweeper.tasks.api import Objective

LEVEL = 0.95
WEIGHT_PENALTIES = ("l1", "l2", "l1_l2")


@dataclass(frozen=True)
class CurvePoint:
    x: float  # λ, or the dropout rate
    values: dict[int, float]  # repeat -> the objective on validation
    value: MeanCI
    gap: MeanCI | None  # train − validation (the objective's better side first), when recorded
    vs_baseline: Difference | None  # paired by repeat, unadjusted 95% (descriptive); None for the baseline
    best_values: dict[int, float] = field(default_factory=dict)  # repeat -> stopped early (cross-fitted epoch)
    dropped: str | None = None  # an adaptive race left this point, why

    @property
    def n(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class ResponseCurves:
    objective: Objective
    penalties: dict[str, list[CurvePoint]]  # weight penalty -> points by increasing λ
    dropout: list[CurvePoint]  # by increasing rate (penalty none)
    baseline: CurvePoint | None  # penalty none, dropout 0: its last epoch
    best_epoch: MeanCI | None  # the baseline stopped early (each seed at its other seeds' best epoch)
    verdicts: dict[str, str] = field(default_factory=dict)  # group -> sentence
    decisions: dict[str, GroupVerdict] = field(default_factory=dict)  # group -> what the sentence says
    family: Family | None = None
    margin: float | None = None
    stage: str | None = None  # an adaptive study's race: bracket | screen | confirm | done
    race_text: str = ""  # where the race stands, in words (``RacePlan.describe``)
    pending: int = 0  # a fixed design's planned runs not finished yet: no verdict until they are
    planned: int = 0  # a fixed design's planned runs (its budget)
    # How each side's stopping epoch was chosen, for the early-stopping comparisons.
    stopping: str = ""
    epochs: dict[str, tuple[int, int]] = field(default_factory=dict)  # group -> (its epoch, the baseline's), 1-based
    # A race that can grow: the command that launches it again (``--rounds N`` to add), and the
    # rounds it may run now; "" where it cannot grow (it kept no α for added rounds).
    grow_command: str = ""
    rounds: int = 0

    def grow_text(self, more_rounds: int) -> str:
        """The command that adds ``more_rounds`` rounds to the race."""
        return f"`{self.grow_command} --rounds {self.rounds + more_rounds}`"

    @property
    def early_stopping_gain(self) -> float | None:
        """How much better the baseline stopped early is than at its last epoch."""
        if self.best_epoch is None or self.baseline is None:
            return None
        sign = 1 if self.objective.direction == "maximize" else -1
        return sign * (self.best_epoch.mean - self.baseline.value.mean)


def response_curves(data: ReportData) -> ResponseCurves:
    complete = [p for p in data.by_state("complete") if p.value is not None and p.repeat is not None]
    objective = data.objective
    obs = _observations(data)
    baseline_runs = [p for p in complete if p.penalty == "none" and p.dropout == 0.0]
    base_early = _cross_fitted(obs, BASE)
    baseline = _point(0.0, baseline_runs, {}, objective, early=base_early) if baseline_runs else None
    race = _race(data)
    dropped = race.dropped if race is not None else {}
    penalties = {}
    for penalty in WEIGHT_PENALTIES:
        runs = [p for p in complete if p.penalty == penalty and p.lam]
        if runs:
            penalties[penalty] = _curve(penalty, runs, lambda p: float(f"{p.lam:.6g}"), obs, objective,
                                        dropped.get(penalty, {}))
    dropout_runs = [p for p in complete if p.penalty == "none" and p.dropout > 0.0]
    dropout = (_curve("dropout", dropout_runs, lambda p: round(p.dropout, 6), obs, objective, dropped.get("dropout", {}))
               if dropout_runs else [])
    best_epoch = mean_ci(list(base_early.values()), LEVEL) if base_early else None
    base_mean = baseline.value.mean if baseline else None
    margin = _margin(data, base_mean)
    groups = {**penalties, **({"dropout": dropout} if dropout else {})}
    pending = planned = 0
    epochs: dict[str, tuple[int, int]] = {}
    grow, rounds = "", 0  # a race that can grow: the command, its rounds now
    if race is not None:
        margin = race.margin
        config = data.config or {}
        repeats = int(config.get("repeats", 1))
        can_grow = race.family is not None and race.family.reserve > 0
        decisions = {g: finalist_verdict(g, f.comparison, margin, racing=race.stage != "done", early=f.early,
                                         x=f.point[1], growth=(race.family, race.rounds, repeats) if can_grow else None,
                                         stopped=(f.stopped, f.look, f.no_gain) if f.stopped is not None else None)
                     for g, f in race.finalists.items()}
        if can_grow:
            task = config.get("task") or data.task
            grow = f"sweeper run {task}" + (f" --study-name {data.study}" if data.study != task else "")
            rounds = race.rounds
        for g in groups:
            decisions.setdefault(g, GroupVerdict(g, "stopped" if race.stopped else "too few", None, scope="finalist"))
        family, stage = race.family, race.stage
        race_text = race.describe(repeats)
        epochs = {g: (f.epoch + 1, f.base_epoch + 1) for g, f in race.finalists.items()
                  if f.epoch is not None and f.base_epoch is not None}
        stopping = "each stopped at the epoch where its screening seeds' mean curve peaks"
    else:
        stage, race_text = None, ""
        stopping = "each seed stopped at the epoch where the mean curve of its configuration's other seeds peaks"
        planned, pending = _planned_runs(data)
        family = _fixed_family(groups, obs, _looks(data), _planned_points(data))
        if pending:
            decisions = {g: GroupVerdict(g, "pending", None) for g in groups}
        else:
            decisions = _fixed_decisions(groups, obs, margin, family, _looks(data), base_early)
    curves = ResponseCurves(objective, penalties, dropout, baseline, best_epoch, {}, decisions, family, margin, stage,
                            race_text, pending, planned, stopping, epochs, grow, rounds)
    verdicts = {g: sentence(decisions[g], curves, groups.get(g, [])) for g in list(groups) if g in decisions}
    return dataclasses.replace(curves, verdicts=verdicts)


BASE = ("baseline", 0.0)


def _observations(data: ReportData):  # type: ignore[no-untyped-def]
    """The planned runs by point and repeat, diverged runs scored (``sweeper.study.adaptive``)."""
    from sweeper.study.adaptive import Observations, runs_of_points
    from sweeper.study.config import SweepConfig

    bracket = design_of(data.design).diverged_score_points(SweepConfig.from_attrs(data.config)) if data.config else None
    sign = 1 if data.objective.direction == "maximize" else -1
    return Observations.of(runs_of_points(data.points, data.objective), sign, data.objective, bracket)


def _cross_fitted(obs, point: tuple[str, float]) -> dict[int, float]:  # type: ignore[no-untyped-def]
    """Each repeat of ``point`` stopped early at the epoch where the mean curve of the point's
    other repeats peaks: the epoch is chosen on seeds that the value it picks does not come from,
    so a configuration with noisier epochs gains nothing by it. Needs 2 repeats."""
    curves = obs.curves.get(point, {})
    out = {}
    for r, curve in curves.items():
        epoch = stopping_epoch([c for q, c in curves.items() if q != r], obs.sign)
        if epoch is not None:
            out[r] = curve[min(epoch, len(curve) - 1)]
    return out


def _race(data: ReportData):  # type: ignore[no-untyped-def]
    """An adaptive study's race replayed from its trials; None for a fixed design."""
    if not data.config:
        return None
    from sweeper.study.adaptive import runs_of_points
    from sweeper.study.config import SweepConfig

    return design_of(data.design).race(SweepConfig.from_attrs(data.config), runs_of_points(data.points, data.objective))


def _margin(data: ReportData, baseline_mean: float | None) -> float:
    given = (data.config or {}).get("margin")
    return float(given) if given is not None else default_margin(data.objective.in_points, baseline_mean)


def _planned_points(data: ReportData) -> int | None:
    """The points a fixed design plans (every configuration but the baseline), from its config."""
    if not data.config:
        return None
    from sweeper.study.config import SweepConfig

    return design_of(data.design).planned_points(SweepConfig.from_attrs(data.config))


def _planned_runs(data: ReportData) -> tuple[int, int]:
    """A fixed design's planned runs (its budget: configurations × repeats) and how many of them
    have not finished (complete or pruned) yet, running ones included."""
    counts = data.counts()
    finished = counts["complete"] + counts["pruned"]
    planned = int(data.budget or 0) or finished + counts["running"] + counts["waiting"]
    return planned, max(planned - finished, counts["running"] + counts["waiting"], 0)


def _looks(data: ReportData) -> int:
    """How often a fixed design has been looked at with more seeds: each relaunch with more
    ``--repeats`` is a look, and α is spent over an open-ended sequence of them."""
    return int((data.config or {}).get("looks", 1) or 1)


def _fixed_family(groups: dict[str, list[CurvePoint]], obs, looks: int,  # type: ignore[no-untyped-def]
                  planned: int | None) -> Family:
    """Every planned point (at its last epoch and stopped early), whether it has pairs yet or not."""
    seen = {p for p in obs.last if p != BASE}
    points_planned = max(planned or 0, len(seen), sum(len(pts) for pts in groups.values()))
    return CURVE.family(points_planned)


def _fixed_decisions(groups: dict[str, list[CurvePoint]], obs, margin: float,  # type: ignore[no-untyped-def]
                     family: Family, looks: int, base_early: dict[int, float]) -> dict[str, GroupVerdict]:
    """Every point of every type against the baseline, at one family-wise level, every run in
    it (a diverged one at its score): each at its last epoch, and each stopped early against the
    baseline stopped early (cross-fitted epochs)."""
    from sweeper.study.adaptive import clear_of_break, collapse_threshold

    if BASE not in obs.last:
        return {g: GroupVerdict(g, "too few", None) for g in groups}
    level = family.level(looks)
    others = [p for p in obs.last if p != BASE]
    threshold = collapse_threshold(obs, others, margin)
    decisions = {}
    for group in dict.fromkeys([*groups, *(p[0] for p in others)]):
        last, early = [], {}
        for point in sorted(p for p in others if p[0] == group):
            clear = clear_of_break(obs, point, threshold)
            lost = _diverged_pairs(obs, point, obs.last.get(point, {}), obs.last[BASE])
            if (c := compare(point[1], obs.last[point], obs.last[BASE], level, obs.sign, lost, clear)) is not None:
                last.append(c)
            mine = _cross_fitted(obs, point)
            if (e := compare(point[1], mine, base_early, level, obs.sign,
                             _diverged_pairs(obs, point, mine, base_early), clear)) is not None:
                early[point[1]] = e
        decisions[group] = curve_verdict(group, last, margin, early)
    return decisions


def _diverged_pairs(obs, point: tuple[str, float], mine: dict[int, float], theirs: dict[int, float]) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for r in set(mine) & set(theirs) if (point, r) in obs.diverged or (BASE, r) in obs.diverged)


def _curve(group: str, runs: list[TrialPoint], x_of, obs, objective: Objective,  # type: ignore[no-untyped-def]
           dropped: dict[float, str]) -> list[CurvePoint]:
    by_x: dict[float, list[TrialPoint]] = {}
    for p in runs:
        by_x.setdefault(x_of(p), []).append(p)
    baseline = dict(obs.last.get(BASE, {}))
    return [_point(x, pts, baseline, objective, dropped.get(x), _cross_fitted(obs, (group, x)))
            for x, pts in sorted(by_x.items())]


def _point(x: float, runs: list[TrialPoint], baseline: dict[int, float], objective: Objective,
           dropped: str | None = None, early: dict[int, float] | None = None) -> CurvePoint:
    values = {int(p.repeat): float(p.value) for p in runs}  # type: ignore[arg-type]
    gaps = [p.gap for p in runs if p.gap is not None]
    return CurvePoint(
        x=x,
        values=values,
        value=mean_ci(list(values.values()), LEVEL),
        gap=mean_ci(gaps, LEVEL) if gaps else None,
        vs_baseline=paired(values, baseline, LEVEL) if baseline else None,
        best_values=dict(early or {}),
        dropped=dropped,
    )


def interval_text(objective: Objective, c: Comparison, label: str) -> str:
    """``95% simultaneous CI +0.4 to +3.8`` (the interval of the change, lower end first), and
    how many of its pairs had a diverged run (scored at the metric's worst, inside the interval)."""
    lost = f"; {c.diverged} of {c.n} pairs with a diverged run, scored as the metric's worst" if c.diverged else ""
    if c.gain.low is None or c.gain.high is None:
        return "no interval: every seed gave the same difference" + lost
    ends = sorted([change(objective, c.gain.low, False), change(objective, c.gain.high, False)],
                  key=lambda s: float(s.split()[-1]))
    return f"{label} {ends[0]} to {ends[1]}{lost}"


def _x(group: str, x: float) -> str:
    from sweeper.study.adaptive import short_lambda

    return short_lambda(x) if group != "dropout" else f"{x:g}"


def sentence(v: GroupVerdict, curves: ResponseCurves, points: list[CurvePoint]) -> str:
    """One sentence per penalty type that says no more than its verdict."""
    objective = curves.objective
    label = GROUP_LABELS.get(v.group, v.group)
    axis = "rate" if v.group == "dropout" else "λ"
    ci = "95% simultaneous CI" if curves.family is not None else "95% CI"
    margin = curves.margin or 0.0
    m = change(objective, margin).lstrip("+")
    c = v.quoted
    if c is None:
        if v.outcome == "stopped":
            text = f"{label}: no verdict, the race stopped early ({curves.race_text.removeprefix('race stopped: ')})"
        elif v.scope == "finalist":
            if v.finalist_x is not None:
                text = (f"{label}: finalist {axis} ≈ {_x(v.group, v.finalist_x)} (ranked first in screening), "
                        "first confirmation round under way")
            elif points and all(p.dropped for p in points):
                text = (f"{label}: every {axis} screened collapsed or diverged on a bracket or screening seed (not a tested "
                        "claim); nothing left to confirm")
            else:
                text = f"{label}: not screened yet"
        elif v.outcome == "pending":
            text = (f"{label}: verdict once all {curves.planned} planned runs have finished ({curves.pending} to go); "
                    "a verdict read earlier would be a look the stated 95% does not count")
        else:
            text = f"{label}: too few repeats to compare with the unregularized baseline (need 2 seeds per point)"
        return text
    at = f"{axis} ≈ {_x(v.group, c.x)}"
    quoted = f"{change(objective, c.gain.diff)}, {interval_text(objective, c, ci)}"
    quoted_at = f"{change(objective, c.gain.diff)} at {at}, {interval_text(objective, c, ci)}"
    tried = [p.x for p in points if p.x in {x.x for x in v.comparisons}]
    span = (f"any of the {len(tried)} {axis} tried ({_x(v.group, min(tried))} to {_x(v.group, max(tried))})"
            if len(tried) > 1 else f"the {axis} tried")
    if v.scope == "finalist":
        seeds = f"{c.n} fresh seeds"
        ranked = f"{at}, the {axis} screening ranked first"
        text = {
            HELPS: f"{label} helps at {at}: {quoted}, {seeds}",
            HURTS: f"{label} hurts at {ranked} ({quoted}, {seeds}; other {axis} values were not confirmed)",
            NO_DIFFERENCE: f"{label} at {ranked}: no difference larger than ±{m} ({quoted}, {seeds})",
            NO_GAIN: f"{label} at {ranked}: no gain larger than +{m} ({quoted}, {seeds}{_near_break(c, v.group, m)})",
            OPEN: f"{label} at {at}: still racing ({quoted} after {seeds})",
            "undecided": f"{label} at {at}: undecided after the last round ({quoted}, {seeds})",
        }[v.outcome]
        if v.outcome == "undecided" and v.stopped is not None:
            rounds = f"{v.stopped_after} round{'s' if v.stopped_after != 1 else ''}"
            chances = (f"decided it with {_percent(v.stopped)} probability" if v.stopped_no_gain is None else
                       f"found it helps or hurts with {_percent(v.stopped)} probability, and no gain larger than +{m} "
                       f"with {_percent(v.stopped_no_gain)} (the race spends seeds on that only when it is more "
                       f"likely than not)")
            text = (f"{label} at {at}: undecided, stopped after {rounds} ({quoted}, {seeds}): had its gain been what "
                    f"its seeds show, the race's remaining seeds would have {chances}")
    else:
        text = {
            HELPS: f"{label} helps {_where(v.group, axis, v.helps_at, points)} (best: {quoted_at})",
            HURTS: f"{label} hurts at every {axis} tried (least harm: {quoted_at})",
            NO_DIFFERENCE: f"{label}: no difference larger than ±{m} at {span} (closest: {quoted_at})",
            NO_GAIN: f"{label}: no gain larger than +{m} at {span} (closest: {quoted_at}"
                     f"{_near_break_any(v, m)})",
            "undecided": f"{label}: undecided, no {axis} helps beyond noise yet (closest: {quoted_at})",
        }[v.outcome]
        if v.hurts_at and v.outcome != HURTS:
            worst = min((x for x in v.comparisons if x.x in v.hurts_at), key=lambda x: x.gain.diff)
            text += (f"; it hurts {_where(v.group, axis, v.hurts_at, points)} (worst: {change(objective, worst.gain.diff)} "
                     f"at {axis} ≈ {_x(v.group, worst.x)})")
    if v.more_rounds and curves.grow_command:
        rounds = f"{v.more_rounds} more round{'s' if v.more_rounds != 1 else ''}"
        text += (f"; about {v.more_seeds} more seeds (with the baseline's) would settle it: {rounds} of the race, "
                 f"{curves.grow_text(v.more_rounds)}")
    elif v.more_seeds:
        per = "" if v.scope == "finalist" else " per point"
        text += f"; about {v.more_seeds} more seed{'s' if v.more_seeds != 1 else ''}{per} (with the baseline's) would settle it"
    e = v.early
    if e is not None and e.gain.low is not None:
        epochs = curves.epochs.get(v.group)
        at_epochs = f" (epoch {epochs[0]} against {epochs[1]})" if epochs else ""
        stopped = (f"with early stopping on both sides, {curves.stopping}{at_epochs}: "
                   f"{change(objective, e.gain.diff)} ({interval_text(objective, e, ci)})")
        outcome = e.outcome(margin)
        if outcome == HELPS:
            # "too" only after a "helps": an undecided type can still beat early stopping at
            # their best epochs (IMDb's L2 in docs/findings.md), which must not read as a second help.
            also = " too" if v.outcome == HELPS else ""
            text += f"; it helps on top of early stopping{also} ({stopped})"
        elif outcome == HURTS:
            text += f"; early stopping alone does better ({stopped})"
        else:
            text += f"; {stopped}, " + (f"not better than early stopping by more than {m}"
                                         if outcome in (NO_DIFFERENCE, NO_GAIN) else "not decided")
    return text[0].upper() + text[1:]


def _near_break(c: Comparison, group: str, m: str) -> str:
    """Why an interval inside ±m says only "no gain": the point is near where its type collapsed."""
    if c.clear_of_break:
        return ""
    return (f"; not \"no difference\": it lies near where {GROUP_LABELS.get(group, group)} collapsed on some seed, "
            f"and a collapse on a few seeds these missed could cost more than {m}")


def _near_break_any(v: GroupVerdict, m: str) -> str:
    near = [c for c in v.comparisons if not c.clear_of_break]
    if not near:
        return ""
    return (f"; not \"no difference\": {len(near)} of these lie near where it collapsed on some seed, and a "
            f"collapse on a few seeds these missed could cost more than {m}")


def _where(group: str, axis: str, chosen: tuple[float, ...], points: list[CurvePoint]) -> str:
    """Only the points tried, never what lies between or beyond them: ``at each of the 3 λ
    tried from a to b`` for a run of neighbouring points, else ``at λ = a, b``."""
    xs = [p.x for p in points]
    idx = sorted(xs.index(x) for x in chosen if x in xs)
    if not idx:
        return f"at {axis} = " + ", ".join(_x(group, x) for x in chosen)
    contiguous = idx == list(range(idx[0], idx[-1] + 1))
    lo, hi = _x(group, xs[idx[0]]), _x(group, xs[idx[-1]])
    if contiguous and len(idx) > 1:
        return f"at each of the {len(idx)} {axis} tried from {lo} to {hi}"
    return f"at {axis} = " + ", ".join(_x(group, xs[i]) for i in idx)


def _percent(p: float) -> str:
    return "less than 1%" if p < 0.01 else f"only {100 * p:.0f}%"


def _added_rounds(curves: ResponseCurves) -> str:
    f = curves.family
    if f is None or not f.reserve or f.looks is None:
        return ""
    added = curves.rounds - f.looks
    kept = f"{100 * f.reserve:.0f}% of α kept for rounds added after launch"
    return f" and {added} added round{'s' if added != 1 else ''}, {kept}" if added > 0 else f", {kept}"


def family_note(curves: ResponseCurves) -> str:
    """What the verdicts' level means, for the page."""
    f = curves.family
    if f is None:
        return ""
    what = ("every planned point of every type, at its last epoch and stopped early" if curves.stage is None
            else "each type's finalist on its confirmation seeds, at its last epoch and stopped early, at each of "
                 f"{f.looks} planned rounds" + _added_rounds(curves))
    return (f"All intervals in these verdicts hold at once with {100 * (1 - ALPHA):.0f}% probability: "
            f"{f.hypotheses} comparisons ({what}), Bonferroni-adjusted. They are about the mean change over "
            "seeds with every run in it: a collapsed run at what it reached, a diverged one (on either side) at "
            f"the metric's worst value. Early stopping: {curves.stopping}, so the epoch is never chosen on the "
            "scores that judge it.")
