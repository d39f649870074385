"""The search space shared by every case study, and the only code that touches an Optuna trial.

Models receive a plain ``Hyperparams`` (``sweeper.tasks.hyperparams``, with the names a trial's
params are stored under); ``SearchSpace.suggest`` samples one from a trial.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sweeper.errors import ConfigError
from sweeper.tasks.hyperparams import (
    DEFAULT_L1_RATIO,
    DROPOUT,
    L1_RATIO,
    LAMBDA,
    PENALTIES,
    PENALTY,
    Hyperparams,
    make_params,
)

if TYPE_CHECKING:
    import optuna


@dataclass(frozen=True)
class SearchSpace:
    lambda_low: float = 1e-6
    lambda_high: float = 1e-1
    dropout_low: float = 0.0
    dropout_high: float = 0.6
    penalties: tuple[str, ...] = PENALTIES

    def __post_init__(self) -> None:
        if not (self.lambda_low > 0 and self.lambda_high > 0):
            raise ConfigError(
                f"lambda range {self.lambda_low:g}..{self.lambda_high:g} must be positive "
                "(it is log-uniform): pass e.g. --lambda-range 1e-6 1e-1"
            )
        if not self.lambda_low < self.lambda_high:
            raise ConfigError(
                f"lambda range {self.lambda_low:g}..{self.lambda_high:g} has low >= high: "
                "pass --lambda-range LOW HIGH with LOW < HIGH"
            )
        if not (0.0 <= self.dropout_low <= self.dropout_high < 1.0):
            raise ConfigError(
                f"dropout range {self.dropout_low:g}..{self.dropout_high:g} must satisfy "
                "0 <= low <= high < 1: pass e.g. --dropout-range 0 0.6"
            )
        unknown = [p for p in self.penalties if p not in PENALTIES]
        if unknown or not self.penalties:
            raise ConfigError(
                f"unknown penalties {unknown or '(none given)'}: choose from {', '.join(PENALTIES)}"
            )

    def suggest(self, trial: optuna.trial.BaseTrial) -> Hyperparams:
        penalty = trial.suggest_categorical(PENALTY, list(self.penalties))
        lam = 0.0
        l1_ratio = DEFAULT_L1_RATIO
        if penalty != "none":
            lam = trial.suggest_float(LAMBDA, self.lambda_low, self.lambda_high, log=True)
        if penalty == "l1_l2":
            l1_ratio = trial.suggest_float(L1_RATIO, 0.05, 0.95)
        if self.dropout_low == self.dropout_high:
            dropout = self.dropout_low
        else:
            dropout = trial.suggest_float(DROPOUT, self.dropout_low, self.dropout_high)
        return Hyperparams(penalty=penalty, lam=lam, l1_ratio=l1_ratio, dropout=dropout)

    def grid(self, dropout_levels: int = 3) -> list[dict[str, Any]]:
        """Each penalty crossed with every decade of lambda and a few dropout levels."""
        lo = math.ceil(math.log10(self.lambda_low) - 1e-9)
        hi = math.floor(math.log10(self.lambda_high) + 1e-9)
        lambdas = [10.0**e for e in range(lo, hi + 1)] or [self.lambda_low]
        if self.dropout_low == self.dropout_high:
            dropouts = [self.dropout_low]
        else:
            step = (self.dropout_high - self.dropout_low) / (dropout_levels - 1)
            dropouts = [round(self.dropout_low + i * step, 6) for i in range(dropout_levels)]
        points: list[dict[str, Any]] = []
        for penalty in self.penalties:
            for dropout in dropouts:
                if penalty == "none":
                    points.append(make_params(penalty, dropout=dropout))
                    continue
                points += [make_params(penalty, lam, dropout) for lam in lambdas]
        return points

    def type_starts(self) -> list[dict[str, Any]]:
        """One configuration per kind of regularization in the space, besides the baseline: each
        penalty at the middle of the λ range (log scale) without dropout, and dropout alone at the
        middle of its range. A search queues them after the baseline so that every type has a
        finished trial however the sampler goes."""
        lam = float(f"{math.sqrt(self.lambda_low * self.lambda_high):.2g}")
        starts = [make_params(p, lam, self.dropout_low) for p in self.penalties if p != "none"]
        middle = round((self.dropout_low + self.dropout_high) / 2, 6)
        if "none" in self.penalties and middle > 0:
            starts.append(make_params("none", dropout=middle))
        return starts

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["penalties"] = list(self.penalties)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchSpace:
        data = dict(data)
        if "penalties" in data:
            data["penalties"] = tuple(data["penalties"])
        return cls(**data)


def spread(points: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """``n`` points taken evenly from ``points`` (all of them when n >= len)."""
    if n >= len(points):
        return list(points)
    step = len(points) / n
    return [points[int(i * step)] for i in range(n)]


