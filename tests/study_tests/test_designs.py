"""Each design class behind one interface (sweeper.study.designs): its defaults, checks, launch
queue, relaunch, race, verdict family and what it puts forward to the test split. Pure: no
storage (test_launch.py runs the same answers through a database)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import optuna
from optuna.trial import TrialState

from sweeper.errors import ConfigError
from sweeper.study import choices
from sweeper.study.adaptive import SCREEN, bracket_lambdas, bracket_runs, runs_of, x_of
from sweeper.storage.attrs import BASELINE_ROLE, CURVE_ROLE, FIXED_SEED, GRID_ROLE, REPEAT, ROLE, STAGE, TYPE_START_ROLE
from sweeper.study.config import SweepConfig
from sweeper.study.design import CurveRun, curve_configs
from sweeper.study.designs import (
    ADAPTIVE,
    ADD_REPEATS,
    CURVE,
    DESIGNS,
    GROW_BUDGET,
    GROW_RACE,
    RESUME_RACE,
    SAME,
    SEARCH,
    design_of,
)
from sweeper.study.designs.base import SHAPE_OPTIONS
from sweeper.study.points import GROUPS
from sweeper.study.space import SearchSpace
from sweeper.tasks.hyperparams import BASELINE_PARAMS
from tests.report_tests.known import DISTRIBUTIONS



def _finished(run: CurveRun, value: float) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(state=TrialState.COMPLETE, params=run.params, value=value,
                                     distributions={k: DISTRIBUTIONS[k] for k in run.params}, user_attrs=run.user_attrs())


def _value(run: CurveRun) -> float:
    """L2 gains +5 pp over λ in (3e-4, 3e-3), with 0.1 pp of seed noise; nothing else moves."""
    group, x = x_of(run.params)  # type: ignore[misc]
    noise = 0.001 * math.sin(run.repeat * 1.7 + x * 1e3)
    return (0.65 if group == "l2" and 3e-4 < x < 3e-3 else 0.60) + noise * (group != "baseline")


def _config(**kw: object) -> SweepConfig:
    """What the CLI makes: the design's shape defaults for the options not given."""
    shape = design_of(str(kw.get("design", "search"))).shape({k: kw.pop(k, None) for k in SHAPE_OPTIONS})
    return SweepConfig.for_task("cifar10", budget=kw.pop("budget", None), **shape, **kw)


def test_every_design_the_cli_offers_has_a_class_and_an_unknown_one_is_named() -> None:
    assert tuple(DESIGNS) == choices.DESIGNS
    assert [design_of(n).name for n in choices.DESIGNS] == list(choices.DESIGNS)
    with pytest.raises(ConfigError, match="unknown design 'grid': use one of search, curve, adaptive"):
        design_of("grid")
    with pytest.raises(ConfigError, match="unknown design 'grid'"):
        _config(design="grid")


def test_shape_fills_each_design_s_defaults_and_refuses_options_that_do_not_apply() -> None:
    none = dict.fromkeys(("points", "repeats", "rounds", "margin"))
    assert SEARCH.shape(none) == {}
    assert CURVE.shape(none) == {"points": 5, "repeats": 3, "margin": None}
    assert ADAPTIVE.shape(none) == {"points": 3, "repeats": 9, "rounds": 3, "margin": None}
    assert ADAPTIVE.shape({**none, "repeats": 6, "margin": 0.02}) == {"points": 3, "repeats": 6, "rounds": 3,
                                                                      "margin": 0.02}
    # The defaults live in one place, read by the CLI's help too.
    assert CURVE.defaults == choices.SHAPE_DEFAULTS["curve"] and ADAPTIVE.defaults == choices.SHAPE_DEFAULTS["adaptive"]
    with pytest.raises(ConfigError, match="--rounds sets an adaptive design's race"):
        CURVE.shape({**none, "rounds": 2})
    with pytest.raises(ConfigError, match="--rounds sets an adaptive design's race"):
        SEARCH.shape({**none, "rounds": 2})
    with pytest.raises(ConfigError, match="--points, --repeats and --margin shape a planned design"):
        SEARCH.shape({**none, "margin": 0.01})


def test_checks_refuse_a_shape_the_design_cannot_run() -> None:
    with pytest.raises(ConfigError, match="a curve design needs --points >= 2 and --repeats >= 1, got 2 and 0"):
        dataclasses.replace(_config(design="curve", points=2, repeats=1), repeats=0)
    with pytest.raises(ConfigError, match=r"--repeats >= 2 \(seeds per round\).*got 3, 1 and 3"):
        _config(design="adaptive", points=3, repeats=1, rounds=3)
    with pytest.raises(ConfigError, match="keep none in --penalties"):
        _config(design="adaptive", points=3, repeats=6, rounds=3, space=SearchSpace(penalties=("l1", "l2")))
    # A search takes any shape: it reads none of it.
    SEARCH.check(_config())


