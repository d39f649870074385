"""Verdicts that hold at their stated level (pure): how a study's α is shared among its
comparisons, the interval of each comparison, and what a penalty type's comparisons allow one to
say ("helps", "hurts", "no difference larger than ±margin", "no gain larger than +margin",
"undecided").

Every comparison is a point against the unregularized baseline, paired by seed (repeat r of every
configuration was trained with the same seed), as a gain: positive means better than the baseline,
whatever the objective's direction.

The error guarantee is family-wise and simple enough to check by hand: a study names in advance
how many comparisons it may make (``Family.hypotheses``) and at how many looks (``Family.looks``,
a race's rounds), and every interval is a t-interval at level ``1 - α_k / hypotheses``, where the
α_k of the looks add up to α (Bonferroni over comparisons and looks). By the union bound, with
probability at least 1 - α *every* interval the study ever prints covers its true effect at once,
so every claim read off them ("helps": the interval is above 0; "hurts": below 0; "no difference
larger than ±m": inside (-m, m); "no gain larger than +m": below m) holds, whichever point is then
quoted as the best (no winner's curse in the interval) and however many rounds were run before the
race stopped. A race spends little α at its first looks (α_k grows with k), where few seeds could
decide little anyway.

Looks are planned: look k of a comparison uses the seeds of its first k rounds, so the interval
at a look is the same whatever happened elsewhere in the race. Dropping a point from the race (it
collapses the model, or is behind another) makes no claim and spends no α.

The estimand is the mean change over seeds, every run in it: a run that collapsed is scored at what
it reached, and a run that diverged (a non-finite loss) at the metric's worst value
(``diverged_score``), on either side of the pair, inside the same paired interval. Rare collapses
are what a t-interval cannot see when none fell among its seeds, and they only ever lower the
mean: so "no difference larger than ±m", which also says the change is above -m, is made only for a
point clear of where its type was seen to collapse (``Comparison.clear_of_break``); otherwise the
same interval says "no gain larger than +m", which a collapse cannot make false.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from scipy import special

from sweeper.stats.intervals import Difference, paired

ALPHA = 0.05

HELPS, HURTS, NO_DIFFERENCE, NO_GAIN, OPEN = "helps", "hurts", "no difference", "no gain", "open"


@dataclass(frozen=True)
class Family:
    """The comparisons a study may make, and how its α is spent over them. ``looks`` planned
    looks (a race's rounds); ``looks=None``: as many as the user asks for (a fixed design that
    may be launched again with more repeats), α_k = 6 α / (π² k²), which adds up to α.

    ``reserve``: the share of α a race keeps for rounds added after its launch (``sweeper run
    --rounds N`` on a race that left finalists undecided). The planned looks spend the rest; the
    j-th added look spends ``reserve`` α 6 / (π² j²), so however many rounds are added, and
    whenever the user decides to add them after seeing the verdicts, all looks together spend at
    most α: the schedule is fixed before any data, only which looks are taken is not."""

    hypotheses: int
    looks: int | None = 1
    alpha: float = ALPHA
    reserve: float = 0.0

    def __post_init__(self) -> None:
        if (self.hypotheses < 1 or (self.looks is not None and self.looks < 1) or not 0 < self.alpha < 1
                or not 0 <= self.reserve < 1 or (self.looks is None and self.reserve)):
            raise ValueError(f"a family needs hypotheses >= 1, looks >= 1, 0 < alpha < 1 and 0 <= reserve < 1 "
                             f"(a reserve only with planned looks), got {self}")

    def alpha_at(self, look: int) -> float:
        """α_k of look k. Planned looks: α_k grows linearly with k (k / (1 + ... + K) of the α
        not reserved), so that the early looks, which have few seeds, cost the late ones little.
        A look past the plan spends from the reserve; without one there is no such look."""
        if self.looks is None:
            return self.alpha * 6 / (math.pi ** 2 * max(look, 1) ** 2)
        if look > self.looks:
            if not self.reserve:
                raise ValueError(f"look {look} is past the {self.looks} planned, and this family keeps no α for it")
            return self.alpha * self.reserve * 6 / (math.pi ** 2 * (look - self.looks) ** 2)
        k = max(look, 1)
        return self.alpha * (1 - self.reserve) * k / (self.looks * (self.looks + 1) / 2)

    def level(self, look: int = 1) -> float:
        """The confidence level of one comparison's interval at ``look``."""
        return 1.0 - self.alpha_at(look) / self.hypotheses


