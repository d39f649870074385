"""The evaluation numbers (pure): test accuracy per group from the ``<study>.eval`` study, mean
and 95% t-interval per configuration, the difference to the unregularized baseline paired by seed,
and the one-sentence verdict the index page shows.

Every configuration is re-trained with the same seeds (seed s: the same initial weights and batch
order), so each is compared with the baseline seed by seed (a paired t-interval), which removes the
noise they share. The comparisons of all the types are one family: each interval is at level
1 - 5%/M for the M configurations the evaluation planned (Bonferroni; M is fixed by the plan, not by
which have results yet), so every "beats" or "is worse" the verdict says holds at once with 95%
probability, including for the type it names as the best. The verdict is read only when no planned
run is pending: a reading before that would be a look the 95% does not count (a later
``evaluate --seeds`` with more seeds is a counted look). Every run is in its pair: one that
diverged (a non-finite loss), on either side, is scored at the metric's worst value
(``sweeper.stats.verdicts.diverged_score``). A type the sweep could not put forward (no finished
trial, or only collapsed ones) is named with the reason, and the verdict speaks only of the types
evaluated. The test split's runs train for the sweep's epochs with no early stopping, so no epoch
is chosen on the test scores."""

from __future__ import annotations

from dataclasses import dataclass, field

import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeper.stats.intervals import Difference, MeanCI, mean_ci, paired
from sweeper.stats.verdicts import Family, diverged_score
from sweeper.evaluation.eval_study import LEFT_OUT_ATTR
from sweeper.storage.attrs import EVAL_SEED, PENALTY_GROUP, SOURCE_TRIAL
from sweeper.study.config import CONFIG_ATTR
from sweeper.study.points import GROUP_LABELS, GROUPS, STATE_NAMES, params_key
from sweeper.tasks.api import Objective
from sweeper.tasks.hyperparams import dropout_of, l1_ratio_of, lambda_of
from sweeper.tasks.results import StoredResult

LEVEL = 0.95
TEST_NAME = "paired t-test by seed, Bonferroni over the types compared"


@dataclass(frozen=True)
class Run:
    number: int
    state: str
    group: str
    source_trial: int | None
    seed: int | None
    params: dict[str, object]
    value: float | None  # the objective on the test split
    reason: str | None = None


@dataclass(frozen=True)
class GroupResult:
    group: str
    source_trial: int | None
    params: dict[str, object]
    values: list[float]  # the test objective of each complete run
    pending: int  # waiting or running runs
    other: int  # pruned (diverged) or failed runs
    summary: MeanCI | None
    vs_baseline: Difference | None

    @property
    def label(self) -> str:
        return GROUP_LABELS.get(self.group, self.group)

    def describe(self) -> str:
        """E.g. ``L2 (λ ≈ 3e-4, dropout 0.2)``."""
        parts = []
        lam = lambda_of(self.params)
        if self.group not in ("baseline", "dropout") and isinstance(lam, float):
            parts.append(f"λ ≈ {short_e(lam)}")
        ratio = l1_ratio_of(self.params)
        if self.group == "l1_l2" and isinstance(ratio, float):
            parts.append(f"l1_ratio {ratio:.2f}")
        dropout = dropout_of(self.params)
        if self.group != "baseline":
            parts.append(f"dropout {dropout:.2f}".rstrip("0").rstrip("."))
        return f"{self.label} ({', '.join(parts)})" if parts else self.label


@dataclass(frozen=True)
class EvaluationData:
    study: str
    runs: list[Run]
    groups: list[GroupResult]  # baseline first, then GROUPS order
    test_name: str = TEST_NAME
    level: float = LEVEL  # family-wise, over every comparison with the baseline
    objective: Objective = Objective()
    compared: int = 0  # comparisons in the family: every configuration planned, results or not
    pair_level: float = LEVEL  # the level of each comparison's interval
    left_out: dict[str, str] = field(default_factory=dict)  # group -> why the sweep did not put it forward

    def gain(self, d: Difference) -> float:
        """How much better than the baseline (positive: better, whatever the direction)."""
        return d.diff if self.objective.direction == "maximize" else -d.diff

    def amount(self, x: float, *, unit: bool = True) -> str:
        """A difference in the objective's units: ``+1.8 pp`` of accuracy, ``MAE -0.012`` of a
        minimized error (named, so that a sign is never read the wrong way round)."""
        if self.objective.in_points:
            return f"{100 * x:+.1f}" + (" pp" if unit else "")
        return (f"{self.objective.name} " if unit else "") + f"{x:+.3g}"

    @property
    def baseline(self) -> GroupResult | None:
        return next((g for g in self.groups if g.group == "baseline"), None)

    @property
    def pending(self) -> int:
        return sum(g.pending for g in self.groups)

    def verdict(self) -> str:
        return verdict(self)