def test_settle_fixes_what_a_design_plans_and_its_budget() -> None:
    space = SearchSpace()
    values: dict = {"design": "curve", "points": 4, "repeats": 3}
    assert CURVE.settle(values, space, budget=99) == len(curve_configs(space, 4)) * 3
    assert values["pruner"] == "none" and values["sampler"] == "random"
    with pytest.raises(ConfigError, match="leave --pruner and --sampler out"):
        CURVE.settle({"points": 4, "repeats": 3, "sampler": "tpe"}, space, None)
    with pytest.raises(ConfigError, match="an adaptive design trains every planned trial"):
        ADAPTIVE.settle({"points": 3, "pruner": "median"}, space, None)
    assert ADAPTIVE.settle({"points": 3}, space, None) == len(bracket_runs(space, 3, 0))
    assert SEARCH.settle({}, space, None) == choices.DEFAULT_TRIALS
    assert SEARCH.settle({"sampler": "grid"}, space, None) == len(space.grid())
    assert SEARCH.settle({}, space, 7) == 7


def test_a_relaunch_does_what_the_stored_design_allows() -> None:
    search = _config(budget=10)
    assert SEARCH.relaunch("s", search, search) == SAME
    assert SEARCH.relaunch("s", search, _config(budget=12)) == GROW_BUDGET
    with pytest.raises(ConfigError, match="'s' has a budget of 10 trials and a budget only grows"):
        SEARCH.relaunch("s", search, _config(budget=8))
    with pytest.raises(ConfigError, match=r"'s' was launched with other settings \(epochs: stored"):
        SEARCH.relaunch("s", search, _config(budget=10, epochs=1))

    curve = _config(design="curve", points=3, repeats=2)
    assert CURVE.relaunch("c", curve, curve) == SAME
    assert CURVE.relaunch("c", curve, _config(design="curve", points=3, repeats=4)) == ADD_REPEATS
    with pytest.raises(ConfigError, match="already plans 2 repeats"):
        CURVE.relaunch("c", curve, _config(design="curve", points=3, repeats=1))
    with pytest.raises(ConfigError, match="only --repeats may change for a curve study"):
        CURVE.relaunch("c", curve, _config(design="curve", points=4, repeats=4))
    with pytest.raises(ConfigError, match="design: stored 'curve', given 'search'"):
        CURVE.relaunch("c", curve, _config())

    race = _config(design="adaptive")
    grown = dataclasses.replace(race, budget=race.budget + 40)  # the stored budget grew with the race
    assert ADAPTIVE.relaunch("a", grown, race) == RESUME_RACE
    # More rounds grow the race, from the α it kept at launch; fewer, or other seeds per round, are refused.
    assert grown.alpha_reserve > 0 and grown.planned_rounds == grown.rounds == 3
    assert ADAPTIVE.relaunch("a", grown, _config(design="adaptive", rounds=4)) == GROW_RACE
    with pytest.raises(ConfigError, match="may already race 3 rounds: a race's rounds only grow"):
        ADAPTIVE.relaunch("a", grown, _config(design="adaptive", rounds=2))
    with pytest.raises(ConfigError, match="repeats: stored 9, given 4"):
        ADAPTIVE.relaunch("a", grown, _config(design="adaptive", repeats=4))
    # A race launched before races kept α for added rounds has spent it all.
    old = dataclasses.replace(grown, alpha_reserve=0.0, planned_rounds=0)
    assert ADAPTIVE.relaunch("a", old, race) == RESUME_RACE
    with pytest.raises(ConfigError, match="launched before a race kept α for added rounds"):
        ADAPTIVE.relaunch("a", old, _config(design="adaptive", rounds=4))


