"""The sentence a study's page and the index lead with (pure): what is known now, and what it would
take to know more, so that a reader can act on it without running another command first.

- A finished test-split evaluation: its verdict (it holds at 95%, for every type it names).
- A planned study: the race's or the curves' verdicts in brief: which types are decided, how, and
  for the undecided ones about how many more seeds, trials and minutes would settle them.
- A search: the best setting per type, said to be one run each (nothing a search prints is a
  tested comparison), the types with no finished trial, and what the adaptive design would cost
  at this study's measured trial time.
"""

from __future__ import annotations

import math
import statistics

from sweeper.report.collect import ReportData
from sweeper.report.outcomes import diverged
from sweeper.stats.verdicts import HELPS, HURTS, NO_DIFFERENCE, NO_GAIN, change
from sweeper.study.designs import ADAPTIVE, design_of
from sweeper.study.points import GROUP_LABELS, GROUPS, TrialPoint


def headline(data: ReportData, curves=None) -> str:  # type: ignore[no-untyped-def]
    """One sentence: what is known now and what it would take to decide. ``curves``: the planned
    study's ``ResponseCurves`` when the caller has them (else worked out here)."""
    trouble = most_diverged_or_stuck(data)
    if trouble:
        return trouble
    planned = design_of(data.design).planned and bool(data.config)
    if planned and curves is None:
        from sweeper.report.curves import response_curves

        curves = response_curves(data)
    ev = data.evaluation
    if ev is not None and ev.runs and not ev.pending:
        # The test split leads; a planned study's decided validation verdicts follow, since a
        # few test seeds often cannot confirm what the race decided on many fresh seeds.
        decided = _decisions(data, curves)[0] if planned else []
        on_validation = f" On validation ({_source(data)}): {'; '.join(decided)}." if decided else ""
        return f"On the test split: {ev.verdict()}.{on_validation}"
    if planned:
        return _planned(data, curves)
    return _search(data)


def _source(data: ReportData) -> str:
    return "the race" if design_of(data.design).races else "the response curves"


def most_diverged_or_stuck(data: ReportData) -> str:
    """What must be said before anything else: most trials diverged, or most finished at one
    value (a model at chance learns nothing, whatever its settings); else ""."""
    ended = [p for p in data.points if p.state in ("complete", "pruned", "fail")]
    n_div = sum(diverged(p) for p in ended)
    if ended and n_div > len(ended) / 2:
        base = [p for p in ended if p.group == "baseline"]
        base_div = sum(diverged(p) for p in base)
        cause = (f", the unregularized baseline's in {base_div} of {len(base)}: regularization is not the cause"
                 if base_div else "")
        return (f"Most trials diverged: {n_div} of {len(ended)} (a NaN or infinite loss){cause}. Lower the learning "
                "rate or scale the inputs (`sweeper check` probes the task), then launch again; the rest of this "
                "page rests on the few that did not.")
    finals = [round(p.value, 6) for p in ended if p.state == "complete" and p.value is not None and math.isfinite(p.value)]
    if len(finals) >= 3:
        value, count = max(((v, finals.count(v)) for v in set(finals)), key=lambda vc: vc[1])
        if count > len(finals) / 2:
            return (f"Most trials learned nothing: {count} of {len(finals)} finished at the same "
                    f"{data.objective.on('validation')}, {value:.4g}, whatever their settings (a model at chance). "
                    "Check the inputs' scale, the labels and the learning rate with `sweeper check`; no setting can be "
                    "told from another here.")
    return ""


def trial_seconds(data: ReportData) -> float | None:
    """The median wall time of this study's complete trials."""
    times = [p.wall_time_s for p in data.points if p.state == "complete" and p.wall_time_s]
    return statistics.median(times) if times else None


def cost(trials: int, seconds: float | None, how: str = "about") -> str:
    """``about 130 trials, ≈ 26 min at the measured 12 s a trial with one worker``."""
    if seconds is None:
        return f"{how} {trials} trials"
    minutes = trials * seconds / 60
    when = f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.1f} h"
    return f"{how} {trials} trials, ≈ {when} at the measured {seconds:.3g} s a trial with one worker"


def _decisions(data: ReportData, curves) -> tuple[list[str], list[str], int, str | None]:  # type: ignore[no-untyped-def]
    """The planned study's verdicts in brief: (decided, undecided types, the most seeds one of
    them needs, or a sentence that must replace the headline: the race stopped, runs pending)."""
    decided: list[str] = []
    open_: list[str] = []
    more = 0
    for group in GROUPS:
        v = curves.decisions.get(group)
        if v is None:
            continue
        label = GROUP_LABELS[group]
        c = v.quoted
        if v.outcome == HELPS and c is not None:
            decided.append(f"{label} helps ({change(data.objective, c.gain.diff)})")
        elif v.outcome == HURTS and c is not None:
            decided.append(f"{label} hurts ({change(data.objective, c.gain.diff)})")
        elif v.outcome in (NO_DIFFERENCE, NO_GAIN):
            decided.append(f"{label}: {v.outcome}")
        elif v.outcome == "stopped":
            return [], [], 0, f"Nothing is decided: {curves.race_text.removeprefix('race stopped: ')}."
        elif v.outcome == "pending":
            return [], [], 0, (f"Verdicts once all {curves.planned} planned runs have finished ({curves.pending} to go); "
                               "the curves below are what has arrived.")
        else:
            # A type undecided at its last epoch may still be decided against early stopping
            # (IMDb's L2 in docs/findings.md): that is a tested claim, and the headline says it.
            early = v.early.outcome(curves.margin) if v.early is not None and curves.margin is not None else None
            if early == HELPS:
                decided.append(f"{label} helps on top of early stopping ({change(data.objective, v.early.gain.diff)}; "
                               "undecided at the last epoch)")
            elif early == HURTS:
                decided.append(f"{label}: early stopping alone does better ({change(data.objective, v.early.gain.diff)}; "
                               "undecided at the last epoch)")
            open_.append(label)
            more = max(more, v.more_seeds or 0)
    return decided, open_, more, None


