"""The simulated world of ``bench/bench_verdicts.py``: what training would give each configuration
of the search space, epoch by epoch and seed by seed, with a known truth to score verdicts
against. Pure numpy and Optuna's ``create_trial``: no sweeper decision is made here, only the
trials a worker would store (the attrs of ``sweeper.worker.trial`` and ``sweeper.tasks.results``).

A run of configuration c on seed s, at epoch e = 1..E (validation accuracy):

    value(e) = mu_c(e) + shift(s) + offset(c, s) + noise(c, s, e)

- ``mu_c``: the mean learning curve of a healthy run. It rises, peaks, then declines (the
  baseline overfits: its peak, at 40% of the epochs, is 1.5 pp above its last epoch). Where the
  scenario lets penalties act (``shapes``), a penalty or dropout peaks later and declines less,
  the more so the stronger it is; the curve is then shifted so that its last epoch is the
  scenario's gain over the baseline. In the null scenarios every configuration's ``mu_c`` is
  the same curve.
- ``shift(s)``: sd ``seed_sd``, shared by every configuration of a seed (common random numbers).
- ``offset`` (persistent within a run) and ``noise`` (fresh each epoch, sd ``epoch_sd`` of the
  configuration): together sd ``pair_sd / sqrt 2`` at the last epoch, so that the paired
  difference of two runs on one seed has sd ``pair_sd`` whatever their epoch noise.
- ``tails``: offset and noise from a t distribution with 3 df scaled to the same sd.
- Seed-wise collapse (``seedwise``): a weight penalty's harm (a drop to -30 pp above its break
  λ) is not a smooth mean shift but, on each seed, either a collapse to ``COLLAPSED`` at every
  epoch or nothing, with probability harm / 30 pp: the mean harm is the same.
- Divergence: each (configuration, seed) diverges with probability ``diverge`` (baseline
  included; ``diverge_more`` raises it for one type), at an epoch drawn uniformly: the trial is
  PRUNED with no value, its history stops there, and its ``stop_reason`` says so.

Truth, with the estimand the verdicts are about (the mean over seeds, every run in it; a diverged
run scored as the metric's worst value, 0.0 accuracy): the mixture mean curve
``m_c(e) = (1 - q_c) * ((1 - p_c) * mu_c(e) + p_c * COLLAPSED) + q_c * 0``. A last-epoch claim is
about ``m_c(E) - m_b(E)``; an early-stopping claim about the oracle ``max_e m_c(e) - max_e m_b(e)``.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from sweeper.study.adaptive import x_of
from sweeper.study.space import SearchSpace
from sweeper.tasks.api import Objective
from sweeper.tasks.results import EPOCHS_RUN, HISTORY, STOP_REASON
from tests.report_tests.known import DISTRIBUTIONS

BASE = 0.50  # the baseline's mean at its last epoch
COLLAPSE_DROP = 0.30
COLLAPSED = BASE - COLLAPSE_DROP  # a collapsed run, at every epoch
WORST = 0.0  # a diverged run, in the estimand
SPACE = SearchSpace()
OBJECTIVE = Objective()
MARGIN = 0.01
COLLAPSE_AT = {"l1": 1e-2, "l2": 1e-1, "l1_l2": 1e-2}  # where each weight penalty's harm is half way
BUMP = (1e-3, 1e-2)  # L2's plateau in the bump scenarios
# The baseline's curve: fraction of the epochs at its peak, and how far it declines after it.
PEAK_AT, DECLINE, RISE = 0.4, 0.015, 0.25
EPOCH_SD = 0.005


@dataclass(frozen=True)
class Scenario:
    """One row's world. ``rows``: the designs it is run with by default (``fixed``, ``adaptive``,
    ``readings``: a fixed design read after every finished run, ``evaluate``: a test-split
    evaluation after the race)."""

    name: str
    about: str
    effect: str = "null"  # null | harm | bump1 | bump2 | bump3
    shapes: bool = False  # penalties and dropout peak later and decline less
    epoch_sd: tuple[float, float] = (EPOCH_SD, EPOCH_SD)  # per-epoch noise: baseline, every other configuration
    seedwise: bool = False  # a weight penalty's harm is a collapse on some seeds
    diverge: float = 0.0
    diverge_more: tuple[str, float] | None = None  # (type, probability): it diverges more often
    tails: bool = False
    pair_sd: float | None = None  # None: the bench's --pair-sd
    epochs: int | None = None  # None: the bench's --epochs
    rows: tuple[str, ...] = ("fixed", "adaptive")
    power: bool = False  # a bump: rows at the power study count

    @property
    def bump(self) -> float:
        return {"bump1": 0.01, "bump2": 0.02, "bump3": 0.03}.get(self.effect, 0.0)


def _scenarios() -> dict[str, Scenario]:
    s: list[Scenario] = [
        Scenario("null", "no setting changes any epoch's mean; per-epoch noise 0.5 pp everywhere (the control)",
                 rows=("fixed", "adaptive", "readings", "evaluate")),
        Scenario("harm", "no gain; each penalty collapses the model above a λ (smooth mean drop to -30 pp: L1, "
                 "L1+L2 at 1e-2, L2 at 1e-1), dropout -2 pp at 0.6; penalties peak later and decline less",
                 "harm", shapes=True),
    ]
    for k in (1, 2, 3):
        s.append(Scenario(f"bump{k}", f"harm, plus L2 +{k} pp at its last epoch over λ in [1e-3, 1e-2]", f"bump{k}",
                          shapes=True, power=True, rows=("fixed", "adaptive", "evaluate") if k == 2 else
                          ("fixed", "adaptive")))
    for sd in (2.2, 3.6):
        s.append(Scenario(f"null-sd{sd}", f"null at a paired sd of {sd} pp (the case studies' noise)",
                          pair_sd=sd / 100, rows=("fixed", "adaptive", "evaluate")))
        for k in (1, 2, 3):
            s.append(Scenario(f"bump{k}-sd{sd}", f"bump{k} at a paired sd of {sd} pp", f"bump{k}", shapes=True,
                              pair_sd=sd / 100, power=True))
    for hi, epochs in ((1.0, None), (1.0, 40), (0.75, None)):
        tag = f"epochs{hi:g}" + (f"-e{epochs}" if epochs else "")
        s.append(Scenario(tag, f"null; per-epoch noise {hi:g} pp for every penalty and dropout against the "
                          f"baseline's 0.5 pp" + (f", {epochs} epochs" if epochs else ""),
                          epoch_sd=(EPOCH_SD, hi / 100), epochs=epochs))
    for sd in (0.4, 0.8, 1.5):
        s.append(Scenario(f"collapse-sd{sd}", f"harm, but each seed of a weight penalty collapses (-30 pp) or not, "
                          f"with probability mean harm / 30 pp; paired sd {sd} pp", "harm", shapes=True,
                          seedwise=True, pair_sd=sd / 100))
    for q in (0.5, 1, 3):
        s.append(Scenario(f"diverge{q:g}", f"null; every configuration, baseline included, diverges on {q:g}% "
                          "of runs", diverge=q / 100, rows=("fixed", "adaptive", "evaluate") if q == 1 else
                          ("fixed", "adaptive")))
    s.append(Scenario("diverge-l1", "null, but L1 diverges on 5% of runs against 0.5% elsewhere (L1 truly hurts: "
                      "-2.2 pp in the estimand)", diverge=0.005, diverge_more=("l1", 0.05)))
    s.append(Scenario("tails", "null with heavy tails: run and epoch noise t(3), scaled to the same sd", tails=True))
    return {x.name: x for x in s}


SCENARIOS = _scenarios()


def strength(group: str, x: float) -> float:
    """How strongly a configuration regularizes, 0 (not at all) to 1 (at its break): the shape
    of its curve moves with it."""
    if group == "baseline":
        return 0.0
    if group == "dropout":
        return min(1.0, x / 0.6)
    return min(1.0, max(0.0, (math.log10(x) - math.log10(COLLAPSE_AT[group]) + 3) / 3))


@dataclass(frozen=True)
class PointTruth:
    """What a configuration gives, in the mean and as a mixture."""

    healthy: np.ndarray  # mu_c(e), e = 1..E: a run that neither collapses nor diverges
    collapse: float  # probability that a seed collapses
    diverge: float  # probability that a run diverges
    epoch_sd: float
    offset_sd: float

    @cached_property
    def mixture(self) -> np.ndarray:
        return (1 - self.diverge) * ((1 - self.collapse) * self.healthy + self.collapse * COLLAPSED) + self.diverge * WORST


@dataclass
class World:
    scenario: Scenario
    pair_sd: float
    epochs: int
    _points: dict[tuple[str, float], PointTruth] = field(default_factory=dict)

    def harm(self, group: str, x: float) -> float:
        """The mean harm of a scenario with harm (≤ 0), at the last epoch."""
        if self.scenario.effect == "null" or group == "baseline":
            return 0.0
        if group == "dropout":
            return -0.02 * max(0.0, (x - 0.45) / 0.15)
        return -COLLAPSE_DROP / (1 + math.exp(-3 * (math.log10(x) - math.log10(COLLAPSE_AT[group]))))

    def bump(self, group: str, x: float) -> float:
        if group != "l2" or not self.scenario.bump:
            return 0.0
        lx = math.log10(x)
        lo, hi = (math.log10(b) for b in BUMP)
        return self.scenario.bump * max(0.0, min(1.0, (lx - (lo - 0.5)) / 0.5, ((hi + 0.5) - lx) / 0.5))

    def point(self, group: str, x: float) -> PointTruth:
        key = (group, x)
        if key not in self._points:
            self._points[key] = self._truth(group, x)
        return self._points[key]

    def _truth(self, group: str, x: float) -> PointTruth:
        sc = self.scenario
        s = strength(group, x) if sc.shapes else 0.0
        u = np.arange(1, self.epochs + 1) / self.epochs
        peak, decline = PEAK_AT + 0.4 * s, DECLINE * (1 - 0.8 * s)
        shape = -RISE * np.exp(-u / 0.1) - decline * np.maximum(0.0, (u - peak) / (1 - peak)) ** 1.5
        harm = self.harm(group, x)
        collapse = 0.0
        if sc.seedwise and group in COLLAPSE_AT:
            collapse, harm = min(1.0, -harm / COLLAPSE_DROP), 0.0
        healthy = shape + (BASE + harm + self.bump(group, x) - shape[-1])
        q = sc.diverge
        if sc.diverge_more and sc.diverge_more[0] == group:
            q = sc.diverge_more[1]
        # Offset and epoch noise make up sd pair_sd / sqrt 2 at the last epoch; the epoch noise
        # is capped below it, so that a low paired sd still leaves a run its own offset.
        total = self.pair_sd / math.sqrt(2)
        epoch_sd = min(sc.epoch_sd[0] if group == "baseline" else sc.epoch_sd[1], 0.95 * total)
        return PointTruth(healthy, collapse, q, epoch_sd, math.sqrt(total ** 2 - epoch_sd ** 2))

    def last_gain(self, group: str, x: float) -> float:
        """The truth of a last-epoch claim: E[value] - E[baseline value], every run in it."""
        return float(self.point(group, x).mixture[-1] - self.point("baseline", 0.0).mixture[-1])

    def early_gain(self, group: str, x: float) -> float:
        """The truth of an early-stopping claim: the best epoch of the mean curve against the
        baseline's (each at its own oracle best epoch)."""
        return float(self.point(group, x).mixture.max() - self.point("baseline", 0.0).mixture.max())


