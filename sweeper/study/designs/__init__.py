"""A study's design as an object: ``design_of(config.design)`` answers what the code used to ask by
testing the design's name (defaults, checks, the launch queue, the next round, the verdict family,
the page's headline figure). The stored config keeps the name, so studies launched before read
the same."""

from __future__ import annotations

from sweeper.errors import ConfigError
from sweeper.study.designs.adaptive import AdaptiveDesign
from sweeper.study.designs.base import ADD_REPEATS, GROW_BUDGET, GROW_RACE, RESUME_RACE, SAME, Config, Design, Queued
from sweeper.study.designs.curve import CurveDesign
from sweeper.study.designs.search import SearchDesign

SEARCH, CURVE, ADAPTIVE = SearchDesign(), CurveDesign(), AdaptiveDesign()
DESIGNS: dict[str, Design] = {d.name: d for d in (SEARCH, CURVE, ADAPTIVE)}


def design_of(name: str) -> Design:
    """The design a config names; an unknown name is a one-line error."""
    try:
        return DESIGNS[name]
    except KeyError:
        raise ConfigError(f"unknown design {name!r}: use one of {', '.join(DESIGNS)}") from None


__all__ = ["ADAPTIVE", "ADD_REPEATS", "CURVE", "Config", "DESIGNS", "Design", "GROW_BUDGET", "GROW_RACE", "Queued",
           "RESUME_RACE", "SAME", "SEARCH", "design_of"]