def _planned(data: ReportData, curves) -> str:  # type: ignore[no-untyped-def]
    decided, open_, more, instead = _decisions(data, curves)
    if instead is not None:
        return instead
    known = "; ".join(decided) if decided else "nothing decided yet"
    if not open_:
        return f"{known[0].upper()}{known[1:]} (95% for all verdicts at once)."
    racing = curves.stage is not None and curves.stage != "done"
    stopped = [GROUP_LABELS[g] for g in GROUPS if (v := curves.decisions.get(g)) is not None and v.stopped is not None]
    its, it = ("its", "it") if len(stopped) == 1 else ("their", "them")
    why = f"stopped early: {its} seeds could not decide {it} within the planned rounds"
    stopped_text = f"{', '.join(stopped)} {why}" if stopped else ""
    if racing:
        still = [label for label in open_ if label not in stopped]
        parts = [known] + ([f"still racing: {', '.join(still)} ({curves.race_text})"] if still else [])
        parts += [f"undecided: {stopped_text}"] if stopped else []
        text = "; ".join(parts)
        return f"{text[0].upper()}{text[1:]}."
    seconds = trial_seconds(data)
    growing = sorted(((v.more_seeds, v.more_rounds, GROUP_LABELS[g]) for g in GROUPS
                      if (v := curves.decisions.get(g)) is not None and v.outcome == "undecided"
                      and v.more_rounds and v.more_seeds and curves.grow_command))
    if growing:
        # Per type, cheapest first: a race grows for the one it can settle soonest.
        (seeds, rounds, label), *rest = growing
        # The added rounds also go to the other undecided finalists they give a chance (each with
        # the baseline's seeds): with more than one, the trials are a bound, not a figure.
        trials = cost(2 * seeds, seconds) if not rest else cost((2 + len(rest)) * seeds, seconds, "at most")
        need = (f"{label} would take about {seeds} more seeds, {trials}: "
                f"{curves.grow_text(rounds)}" + "".join(f"; {lab} about {n}" for n, _, lab in rest))
        if stopped and set(stopped) == set(open_):
            stop = f" ({why})"
        else:
            stop = f"; {stopped_text}" if stopped else ""
        return f"{known[0].upper()}{known[1:]}; undecided: {', '.join(open_)}{stop}. To settle them, {need}."
    if more:
        trials = more * (len(open_) + 1)
        need = f"about {more} more seeds each would settle them: {cost(trials, seconds)}"
    else:
        need = "the seeds show no spread to say how many more would settle them"
    return f"{known[0].upper()}{known[1:]}; undecided: {', '.join(open_)} ({need})."


def _search(data: ReportData) -> str:
    best = data.best_per_group()
    parts = []
    for group in GROUPS:
        if group in best:
            parts.append(f"{GROUP_LABELS[group]} {_value(data, best[group].value)}{_where(best[group])}")
    missing = [g for g in GROUPS if g not in best and any(p.group == g for p in data.points)]
    absent = ""
    if missing:
        absent = "; no finished trial: " + ", ".join(
            f"{GROUP_LABELS[g]} ({_why(data, g)})" for g in missing)
    seconds = trial_seconds(data)
    from sweeper.study.adaptive import plan
    from sweeper.study.space import SearchSpace

    config = data.config or {}
    points, repeats, rounds = (ADAPTIVE.defaults[k] for k in ("points", "repeats", "rounds"))
    space = SearchSpace.from_dict(config["space"]) if config.get("space") else SearchSpace()
    bound = plan(space, points, repeats, rounds, 0, data.objective, []).trials_left(repeats)
    task = config.get("task") or data.task or data.study
    if not parts:
        return f"No trial has finished yet{absent}."
    return (f"Best {data.objective.on('validation')} per type, one run each (a search ranks single runs, "
            f"so nothing here is decided): {', '.join(parts)}{absent}. To decide whether each helps, run "
            f"`sweeper run {task} --design adaptive`: {cost(bound, seconds, 'at most')}.")


def _value(data: ReportData, value: float | None) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.1f}%" if data.objective.in_points else f"{value:.4g}"


def _where(p: TrialPoint) -> str:
    if p.group == "baseline":
        return ""
    if p.group == "dropout":
        return f" (rate {p.dropout:.2g})"
    return f" (λ ≈ {p.lam:.1e}{'' if not p.dropout else f', dropout {p.dropout:.2g}'})".replace("e-0", "e-")


def _why(data: ReportData, group: str) -> str:
    mine = [p for p in data.points if p.group == group]
    n_div = sum(diverged(p) for p in mine)
    pruned = sum(p.state == "pruned" and not diverged(p) for p in mine)
    failed = sum(p.state == "fail" for p in mine)
    running = sum(p.state in ("running", "waiting") for p in mine)
    parts = [f"{n} {what}" for n, what in ((pruned, "pruned"), (n_div, "diverged"), (failed, "failed"),
                                            (running, "running")) if n]
    return ", ".join(parts) or "none tried"
