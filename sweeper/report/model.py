"""The report of one study as typed objects (pure): everything its page, its JSON and the Python
API say, worked out once from ``ReportData`` (``build_report``) and rendered three ways: HTML
(``sweeper.report.write`` through the templates in ``sweeper/report/templates``), JSON
(``StudyReport.to_json``) and the objects themselves (``sweeper.load``, ``sweeper.run``).

Every sentence the page prints is a field here, so the page cannot say what the JSON does not.
``SCHEMA_VERSION`` names the shape of ``to_dict``/``to_json``: a field added is a minor change
that keeps the version; a field renamed, removed or changed in meaning raises it
(docs/report.md#the-report-as-data lists the fields of each version).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sweeper.evaluation.results import EvaluationData, GroupResult
from sweeper.report.collect import ReportData
from sweeper.report.curves import CurvePoint, ResponseCurves, family_note, response_curves
from sweeper.report.headline import headline as headline_sentence
from sweeper.report.outcomes import study_notes
from sweeper.report.series import BestRow, best_table, unfinished
from sweeper.stats.intervals import Difference
from sweeper.stats.verdicts import HELPS, HURTS, Comparison, GroupVerdict, change
from sweeper.study.designs import Design
from sweeper.study.designs import design_of as design_named
from sweeper.study.points import GROUP_LABELS

if TYPE_CHECKING:
    import pandas
    import plotly.graph_objects as go

SCHEMA_VERSION = 1
# What a verdict's outcome may be (``sweeper.stats.verdicts`` and the test split's own): the
# decided ones first. ``open``: a race still running; ``pending``: a fixed design or evaluation
# with planned runs to go; ``too few``: no pairs to compare; ``stopped``: the race gave up.
OUTCOMES = ("helps", "hurts", "no difference", "no gain", "undecided", "open", "pending", "too few", "stopped")


def design_of(data: ReportData) -> Design:
    """The study's design (search, curve, adaptive), from its name: the one place the report reads it."""
    return design_named(data.design)


@dataclass(frozen=True)
class Interval:
    """A confidence interval; ``low``/``high`` are None when the runs show no spread to bound."""

    low: float | None
    high: float | None
    level: float  # the confidence level of this interval alone (family-adjusted where it says so)


@dataclass(frozen=True)
class EarlyStopping:
    """The quoted point and the baseline, each stopped early, compared on seeds that did not choose
    the epoch: does the penalty help on top of early stopping?"""

    effect: float  # gain over the baseline stopped early (positive: better)
    interval: Interval
    outcome: str
    epoch: int | None  # 1-based, the point's stopping epoch (a race), else None
    baseline_epoch: int | None


@dataclass(frozen=True)
class Verdict:
    """What may be said of one penalty type (``type``: l1, l2, l1_l2, dropout) against the
    unregularized baseline, on one split.

    ``effect`` is the gain at the quoted ``point`` (λ, or the dropout rate), positive when better
    than the baseline whatever the objective's direction, in the objective's units (accuracy as a
    fraction: 0.018 is +1.8 pp); ``interval`` bounds it at ``interval.level``, the study's
    family-wise adjusted level, so that all of a study's intervals hold at once with 95%
    probability. ``sentence`` is exactly what the page prints."""

    type: str
    label: str
    split: str  # "validation" (a planned design's verdicts) | "test" (the re-evaluation)
    outcome: str  # one of OUTCOMES
    point: float | None
    axis: str  # "lambda" | "dropout"
    effect: float | None
    effect_text: str  # the effect as the page words it: "+1.8 pp", "MAE -0.83"
    interval: Interval | None
    seeds: int | None  # pairs (seeds) behind the interval
    diverged_pairs: int
    scope: str  # "curve": about every point tried | "finalist": a race's quoted point | "evaluation"
    more_seeds: int | None  # undecided: about how many more seeds would settle it
    early_stopping: EarlyStopping | None
    sentence: str
    configuration: str = ""  # the test split: the configuration re-trained, e.g. "L2 (λ ≈ 3e-4, dropout 0.2)"
    # A race's undecided finalist: about how many rounds added to the race would settle it
    # (``sweeper run TASK --rounds N``); None where the race cannot grow or nothing says how many.
    more_rounds: int | None = None


