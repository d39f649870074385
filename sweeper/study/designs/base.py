"""What every design of a study answers, whatever it is: the defaults of its shape options, the
checks of a config, the trials queued at launch, what a relaunch does, the next round (a race's),
the verdict family, the configuration each type puts forward to the test split and the page's
headline figure. ``Design`` holds the answers of a design that plans nothing (the search's);
``sweeper.study.designs.curve`` and ``.adaptive`` override what they plan.

Pure: no storage here (``sweeper.study.launch`` does the queueing and the writes). A design reads a
study's config through ``Config``, the few fields it needs, so that ``sweeper.study.config`` can ask
its design for checks and defaults without a circle of imports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from optuna.trial import FrozenTrial

from sweeper.errors import ConfigError
from sweeper.stats.verdicts import Family
from sweeper.study.adaptive import Point, RacePlan, Run
from sweeper.study.space import SearchSpace
from sweeper.tasks.api import Objective


class Config(Protocol):
    """What a design reads of a study's config (``sweeper.study.config.SweepConfig`` has it)."""

    design: str
    budget: int
    sampler: str
    points: int
    repeats: int
    rounds: int
    planned_rounds: int
    alpha_reserve: float
    futility: float
    no_gain_futility: float
    rounds_grown: list[int]
    seed: int
    margin: float | None
    space: SearchSpace

    @property
    def goal(self) -> Objective: ...

    def differences(self, other: Any) -> list[str]: ...


@dataclass(frozen=True)
class Queued:
    """A trial to enqueue: its parameters and the planned user attrs (``sweeper.storage.attrs``)."""

    params: dict[str, Any]
    user_attrs: dict[str, Any]


# What launching an existing study again does (``Design.relaunch``).
SAME, GROW_BUDGET, ADD_REPEATS, RESUME_RACE, GROW_RACE = "same", "grow budget", "add repeats", "resume race", "grow race"

# The options that shape a planned design; a search takes none of them.
SHAPE_OPTIONS = ("points", "repeats", "rounds", "margin")


class Design:
    """A design's answers. The defaults here are those of a design that plans nothing and tests
    nothing; each design overrides what it does."""

    name: ClassVar[str] = ""
    # The CLI's defaults of the shape options that apply (points, repeats, rounds), from
    # ``sweeper.study.choices.SHAPE_DEFAULTS`` (which the CLI's help reads without Optuna).
    defaults: ClassVar[Mapping[str, int]] = {}
    # Every trial is planned and compared by seed: the page leads with response curves and bands
    # and says a verdict per type; a search's page plots its trials' values against λ.
    planned: ClassVar[bool] = False
    # Its budget grows by rounds that workers queue when the current one is met.
    races: ClassVar[bool] = False
    # What a planned page's verdicts are read from, in words.
    verdict_source: ClassVar[str] = ""

    # -- the config --------------------------------------------------------------------------

    def shape(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The shape options (``SHAPE_OPTIONS``) of a launch: the values given (None: not given)
        with this design's defaults; an option that does not apply is refused."""
        return {}

    def check(self, config: Config) -> None:
        """Refuse a config this design cannot run (``SweepConfig.__post_init__`` asks)."""

    def settle(self, values: dict[str, Any], space: SearchSpace, budget: int | None) -> int | None:
        """Fill what the design fixes in a new config's ``values`` (sampler, pruner) and return
        its budget (None: the one given, or the default, is left as it is)."""
        return budget

    def relaunch_ignores(self) -> set[str]:
        """Config keys that are no setting of this design, so a relaunch may find them changed."""
        return {"looks"}

    def relaunch(self, name: str, stored: Config, config: Config) -> str:
        """What launching the stored study ``name`` again with ``config`` does (``SAME``,
        ``GROW_BUDGET``, ``ADD_REPEATS``, ``RESUME_RACE``, ``GROW_RACE``); other settings are refused, naming
        each difference. ``self`` is the stored study's design."""
        refuse_other_settings(name, config.differences(stored))
        return SAME

    # -- the trials --------------------------------------------------------------------------

    def launch_queue(self, config: Config) -> list[Queued]:
        """The trials queued at launch, in order."""
        return []

    def race(self, config: Config, runs: list[Run]) -> RacePlan | None:
        """Where the study's race stands, replayed from its runs (``sweeper.study.adaptive``:
        ``runs_of`` a study's trials, ``runs_of_points`` a report's); None without a race."""
        return None

    # -- the verdicts ------------------------------------------------------------------------

    def family(self, points: int, rounds: int | None = None) -> Family | None:
        """The verdict family of a study comparing ``points`` points with the baseline over a
        race's planned ``rounds`` (None: a search, which tests nothing)."""
        return None

    def put_forward(self, config: Config, trials: Sequence[FrozenTrial]) -> dict[str, dict[str, Any]] | None:
        """The configuration each type puts forward to the test split, by group (None: the
        evaluation picks them from the trials, ``sweeper.evaluation.plan.plan_runs``)."""
        return None

    # Whether the evaluation ranks a type's configurations by their mean over repeats (a planned
    # curve) rather than by single runs.
    ranks_by_mean: ClassVar[bool] = False

    def diverged_score_points(self, config: Config) -> set[Point] | None:
        """The points whose runs fix what a diverged run scores where the metric has no bound
        (``sweeper.study.adaptive.Observations``); None: every run's."""
        return None

    def planned_points(self, config: Config) -> int | None:
        """The points it compares with the baseline, known from the config alone (None: found
        as the study runs)."""
        return None

    def trials_note(self, name: str, trials: int | None, config: Config) -> str | None:
        """What to tell a user who gave ``--trials`` that this design does not take; None: it does."""
        return None


def refuse_other_settings(name: str, diffs: list[str]) -> None:
    if diffs:
        raise ConfigError(
            f"study {name!r} was launched with other settings ({'; '.join(diffs)}): "
            "launch again with the stored settings, or pick a new --study-name"
        )
