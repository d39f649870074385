"""A launched study filled with many finished trials in a few seconds, and what one worker's first
read of it costs: the coordination benchmark's 10,000-trial study (issue 28, item 5).

``prefill`` writes the rows a worker leaves for a finished trial of the sleep task (its three or
four parameters, its value, an intermediate value per epoch run, the user attrs it stores: seed,
sampler seed, worker, the per-epoch history of four metrics, epochs run, wall time, the four final
metrics) straight into Optuna's tables, in bulk: running that many trials would take hours, and
``study.add_trials`` takes one transaction per trial. Parameters are drawn at random from the
study's search space; a trial whose score is below the median of its penalty group so far is
pruned at the pruner's first epoch (about half), as the group median pruner would; the rest complete.

``startup_read`` reads the study's trials as a starting worker does (Optuna's trial cache, empty,
asking for every trial) and says how many rows came back, from which tables, and the wall time.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import optuna
import sqlalchemy
from optuna import distributions
from optuna.trial import TrialState

import common  # noqa: F401  (puts the repository on the path)
from sweeper.settings import Settings
from sweeper.storage import open_storage, study_user_attrs
from sweeper.storage.optuna_private import models
from sweeper.study.config import CONFIG_ATTR, SweepConfig
from sweeper.study.pruning import warmup_epochs
from sweeper.study.points import group_of
from sweeper.tasks.hyperparams import dropout_of, penalty_of
from tests.support.sleep_task import score

METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")
WORKER = "prefill:"  # the worker attr of a prefilled trial starts with it


class _DrawingTrial:
    """Enough of Optuna's trial for ``SearchSpace.suggest``: draws at random, keeps the distributions."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.params: dict[str, Any] = {}
        self.distributions: dict[str, distributions.BaseDistribution] = {}

    def suggest_categorical(self, name: str, choices: list[Any]) -> Any:
        self.distributions[name] = distributions.CategoricalDistribution(choices)
        self.params[name] = self.rng.choice(choices)
        return self.params[name]

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        self.distributions[name] = distributions.FloatDistribution(low, high, log=log)
        value = math.exp(self.rng.uniform(math.log(low), math.log(high))) if log else self.rng.uniform(low, high)
        self.params[name] = value
        return value


def prefill(url: str, study_name: str, trials: int, *, seed: int = 0) -> dict[str, int]:
    """Add ``trials`` finished trials to the launched study ``study_name`` (PostgreSQL); returns
    the rows written per table."""
    storage = open_storage(Settings(storage=url), check_schema=False)
    study_id = storage.get_study_id_from_name(study_name)
    config = SweepConfig.from_attrs(study_user_attrs(storage, study_name)[CONFIG_ATTR])
    rng = random.Random(seed)
    warmup = warmup_epochs(config.epochs)
    t = models.TrialModel.__table__
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with storage.engine.begin() as conn:
        first_id = (conn.execute(sqlalchemy.select(sqlalchemy.func.max(t.c.trial_id))).scalar() or 0) + 1
        first_number = conn.execute(sqlalchemy.select(sqlalchemy.func.count()).where(t.c.study_id == study_id)).scalar()
    groups: dict[str, list[float]] = defaultdict(list)
    start = datetime.now() - timedelta(days=1)
    for i in range(trials):
        drawn = _DrawingTrial(rng)
        hp = config.space.suggest(drawn)
        value = score(hp)
        group = group_of(penalty_of(drawn.params), dropout_of(drawn.params))
        peers = groups[group]
        pruned = len(peers) >= 3 and value < statistics.median(peers)
        peers.append(value)
        epochs = warmup if pruned else config.epochs
        trial_id = first_id + i
        began = start + timedelta(seconds=i)
        rows["trials"].append({"trial_id": trial_id, "number": first_number + i, "study_id": study_id,
                               "state": TrialState.PRUNED if pruned else TrialState.COMPLETE,
                               "datetime_start": began, "datetime_complete": began + timedelta(seconds=epochs)})
        for name, internal in drawn.params.items():
            dist = drawn.distributions[name]
            rows["trial_params"].append({"trial_id": trial_id, "param_name": name,
                                         "param_value": dist.to_internal_repr(internal),
                                         "distribution_json": distributions.distribution_to_json(dist)})
        if not pruned:
            rows["trial_values"].append({"trial_id": trial_id, "objective": 0, "value": value,
                                         "value_type": models.TrialValueModel.TrialValueType.FINITE})
        for step in range(1, epochs + 1):
            rows["trial_intermediate_values"].append({
                "trial_id": trial_id, "step": step, "intermediate_value": value,
                "intermediate_value_type": models.TrialIntermediateValueModel.TrialIntermediateValueType.FINITE})
        logs = {"loss": 1 - value, "accuracy": value, "val_loss": 1 - value, "val_accuracy": value}
        attrs: dict[str, Any] = {
            "seed": rng.randrange(2**31 - 1), "sampler_seed": rng.randrange(2**31 - 1), "worker": f"{WORKER}{i % 64}",
            "history": {m: [logs[m]] * epochs for m in METRICS}, "epochs_run": epochs, "wall_time_s": float(epochs),
            "train_accuracy": value, "train_loss": 1 - value, "val_accuracy": value, "val_loss": 1 - value,
        }
        if pruned:
            attrs["stop_reason"] = f"pruned by the median pruner after epoch {epochs}"
        rows["trial_user_attributes"] += [{"trial_id": trial_id, "key": k, "value_json": json.dumps(v)}
                                          for k, v in attrs.items()]
    tables = {"trials": t, "trial_params": models.TrialParamModel.__table__,
              "trial_values": models.TrialValueModel.__table__,
              "trial_intermediate_values": models.TrialIntermediateValueModel.__table__,
              "trial_user_attributes": models.TrialUserAttributeModel.__table__}
    with storage.engine.begin() as conn:
        for name, table in tables.items():
            for lo in range(0, len(rows[name]), 20000):
                conn.execute(table.insert(), rows[name][lo:lo + 20000])
        # Explicit ids leave the sequence behind: the next trial Optuna inserts takes the next id.
        conn.execute(sqlalchemy.text("SELECT setval(pg_get_serial_sequence('trials', 'trial_id'), "
                                     "(SELECT max(trial_id) FROM trials))"))
    with storage.engine.begin() as conn:
        # Statistics as a study that grew trial by trial has them (autovacuum's analyze may not
        # have come by yet after a bulk load): without them the planner scans whole child tables.
        conn.execute(sqlalchemy.text("ANALYZE"))
    storage.engine.dispose()
    return {name: len(rows[name]) for name in tables}


@dataclass(frozen=True)
class StartupRead:
    trials: int
    rows: int  # rows the database sent back for the read (every statement)
    statements: int
    wall_s: float  # as the worker waits for it: the server's work, the transfer and Optuna's objects


def startup_read(url: str, study_name: str) -> StartupRead:
    """A starting worker's first read of the study's trials, through a fresh storage and study."""
    storage = open_storage(Settings(storage=url), check_schema=False)
    study = optuna.load_study(study_name=study_name, storage=storage)
    counted = {"rows": 0, "statements": 0}

    def after(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        counted["statements"] += 1
        counted["rows"] += max(0, cursor.rowcount)

    sqlalchemy.event.listen(storage.engine, "after_cursor_execute", after)
    began = time.perf_counter()
    trials = study.get_trials(deepcopy=False)
    wall = time.perf_counter() - began
    sqlalchemy.event.remove(storage.engine, "after_cursor_execute", after)
    storage.engine.dispose()
    return StartupRead(len(trials), counted["rows"], counted["statements"], wall)
