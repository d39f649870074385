"""What one trial's training produced, as stored with the trial (no Keras needed to read it):
written by ``TrainingResult.as_attrs`` and read back by ``StoredResult.from_attrs``, so the names
of a trial's result attrs are spelled here only."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The user attrs a trial's result is stored under, beside its final metrics (``train_<metric>``,
# ``val_<metric>``, ``train_loss``, ``val_loss``) and the task's extra metrics.
HISTORY, EPOCHS_RUN, WALL_TIME, SPARSITY = "history", "epochs_run", "wall_time_s", "sparsity"
# Why a trial ended early (pruned, diverged) or failed: stored beside its result by the worker.
STOP_REASON, FAIL_REASON = "stop_reason", "fail_reason"
FINAL_PREFIXES = ("train_", "val_")


def train_key(metric: str) -> str:
    """The attr (and final metric) of ``metric`` re-measured on train."""
    return f"train_{metric}"


@dataclass
class TrainingResult:
    # Per-epoch Keras logs: loss, val_loss, the objective's metric and its val_ twin, and accuracy
    # when the model logs it (None where a value was not finite).
    history: dict[str, list[float | None]] = field(default_factory=dict)
    epochs_run: int = 0
    wall_time_s: float = 0.0
    # Final values: train_<metric> re-measured without dropout, val_<metric> of the last epoch.
    final: dict[str, float] = field(default_factory=dict)
    sparsity: float | None = None
    diverged_at: int | None = None
    # The task's extra_metrics.
    extra: dict[str, Any] = field(default_factory=dict)

    def record_epoch(self, epoch: int, logs: dict[str, float], keys: tuple[str, ...]) -> None:
        for key in keys:
            value = logs.get(key)
            if value is None and key not in self.history:
                continue
            self.history.setdefault(key, [None] * epoch)
            self.history[key].append(value if value is not None and math.isfinite(value) else None)
        self.epochs_run = epoch + 1

    def as_attrs(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            HISTORY: self.history,
            EPOCHS_RUN: self.epochs_run,
            WALL_TIME: round(self.wall_time_s, 3),
        }
        attrs.update(self.final)
        if self.sparsity is not None:
            attrs[SPARSITY] = self.sparsity
        attrs.update(self.extra)
        return attrs


@dataclass(frozen=True)
class StoredResult:
    """A trial's result read back from its user attrs; None (or empty) where nothing is stored: a
    queued trial, or one that failed before it trained."""

    history: dict[str, list[float | None]]
    epochs_run: int | None
    wall_time_s: float | None
    sparsity: float | None
    final: dict[str, float]  # train_<metric>, val_<metric>, train_loss, val_loss, as stored
    reason: str | None  # why it stopped early or failed

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> StoredResult:
        return cls(
            history=attrs.get(HISTORY) or {},
            epochs_run=attrs.get(EPOCHS_RUN),
            wall_time_s=attrs.get(WALL_TIME),
            sparsity=attrs.get(SPARSITY),
            final={k: v for k, v in attrs.items() if k.startswith(FINAL_PREFIXES)},
            reason=attrs.get(STOP_REASON) or attrs.get(FAIL_REASON),
        )

    def train(self, metric: str) -> float | None:
        """``metric`` re-measured on train (``loss`` or the objective's metric)."""
        return self.final.get(train_key(metric))

    def val(self, metric: str) -> float | None:
        """``metric`` on validation at the last epoch."""
        return self.final.get(f"val_{metric}")