@dataclass(frozen=True)
class Comparison:
    """One point against the baseline at one look: the paired gain with its interval."""

    x: float  # λ, or the dropout rate
    gain: Difference  # positive = better than the baseline; low/high at ``level`` (None: no spread)
    level: float
    n: int  # pairs
    sd: float  # of the paired gains
    # Pairs in which this point or the baseline diverged (a non-finite loss); they are in ``n``
    # and in the interval, scored at the metric's worst value (``diverged_score``).
    diverged: int = 0
    # False when the point lies near where its type collapsed on some seed: a rare collapse its
    # seeds missed could pull the mean below -margin, so "no difference" is not said of it.
    clear_of_break: bool = True

    def outcome(self, margin: float) -> str:
        low, high = self.gain.low, self.gain.high
        if low is None or high is None:
            return OPEN
        if low > 0:
            return HELPS
        if high < 0:
            return HURTS
        if -margin < low and high < margin and self.clear_of_break:
            return NO_DIFFERENCE
        if high < margin:
            return NO_GAIN
        return OPEN

    def seeds_to_settle(self, margin: float) -> int | None:
        """About how many more seeds would close this comparison at its level, if the mean and
        spread stayed as they are: the interval's half width (Student's t at the larger sample,
        not the normal's, which promised a settled verdict one seed away that the next seed's t
        could not give) has to shrink below the distance that decides: to 0 when the gain looks
        positive, to ``margin`` otherwise ("no gain larger than +margin"). At least 1; None when
        the seeds show no spread to extrapolate from (every seed gave the same difference)."""
        d = self.gain.diff
        if self.sd <= 0 or not math.isfinite(d):
            return None
        target = _settle_target(d, margin)
        if target <= 0:
            return 1
        for more in range(1, 10_000):
            if half_width(self.n + more, self.sd, self.level) < target:
                return more
        return 10_000

    def decision_chance(self, margin: float, n_final: int, level: float) -> float:
        """The chance that this comparison decides (helps, hurts, or no gain larger than
        +margin) once it has ``n_final`` pairs, its interval then at ``level``, if its true gain
        is the mean seen so far and the spread holds: conditional power under the current
        trend, the usual futility rule of group-sequential trials. 1 where it cannot be said
        (no spread, or no pairs to come)."""
        return self.decision_chances(margin, n_final, level).any

    def decision_chances(self, margin: float, n_final: int, level: float) -> Chances:
        """``decision_chance`` by what is decided: an effect (helps or hurts), and no gain
        larger than +margin (its interval below the margin, hurts included)."""
        d, n1, sd = self.gain.diff, self.n, self.sd
        more = n_final - n1
        if sd <= 0 or more <= 0 or not math.isfinite(d):
            return Chances(1.0, 1.0, 1.0)
        half = half_width(n_final, sd, level)
        se = sd / math.sqrt(more)

        def below(final_mean: float) -> float:  # P(the final mean falls below final_mean)
            return float(special.ndtr(((final_mean * n_final - n1 * d) / more - d) / se))

        # Helps: the final mean above half; hurts: below -half. No gain (hurts too, whose
        # interval is below 0): a final mean below margin - half.
        helps = 1 - below(half)
        effect = helps + below(-half)
        if margin - half >= half:
            return Chances(1.0, effect, 1.0)  # every final mean decides
        no_gain = below(margin - half)
        return Chances(helps + no_gain, effect, no_gain)

    def rounds_to_settle(self, margin: float, family: Family, look: int, repeats: int,
                         most: int = 50) -> int | None:
        """About how many rounds of ``repeats`` more seeds, added to a race whose last look was
        ``look``, would close this comparison, if the mean and spread stayed as they are: as
        ``seeds_to_settle``, at each added look's own level (stricter: they spend the α the
        family kept, ``Family.reserve``). None without a reserve, without spread, or past
        ``most`` rounds."""
        d = self.gain.diff
        if not family.reserve or self.sd <= 0 or not math.isfinite(d) or repeats < 1:
            return None
        target = _settle_target(d, margin)
        if target <= 0:
            return 1
        for more in range(1, most + 1):
            if half_width(self.n + more * repeats, self.sd, family.level(look + more)) < target:
                return more
        return None


