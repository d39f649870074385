"""The public task API: what a task provides to sweeper, and what sweeper hands it.

A task is a subclass of ``Task``. It names itself, says what data it needs and how to load it
(``load_data``), and builds a compiled Keras model from plain regularization settings
(``build_model``); sweeper samples those settings, trains, and stores the results. Nothing in a
task touches Optuna or a database. A task is validated once, when it is loaded
(``sweeper.tasks.loading``, ``sweeper.tasks.validation``); every problem is then one line naming the file it is in.

Keras is imported inside the methods that use it, so that listing and validating tasks stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from sweeper.tasks.data import DataRequest, Splits
from sweeper.tasks.objective import Objective
from sweeper.tasks.run import TrainingRun

if TYPE_CHECKING:
    import keras

    from sweeper.tasks.archives import Archive
    from sweeper.tasks.hyperparams import Hyperparams
    from sweeper.tasks.results import TrainingResult

__all__ = ["Description", "Objective", "Option", "Task", "TaskDefaults", "TrainingRun"]

OptionValue = str | int | float | bool


@dataclass(frozen=True)
class TaskDefaults:
    """Training settings a sweep of this task uses unless ``sweeper launch`` is given others."""

    epochs: int = 10
    batch_size: int = 32
    # None: the optimizer's own learning rate (a model handed over with ``regularize``).
    learning_rate: float | None = 1e-3
    # Subsample the training split to this many samples (None: all of it).
    train_size: int | None = None
    # Fraction of the labelled training data held out for validation.
    val_fraction: float = 0.2

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"TaskDefaults needs epochs >= 1 and batch_size >= 1, got {self.epochs}, {self.batch_size}")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise ValueError(f"TaskDefaults.learning_rate must be > 0 or None, got {self.learning_rate}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"TaskDefaults.val_fraction must be between 0 and 1, got {self.val_fraction}")


@dataclass(frozen=True)
class Option:
    """A task-specific setting (``--option NAME=VALUE``), declared once with its default; its type
    is the default's (str, int, float or bool). Checked at launch, before anything is stored."""

    default: OptionValue
    help: str = ""
    choices: tuple[OptionValue, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None

    def parse(self, name: str, raw: Any) -> OptionValue:
        """The value of ``raw`` (from the command line, JSON or Python) as this option's type;
        ``ValueError`` with a one-line reason when it does not fit."""
        kind = type(self.default)
        try:
            if kind is bool:
                value: OptionValue = _parse_bool(raw)
            elif kind is int:
                if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                    raise ValueError
                value = int(raw)
            elif kind is float:
                if isinstance(raw, bool):
                    raise ValueError
                value = float(raw)
            else:
                value = str(raw)
        except (TypeError, ValueError):
            raise ValueError(f"option {name}={raw!r} is not a {kind.__name__}") from None
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"option {name}={value!r} is not one of {', '.join(map(str, self.choices))}")
        if self.minimum is not None and value < self.minimum:  # type: ignore[operator]
            raise ValueError(f"option {name}={value!r} is below its minimum {self.minimum:g}")
        if self.maximum is not None and value > self.maximum:  # type: ignore[operator]
            raise ValueError(f"option {name}={value!r} is above its maximum {self.maximum:g}")
        return value


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError


class Task:
    """A model and its data, ready for a regularization sweep. Subclass it:

    - ``name``: the task's (and by default its study's) name; ``dataset`` and ``model``: one line
      each, shown by ``sweeper tasks``;
    - ``defaults`` (``TaskDefaults``), ``options`` (name -> ``Option``), ``objective``
      (``Objective``; validation accuracy unless set);
    - ``load_data(request) -> Splits`` (required);
    - ``build_model(hp, splits, learning_rate) -> keras.Model`` (required): a compiled model built
      from plain values: put ``hp.kernel_regularizer()`` on every kernel and use ``hp.dropout``,
      or hand an existing unregularized model to ``sweeper.regularize(model, hp)``;
    - optionally ``archives(options)`` (data files sweeper fetches before ``load_data``),
      ``check_options(options)`` (checks across options; raise ``ValueError``), and
      ``extra_metrics(model, splits)`` (more numbers stored with each trial).

    A task may instead override ``train`` (its own training loop, calling ``run.report`` after
    each epoch); ``uses_keras = False`` then tells workers not to start Keras for it.
    """

    name: str = ""
    dataset: str = ""
    model: str = ""
    defaults: TaskDefaults = TaskDefaults()
    options: Mapping[str, Option] = MappingProxyType({})
    objective: Objective = Objective()
    uses_keras: bool = True

    def archives(self, options: Mapping[str, Any]) -> list[Archive]:
        """Data files to fetch and verify before ``load_data`` (none by default)."""
        return []

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Checks that involve several options; raise ``ValueError`` with the reason."""

    def load_data(self, request: DataRequest) -> Splits:
        """Load and split the data; called once per worker process and reused by every trial."""
        raise NotImplementedError

    def build_model(self, hp: Hyperparams, splits: Splits, learning_rate: float | None) -> keras.Model:
        """A compiled Keras model for these regularization settings, logging the objective metric."""
        raise NotImplementedError

    def extra_metrics(self, model: keras.Model, splits: Splits) -> dict[str, float]:
        """More numbers to store with a trial, computed on the trained model."""
        return {}

    def train(self, hp: Hyperparams, splits: Splits, run: TrainingRun) -> TrainingResult:
        """One trial: build the model and train it with sweeper's Keras loop."""
        from sweeper.tasks import training

        model = training.checked_model(self.build_model(hp, splits, run.learning_rate), self.objective)
        training.fit(model, splits, run)
        run.result.extra.update(self.extra_metrics(model, splits))
        return run.result

    def __repr__(self) -> str:
        return f"<sweeper task {self.name!r} ({type(self).__module__}.{type(self).__qualname__})>"


@dataclass(frozen=True)
class Description:
    """What ``sweeper tasks`` shows of a task."""

    name: str
    reference: str
    origin: str
    dataset: str
    model: str
    defaults: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    objective: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None