@dataclass(frozen=True)
class FamilyLevel:
    """How a study's α is shared: ``hypotheses`` comparisons at ``looks`` planned looks (None:
    open-ended, α_k = 6α/(π²k²)), so that every interval holds at once with ``1 - alpha``."""

    hypotheses: int
    looks: int | None
    alpha: float
    note: str  # the sentence the page prints under the verdicts


@dataclass(frozen=True)
class CurvePointRow:
    """One point of a planned study's response curve: the mean over seeds with its 95% band, and
    the paired change against the baseline (unadjusted, descriptive)."""

    type: str  # l1, l2, l1_l2, dropout, baseline
    x: float
    seeds: int
    mean: float
    band: Interval
    vs_baseline: float | None
    vs_baseline_interval: Interval | None
    dropped: str | None  # an adaptive race left this point out, why


@dataclass(frozen=True)
class Race:
    """A planned study's state: an adaptive race's stage, or a fixed design's runs to go."""

    stage: str | None  # bracket | screen | confirm | done; None for a fixed design
    text: str  # where the race stands, in words
    final: bool  # no verdict may still change
    pending: int  # a fixed design's planned runs not finished yet
    planned: int
    margin: float | None
    stopping: str  # how each side's early-stopping epoch was chosen
    dropped: list[str]  # "L2 λ ≈ 1e-1: why", one per point left out of the race


@dataclass(frozen=True)
class TrialRow:
    """One trial of the study (queued ones not taken yet are not trials)."""

    number: int
    state: str  # complete | pruned | fail | running | waiting
    type: str  # baseline, dropout, l1, l2, l1_l2
    penalty: str
    lam: float | None
    l1_ratio: float | None
    dropout: float
    value: float | None  # the objective on validation (a pruned trial: its last epoch's)
    train_value: float | None
    sparsity: float | None
    epochs_run: int | None
    wall_time_s: float | None
    repeat: int | None
    reason: str | None


@dataclass(frozen=True)
class EvaluationRow:
    """One configuration re-trained on the test split."""

    configuration: str
    type: str
    source_trial: int | None
    seeds: int
    pending: int
    other: int  # diverged or failed runs
    mean: float | None
    interval: Interval | None
    vs_baseline: float | None  # gain over the baseline, positive = better
    vs_baseline_interval: Interval | None  # at ``Evaluation.pair_level``
    p_value: float | None


@dataclass(frozen=True)
class Evaluation:
    """The re-evaluation on the test split (``sweeper evaluate``)."""

    sentence: str  # the verdict the page prints
    level: float  # family-wise
    pair_level: float  # of each comparison's interval
    compared: int
    test_name: str
    pending: int
    rows: list[EvaluationRow]
    left_out: dict[str, str]  # type -> why the sweep did not put it forward


