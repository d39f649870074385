"""The planned response-curve design (``sweeper launch TASK --design curve``), beside the adaptive
search: the configurations it queues, and the seed of each repeat.

For each weight penalty in the search space, λ at ``points`` log-spaced values over the λ range
with no dropout; dropout alone at ``points`` rates up to the top of the dropout range (rate 0 is
the baseline); and the unregularized baseline. Every configuration is trained ``repeats`` times,
repeat r with the same training seed for every configuration (common random numbers: the same
initial weights and batch order), so each point's spread is seed noise and two configurations
compare repeat by repeat. Pure: no storage here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any

from sweeper.storage.attrs import CURVE_ROLE, FIXED_SEED, REPEAT, ROLE, STAGE
from sweeper.study.space import SearchSpace
from sweeper.tasks.hyperparams import BASELINE_PARAMS, make_params

L1_RATIO = 0.5  # the L1+L2 curve splits λ evenly between the two penalties
# Each point is compared with the baseline twice: at its last epoch, and stopped early.
COMPARISONS_PER_POINT = 2


@dataclass(frozen=True)
class CurveRun:
    """One queued trial of a curve study: a configuration and its repeat."""

    params: dict[str, Any]
    repeat: int
    seed: int
    # An adaptive study's stage ("screen" or "confirm", sweeper.study.adaptive); None in a fixed design.
    stage: str | None = None

    def key(self) -> tuple[Any, ...]:
        return (tuple(sorted((k, round(v, 12) if isinstance(v, float) else v) for k, v in self.params.items())), self.repeat)

    def user_attrs(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {ROLE: CURVE_ROLE, REPEAT: self.repeat, FIXED_SEED: self.seed}
        if self.stage is not None:
            attrs[STAGE] = self.stage
        return attrs


def repeat_of(attrs: Mapping[str, Any]) -> int | None:
    """The repeat of a curve study's trial (from its user attrs), None for any other trial."""
    return attrs.get(REPEAT)


def lambdas(space: SearchSpace, points: int) -> list[float]:
    """``points`` values log-spaced over the λ range, both ends included."""
    lo, hi = math.log10(space.lambda_low), math.log10(space.lambda_high)
    return [float(f"{10 ** (lo + (hi - lo) * i / (points - 1)):.6g}") for i in range(points)]


def dropout_rates(space: SearchSpace, points: int) -> list[float]:
    """``points`` rates evenly spaced up to the top of the dropout range; a range starting at 0
    leaves rate 0 to the baseline. None when the range is a single value."""
    lo, hi = space.dropout_low, space.dropout_high
    if hi <= lo:
        return []
    if lo == 0.0:
        return [round(hi * i / points, 6) for i in range(1, points + 1)]
    return [round(lo + (hi - lo) * i / (points - 1), 6) for i in range(points)]


def curve_configs(space: SearchSpace, points: int) -> list[dict[str, Any]]:
    """The configurations of a curve study: the baseline first (when ``none`` is a penalty in the
    space), then each penalty's λ points, then the dropout points."""
    configs: list[dict[str, Any]] = []
    with_none = "none" in space.penalties
    if with_none:
        configs.append(dict(BASELINE_PARAMS))
    base_dropout = space.dropout_low
    for penalty in space.penalties:
        if penalty == "none":
            continue
        configs += [make_params(penalty, lam, base_dropout, L1_RATIO) for lam in lambdas(space, points)]
    if with_none:
        configs += [make_params("none", dropout=rate) for rate in dropout_rates(space, points)]
    return configs


def repeat_seed(base_seed: int, repeat: int) -> int:
    """The training seed of repeat ``repeat``, the same for every configuration of the study."""
    return (base_seed * 1_000_003 + 7919 * (repeat + 1)) % (2**31 - 1)


def curve_runs(space: SearchSpace, points: int, repeats: int, base_seed: int) -> list[CurveRun]:
    """Every (configuration, repeat) of the design, repeat by repeat so that a study stopped
    early has whole curves of the first repeats rather than all repeats of a few points."""
    configs = curve_configs(space, points)
    return [CurveRun(dict(c), r, repeat_seed(base_seed, r)) for r in range(repeats) for c in configs]
