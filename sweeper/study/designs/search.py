"""The search (``--design search``, the default): the sampler proposes, after the baseline and one
trial per type queued at launch (a grid's points instead of those for ``--sampler grid``); nothing
is planned by seed, so the page ranks single runs and tests nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sweeper.errors import ConfigError
from sweeper.study.choices import DEFAULT_TRIALS
from sweeper.storage.attrs import BASELINE_ROLE, GRID_ROLE, ROLE, TYPE_START_ROLE
from sweeper.study.designs.base import GROW_BUDGET, Config, Design, Queued
from sweeper.study.space import SearchSpace, spread
from sweeper.tasks.hyperparams import BASELINE_PARAMS



class SearchDesign(Design):
    name = "search"

    def shape(self, given: Mapping[str, Any]) -> dict[str, Any]:
        if given.get("rounds") is not None:
            raise ConfigError("--rounds sets an adaptive design's race: add --design adaptive")
        if any(given.get(k) is not None for k in ("points", "repeats", "margin")):
            raise ConfigError("--points, --repeats and --margin shape a planned design: add --design curve or --design adaptive")
        return {}

    def settle(self, values: dict[str, Any], space: SearchSpace, budget: int | None) -> int:
        if budget is not None:
            return budget
        return len(space.grid()) if values.get("sampler") == "grid" else DEFAULT_TRIALS

    def relaunch(self, name: str, stored: Config, config: Config) -> str:
        """A larger --trials grows the budget (workers re-read it when theirs is met); a smaller
        one would strand finished trials."""
        diffs = config.differences(stored)
        if config.design == stored.design and diffs and all(d.startswith("budget:") for d in diffs):
            if config.budget < stored.budget:
                raise ConfigError(
                    f"study {name!r} has a budget of {stored.budget} trials and a budget only grows: give "
                    f"--trials {stored.budget} or more, or pick a new --study-name"
                )
            return GROW_BUDGET
        return super().relaunch(name, stored, config)

    def launch_queue(self, config: Config) -> list[Queued]:
        """The unregularized baseline first (unless --penalties leaves out none: it would only
        fail), then one trial of each type, so that none is left without a finished trial when
        the sampler favours another; a grid's points instead of those (the grid covers every
        type already)."""
        baseline = "none" in config.space.penalties
        queue = [Queued(dict(BASELINE_PARAMS), {ROLE: BASELINE_ROLE})] if baseline else []
        if config.sampler != "grid":
            queue += [Queued(p, {ROLE: TYPE_START_ROLE})
                      for p in config.space.type_starts()[: max(0, config.budget - baseline)]]
        else:
            points = [p for p in config.space.grid() if p != BASELINE_PARAMS]
            queue += [Queued(p, {ROLE: GRID_ROLE}) for p in spread(points, config.budget - 1)]
        return queue