@dataclass(frozen=True)
class StudyReport:
    """A study's report. ``verdicts`` holds the tested claims (a planned design's per type on
    validation, and the test split's once its runs are in); a search study's ``headline`` ranks
    single runs and claims nothing. Render it with ``to_json()``, ``to_frame()``, ``figure()``;
    ``sweeper report`` writes the same object as HTML."""

    schema_version: int
    study: str
    task: str | None
    design: str  # search | curve | adaptive
    direction: str
    objective: dict[str, Any]  # metric, direction, name, in_points (``Objective.to_dict``)
    validation_name: str  # "validation accuracy"
    budget: int | None
    counts: dict[str, int]
    counts_text: str
    full_trials: float | None  # the compute its trials took, in full-trial equivalents
    headline: str | None  # None while no trial has a result
    notes: list[str]
    verdicts: list[Verdict]
    verdict_source: str | None  # what the validation verdicts are read from, in words
    family: FamilyLevel | None
    race: Race | None
    curves: list[CurvePointRow]
    trials: list[TrialRow]
    best: list[BestRow]
    unfinished: list[int]  # trial numbers listed as without a result
    evaluation: Evaluation | None
    importances: dict[str, float] | None
    importance_note: str
    config: dict[str, Any]
    # The collected data and the curves the figures are drawn from (not part of the JSON).
    data: ReportData = field(repr=False, compare=False, default=None)  # type: ignore[assignment]
    response: ResponseCurves | None = field(repr=False, compare=False, default=None)

    @property
    def finished(self) -> bool:
        """Some trial has a result (complete or pruned with a value)."""
        return self.headline is not None

    def verdict(self, type: str, split: str = "validation") -> Verdict | None:
        """The verdict on one penalty type (l1, l2, l1_l2, dropout) on ``split``, if any."""
        return next((v for v in self.verdicts if v.type == type and v.split == split), None)

    def outcomes(self) -> set[str]:
        return {v.outcome for v in self.verdicts}

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the JSON's shape); non-finite numbers (a diverged trial's value) are None."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.compare}
        return _plain(out)

    def to_json(self, indent: int | None = 2) -> str:
        """The report as JSON (``schema_version`` first); ``json.loads`` of it equals ``to_dict()``."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    def to_frame(self, kind: str = "verdicts") -> pandas.DataFrame:
        """A pandas DataFrame of the ``"verdicts"`` (one row per verdict, the interval's ends as
        columns) or the ``"trials"``. Needs pandas: ``pip install 'sweeper[notebook]'``.

        Example::

            report = sweeper.load("digits", storage="sqlite:///sweeper.db")
            report.to_frame("verdicts")[["type", "outcome", "effect", "low", "high"]]
        """
        try:
            import pandas
        except ImportError:
            from sweeper.errors import ReportError

            raise ReportError("to_frame needs pandas, which is not installed: pip install 'sweeper[notebook]'") from None
        if kind == "verdicts":
            rows = []
            for v in self.verdicts:
                row = {k: val for k, val in _plain(dataclasses.asdict(v)).items()
                       if k not in ("interval", "early_stopping")}
                row["low"] = v.interval.low if v.interval else None
                row["high"] = v.interval.high if v.interval else None
                row["level"] = v.interval.level if v.interval else None
                rows.append(row)
            columns = [f.name for f in dataclasses.fields(Verdict) if f.name not in ("interval", "early_stopping")]
            return pandas.DataFrame(rows, columns=[*columns, "low", "high", "level"])
        if kind == "trials":
            return pandas.DataFrame([_plain(dataclasses.asdict(t)) for t in self.trials],
                                    columns=[f.name for f in dataclasses.fields(TrialRow)])
        from sweeper.errors import ReportError

        raise ReportError(f"to_frame({kind!r}): choose 'verdicts' or 'trials'")

    def figure(self, name: str = "headline") -> go.Figure:
        """A plotly Figure of the page (it shows inline in Jupyter), by name: ``headline``,
        ``evaluation``, ``lambda-dropout``, ``gap``, ``sparsity``, ``learning-curves``, ``history``
        or ``importances`` (``sweeper.report.sections.FIGURE_NAMES``).

        Example::

            report.figure("headline")  # the last expression of a cell: drawn inline
            report.figure("gap").write_html("gap.html")
        """
        from sweeper.report.sections import build_figure

        return build_figure(self, name)


def _plain(x: Any) -> Any:
    """Dataclasses to dicts, tuples to lists, non-finite floats to None (JSON has no NaN)."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return _plain({f.name: getattr(x, f.name) for f in dataclasses.fields(x)})
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def counts_line(data: ReportData) -> str:
    c = data.counts()
    return (
        f"{c['complete']} complete, {c['pruned']} pruned (stopped early; hollow markers, value at their "
        f"last epoch), {c['fail']} failed (no value; listed below), {c['running']} running, "
        f"{c['waiting']} queued" + (f" — budget {data.budget}" if data.budget else "")
        + (f" · compute {data.full_trials:.1f} full-trial equivalents (epochs run ÷ epochs of a full trial)"
           if data.full_trials is not None else "")
    )


