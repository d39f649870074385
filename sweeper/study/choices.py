"""The names a sweep's sampler, pruner and design are chosen from; kept apart from the config (which
imports Optuna) so that ``sweeper --help`` lists them without importing it."""

from __future__ import annotations

SAMPLERS = ("tpe", "random", "qmc", "grid")
PRUNERS = ("median", "hyperband", "none")
DESIGNS = ("search", "curve", "adaptive")
