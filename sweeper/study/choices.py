"""The names a sweep's sampler, pruner and design are chosen from; kept apart from the config (which
imports Optuna) so that ``sweeper --help`` lists them without importing it."""

from __future__ import annotations

SAMPLERS = ("tpe", "random", "qmc", "grid")
PRUNERS = ("median", "hyperband", "none")
DESIGNS = ("search", "curve", "adaptive")
# Trials of a search when --trials is not given (a grid sampler's: its size).
DEFAULT_TRIALS = 20
# The defaults of a planned design's shape options (``sweeper.study.designs``, the CLI's help).
SHAPE_DEFAULTS = {"search": {}, "curve": {"points": 5, "repeats": 3}, "adaptive": {"points": 3, "repeats": 6, "rounds": 3}}
