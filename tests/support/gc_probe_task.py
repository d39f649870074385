"""The quick Keras task, storing with each trial how the worker left Python's garbage collector:
tests of ``sweeper.collector`` through a real worker."""

from __future__ import annotations

import gc
from typing import Any

from sweeper.tasks import Splits
from tests.support.quick_task import DATASET, DEFAULTS, MODEL, build_model, load_data

NAME = "gc-probe"
__all__ = ["DATASET", "DEFAULTS", "MODEL", "NAME", "build_model", "extra_metrics", "load_data"]


def extra_metrics(model: Any, splits: Splits) -> dict[str, Any]:
    return {"frozen_objects": gc.get_freeze_count(), "collector_enabled": gc.isenabled()}
