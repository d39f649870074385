"""What one trial's training produced, as stored with the trial (no Keras needed to read it)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


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
            "history": self.history,
            "epochs_run": self.epochs_run,
            "wall_time_s": round(self.wall_time_s, 3),
        }
        attrs.update(self.final)
        if self.sparsity is not None:
            attrs["sparsity"] = self.sparsity
        attrs.update(self.extra)
        return attrs
