from __future__ import annotations

import dataclasses

import optuna
import pytest
from optuna.trial import TrialState

from sweeper.errors import ConfigError
from sweeper.study.launch import launch
from sweeper.settings import Settings
from sweeper.study.space import SearchSpace
from sweeper.storage import open_storage
from sweeper.study.config import CONFIG_ATTR, VERSION_ATTR, SweepConfig
from sweeper.worker.loop import Worker


def _config(**kw: object) -> SweepConfig:
    return SweepConfig.for_task("cifar10", budget=kw.pop("budget", 6), **kw)


def test_launch_stores_config_and_enqueues_the_baseline(storage_url: str) -> None:
    settings = Settings(storage=storage_url)
    result = launch(settings, "cifar10", _config(epochs=3, train_size=500))
    assert result.created and result.budget == 6
    study = optuna.load_study(study_name="cifar10", storage=open_storage(settings))
    stored = SweepConfig.from_attrs(study.user_attrs[CONFIG_ATTR])
    assert stored == _config(epochs=3, train_size=500)
    assert study.user_attrs[VERSION_ATTR]["optuna"] == optuna.__version__
    baseline, *starts = study.get_trials(states=(TrialState.WAITING,))
    assert baseline.params == {} and baseline.number == 0
    assert study._storage.get_trial_system_attrs(baseline._trial_id)["fixed_params"] == {"penalty": "none", "dropout": 0.0}
    # Then one trial of each type of regularization (issue 27: TPE may never finish one of some type).
    fixed = [study._storage.get_trial_system_attrs(t._trial_id)["fixed_params"] for t in starts]
    assert fixed == [{"penalty": "l1", "lambda": 0.00032, "dropout": 0.0},
                     {"penalty": "l2", "lambda": 0.00032, "dropout": 0.0},
                     {"penalty": "l1_l2", "lambda": 0.00032, "l1_ratio": 0.5, "dropout": 0.0},
                     {"penalty": "none", "dropout": 0.3}]
    assert {t.user_attrs["role"] for t in starts} == {"type_start"}


def test_a_budget_smaller_than_the_types_queues_only_what_it_can_run(storage_url: str) -> None:
    settings = Settings(storage=storage_url)
    launch(settings, "cifar10", _config(budget=3))
    study = optuna.load_study(study_name="cifar10", storage=open_storage(settings))
    fixed = [study._storage.get_trial_system_attrs(t._trial_id)["fixed_params"]["penalty"] for t in study.trials]
    assert fixed == ["none", "l1", "l2"]


def test_a_default_sweep_finishes_a_trial_of_every_type(tmp_path) -> None:
    """Whatever the sampler prefers (here the sleep task's score favours L1 and L2 at λ = 1e-3),
    every group the report compares has a finished trial."""
    from sweeper.study.points import collect_points

    settings = Settings(storage=f"sqlite:///{tmp_path / 't.db'}")
    config = SweepConfig.for_task("tests.support.sleep_task", budget=8, epochs=4, options={"seconds": 0.0})
    launch(settings, "t", config)
    assert Worker(settings, ["t"], sampler_seed=1, log=lambda line: None).run() == 0
    study = optuna.load_study(study_name="t", storage=open_storage(settings))
    groups = {p.group for p in collect_points(study.trials) if p.state == "complete"}
    assert groups == {"baseline", "dropout", "l1", "l2", "l1_l2"}


def test_a_search_launched_again_with_more_trials_grows_its_budget_and_never_shrinks_it(storage_url: str) -> None:
    settings = Settings(storage=storage_url)
    launch(settings, "cifar10", _config(budget=10))
    grown = launch(settings, "cifar10", _config(budget=14))
    assert (grown.created, grown.budget, grown.grown_from) == (False, 14, 10)
    study = optuna.load_study(study_name="cifar10", storage=open_storage(settings))
    assert SweepConfig.from_attrs(study.user_attrs[CONFIG_ATTR]).budget == 14
    assert len(study.trials) == 5  # nothing queued again
    with pytest.raises(ConfigError, match=r"budget of 14 trials and a budget only grows: give --trials 14 or more"):
        launch(settings, "cifar10", _config(budget=12))
    with pytest.raises(ConfigError, match=r"other settings \(budget: stored 14, given 20; epochs"):
        launch(settings, "cifar10", _config(budget=20, epochs=3))
    assert SweepConfig.from_attrs(study.user_attrs[CONFIG_ATTR]).budget == 14


def test_launch_again_with_same_settings_changes_nothing(storage_url: str) -> None:
    settings = Settings(storage=storage_url)
    launch(settings, "cifar10", _config())
    again = launch(settings, "cifar10", _config())
    assert not again.created
    study = optuna.load_study(study_name="cifar10", storage=open_storage(settings))
    assert len(study.trials) == 5  # the baseline and one trial per type, queued once