def build_report(data: ReportData) -> StudyReport:
    """Everything the report says of ``data``, worked out once (the response curves included)."""
    design = design_of(data)
    finished = bool(data.finished)
    curves = response_curves(data) if finished and design.planned else None
    verdicts: list[Verdict] = []
    family = race = None
    source = None
    rows: list[CurvePointRow] = []
    if curves is not None:
        verdicts = [_validation_verdict(data, curves, curves.decisions[g], sentence)
                    for g, sentence in curves.verdicts.items()]
        if curves.family is not None:
            f = curves.family
            family = FamilyLevel(f.hypotheses, f.looks, f.alpha, family_note(curves))
        source = design.verdict_source
        race = _race(curves)
        rows = _curve_rows(curves)
    ev = data.evaluation
    evaluation = _evaluation(ev, data.study) if ev is not None and ev.runs else None
    if evaluation is not None and not ev.pending:
        verdicts += _test_verdicts(ev)
    o = data.objective
    return StudyReport(
        schema_version=SCHEMA_VERSION,
        study=data.study,
        task=data.task,
        design=data.design,
        direction=data.direction,
        objective=o.to_dict() | {"name": o.name, "in_points": o.in_points},
        validation_name=o.on("validation"),
        budget=data.budget,
        counts=data.counts(),
        counts_text=counts_line(data),
        full_trials=data.full_trials,
        headline=headline_sentence(data, curves) if finished else None,
        notes=study_notes(data),
        verdicts=verdicts,
        verdict_source=source,
        family=family,
        race=race,
        curves=rows,
        trials=[_trial(p) for p in data.points],
        best=best_table(data),
        unfinished=[p.number for p in unfinished(data)],
        evaluation=evaluation,
        importances=data.importances,
        importance_note=data.importance_note,
        config=dict(data.config or {}),
        data=data,
        response=curves,
    )


def _interval(low: float | None, high: float | None, level: float) -> Interval:
    return Interval(low, high, level)


def _validation_verdict(data: ReportData, curves: ResponseCurves, v: GroupVerdict, sentence: str) -> Verdict:
    c: Comparison | None = v.quoted
    e = v.early
    early = None
    if e is not None:
        epochs = curves.epochs.get(v.group)
        early = EarlyStopping(e.gain.diff, _interval(e.gain.low, e.gain.high, e.level),
                              e.outcome(curves.margin or 0.0), epochs[0] if epochs else None,
                              epochs[1] if epochs else None)
    point = c.x if c is not None else v.finalist_x
    return Verdict(
        type=v.group,
        label=GROUP_LABELS.get(v.group, v.group),
        split="validation",
        outcome=v.outcome,
        point=point,
        axis="dropout" if v.group == "dropout" else "lambda",
        effect=c.gain.diff if c is not None else None,
        effect_text=change(data.objective, c.gain.diff) if c is not None else "",
        interval=_interval(c.gain.low, c.gain.high, c.level) if c is not None else None,
        seeds=c.n if c is not None else None,
        diverged_pairs=c.diverged if c is not None else 0,
        scope=v.scope,
        more_seeds=v.more_seeds,
        early_stopping=early,
        sentence=sentence,
        more_rounds=v.more_rounds,
    )


def _race(curves: ResponseCurves) -> Race:
    from sweeper.study.adaptive import point_label

    dropped = [f"{point_label((g, p.x))}: {p.dropped}"
               for g, pts in [*curves.penalties.items(), ("dropout", curves.dropout)] for p in pts if p.dropped]
    return Race(curves.stage, curves.race_text, curves.stage in (None, "done") and not curves.pending,
                curves.pending, curves.planned, curves.margin, curves.stopping, dropped)


