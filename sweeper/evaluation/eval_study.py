"""A sweep's evaluation study: the test-split re-training of sweep S lives in its own study,
named by ``eval_study_name`` (``S.eval``). Planning it (``sweeper.evaluation.plan``) and reporting
it (``sweeper.report.write``) look it up here."""

from __future__ import annotations

import optuna

from sweeper.study.config import EVAL_SUFFIX, eval_study_name, is_eval_study

__all__ = ["LEFT_OUT_ATTR", "eval_study_name", "find_eval_study", "is_eval_study", "sweep_of"]

# The evaluation study's user attr naming the penalty types the sweep could not put forward
# (group -> why), written by ``plan.prepare`` and read by ``results.collect_evaluation``.
LEFT_OUT_ATTR = "left_out"


def sweep_of(eval_study: str) -> str:
    """The sweep an evaluation study evaluates."""
    return eval_study[: -len(EVAL_SUFFIX)] if is_eval_study(eval_study) else eval_study


def find_eval_study(storage: optuna.storages.BaseStorage, sweep: str) -> optuna.Study | None:
    """The evaluation study of ``sweep``, or None while nothing (``sweeper evaluate``, or a worker
    that saw the sweep's budget met) has created it."""
    name = eval_study_name(sweep)
    try:
        storage.get_study_id_from_name(name)
    except KeyError:
        return None
    return optuna.load_study(study_name=name, storage=storage)
