"""What a task's trials are scored by: a metric the model logs, and its direction."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DIRECTIONS = ("maximize", "minimize")
_METRIC = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Objective:
    """What a trial is scored by: a metric the compiled model logs, measured on the validation
    split (``val_<metric>`` in Keras' logs; the test split under ``sweeper evaluate``), and whether
    higher or lower is better. ``label`` names it in reports (default: the metric's name)."""

    metric: str = "accuracy"
    direction: str = "maximize"
    label: str | None = None

    def __post_init__(self) -> None:
        if not _METRIC.match(self.metric) or self.metric.startswith("val_"):
            raise ValueError(
                f"Objective metric {self.metric!r} must be a Keras metric name such as 'accuracy', "
                "'auc' or 'loss' (without 'val_': it is always measured on the validation split)"
            )
        if self.direction not in DIRECTIONS:
            raise ValueError(f"Objective direction {self.direction!r} must be 'maximize' or 'minimize'")

    @property
    def log_key(self) -> str:
        """The key of Keras' epoch logs the trial is scored by."""
        return f"val_{self.metric}"

    @property
    def name(self) -> str:
        """A short name: the label, or the metric with underscores as spaces."""
        return self.label or self.metric.replace("_", " ")

    def on(self, split: str) -> str:
        """E.g. ``validation accuracy`` or ``test AUC``."""
        return f"{split} {self.name}"

    @property
    def in_points(self) -> bool:
        """Differences read as percentage points: a fraction that is maximized (accuracy, AUC).
        Losses and errors are minimized and shown as plain differences."""
        return self.direction == "maximize"

    def better(self, a: float, b: float) -> bool:
        """Whether value ``a`` is better than ``b``."""
        return a > b if self.direction == "maximize" else a < b

    def worst(self) -> float:
        return -math.inf if self.direction == "maximize" else math.inf

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "direction": self.direction, "label": self.label}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Objective:
        return cls(**dict(data)) if data else cls()