@dataclass(frozen=True)
class Draw:
    """One run's outcome."""

    values: np.ndarray  # per epoch, up to the last one run
    diverged_at: int | None  # the epoch at which the loss went non-finite

    @property
    def last(self) -> float | None:
        return None if self.diverged_at is not None else float(self.values[-1])


@dataclass
class Simulator:
    """One simulated study's runs: every (configuration, seed key) drawn once, so a run asked
    for twice is the same run. Each run is drawn from a generator of its own, keyed by the
    study (one number taken from ``rng``), the configuration and the seed: the same run comes
    out whatever else a design asked for before it, so two designs on the same row seed see the
    same studies (common random numbers), and a lever's effect on power is not lost in the
    noise of different draws."""

    rng: np.random.Generator
    world: World
    seed_sd: float
    shifts: dict[Any, float] = field(default_factory=dict)
    draws: dict[tuple[Any, ...], Draw] = field(default_factory=dict)
    study: int = -1  # the study's key (from ``rng`` at creation)

    def __post_init__(self) -> None:
        if self.study < 0:
            self.study = int(self.rng.integers(2 ** 62))

    def _generator(self, *key: Any) -> np.random.Generator:
        return np.random.default_rng([self.study, *(zlib.crc32(repr(k).encode()) for k in key)])

    def _noise(self, rng: np.random.Generator, sd: float, size: int | None = None) -> Any:
        if self.world.scenario.tails:
            return sd * rng.standard_t(3, size) / math.sqrt(3)
        return rng.normal(0.0, sd, size)

    def draw(self, params: dict[str, Any], seed: Any) -> Draw:
        point = x_of(params)
        if point is None:
            raise ValueError(f"no configuration in {params}")
        key = (point, seed)
        if key in self.draws:
            return self.draws[key]
        if seed not in self.shifts:
            self.shifts[seed] = float(self._generator("seed", seed).normal(0.0, self.seed_sd))
        rng = self._generator(point, seed)
        t = self.world.point(*point)
        epochs = self.world.epochs
        # Always drawn, in this order, so that a run's values do not depend on its scenario's
        # collapse or divergence rates being zero.
        collapse_u, diverge_u = rng.random(), rng.random()
        offset, noise = float(self._noise(rng, t.offset_sd)), self._noise(rng, t.epoch_sd, epochs)
        if t.collapse and collapse_u < t.collapse:
            values = np.full(epochs, COLLAPSED)
        else:
            values = t.healthy + self.shifts[seed] + offset + noise
        diverged_at = None
        if t.diverge and diverge_u < t.diverge:
            diverged_at = int(rng.integers(1, epochs + 1))
            values = values[:diverged_at - 1]
        out = Draw(np.clip(values, 0.0, 1.0), diverged_at)
        self.draws[key] = out
        return out

    def epochs_run(self, params: dict[str, Any], seed: Any) -> int:
        d = self.draw(params, seed)
        return d.diverged_at if d.diverged_at is not None else self.world.epochs