def test_launch_with_other_settings_says_what_differs(storage_url: str) -> None:
    settings = Settings(storage=storage_url)
    launch(settings, "cifar10", _config(epochs=3))
    with pytest.raises(ConfigError, match=r"epochs: stored 3, given 5"):
        launch(settings, "cifar10", _config(epochs=5))



def test_a_relaunch_with_other_task_code_is_refused_and_changes_nothing(tmp_path, monkeypatch) -> None:
    """The study's workers would refuse the edited code (fingerprint), so launch refuses it too,
    before touching the study: its queue and its stored config stay as they were."""
    from tests.worker_tests.test_loop import USER_TASK

    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_task.py").write_text(USER_TASK)
    settings = Settings(storage=f"sqlite:///{tmp_path / 's.db'}")
    launch(settings, "mine", SweepConfig.for_task("my_task.py", budget=2))
    stored = optuna.load_study(study_name="mine", storage=open_storage(settings)).user_attrs[CONFIG_ATTR]
    (tmp_path / "my_task.py").write_text(USER_TASK.replace("0.3", "0.2"))
    __import__("sweeper.tasks.loading", fromlist=["_LOADED"])._LOADED.clear()
    edited = SweepConfig.for_task("my_task.py", budget=2)
    assert edited.task_fingerprint != SweepConfig.from_attrs(stored).task_fingerprint
    with pytest.raises(ConfigError, match=r"study 'mine' was launched with other code for task 'my_task.py'"):
        launch(settings, "mine", edited)
    study = optuna.load_study(study_name="mine", storage=open_storage(settings))
    assert study.user_attrs[CONFIG_ATTR] == stored
    assert [t.state for t in study.trials] == [TrialState.WAITING] * 2  # the baseline and one start (budget 2)

def test_grid_launch_enqueues_evenly_spread_points(tmp_path) -> None:
    settings = Settings(storage=f"sqlite:///{tmp_path / 'g.db'}")
    space = SearchSpace(lambda_low=1e-4, lambda_high=1e-2)
    launch(settings, "cifar10", _config(budget=10, sampler="grid", space=space))
    study = optuna.load_study(study_name="cifar10", storage=open_storage(settings))
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert len(waiting) == 10
    fixed = [study._storage.get_trial_system_attrs(t._trial_id)["fixed_params"] for t in waiting]
    assert {p["penalty"] for p in fixed} == {"none", "l1", "l2", "l1_l2"}


def test_penalties_without_none_launch_no_baseline_and_every_trial_runs(tmp_path) -> None:
    """The baseline (penalty none) is outside such a space: enqueued, it could only fail."""
    settings = Settings(storage=f"sqlite:///{tmp_path / 'p.db'}")
    space = SearchSpace(penalties=("l1", "l2"))
    config = SweepConfig.for_task("tests.support.sleep_task", budget=3, epochs=1, pruner="none", space=space,
                                  options={"seconds": 0.0})
    result = launch(settings, "p", config)
    assert result.created and not result.baseline
    study = optuna.load_study(study_name="p", storage=open_storage(settings))
    assert [t.user_attrs["role"] for t in study.trials] == ["type_start", "type_start"]
    assert Worker(settings, ["p"], sampler_seed=1, log=lambda line: None).run() == 0
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE] * 3
    assert {t.params["penalty"] for t in study.trials} <= {"l1", "l2"}
    assert launch(settings, "p", config).baseline is False  # launched again: still says so


def test_unknown_task_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"unknown task .mnist.: not a built-in task \(cifar10"):
        SweepConfig.for_task("mnist")


@pytest.mark.parametrize("budget", [0, -3])
def test_non_positive_budget_is_refused(budget: int) -> None:
    with pytest.raises(ConfigError, match="--trials must be a positive"):
        SweepConfig.for_task("cifar10", budget=budget)


def _curve(repeats: int, **kw: object) -> SweepConfig:
    space = SearchSpace(lambda_low=1e-4, lambda_high=1e-2, dropout_low=0.0, dropout_high=0.3)
    return SweepConfig.for_task("tests.support.sleep_task", design="curve", points=3, repeats=repeats,
                                space=space, options={"seconds": 0.0}, **kw)


def _queued(study: optuna.Study) -> list[tuple[dict, int, int]]:
    out = []
    for t in study.get_trials(states=(TrialState.WAITING,)):
        fixed = study._storage.get_trial_system_attrs(t._trial_id)["fixed_params"]
        out.append((fixed, t.user_attrs["repeat"], t.user_attrs["fixed_seed"]))
    return out


