"""What a task's model is built from (``Hyperparams``), and the one schema of a trial's stored
parameters: their names, and the conversion between a ``Hyperparams`` and a params dict.

Every reader and writer of a trial's params (the search space, the planned designs, the report's
points, the evaluation) goes through here, so the names are spelled once. ``lambda`` is stored
only when a penalty is chosen and ``l1_ratio`` only for ``l1_l2``, so the parameter importances and
plots never see meaningless values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sweeper.errors import ConfigError

PENALTIES = ("none", "l1", "l2", "l1_l2")
# The names a trial's params are stored under.
PENALTY, LAMBDA, L1_RATIO, DROPOUT = "penalty", "lambda", "l1_ratio", "dropout"
DEFAULT_L1_RATIO = 0.5
BASELINE_PARAMS: dict[str, Any] = {PENALTY: "none", DROPOUT: 0.0}


@dataclass(frozen=True)
class Hyperparams:
    """Plain regularization settings a model is built from."""

    penalty: str = "none"
    lam: float = 0.0
    l1_ratio: float = DEFAULT_L1_RATIO
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.penalty not in PENALTIES:
            raise ConfigError(f"unknown penalty {self.penalty!r}: use one of {', '.join(PENALTIES)}")

    @property
    def l1(self) -> float:
        if self.penalty == "l1":
            return self.lam
        if self.penalty == "l1_l2":
            return self.lam * self.l1_ratio
        return 0.0

    @property
    def l2(self) -> float:
        if self.penalty == "l2":
            return self.lam
        if self.penalty == "l1_l2":
            return self.lam * (1.0 - self.l1_ratio)
        return 0.0

    def kernel_regularizer(self) -> Any:
        """A fresh Keras regularizer for one kernel, or None for no penalty."""
        if self.penalty == "none" or self.lam == 0.0:
            return None
        import keras

        return keras.regularizers.L1L2(l1=self.l1, l2=self.l2)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Hyperparams:
        """Rebuild from a trial's stored params (the inverse of ``SearchSpace.suggest``)."""
        penalty = penalty_of(params)
        return cls(
            penalty=penalty,
            lam=float(params.get(LAMBDA, 0.0)) if penalty != "none" else 0.0,
            l1_ratio=float(params.get(L1_RATIO, DEFAULT_L1_RATIO)),
            dropout=dropout_of(params),
        )

    def describe(self) -> str:
        if self.penalty == "none":
            return f"penalty=none dropout={self.dropout:.2f}"
        extra = f" l1_ratio={self.l1_ratio:.2f}" if self.penalty == "l1_l2" else ""
        return f"penalty={self.penalty} lambda={self.lam:.2e}{extra} dropout={self.dropout:.2f}"


def make_params(penalty: str, lam: float | None = None, dropout: float = 0.0,
                l1_ratio: float = DEFAULT_L1_RATIO) -> dict[str, Any]:
    """The params of a configuration as a trial stores them: ``lambda`` only with a penalty,
    ``l1_ratio`` only for ``l1_l2``."""
    if penalty == "none":
        return {PENALTY: penalty, DROPOUT: dropout}
    params: dict[str, Any] = {PENALTY: penalty, LAMBDA: lam, DROPOUT: dropout}
    if penalty == "l1_l2":
        params[L1_RATIO] = l1_ratio
    return params


def has_penalty(params: Mapping[str, Any]) -> bool:
    """Whether the params name a configuration at all (a trial that failed before its params
    were set has none)."""
    return PENALTY in params


def penalty_of(params: Mapping[str, Any]) -> str:
    return params.get(PENALTY, "none")


def lambda_of(params: Mapping[str, Any]) -> Any:
    """The stored λ, or None without a penalty (or when none is stored)."""
    return params.get(LAMBDA) if penalty_of(params) != "none" else None


def l1_ratio_of(params: Mapping[str, Any]) -> Any:
    """The stored ``l1_ratio`` (only ``l1_l2`` stores one), else None."""
    return params.get(L1_RATIO)


def dropout_of(params: Mapping[str, Any]) -> float:
    return float(params.get(DROPOUT, 0.0))
