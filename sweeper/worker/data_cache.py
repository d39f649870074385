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
    loaded: dict[tuple[str, DataRequest], Splits] = field(default_factory=dict)

    def has(self, config: SweepConfig) -> bool:
        return (config.task, config.data_request()) in self.loaded

    def for_config(self, task: LoadedTask, config: SweepConfig) -> Splits:
        key = (config.task, config.data_request())
        if key not in self.loaded:
            self.loaded[key] = load_splits(task, self.settings, key[1])
        splits = self.loaded[key]
        return splits.for_evaluation() if config.kind == "evaluate" else splits
