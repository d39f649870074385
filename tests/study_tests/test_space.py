from __future__ import annotations

import optuna
import pytest

from sweeper.errors import ConfigError
from sweeper.study.space import SearchSpace, spread
from sweeper.tasks.hyperparams import BASELINE_PARAMS, Hyperparams


def test_lambda_is_sampled_only_with_a_penalty() -> None:
    space = SearchSpace()
    hp = space.suggest(optuna.trial.FixedTrial({"penalty": "none", "dropout": 0.1}))
    assert hp == Hyperparams(penalty="none", lam=0.0, dropout=0.1)
    assert hp.kernel_regularizer() is None


def test_l1_l2_splits_lambda_by_ratio() -> None:
    hp = SearchSpace().suggest(
        optuna.trial.FixedTrial({"penalty": "l1_l2", "lambda": 1e-3, "l1_ratio": 0.25, "dropout": 0.0})
    )
    assert hp.l1 == pytest.approx(2.5e-4)
    assert hp.l2 == pytest.approx(7.5e-4)
    reg = hp.kernel_regularizer()
    assert reg.get_config()["l1"] == pytest.approx(2.5e-4)
    assert reg.get_config()["l2"] == pytest.approx(7.5e-4)


def test_sampled_params_stay_in_the_given_ranges() -> None:
    space = SearchSpace(lambda_low=1e-4, lambda_high=1e-2, dropout_low=0.1, dropout_high=0.3)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(60):
        trial = study.ask()
        hp = space.suggest(trial)
        if hp.penalty == "none":
            assert "lambda" not in trial.params
        else:
            assert 1e-4 <= hp.lam <= 1e-2
        assert ("l1_ratio" in trial.params) == (hp.penalty == "l1_l2")
        assert 0.1 <= hp.dropout <= 0.3
        study.tell(trial, 0.5)
    assert {t.params["penalty"] for t in study.trials} == {"none", "l1", "l2", "l1_l2"}


def test_from_params_inverts_suggest() -> None:
    params = {"penalty": "l2", "lambda": 3e-4, "dropout": 0.2}
    assert Hyperparams.from_params(params) == SearchSpace().suggest(optuna.trial.FixedTrial(params))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lambda_low": 1e-2, "lambda_high": 1e-3}, "low >= high"),
        ({"lambda_low": 0.0, "lambda_high": 1e-3}, "must be positive"),
        ({"dropout_low": 0.0, "dropout_high": 1.0}, "dropout range"),
        ({"dropout_low": -0.1, "dropout_high": 0.5}, "dropout range"),
    ],
)
def test_bad_ranges_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SearchSpace(**kwargs)


def test_grid_crosses_penalties_with_lambda_decades_and_dropout_levels() -> None:
    grid = SearchSpace(lambda_low=1e-4, lambda_high=1e-2, dropout_low=0.0, dropout_high=0.4).grid(dropout_levels=3)
    assert sum(p["penalty"] == "none" for p in grid) == 3
    l2 = [p for p in grid if p["penalty"] == "l2"]
    assert sorted({p["lambda"] for p in l2}) == pytest.approx([1e-4, 1e-3, 1e-2])
    assert sorted({p["dropout"] for p in l2}) == pytest.approx([0.0, 0.2, 0.4])
    assert len(grid) == 3 + 3 * 9
    assert BASELINE_PARAMS in grid


def test_spread_takes_evenly() -> None:
    assert spread(list(range(10)), 5) == [0, 2, 4, 6, 8]
    assert spread([1, 2], 5) == [1, 2]