def _run(t: FrozenTrial) -> Run:
    attrs = t.user_attrs
    params = dict(t.system_attrs.get("fixed_params") or t.params)
    state = STATE_NAMES[t.state]
    return Run(
        number=t.number,
        state=state,
        group=str(attrs.get(PENALTY_GROUP, "baseline")),
        source_trial=attrs.get(SOURCE_TRIAL),
        seed=attrs.get(EVAL_SEED),
        params=params,
        value=t.value if t.state == TrialState.COMPLETE else None,
        reason=StoredResult.from_attrs(attrs).reason,
    )


def summarize(study_name: str, runs: list[Run], objective: Objective = Objective(), looks: int = 1,
              left_out: dict[str, str] | None = None) -> EvaluationData:
    """Group runs by (group, configuration); a group whose best configuration changed between two
    ``sweeper evaluate`` calls keeps one row per configuration."""
    keyed: dict[tuple[str, object], list[Run]] = {}
    for r in runs:
        keyed.setdefault((r.group, params_key(r.params)), []).append(r)
    complete = [r.value for r in runs if r.state == "complete" and r.value is not None]
    worst = (min(complete) if objective.direction == "maximize" else max(complete)) if complete else None
    score = diverged_score(objective.in_points, objective.direction, worst)

    def values(rs: list[Run]) -> list[float]:
        return [r.value for r in rs if r.state == "complete" and r.value is not None]

    def by_seed(rs: list[Run]) -> dict[int, float]:
        """Each seed's test value, a diverged run at ``score`` (the same rule on both sides)."""
        out = {int(r.seed): r.value for r in rs if r.state == "complete" and r.value is not None and r.seed is not None}
        if score is not None:
            out.update({int(r.seed): score for r in rs if r.state == "pruned" and r.seed is not None and r.seed not in out})
        return out

    base_runs = next((rs for (g, _), rs in keyed.items() if g == "baseline"), [])
    base_seeds = by_seed(base_runs)
    # Bonferroni over every configuration the plan put forward (fixed by the plan, whatever has
    # arrived), and α spent over the looks: a later `evaluate --seeds` with more seeds is a second
    # look at the same test split (6α/(π² k²) at look k; 3.04% at the first).
    compared = sum(1 for (g, _) in keyed if g != "baseline")
    pair_level = Family(max(1, compared), looks=None, alpha=1 - LEVEL).level(looks)
    groups = []
    order = {g: i for i, g in enumerate(GROUPS)}
    for (group, _), rs in sorted(keyed.items(), key=lambda kv: (order.get(kv[0][0], 99), min(r.number for r in kv[1]))):
        vals = values(rs)
        seeds_ok = {r.seed for r in rs if r.state in ("complete", "waiting", "running")}
        groups.append(
            GroupResult(
                group=group,
                source_trial=rs[0].source_trial,
                params=rs[0].params,
                values=vals,
                pending=sum(r.state in ("waiting", "running") for r in rs),
                other=sum(r.state == "pruned" or (r.state == "fail" and r.seed not in seeds_ok) for r in rs),
                summary=mean_ci(vals, LEVEL) if vals else None,
                vs_baseline=paired(by_seed(rs), base_seeds, pair_level) if group != "baseline" else None,
            )
        )
    return EvaluationData(study_name, runs, groups, objective=objective, compared=compared, pair_level=pair_level,
                          left_out=dict(left_out or {}))


