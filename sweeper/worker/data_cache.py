"""Each data set is loaded once per worker process and reused by every trial that needs it."""

from __future__ import annotations

from dataclasses import dataclass, field

from sweeper.settings import Settings
from sweeper.study.config import SweepConfig
from sweeper.tasks import DataRequest, LoadedTask, Splits
from sweeper.tasks.invoke import load_splits


@dataclass
class DataCache:
    settings: Settings
    # (task reference, request, kind) -> splits; an evaluation's (train + validation, scored on
    # test) is derived once from the search's and kept beside it, not rebuilt every trial.
    loaded: dict[tuple[str, DataRequest, str], Splits] = field(default_factory=dict)

    def has(self, config: SweepConfig) -> bool:
        return (config.task, config.data_request(), "search") in self.loaded

    def for_config(self, task: LoadedTask, config: SweepConfig) -> Splits:
        request = config.data_request()
        key = (config.task, request, config.kind)
        if key not in self.loaded:
            base = (config.task, request, "search")
            if base not in self.loaded:
                self.loaded[base] = load_splits(task, self.settings, request)
            if config.kind == "evaluate":
                self.loaded[key] = self.loaded[base].for_evaluation()
        return self.loaded[key]