def _curve_rows(curves: ResponseCurves) -> list[CurvePointRow]:
    def row(group: str, p: CurvePoint) -> CurvePointRow:
        d: Difference | None = p.vs_baseline
        return CurvePointRow(group, p.x, p.n, p.value.mean, Interval(p.value.low, p.value.high, 0.95),
                             d.diff if d else None, Interval(d.low, d.high, 0.95) if d else None, p.dropped)

    out = [row("baseline", curves.baseline)] if curves.baseline is not None else []
    out += [row(g, p) for g, pts in curves.penalties.items() for p in pts]
    return out + [row("dropout", p) for p in curves.dropout]


def _trial(p: Any) -> TrialRow:
    return TrialRow(p.number, p.state, p.group, p.penalty, p.lam, p.l1_ratio, p.dropout, p.value, p.train_value,
                    p.sparsity, p.epochs_run, p.wall_time_s, p.repeat, p.reason)


def _evaluation(ev: EvaluationData, study: str) -> Evaluation:
    rows = []
    for g in ev.groups:
        s, d = g.summary, g.vs_baseline
        rows.append(EvaluationRow(
            configuration=g.describe(), type=g.group, source_trial=g.source_trial, seeds=len(g.values),
            pending=g.pending, other=g.other, mean=s.mean if s else None,
            interval=Interval(s.low, s.high, ev.level) if s else None,
            vs_baseline=ev.gain(d) if d else None,
            vs_baseline_interval=_gain_interval(ev, d) if d else None,
            p_value=d.p_value if d else None,
        ))
    return Evaluation(ev.verdict(), ev.level, ev.pair_level, ev.compared, ev.test_name, ev.pending, rows,
                      dict(ev.left_out))


def _gain_interval(ev: EvaluationData, d: Difference) -> Interval:
    """The interval of the gain (positive = better), whatever the objective's direction."""
    if d.low is None or d.high is None:
        return Interval(None, None, ev.pair_level)
    if ev.objective.direction == "maximize":
        return Interval(d.low, d.high, ev.pair_level)
    return Interval(-d.high, -d.low, ev.pair_level)


def _test_verdicts(ev: EvaluationData) -> list[Verdict]:
    """Each evaluated type against the baseline on the test split, once no run is pending: helps
    or hurts when its simultaneous interval excludes 0, else undecided (the test split has no
    margin, so it never says "no difference")."""
    base = ev.baseline
    if base is None or len(base.values) < 2:
        return []
    out = []
    for g in ev.groups:
        d = g.vs_baseline
        if g.group == "baseline" or d is None or d.low is None:
            continue
        gain = ev.gain(d)
        outcome = (HELPS if gain > 0 else HURTS) if d.significant else "undecided"
        out.append(Verdict(
            type=g.group, label=g.label, split="test", outcome=outcome, point=_point_of(g), axis=(
                "dropout" if g.group == "dropout" else "lambda"),
            effect=gain, effect_text=ev.amount(d.diff), interval=_gain_interval(ev, d),
            seeds=min(len(g.values), len(base.values)), diverged_pairs=0, scope="evaluation", more_seeds=None,
            early_stopping=None, sentence=_test_sentence(ev, g, outcome), configuration=g.describe(),
        ))
    return out


def _point_of(g: GroupResult) -> float | None:
    from sweeper.tasks.hyperparams import dropout_of, lambda_of

    if g.group == "dropout":
        return float(dropout_of(g.params))
    lam = lambda_of(g.params)
    return float(lam) if isinstance(lam, (int, float)) else None


def _test_sentence(ev: EvaluationData, g: GroupResult, outcome: str) -> str:
    """One line per type, from the same numbers as the verdict sentence and the table."""
    d = g.vs_baseline
    assert d is not None and d.low is not None and d.high is not None
    pct = f"{int(ev.level * 100)}% {'simultaneous ' if ev.compared > 1 else ''}CI"
    ci = f"{pct} {ev.amount(d.low, unit=False)} to {ev.amount(d.high, unit=False)}"
    what = {HELPS: "beats the unregularized baseline", HURTS: "is worse than the unregularized baseline",
            "undecided": "is not told from the unregularized baseline beyond noise"}[outcome]
    return f"{g.describe()} {what} on the test split: {ev.amount(d.diff)} ({ci}, {len(g.values)} seeds)"