def collect_evaluation(study: optuna.Study) -> EvaluationData:
    runs = [_run(t) for t in study.get_trials(deepcopy=False) if EVAL_SEED in t.user_attrs]
    config = study.user_attrs.get(CONFIG_ATTR, {})
    objective = Objective.from_dict(config.get("objective"))
    return summarize(study.study_name, runs, objective, int(config.get("looks", 1) or 1),
                     study.user_attrs.get(LEFT_OUT_ATTR) or {})


def short_e(x: float) -> str:
    """``3e-4`` rather than Python's ``3e-04``."""
    mantissa, _, exponent = f"{x:.0e}".partition("e")
    return f"{mantissa}e{int(exponent)}"


def verdict(ev: EvaluationData | None, study: str | None = None) -> str:
    """One sentence: which penalty type beats the baseline on the test split, by how much, how sure."""
    if ev is None or not ev.runs:
        return f"not evaluated yet: run `sweeper evaluate {study or 'STUDY'}`"
    base = ev.baseline
    left = "".join(f"; {GROUP_LABELS.get(g, g)} not evaluated: {why}" for g, why in ev.left_out.items())
    if ev.pending:
        return (f"{ev.pending} evaluation run{'s' if ev.pending != 1 else ''} still pending: the test split's verdict "
                f"is read once all have finished (a reading before would be a look its 95% does not count){left}")
    pending = ""
    if base is None or len(base.values) < 2:
        n = len(base.values) if base else 0
        return (f"too few evaluation runs for a confidence interval (unregularized baseline: {n} complete, "
                f"need at least 2 seeds){pending}{left}")
    compared = [g for g in ev.groups if g.vs_baseline is not None and g.vs_baseline.low is not None]
    if not compared:
        return f"no penalty type has at least 2 complete evaluation runs yet{pending}{left}"
    pct = f"{int(ev.level * 100)}% {'simultaneous ' if ev.compared > 1 else ''}CI"
    what = ev.objective.on("test")

    def interval(d: Difference) -> str:
        return f"{pct} {ev.amount(d.low, unit=False)} to {ev.amount(d.high, unit=False)}"  # type: ignore[arg-type]

    winners = [g for g in compared if g.vs_baseline.significant and ev.gain(g.vs_baseline) > 0]  # type: ignore[union-attr,arg-type]
    if winners:
        g = max(winners, key=lambda g: ev.gain(g.vs_baseline))  # type: ignore[arg-type]
        d = g.vs_baseline
        assert d is not None and d.low is not None and d.high is not None
        p = ""  # the interval is the test (an unadjusted p would overstate it); the table lists p
        if ev.objective.in_points:
            by, lower = f" by {ev.amount(d.diff)} {what}", ""
        else:  # a minimized error, named with its sign: "test mae -1.93", lower is better
            by, lower = f": {what} {ev.amount(d.diff, unit=False)}", "lower is better; "
        return (f"{g.describe()} beats the unregularized baseline{by} "
                f"({lower}{interval(d)}{p}, {len(g.values)} vs {len(base.values)} seeds){pending}{left}")
    g = max(compared, key=lambda g: ev.gain(g.vs_baseline))  # type: ignore[arg-type]
    d = g.vs_baseline
    assert d is not None and d.low is not None and d.high is not None
    losers = [x for x in compared if x.vs_baseline.significant and ev.gain(x.vs_baseline) < 0]  # type: ignore[union-attr,arg-type]
    def worse_by(x: GroupResult) -> str:
        d = x.vs_baseline
        assert d is not None
        if ev.objective.in_points:
            return f"is worse by {ev.amount(d.diff)}"
        return f"is worse: {what} {ev.amount(d.diff, unit=False)}"

    worse = "".join(f"; {x.label} {worse_by(x)} ({interval(x.vs_baseline)})" for x in losers)  # type: ignore[arg-type]
    closest = "" if g in losers else f" (closest: {g.describe()}, {ev.amount(d.diff)}, {interval(d)})"
    nobody = "no penalty type evaluated beats" if ev.left_out else "no penalty type beats"
    return f"{nobody} the unregularized baseline beyond noise{closest}{worse}{pending}{left}"
