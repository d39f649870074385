"""The planned response curves (``--design curve``, ``sweeper.study.design``): every configuration
× repeat queued at launch, a relaunch with more ``--repeats`` adds only the new ones, and every
point is compared with the baseline at one family-wise level spent over open-ended looks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sweeper.errors import ConfigError
from sweeper.stats.verdicts import Family
from sweeper.study.choices import SHAPE_DEFAULTS
from sweeper.study.design import COMPARISONS_PER_POINT, curve_configs, curve_runs
from sweeper.study.designs.base import ADD_REPEATS, Config, Design, Queued
from sweeper.study.space import SearchSpace


class CurveDesign(Design):
    name = "curve"
    defaults = SHAPE_DEFAULTS["curve"]
    planned = True
    verdict_source = "the response curves"
    ranks_by_mean = True

    def shape(self, given: Mapping[str, Any]) -> dict[str, Any]:
        if given.get("rounds") is not None:
            raise ConfigError("--rounds sets an adaptive design's race: add --design adaptive")
        return {**{k: given.get(k) if given.get(k) is not None else v for k, v in self.defaults.items()},
                "margin": given.get("margin")}

    def check(self, config: Config) -> None:
        _check_shape(config.points, config.repeats)

    def settle(self, values: dict[str, Any], space: SearchSpace, budget: int | None) -> int:
        """Every trial is planned: the budget is their count, nothing to sample or prune.
        (--trials, e.g. compose's default, does not apply: the CLI says so when it differs.)"""
        _check_shape(values.get("points") or 0, values.get("repeats") or 0)
        if values.get("pruner") not in (None, "none") or values.get("sampler") not in (None, "random"):
            raise ConfigError("a curve design trains every planned trial to the end: leave --pruner and --sampler out")
        values.update(pruner="none", sampler="random")
        return len(curve_configs(space, values.get("points") or 0)) * (values.get("repeats") or 1)

    def relaunch(self, name: str, stored: Config, config: Config) -> str:
        """More --repeats queue the (configuration, repeat) pairs the study lacks; nothing else
        may change, and repeats are never removed."""
        if config.design != stored.design or config.repeats == stored.repeats:
            return super().relaunch(name, stored, config)
        diffs = [d for d in config.differences(stored) if not d.startswith(("repeats:", "budget:"))]
        if diffs:
            raise ConfigError(
                f"study {name!r} was launched with other settings ({'; '.join(diffs)}): only --repeats may "
                "change for a curve study; pick a new --study-name for the rest"
            )
        if config.repeats < stored.repeats:
            raise ConfigError(
                f"study {name!r} already plans {stored.repeats} repeats: --repeats adds repeats and never "
                f"removes them; give at least {stored.repeats}"
            )
        return ADD_REPEATS

    def launch_queue(self, config: Config) -> list[Queued]:
        return [Queued(r.params, r.user_attrs()) for r in curve_runs(config.space, config.points, config.repeats,
                                                                   config.seed)]

    def family(self, points: int, rounds: int | None = None) -> Family:
        """Every planned point, at its last epoch and stopped early, over as many looks as the
        user asks for (each relaunch with more repeats is one)."""
        return Family(max(1, COMPARISONS_PER_POINT * points), looks=None)

    def planned_points(self, config: Config) -> int | None:
        """Every configuration but the baseline."""
        if not config.points:
            return None
        return sum(1 for c in curve_configs(config.space, config.points)
                   if not (c.get("penalty") == "none" and float(c.get("dropout", 0.0)) == 0.0))

    def trials_note(self, name: str, trials: int | None, config: Config) -> str | None:
        if trials is None or trials == config.budget:
            return None
        return (f"study {name}: --trials {trials} does not apply to a curve design, which plans "
                f"{config.budget} trials (its configurations times --repeats)")


def _check_shape(points: int, repeats: int) -> None:
    if points < 2 or repeats < 1:
        raise ConfigError(f"a curve design needs --points >= 2 and --repeats >= 1, got {points} and {repeats}")