@dataclass(frozen=True)
class Chances:
    """What a comparison's remaining pairs would decide, and with what chance
    (``Comparison.decision_chances``): anything, an effect (helps or hurts), no gain larger than
    +margin (hurts included)."""

    any: float
    effect: float
    no_gain: float


def half_width(n: int, sd: float, level: float) -> float:
    """The half width of a paired t-interval at ``level`` over ``n`` pairs of spread ``sd``."""
    return float(special.stdtrit(n - 1, 0.5 + level / 2)) * sd / math.sqrt(n)


def _settle_target(d: float, margin: float) -> float:
    """The half width that decides a comparison whose mean stays at ``d``: below ``d`` says
    helps, below ``margin - d`` no gain larger than +margin; the easier of the two when the gain
    looks positive."""
    return max(d, margin - d) if d > 0 else margin - d


@dataclass(frozen=True)
class Decidable:
    """What ``n`` paired seeds can decide at ``level`` when their differences have sd ``sd``:
    the gain found (interval above 0) with probability ``power``, and the half width of the
    interval, which a margin must exceed for "no difference larger than ±margin" to be said of a
    point with no effect. A plan's figure, said before the seeds are spent."""

    sd: float
    n: int
    level: float
    power: float
    effect: float
    half_width: float


def decidable(sd: float, n: int, level: float, power: float = 0.8) -> Decidable:
    """The gain found with ``power`` and the interval's half width at ``n`` pairs (n >= 2): a
    gain of δ is found when the mean's interval clears 0, about when δ exceeds the critical t
    plus the t of ``power``, in standard errors (the noncentral t's usual approximation)."""
    if n < 2 or sd < 0 or not 0 < level < 1 or not 0 < power < 1:
        raise ValueError(f"decidable needs n >= 2, sd >= 0, 0 < level < 1 and 0 < power < 1, got {n}, {sd}, {level}, {power}")
    se = sd / math.sqrt(n)
    critical = float(special.stdtrit(n - 1, 0.5 + level / 2))
    return Decidable(sd, n, level, power, (critical + float(special.stdtrit(n - 1, power))) * se, critical * se)


def compare(x: float, values: Mapping[int, float], baseline: Mapping[int, float], level: float,
            sign: int, diverged: int = 0, clear_of_break: bool = True) -> Comparison | None:
    """``values`` against ``baseline`` repeat by repeat, as a gain (``sign`` +1 when higher is
    better). Diverged runs are in both mappings already, scored by ``diverged_score``;
    ``diverged`` only counts the pairs they touch, for the text. None with fewer than 2 pairs:
    one pair gives no interval."""
    d = paired(dict(values), dict(baseline), level)
    if d is None:
        return None
    common = sorted(set(values) & set(baseline))
    gains = [sign * (values[r] - baseline[r]) for r in common]
    mean = sum(gains) / len(gains)
    sd = math.sqrt(sum((g - mean) ** 2 for g in gains) / (len(gains) - 1))
    if d.low is None or d.high is None:
        low = high = None
    else:
        low, high = (d.low, d.high) if sign > 0 else (-d.high, -d.low)
    gain = Difference(sign * d.diff, low, high, d.p_value, None if d.t is None else sign * d.t, d.df)
    return Comparison(x, gain, level, len(common), sd, diverged, clear_of_break)


