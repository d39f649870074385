"""A sweep's configuration, stored in its study's user attrs so that a worker joins with only the
storage URL. ``SweepConfig.for_task`` fills what the user did not give from the task's defaults and
checks its options; the task is stored as the reference the user gave, with a fingerprint of its
code and its objective, so that status and reports need no task code."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import optuna

import sweeper
from sweeper.errors import ConfigError
from sweeper.study.choices import PRUNERS, SAMPLERS
from sweeper.study.designs import design_of
from sweeper.study.pruning import GroupMedianPruner, warmup_epochs
from sweeper.study.space import SearchSpace
from sweeper.tasks import DataRequest, LoadedTask, Objective, load_task, resolve_options

CONFIG_ATTR = "sweeper_config"
VERSION_ATTR = "sweeper_versions"
# The test-split re-training of study S lives in its own study, S + EVAL_SUFFIX.
EVAL_SUFFIX = ".eval"


def eval_study_name(study: str) -> str:
    return study + EVAL_SUFFIX


def is_eval_study(name: str) -> bool:
    return name.endswith(EVAL_SUFFIX)


# A study attr per worker process (host:pid) that cannot run the study, with why (`sweeper status`).
PROBLEM_PREFIX = "cannot_run:"


def problem_attr(worker: str) -> str:
    return PROBLEM_PREFIX + worker


@dataclass(frozen=True)
class SweepConfig:
    task: str  # the reference: a built-in name, an entry point, a module or a .py file
    budget: int
    epochs: int
    batch_size: int
    learning_rate: float | None
    train_size: int | None
    val_fraction: float
    options: dict[str, Any] = field(default_factory=dict)
    space: SearchSpace = field(default_factory=SearchSpace)
    sampler: str = "tpe"
    pruner: str = "median"
    seed: int = 0
    # "search" samples the space; "evaluate" re-trains enqueued configurations on train +
    # validation with several seeds and scores them on the test split (study ``parent``).
    kind: str = "search"
    parent: str | None = None
    # SHA-256 prefix of the task's source (sweeper.tasks.fingerprint); "" for none recorded.
    task_fingerprint: str = ""
    objective: dict[str, Any] = field(default_factory=lambda: Objective().to_dict())
    # The design's name (sweeper.study.designs.design_of answers for it). "search": the sampler
    # proposes; "curve": a planned λ x seed design (sweeper.study.design), with ``points`` per
    # curve and ``repeats`` seeds per point, every trial queued at launch; "adaptive": bracket,
    # screen, then race each type's finalist on fresh seeds (sweeper.study.adaptive): ``points``
    # new λ per type in the transition, ``repeats`` seeds per round, at most ``rounds`` rounds;
    # the budget grows as rounds are queued.
    design: str = "search"
    points: int = 0
    repeats: int = 1
    rounds: int = 0
    # The smallest difference worth having, in the objective's units (None: 1 pp of a maximized
    # fraction, else 1% of the baseline): "no difference larger than ±margin".
    margin: float | None = None
    # A fixed curve design's looks: 1 at launch, one more each time a relaunch adds repeats (its
    # verdicts spend α over them, sweeper.stats.verdicts.Family). Not a setting.
    looks: int = 1
    # An adaptive race's rounds planned at launch (0: ``rounds``, never grown) and the share of α
    # it keeps for rounds added after launch (``sweeper run --rounds N``, the looks past the
    # plan: sweeper.stats.verdicts.Family). A race launched before races could grow kept none,
    # so it cannot grow. Not settings: a relaunch does not compare them (nor the futility rules).
    planned_rounds: int = 0
    alpha_reserve: float = 0.0
    # A race's finalist stops before its planned rounds when they would decide it with less
    # chance than this (sweeper.study.adaptive.FUTILITY); 0 for a race launched before.
    futility: float = 0.0
    # ... and in its planned rounds only for an effect, unless "no gain" is at least this likely
    # (sweeper.study.adaptive.NO_GAIN_FUTILITY); 0 for a race launched before: any decision alike.
    no_gain_futility: float = 0.0
    # The race's rounds after each time a relaunch added rounds, in order (the horizon each
    # added round was planned toward: sweeper.study.adaptive).
    rounds_grown: list[int] = field(default_factory=list)
    # Seeds of the test-split re-training (``<study>.eval``) that workers queue themselves as soon
    # as the budget is met; 0: only `sweeper evaluate` does it.
    evaluate_seeds: int = 0

    def __post_init__(self) -> None:
        if self.budget <= 0:
            raise ConfigError(f"--trials must be a positive number of trials, got {self.budget}")
        if self.epochs <= 0:
            raise ConfigError(f"--epochs must be positive, got {self.epochs}")
        if self.batch_size <= 0:
            raise ConfigError(f"--batch-size must be positive, got {self.batch_size}")
        if self.train_size is not None and self.train_size <= 0:
            raise ConfigError(f"--train-size must be positive, got {self.train_size}")
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f"--val-fraction must be between 0 and 1, got {self.val_fraction}")
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"unknown sampler {self.sampler!r}: use one of {', '.join(SAMPLERS)}")
        if self.kind not in ("search", "evaluate"):
            raise ConfigError(f"unknown sweep kind {self.kind!r}")
        if self.pruner not in PRUNERS:
            raise ConfigError(f"unknown pruner {self.pruner!r}: use one of {', '.join(PRUNERS)}")
        design_of(self.design).check(self)
        if self.margin is not None and not self.margin > 0:
            raise ConfigError(f"--margin must be a positive difference in the objective's units, got {self.margin}")
        if self.evaluate_seeds < 0 or self.evaluate_seeds == 1:
            raise ConfigError(
                f"--evaluate-seeds {self.evaluate_seeds}: use 0 (no evaluation) or at least 2 seeds "
                "(one run gives no interval)"
            )

    @classmethod
    def for_task(cls, task: LoadedTask | str, budget: int | None = None, **given: Any) -> SweepConfig:
        """Task defaults overridden by the values given (``None`` means not given); the options
        are checked against the task's declarations here, before anything is stored. ``task`` is
        a loaded task or a reference to load."""
        loaded = load_task(task) if isinstance(task, str) else task
        defaults = loaded.task.defaults
        options = resolve_options(loaded, given.pop("options", None) or {})
        values: dict[str, Any] = {
            "epochs": defaults.epochs,
            "batch_size": defaults.batch_size,
            "learning_rate": defaults.learning_rate,
            "train_size": defaults.train_size,
            "val_fraction": defaults.val_fraction,
        }
        values.update({k: v for k, v in given.items() if v is not None})
        space = values.pop("space", None) or SearchSpace()
        budget = design_of(values.get("design") or "search").settle(values, space, budget)
        return cls(task=loaded.reference, budget=budget, options=options, space=space,
                   task_fingerprint=loaded.fingerprint, objective=loaded.task.objective.to_dict(), **values)

    @property
    def goal(self) -> Objective:
        return Objective.from_dict(self.objective)

    def data_request(self) -> DataRequest:
        return DataRequest(
            train_size=self.train_size,
            val_fraction=self.val_fraction,
            seed=self.seed,
            options=dict(self.options),
        )

    def to_attrs(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["space"] = self.space.to_dict()
        return data

    @classmethod
    def from_attrs(cls, data: dict[str, Any]) -> SweepConfig:
        data = dict(data)
        data["space"] = SearchSpace.from_dict(data.get("space", {}))
        return cls(**data)

    def differences(self, other: SweepConfig) -> list[str]:
        mine, theirs = self.to_attrs(), other.to_attrs()
        # What is no setting of the design (an adaptive study's budget grows with its race).
        ignored = design_of(self.design).relaunch_ignores() if self.design == other.design else {"looks"}
        return [
            f"{key}: stored {theirs.get(key)!r}, given {mine.get(key)!r}"
            for key in mine
            if key not in ignored and mine.get(key) != theirs.get(key)
        ]

    def make_sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        if self.sampler == "tpe":
            # Multivariate + group TPE models the conditional space (lambda only with a penalty).
            return optuna.samplers.TPESampler(
                seed=seed, multivariate=True, group=True, n_startup_trials=min(10, self.budget // 2 + 1)
            )
        if self.sampler == "qmc":
            return optuna.samplers.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False)
        # "grid" points are enqueued at launch; anything beyond them is sampled at random.
        return optuna.samplers.RandomSampler(seed=seed)

    def make_pruner(self) -> optuna.pruners.BasePruner:
        if self.kind == "evaluate":
            return optuna.pruners.NopPruner()
        if self.pruner == "median":
            # Within each penalty group and from the middle of training on (sweeper.study.pruning):
            # a median over every kind of model at early epochs pruned regularization away.
            return GroupMedianPruner(n_warmup_steps=warmup_epochs(self.epochs))
        if self.pruner == "hyperband":
            return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=self.epochs)
        return optuna.pruners.NopPruner()


def current_versions() -> dict[str, str]:
    return {"sweeper": sweeper.__version__, "optuna": optuna.__version__}


def check_versions(study_name: str, stored: dict[str, str] | None) -> None:
    """A study is worked on only by the sweeper/Optuna release line that launched it."""
    if not stored:
        return
    mine = current_versions()

    def line(version: str) -> str:
        return ".".join(version.split(".")[:2])

    if any(line(stored.get(k, "")) != line(v) for k, v in mine.items()):
        raise ConfigError(
            f"study {study_name!r} was launched by sweeper {stored.get('sweeper')} with optuna "
            f"{stored.get('optuna')}, but this is sweeper {mine['sweeper']} with optuna "
            f"{mine['optuna']}: install the same versions, or launch a new study"
        )
