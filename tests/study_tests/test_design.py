"""The curve design's plan (pure): λ points, dropout rates, configurations, seeds per repeat."""

from __future__ import annotations

import pytest

from sweeper.study.design import curve_configs, curve_runs, dropout_rates, lambdas, repeat_seed
from sweeper.study.space import SearchSpace


def test_lambdas_are_log_spaced_over_the_range_ends_included() -> None:
    assert lambdas(SearchSpace(lambda_low=1e-6, lambda_high=1e-2), 5) == [1e-6, 1e-5, 1e-4, 1e-3, 1e-2]
    assert lambdas(SearchSpace(lambda_low=1e-4, lambda_high=1e-1), 4) == [1e-4, 1e-3, 1e-2, 1e-1]


def test_dropout_rates_leave_zero_to_the_baseline() -> None:
    assert dropout_rates(SearchSpace(dropout_low=0.0, dropout_high=0.6), 3) == [0.2, 0.4, 0.6]
    assert dropout_rates(SearchSpace(dropout_low=0.1, dropout_high=0.5), 3) == [0.1, 0.3, 0.5]
    assert dropout_rates(SearchSpace(dropout_low=0.0, dropout_high=0.0), 3) == []


def test_the_plan_is_baseline_penalty_curves_then_dropout() -> None:
    space = SearchSpace(lambda_low=1e-4, lambda_high=1e-2, dropout_low=0.0, dropout_high=0.4)
    configs = curve_configs(space, 3)
    assert configs[0] == {"penalty": "none", "dropout": 0.0}
    assert configs[1:4] == [{"penalty": "l1", "lambda": lam, "dropout": 0.0} for lam in (1e-4, 1e-3, 1e-2)]
    assert configs[7] == {"penalty": "l1_l2", "lambda": 1e-4, "dropout": 0.0, "l1_ratio": 0.5}
    assert configs[-3:] == [{"penalty": "none", "dropout": rate} for rate in (0.133333, 0.266667, 0.4)]
    assert len(configs) == 1 + 3 * 3 + 3
    # Without `none` in the space there is neither a baseline nor a dropout curve.
    assert all(c["penalty"] == "l2" for c in curve_configs(SearchSpace(penalties=("l2",)), 3))


def test_every_configuration_of_a_repeat_shares_its_seed() -> None:
    runs = curve_runs(SearchSpace(), 3, 4, base_seed=7)
    assert len(runs) == 4 * len(curve_configs(SearchSpace(), 3))
    for r in range(4):
        assert {run.seed for run in runs if run.repeat == r} == {repeat_seed(7, r)}
    assert len({repeat_seed(7, r) for r in range(4)}) == 4
    assert repeat_seed(8, 0) != repeat_seed(7, 0)
    # Repeat by repeat: the first runs queued are the whole first repeat.
    first = len(curve_configs(SearchSpace(), 3))
    assert {run.repeat for run in runs[:first]} == {0}


@pytest.mark.parametrize("points", [0, 1])
def test_a_curve_needs_two_points(points: int) -> None:
    from sweeper.errors import ConfigError
    from sweeper.study.config import SweepConfig

    with pytest.raises(ConfigError, match="--points >= 2"):
        SweepConfig.for_task("cifar10", design="curve", points=points, repeats=2)