def test_a_curve_launch_queues_its_whole_plan_and_more_repeats_add_only_new_ones(storage_url: str) -> None:
    settings = Settings(storage=storage_url)
    result = launch(settings, "c", _curve(2))
    # 1 baseline + 3 penalties x 3 λ + 3 dropout rates = 13 configurations, 2 repeats each.
    assert result.created and result.budget == 26
    study = optuna.load_study(study_name="c", storage=open_storage(settings))
    queued = _queued(study)
    assert len(queued) == 26 and len({(str(sorted(p.items())), r) for p, r, _ in queued}) == 26
    assert {r: {s for _, rr, s in queued if rr == r} for r in (0, 1)} == {0: {queued[0][2]}, 1: {queued[13][2]}}
    stored = SweepConfig.from_attrs(study.user_attrs[CONFIG_ATTR])
    assert (stored.pruner, stored.sampler, stored.budget) == ("none", "random", 26)

    assert launch(settings, "c", _curve(2)).added == 0  # the same launch changes nothing
    again = launch(settings, "c", _curve(3))
    assert again.added == 13 and again.budget == 39
    assert sorted(r for _, r, _ in _queued(study)) == [0] * 13 + [1] * 13 + [2] * 13
    assert SweepConfig.from_attrs(study.user_attrs[CONFIG_ATTR]).repeats == 3
    with pytest.raises(ConfigError, match="already plans 3 repeats: --repeats adds repeats and never removes them"):
        launch(settings, "c", _curve(2))
    with pytest.raises(ConfigError, match=r"other settings \(epochs: stored 1, given 2\): only --repeats may change for a curve study"):
        launch(settings, "c", _curve(4, epochs=2))
    assert len(study.trials) == 39


def test_a_curve_design_sets_its_own_budget_pruner_and_sampler(capsys: pytest.CaptureFixture[str]) -> None:
    assert _curve(2, budget=10).budget == 26  # the plan sets it (the CLI says --trials does not apply)
    with pytest.raises(ConfigError, match="leave --pruner and --sampler out"):
        _curve(2, pruner="median")
    from sweeper.cli import main

    assert main(["launch", "tests.support.sleep_task", "--design", "curve", "--points", "2", "--repeats", "1",
                 "--trials", "20"]) == 0
    assert "--trials 20 does not apply to a curve design, which plans 9 trials" in capsys.readouterr().out


def test_workers_queue_and_run_the_evaluation_once_the_budget_is_met(tmp_path) -> None:
    """--evaluate-seeds: the worker that sees the budget met queues the test-split re-training
    of the best configuration per penalty type (by its mean over the repeats) and serves it."""
    settings = Settings(storage=f"sqlite:///{tmp_path / 'e.db'}")
    launch(settings, "c", _curve(2, evaluate_seeds=2))
    lines: list[str] = []
    assert Worker(settings, ["c"], sampler_seed=1, log=lines.append).run() == 0
    assert any("c finished its budget: evaluation study c.eval created: 10 runs enqueued" in line for line in lines), lines
    assert lines[-1].endswith("all budgets met (c, c.eval); exiting")
    storage = open_storage(settings)
    evaluation = optuna.load_study(study_name="c.eval", storage=storage)
    runs = evaluation.get_trials(states=(TrialState.COMPLETE,))
    assert len(runs) == 10 and len(evaluation.trials) == 10
    # The sleep task peaks at λ = 1e-3 and dropout 0.2 (tests/support/sleep_task.py): the best means.
    best = {t.user_attrs["penalty_group"]: t.params for t in runs}
    assert best["l2"]["lambda"] == pytest.approx(1e-3) and best["dropout"]["dropout"] == pytest.approx(0.2)
    assert SweepConfig.from_attrs(evaluation.user_attrs[CONFIG_ATTR]).evaluate_seeds == 0
    # A second worker finds everything done and queues nothing more.
    assert Worker(settings, None, sampler_seed=2, log=lines.append).run() == 0
    assert len(optuna.load_study(study_name="c.eval", storage=storage).trials) == 10


def test_a_grown_search_is_worked_on_to_its_new_budget(tmp_path) -> None:
    settings = Settings(storage=f"sqlite:///{tmp_path / 'g.db'}")
    config = SweepConfig.for_task("tests.support.sleep_task", budget=3, epochs=1, options={"seconds": 0.0})
    launch(settings, "g", config)
    assert Worker(settings, ["g"], sampler_seed=1, log=lambda line: None).run() == 0
    launch(settings, "g", dataclasses.replace(config, budget=7))
    assert Worker(settings, ["g"], sampler_seed=2, log=lambda line: None).run() == 0
    study = optuna.load_study(study_name="g", storage=open_storage(settings))
    assert len(study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))) == 7
