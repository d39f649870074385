"""The quick Keras task, storing with each trial how the worker left Python's garbage collector:
tests of ``sweeper.worker.collector`` through a real worker."""

from __future__ import annotations

import gc
from typing import Any

from sweeper import Splits
from tests.support.quick_task import Quick


class GcProbe(Quick):
    name = "gc-probe"

    def extra_metrics(self, model: Any, splits: Splits) -> dict[str, Any]:
        return {"frozen_objects": gc.get_freeze_count(), "collector_enabled": gc.isenabled()}