def finished_trial(params: dict[str, Any], user_attrs: dict[str, Any], draw: Draw, epochs: int) -> FrozenTrial:
    """The trial a worker stores for a run: COMPLETE with its history and last value, or PRUNED
    at the epoch it diverged (its history holds the epochs before, and None at that epoch, as
    ``TrainingResult.record_epoch`` stores a non-finite value; the pruned trial reported each
    finished epoch)."""
    history = draw.values.tolist()
    dists = {k: DISTRIBUTIONS[k] for k in params}
    if draw.diverged_at is None:
        attrs = {**user_attrs, HISTORY: {OBJECTIVE.log_key: history}, EPOCHS_RUN: epochs}
        return optuna.trial.create_trial(state=TrialState.COMPLETE, params=params, distributions=dists,
                                         value=history[-1], user_attrs=attrs)
    k = draw.diverged_at
    attrs = {**user_attrs, HISTORY: {OBJECTIVE.log_key: history + [None]}, EPOCHS_RUN: k,
             STOP_REASON: f"diverged: non-finite loss at epoch {k}"}
    return optuna.trial.create_trial(state=TrialState.PRUNED, params=params, distributions=dists, user_attrs=attrs,
                                     intermediate_values={e + 1: v for e, v in enumerate(history)})


def pending_trial(params: dict[str, Any], user_attrs: dict[str, Any], state: TrialState) -> FrozenTrial:
    """A queued run as the storage holds it: WAITING carries its parameters only as
    ``fixed_params`` (what ``enqueue_trial`` stores); RUNNING has them set by the worker."""
    if state == TrialState.WAITING:
        return optuna.trial.create_trial(state=state, system_attrs={"fixed_params": params}, user_attrs=user_attrs)
    return optuna.trial.create_trial(state=state, params=params, distributions={k: DISTRIBUTIONS[k] for k in params},
                                     system_attrs={"fixed_params": params}, user_attrs=user_attrs)