def test_each_design_queues_its_own_launch_trials() -> None:
    search = SEARCH.launch_queue(_config(budget=20))
    assert search[0].params == BASELINE_PARAMS and search[0].user_attrs == {ROLE: BASELINE_ROLE}
    assert [q.user_attrs[ROLE] for q in search[1:]] == [TYPE_START_ROLE] * len(SearchSpace().type_starts())
    grid = SEARCH.launch_queue(_config(budget=6, sampler="grid"))
    assert [q.user_attrs[ROLE] for q in grid] == [BASELINE_ROLE] + [GRID_ROLE] * 5
    no_baseline = SEARCH.launch_queue(_config(budget=2, space=SearchSpace(penalties=("l1", "l2"))))
    assert [q.params["penalty"] for q in no_baseline] == ["l1", "l2"]

    curve_config = _config(design="curve", points=3, repeats=2, seed=4)
    curve = CURVE.launch_queue(curve_config)
    assert len(curve) == curve_config.budget
    assert {q.user_attrs[ROLE] for q in curve} == {CURVE_ROLE}
    assert sorted({q.user_attrs[REPEAT] for q in curve}) == [0, 1]
    # Repeat r has one seed for every configuration (common random numbers).
    assert len({q.user_attrs[FIXED_SEED] for q in curve if q.user_attrs[REPEAT] == 0}) == 1

    race_config = _config(design="adaptive")
    race = ADAPTIVE.launch_queue(race_config)
    assert len(race) == race_config.budget
    assert {q.user_attrs[STAGE] for q in race} == {SCREEN} and {q.user_attrs[REPEAT] for q in race} == {0}


def test_only_the_adaptive_design_races_and_it_replays_its_runs() -> None:
    race_config = _config(design="adaptive")
    assert SEARCH.race(_config(), []) is None and CURVE.race(_config(design="curve", points=2), []) is None
    assert ADAPTIVE.races and not CURVE.races and not SEARCH.races
    at_launch = ADAPTIVE.race(race_config, [])
    assert at_launch is not None and at_launch.stage == "bracket" and len(at_launch.queue) == race_config.budget
    # After a bracket where nothing collapses, the race screens: its next round.
    trials = [_finished(r, _value(r)) for r in bracket_runs(race_config.space, race_config.points, race_config.seed)]
    after = ADAPTIVE.race(race_config, runs_of(trials, race_config.goal))
    assert after is not None and after.stage == SCREEN and after.queue
    # The points that fix a diverged run's score: the bracket's, and only for the race.
    floor = ADAPTIVE.diverged_score_points(race_config)
    assert floor is not None and ("l2", bracket_lambdas(race_config.space)[0]) in floor
    assert CURVE.diverged_score_points(_config(design="curve", points=2)) is None


def test_the_verdict_family_of_each_design() -> None:
    curve = CURVE.family(7)
    assert curve is not None and curve.hypotheses == 14 and curve.looks is None
    race = ADAPTIVE.family(4, rounds=3)
    assert race is not None and race.hypotheses == 8 and race.looks == 3
    assert SEARCH.family(4) is None
    with pytest.raises(ValueError, match="give rounds"):
        ADAPTIVE.family(4)
    # Every configuration of a curve but the baseline is compared with it.
    config = _config(design="curve", points=3)
    assert CURVE.planned_points(config) == len(curve_configs(config.space, 3)) - 1
    assert SEARCH.planned_points(_config()) is None


def test_what_each_design_puts_forward_to_the_test_split() -> None:
    race_config = _config(design="adaptive")
    assert SEARCH.put_forward(_config(), []) is None and CURVE.put_forward(_config(design="curve", points=2), []) is None
    assert CURVE.ranks_by_mean and not SEARCH.ranks_by_mean and not ADAPTIVE.ranks_by_mean
    # A race that has not chosen finalists puts none forward; a finished one its finalists.
    trials = [_finished(r, _value(r)) for r in bracket_runs(race_config.space, race_config.points, race_config.seed)]
    assert ADAPTIVE.put_forward(race_config, trials) == {}
    while (state := ADAPTIVE.race(race_config, runs_of(trials, race_config.goal))) and state.stage != "done":
        trials += [_finished(r, _value(r)) for r in state.queue]
    chosen = ADAPTIVE.put_forward(race_config, trials)
    assert list(chosen) == [g for g in GROUPS if g != "baseline"]  # in GROUPS order
    assert chosen["l2"]["penalty"] == "l2" and 3e-4 < chosen["l2"]["lambda"] < 3e-3


def test_the_page_and_the_cli_read_the_design_s_answers() -> None:
    assert CURVE.planned and ADAPTIVE.planned and not SEARCH.planned
    assert "response curves" in CURVE.verdict_source and "race" in ADAPTIVE.verdict_source
    curve = _config(design="curve", points=2, repeats=1)
    assert CURVE.trials_note("c", None, curve) is None and CURVE.trials_note("c", curve.budget, curve) is None
    assert "does not apply to a curve design" in (CURVE.trials_note("c", 5, curve) or "")
    assert "does not apply to an adaptive design" in (ADAPTIVE.trials_note("a", 5, _config(design="adaptive")) or "")
    assert SEARCH.trials_note("s", 5, _config()) is None
