"""What a reader must be told before any figure: a study none of whose trials produced a value
(every trial diverged, or raised), and a penalty type none of whose trials produced one. Pure:
sentences from ``ReportData``, which the study page, the index and ``sweeper run`` show."""

from __future__ import annotations

from collections import Counter

from sweeper.report.collect import ReportData
from sweeper.study.points import GROUP_LABELS, GROUPS, TrialPoint

ENDED = ("complete", "pruned", "fail")


def diverged(p: TrialPoint) -> bool:
    return (p.reason or "").startswith("diverged")


def has_result(p: TrialPoint) -> bool:
    return p.state in ("complete", "pruned") and p.value is not None


def study_notes(data: ReportData) -> list[str]:
    """One sentence for a study whose ended trials produced no value at all, else one per group
    (unregularized, dropout only, L1, L2, L1+L2) whose ended trials produced none."""
    ended = [p for p in data.points if p.state in ENDED]
    if not ended:
        return []
    if not any(has_result(p) for p in ended):
        return [no_result(ended)]
    notes = []
    for group in GROUPS:
        mine = [p for p in ended if p.group == group]
        if mine and not any(has_result(p) and not diverged(p) for p in mine):
            notes.append(f"{GROUP_LABELS[group]}: none of its {len(mine)} trial{'s' if len(mine) > 1 else ''} "
                         f"produced a result ({_why(mine)}), so this report says nothing about it")
    lost = [(group, sum(diverged(p) for p in mine), len(mine)) for group in GROUPS
            if (mine := [p for p in ended if p.group == group]) and any(diverged(p) for p in mine)]
    if lost:
        notes.append("Diverged (a NaN or infinite loss; not plotted, listed under the trials without a result): "
                     + ", ".join(f"{GROUP_LABELS[g]} {k} of {n} trial{'s' if n > 1 else ''}" for g, k, n in lost))
    return notes


def no_result(ended: list[TrialPoint]) -> str:
    """Why a study has nothing to plot: every trial diverged (then regularization is not the
    cause when the unregularized baseline diverged too), or failed."""
    n = len(ended)
    baseline = [p for p in ended if p.group == "baseline"]
    if all(diverged(p) for p in ended):
        if baseline:
            return (f"Every trial diverged (a NaN or infinite loss), all {n} of them, the unregularized "
                    "baseline (no penalty, no dropout) too: regularization is not the cause. Look at the "
                    "learning rate (lower it) and at the inputs and targets (NaN values, unscaled features, "
                    "a loss that does not match the output layer), try the task with `sweeper check`, then "
                    "launch it again under a new --study-name.")
        return (f"Every trial diverged (a NaN or infinite loss), all {n} of them; the unregularized baseline "
                "has not run, so whether regularization is the cause is open: look at the learning rate and "
                "the inputs first, and try the task with `sweeper check`.")
    return f"No trial produced a result: {_why(ended)}. Fix the cause and launch again under a new --study-name."


def _why(points: list[TrialPoint]) -> str:
    n_div = sum(diverged(p) for p in points)
    failed = [p for p in points if p.state == "fail"]
    parts = []
    if n_div:
        parts.append(f"{n_div} diverged")
    if failed:
        reason, count = Counter(p.reason or "no reason recorded" for p in failed).most_common(1)[0]
        parts.append(f"{len(failed)} failed, {'all' if count == len(failed) else f'{count} of them'} with {reason}")
    other = len(points) - n_div - len(failed)
    if other:
        parts.append(f"{other} stopped before a first result")
    return "; ".join(parts)