def diverged_score(in_points: bool, direction: str, worst_seen: float | None) -> float | None:
    """What a diverged run scores inside a comparison: the metric's worst value. A fraction that
    is maximized (accuracy, AUC) bottoms out at 0; a loss or an error has no bound, so the worst
    finite value the study saw stands in (``worst_seen``, fixed by the caller before any
    comparison reads it, so that a later run cannot move an earlier look). None when nothing
    bounds it yet: the diverged run then makes no pair, on either side alike."""
    if in_points and direction == "maximize":
        return 0.0
    if worst_seen is None or not math.isfinite(worst_seen):
        return None
    return float(worst_seen)


def stopping_epoch(curves: list[list[float]], sign: int) -> int | None:
    """The epoch (0-based) at which the mean of ``curves`` is best: where early stopping would
    stop a configuration, chosen on these curves so that other seeds can score it. Each curve is
    one run's objective per epoch (already scored where it diverged); a shorter one holds its
    last value. None without a curve."""
    curves = [c for c in curves if c]
    if not curves:
        return None
    length = max(len(c) for c in curves)
    means = [sum(c[min(e, len(c) - 1)] for c in curves) / len(curves) for e in range(length)]
    best = max(range(length), key=lambda e: (sign * means[e], -e))
    return best


@dataclass(frozen=True)
class GroupVerdict:
    """What may be said of one penalty type (or dropout)."""

    group: str
    outcome: str  # helps | hurts | no difference | no gain | open | undecided | too few
    quoted: Comparison | None  # the point the sentence names: the best helping, the finalist, the closest
    helps_at: tuple[float, ...] = ()
    hurts_at: tuple[float, ...] = ()
    # The quoted point at its best epoch against the baseline at its best epoch (early stopping).
    early: Comparison | None = None
    more_seeds: int | None = None  # for an undecided verdict: about how many more would settle it
    # For a race's undecided finalist: about how many rounds added to the race would settle it
    # (its ``more_seeds`` are those rounds' seeds); None where the race cannot grow.
    more_rounds: int | None = None
    # A race's finalist that stopped getting seeds before its planned rounds ran out: the chance
    # its remaining seeds had to decide it (``sweeper.study.adaptive.FUTILITY``), and its rounds.
    stopped: float | None = None
    stopped_after: int = 0
    # Stopped by a race's planned-round rule (``sweeper.study.adaptive.NO_GAIN_FUTILITY``):
    # ``stopped`` is then the chance of an effect (helps or hurts), this that of no gain.
    stopped_no_gain: float | None = None
    # Every point's comparison, by x (the fixed design's whole curve; a race's finalist).
    comparisons: tuple[Comparison, ...] = field(default=())
    scope: str = "curve"  # "curve": about every point tried; "finalist": about the quoted point
    finalist_x: float | None = None  # a race's finalist before its first confirmation round


def curve_verdict(group: str, comparisons: list[Comparison], margin: float,
                  early: Mapping[float, Comparison] | None = None) -> GroupVerdict:
    """A fixed design's verdict on one type, from every point's comparison (all at the family's
    level): helps where an interval is above 0; otherwise "no gain larger than +margin" when every
    interval is below the margin ("no difference larger than ±margin" when inside it too), with the
    points where it hurts; otherwise undecided, quoting the closest point."""
    comparisons = sorted(comparisons, key=lambda c: c.x)
    if not comparisons:
        return GroupVerdict(group, "too few", None)
    outcomes = {c.x: c.outcome(margin) for c in comparisons}
    helps = [c for c in comparisons if outcomes[c.x] == HELPS]
    hurts = tuple(c.x for c in comparisons if outcomes[c.x] == HURTS)
    early = early or {}
    if helps:
        best = max(helps, key=lambda c: c.gain.diff)
        return GroupVerdict(group, HELPS, best, tuple(c.x for c in helps), hurts, early.get(best.x),
                            comparisons=tuple(comparisons))
    if len(hurts) == len(comparisons):
        worst = max(comparisons, key=lambda c: c.gain.diff)  # quoted: the least harmful
        return GroupVerdict(group, HURTS, worst, (), hurts, early.get(worst.x), comparisons=tuple(comparisons))
    closest = max(comparisons, key=lambda c: c.gain.diff)
    if all(outcomes[c.x] in (NO_DIFFERENCE, NO_GAIN, HURTS) for c in comparisons):
        outcome = NO_DIFFERENCE if all(outcomes[c.x] == NO_DIFFERENCE for c in comparisons) else NO_GAIN
        return GroupVerdict(group, outcome, closest, (), hurts, early.get(closest.x), comparisons=tuple(comparisons))
    undecided = [c for c in comparisons if outcomes[c.x] == OPEN]
    more = max((m for c in undecided if c.gain.low is not None and (m := c.seeds_to_settle(margin)) is not None),
               default=None)
    return GroupVerdict(group, "undecided", closest, (), hurts, early.get(closest.x), more,
                        comparisons=tuple(comparisons))


