"""The arithmetic of ``bench_gpu.py``, apart from its processes: trials done in a time window,
GPU samples, the comparison with one process per GPU, and the table. Pure functions, so that the
figures can be checked without a GPU (``tests/test_bench_gpu.py``)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

# The goal the figures are held against (issue 13): the best of per-gpu K or cohorts gives at
# least this many times the trials per GPU-hour of one worker process per GPU (cifar10 CNN).
GOAL_SPEEDUP = 4.0
# A family (per-gpu K, or cohorts of K) saturates at the K after which the next K listed gains
# less than this factor in trials per hour: doubling K then buys under 10%, while it costs memory
# and, for processes, CPU cores.
SATURATION_GAIN = 1.10


@dataclass(frozen=True)
class TrialSpan:
    """One trial as stored: its start and end (naive local datetimes, as Optuna stores them), and
    whether it finished (complete or pruned) or was cut off when the workers were stopped."""

    start: datetime
    end: datetime
    finished: bool

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def _overlap(start: datetime, end: datetime, a: datetime, b: datetime) -> float:
    return max(0.0, (min(end, b) - max(start, a)).total_seconds())


def typical_trial_seconds(spans: Iterable[TrialSpan]) -> float | None:
    """The median duration of finished trials (None when none finished)."""
    durations = [s.seconds for s in spans if s.finished and s.seconds > 0]
    return statistics.median(durations) if durations else None


def trials_in_window(spans: Iterable[TrialSpan], a: datetime, b: datetime, typical: float | None) -> float:
    """Trials' worth of work done between a and b: each finished trial counts the fraction of it
    that lies in the window; a trial cut off at the stop counts its time in the window over a
    typical trial's duration (at most 1). So a window shorter than a few trials still measures a
    rate, not a count of whole trials that happened to end inside it."""
    done = 0.0
    for span in spans:
        inside = _overlap(span.start, span.end, a, b)
        if inside <= 0:
            continue
        if span.finished:
            done += inside / span.seconds if span.seconds > 0 else 1.0
        elif typical:
            done += min(1.0, inside / typical)
    return done


def per_hour(trials: float, seconds: float) -> float:
    return trials / seconds * 3600.0 if seconds > 0 else float("nan")


# -- GPU samples (nvidia-smi) ---------------------------------------------------------------------
@dataclass(frozen=True)
class GpuSample:
    time: float  # time.time()
    utilization: float  # % of the sample period in which a kernel ran (nvidia-smi utilization.gpu)
    memory_mib: float


def parse_gpu_sample(line: str, now: float) -> GpuSample | None:
    """One line of ``nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits``
    (e.g. ``37, 1203``); None for anything else ("[N/A]", a blank line)."""
    parts = [p.strip() for p in line.split(",")]
    if len(parts) != 2:
        return None
    try:
        return GpuSample(now, float(parts[0]), float(parts[1]))
    except ValueError:
        return None


@dataclass(frozen=True)
class GpuUse:
    utilization: float  # mean over the window's samples, %
    peak_memory_mib: float
    samples: int


def gpu_use(samples: Sequence[GpuSample], start: float, end: float) -> GpuUse | None:
    inside = [s for s in samples if start <= s.time <= end]
    if not inside:
        return None
    return GpuUse(statistics.fmean(s.utilization for s in inside), max(s.memory_mib for s in inside), len(inside))


# -- rows, the comparison with one process per GPU, and the table ----------------------------
@dataclass
class Row:
    model: str
    mode: str  # "per-gpu" or "cohort"
    k: int
    trials_per_hour: float | None  # None: not measured (skipped or failed)
    gpu: GpuUse | None = None
    gpu_processes: int | None = None
    note: str = ""


@dataclass
class Verdict:
    baseline: float | None
    best: Row | None
    speedup: float | None
    met: bool
    saturation: dict[str, str] = field(default_factory=dict)


def saturation_k(rows: Sequence[Row]) -> str:
    """Where one family of rows (one mode, ascending K) stops paying: the first K whose next K
    gains less than SATURATION_GAIN."""
    measured = [r for r in sorted(rows, key=lambda r: r.k) if r.trials_per_hour]
    for here, after in zip(measured, measured[1:]):
        if after.trials_per_hour < SATURATION_GAIN * here.trials_per_hour:  # type: ignore[operator]
            return f"K = {here.k} (K = {after.k} adds {after.trials_per_hour / here.trials_per_hour - 1:+.0%})"  # type: ignore[operator]
    if not measured:
        return "not measured"
    return f"not saturated by K = {measured[-1].k}"


def verdict(rows: Sequence[Row], model: str) -> Verdict:
    """The goal for one model: the best row against one process per GPU (per-gpu K = 1)."""
    mine = [r for r in rows if r.model == model]
    base = next((r.trials_per_hour for r in mine if r.mode == "per-gpu" and r.k == 1), None)
    contenders = [r for r in mine if r.trials_per_hour and not (r.mode == "per-gpu" and r.k == 1)]
    saturation = {mode: saturation_k([r for r in mine if r.mode == mode]) for mode in ("per-gpu", "cohort")}
    if not base or not contenders:
        return Verdict(base, None, None, False, saturation)
    best = max(contenders, key=lambda r: r.trials_per_hour or 0.0)
    speedup = best.trials_per_hour / base  # type: ignore[operator]
    return Verdict(base, best, speedup, speedup >= GOAL_SPEEDUP, saturation)


def _figure(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def table(rows: Sequence[Row]) -> list[str]:
    """The Markdown table of every row, with each row's factor over one process per GPU."""
    lines = ["| model | mode | K | trials/h | × one process per GPU | GPU util % (mean) | GPU memory peak MiB | processes on GPU | measured |",
             "|---|---|---|---|---|---|---|---|---|"]
    bases = {r.model: r.trials_per_hour for r in rows if r.mode == "per-gpu" and r.k == 1}
    for r in rows:
        base = bases.get(r.model)
        factor = f"{r.trials_per_hour / base:.2f}" if r.trials_per_hour and base else "n/a"
        lines.append(f"| {r.model} | {r.mode} | {r.k} | {_figure(r.trials_per_hour)} | {factor} | "
                     f"{_figure(r.gpu.utilization if r.gpu else None)} | {_figure(r.gpu.peak_memory_mib if r.gpu else None)} | "
                     f"{'n/a' if r.gpu_processes is None else r.gpu_processes} | {r.note} |")
    return lines
