"""Which study a worker serves next: every study whose budget has room, least progress first.

Budget rule: a study is done when ``complete + pruned == budget``. A study whose budget is met is
read again first (a launch may have planned more since: a curve study's new repeats), then asked
what comes next (``sweeper.evaluation.stages.next_stage``: a race's next round grows its budget; a
sweep launched with ``--evaluate-seeds`` gets its evaluation study, which joins the studies served).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sweeper.errors import ConfigError
from sweeper.evaluation.stages import next_stage
from sweeper.storage.counts import TrialCounts, count_trials
from sweeper.study.config import SweepConfig
from sweeper.worker.studies import ServedStudies, ServedStudy


@dataclass
class Round:
    """One look at every study: the open ones in the order to try them, and the studies that
    joined (evaluations queued in this look, served from the next)."""

    open: list[tuple[str, TrialCounts]] = field(default_factory=list)
    joined: list[str] = field(default_factory=list)


def next_round(names: list[str], studies: ServedStudies) -> Round:
    """Count every study in ``names`` that is not set aside; the open ones least progress first
    (ties by name), each with the counts just read, or with what the worker knows of them
    without counting (``known_counts``)."""
    found: list[tuple[float, str, TrialCounts]] = []
    joined: list[str] = []
    for name in names:
        if name in studies.set_aside:
            continue
        try:
            served = studies.get(name)
        except ConfigError as exc:  # launched by another sweeper/Optuna version
            studies.put_aside(name, exc)
            continue
        counts = known_counts(served) or count_trials(served.study)
        if counts.finished >= served.config.budget:
            # A launch may have planned more since (a curve study's new repeats).
            served = studies.reload(name)
            if counts.finished >= served.config.budget:
                # What comes next (a race's next round, the evaluation) is launch work.
                step = next_stage(studies.settings, studies.storage, served.study, served.config, counts,
                                  raced=served.raced, evaluated=served.evaluated)
                served = studies.take(name, step)
                counts = step.counts
                if step.evaluation and step.evaluation not in names and step.evaluation not in joined:
                    joined.append(step.evaluation)
        if counts.finished < served.config.budget:
            found.append((counts.finished / served.config.budget, name, counts))
            if not planned_design(served.config):
                # Kept for a later round in which the worker claims in another study.
                served.counts = counts
    return Round([(name, counts) for _, name, counts in sorted(found, key=lambda o: o[:2])], joined)


def known_counts(served: ServedStudy) -> TrialCounts | None:
    """The counts the worker last read or worked out for a study (``ServedStudy.counts``, used
    once), as an estimate, when they leave room for a claim: the claim's transaction counts
    anyway, and refuses it when the budget is in fact met (the worker then counts afresh). None
    when the study must be counted: nothing known, a full budget (what to do then, wait, end or
    start the next stage, needs exact counts), or a planned design (every trial queued: a claim
    that found the queue empty would sample a trial the plan has no place for)."""
    known, served.counts = served.counts, None
    if known is None or planned_design(served.config):
        return None
    if known.finished + known.running >= served.config.budget:
        return None
    return replace(known, estimated=True)


def planned_design(config: SweepConfig) -> bool:
    """Whether every trial of the study is a planned run (queued, never sampled)."""
    return config.kind == "evaluate" or config.design in ("curve", "adaptive")