def finalist_verdict(group: str, finalist: Comparison | None, margin: float, *, racing: bool,
                     early: Comparison | None = None, x: float | None = None,
                     growth: tuple[Family, int, int] | None = None,
                     stopped: tuple[float, int, float | None] | None = None) -> GroupVerdict:
    """An adaptive design's verdict on one type, from its finalist's comparison on fresh seeds
    (confirmation): the outcome of that interval; ``racing`` when rounds are left to run. ``x``:
    the finalist, when it has no comparison yet. ``growth``: the race's family, its last look and
    its seeds per round, for an undecided finalist's rounds to settle (``rounds_to_settle``).
    ``stopped``: the finalist stopped getting seeds (the chance they had to decide it, the
    rounds it ran, and the chance of no gain when the chance before is that of an effect), so it
    is undecided even while others race."""
    if finalist is None:
        return GroupVerdict(group, OPEN if racing and x is not None else "too few", None, scope="finalist",
                            finalist_x=x)
    outcome = finalist.outcome(margin)
    if outcome == OPEN:
        more = rounds = None
        racing = racing and stopped is None
        if not racing:
            rounds = finalist.rounds_to_settle(margin, *growth) if growth else None
            more = rounds * growth[2] if rounds and growth else finalist.seeds_to_settle(margin)
        return GroupVerdict(group, OPEN if racing else "undecided", finalist, early=early, more_seeds=more,
                            more_rounds=rounds, comparisons=(finalist,), scope="finalist",
                            stopped=stopped[0] if stopped else None, stopped_after=stopped[1] if stopped else 0,
                            stopped_no_gain=stopped[2] if stopped else None)
    return GroupVerdict(group, outcome, finalist, (finalist.x,) if outcome == HELPS else (),
                        (finalist.x,) if outcome == HURTS else (), early, comparisons=(finalist,), scope="finalist")


def default_margin(in_points: bool, baseline_mean: float | None) -> float:
    """1 pp for a fraction that is maximized (accuracy, AUC); otherwise 1% of the baseline's
    value (a loss or an error), or 0.01 when that is not known yet."""
    if in_points:
        return 0.01
    if baseline_mean is None or not math.isfinite(baseline_mean) or baseline_mean == 0:
        return 0.01
    return abs(baseline_mean) * 0.01


class Scale(Protocol):
    """What ``change`` needs of an objective (``sweeper.tasks.Objective`` has it): whether its
    differences read as percentage points, its direction, and its name."""

    @property
    def in_points(self) -> bool: ...

    @property
    def direction(self) -> str: ...

    @property
    def name(self) -> str: ...


def change(objective: Scale, gain: float, unit: bool = True) -> str:
    """A gain (positive = better) as the change it is in the objective: ``+1.8 pp`` of accuracy,
    ``MAE -0.83`` of a minimized error."""
    if objective.in_points:
        return f"{100 * gain + 0.0:+.1f}".replace("-0.0", "+0.0") + (" pp" if unit else "")
    raw = gain if objective.direction == "maximize" else -gain
    return (f"{objective.name} " if unit else "") + f"{raw:+.3g}"
