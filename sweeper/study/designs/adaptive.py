"""The adaptive race (``--design adaptive``, ``sweeper.study.adaptive``): the bracket queued at
launch, then screening and confirmation rounds queued by workers as each stage finishes; each
type's finalist is compared with the baseline on fresh seeds, α spent over the planned rounds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from optuna.trial import FrozenTrial

from sweeper.errors import ConfigError
from sweeper.stats.verdicts import Family
from sweeper.study.choices import SHAPE_DEFAULTS
from sweeper.study.adaptive import ALPHA_RESERVE, FUTILITY, NO_GAIN_FUTILITY, Point, RacePlan, Run, bracket_runs, params_of, plan, race_family, runs_of, x_of
from sweeper.study.designs.base import GROW_RACE, RESUME_RACE, Config, Design, Queued
from sweeper.study.points import GROUPS
from sweeper.study.space import SearchSpace


class AdaptiveDesign(Design):
    name = "adaptive"
    defaults = SHAPE_DEFAULTS["adaptive"]
    planned = True
    races = True
    verdict_source = "the race (each type's finalist on fresh seeds)"

    def shape(self, given: Mapping[str, Any]) -> dict[str, Any]:
        return {**{k: given.get(k) if given.get(k) is not None else v for k, v in self.defaults.items()},
                "margin": given.get("margin")}

    def check(self, config: Config) -> None:
        if config.points < 2 or config.repeats < 2 or config.rounds < 1:
            raise ConfigError(
                f"an adaptive design needs --points >= 2, --repeats >= 2 (seeds per round) and --rounds >= 1, "
                f"got {config.points}, {config.repeats} and {config.rounds}"
            )
        if "none" not in config.space.penalties:
            raise ConfigError("an adaptive design races every type against the unregularized baseline: "
                              "keep none in --penalties")

    def settle(self, values: dict[str, Any], space: SearchSpace, budget: int | None) -> int:
        """The bracket is queued at launch; each later stage raises the budget by what it queues."""
        if values.get("pruner") not in (None, "none") or values.get("sampler") not in (None, "random"):
            raise ConfigError("an adaptive design trains every planned trial to the end: leave --pruner and --sampler out")
        values.update(pruner="none", sampler="random", planned_rounds=values.get("rounds") or 0,
                      alpha_reserve=ALPHA_RESERVE, futility=FUTILITY, no_gain_futility=NO_GAIN_FUTILITY)
        return len(bracket_runs(space, values.get("points") or 0, 0))

    def relaunch_ignores(self) -> set[str]:
        """The stored budget grows with the race, and so may its rounds (``relaunch``): neither
        is a setting compared; nor is what the launch fixed (the planned rounds, the α kept)."""
        return {"looks", "budget", "rounds", "planned_rounds", "alpha_reserve", "futility", "no_gain_futility",
                "rounds_grown"}

    def relaunch(self, name: str, stored: Config, config: Config) -> str:
        """The same settings resume the race: the round a worker may have left unqueued is queued.
        More ``--rounds`` grow it (``GROW_RACE``), when it kept α for them at launch."""
        if config.design != stored.design or config.differences(stored):
            return super().relaunch(name, stored, config)
        if config.rounds == stored.rounds:
            return RESUME_RACE
        if config.rounds < stored.rounds:
            raise ConfigError(f"study {name!r} may already race {stored.rounds} rounds: a race's rounds only grow; "
                              f"launch it with --rounds {stored.rounds} or more")
        if not stored.alpha_reserve:
            raise ConfigError(f"study {name!r} was launched before a race kept α for added rounds: all of it is "
                              f"spent on its {stored.rounds} rounds; race its undecided types in a new study "
                              f"(--study-name), or launch it with --rounds {stored.rounds}")
        return GROW_RACE

    def launch_queue(self, config: Config) -> list[Queued]:
        return [Queued(r.params, r.user_attrs()) for r in bracket_runs(config.space, config.points, config.seed)]

    def race(self, config: Config, runs: list[Run]) -> RacePlan:
        return plan(config.space, config.points, config.repeats, config.rounds, config.seed, config.goal, runs,
                    config.margin, planned_rounds=config.planned_rounds or config.rounds, reserve=config.alpha_reserve,
                    futility=config.futility, no_gain_futility=config.no_gain_futility, grown=config.rounds_grown)

    def family(self, points: int, rounds: int | None = None, reserve: float = 0.0) -> Family:
        """Each finalist, over the rounds planned at launch, less the α kept for added ones."""
        if rounds is None:
            raise ValueError("a race's family is spent over its planned rounds: give rounds")
        return race_family(points, rounds, reserve)

    def put_forward(self, config: Config, trials: Sequence[FrozenTrial]) -> dict[str, dict[str, Any]]:
        """Each type's finalist, in ``GROUPS`` order."""
        state = self.race(config, runs_of(trials, config.goal))
        return {g: params_of(state.finalists[g].point, config.space) for g in GROUPS if g in state.finalists}

    def diverged_score_points(self, config: Config) -> set[Point]:
        """The bracket's: the score is fixed once the bracket has run, so later runs move no
        earlier look."""
        return {p for r in bracket_runs(config.space, config.points, config.seed) if (p := x_of(r.params)) is not None}

    def trials_note(self, name: str, trials: int | None, config: Config) -> str | None:
        if trials is None:
            return None
        return (f"study {name}: --trials {trials} does not apply to an adaptive design: its bracket is "
                f"{config.budget} trials, and each later round adds what it needs (see --rounds, --repeats)")
