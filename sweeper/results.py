"""What one trial's training produced, as stored with the trial (no Keras needed to read it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")


@dataclass
class TrainingResult:
    history: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in HISTORY_KEYS})
    epochs_run: int = 0
    wall_time_s: float = 0.0
    final: dict[str, float] = field(default_factory=dict)
    sparsity: float | None = None
    diverged_at: int | None = None

    def as_attrs(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "history": self.history,
            "epochs_run": self.epochs_run,
            "wall_time_s": round(self.wall_time_s, 3),
        }
        attrs.update(self.final)
        if self.sparsity is not None:
            attrs["sparsity"] = self.sparsity
        return attrs
