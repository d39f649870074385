"""The t-statistics of ``sweeper evaluate`` and the reports: a t-interval per group, and Welch's
t-test (with its Welch-Satterthwaite interval) for each group against the unregularized baseline.

Welch rather than Student: regularized and unregularized runs need not have the same variance
across seeds, and with a handful of seeds per group nothing lets us assume they do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy import stats as sps

TEST_NAME = "Welch's t-test (unequal variances, two-sided)"


@dataclass(frozen=True)
class MeanCI:
    n: int
    mean: float
    low: float | None  # None when n < 2: one run gives no interval
    high: float | None
    std: float | None


@dataclass(frozen=True)
class Difference:
    """``mean(a) - mean(b)`` with its Welch interval and test."""

    diff: float
    low: float | None
    high: float | None
    p_value: float | None
    t: float | None
    df: float | None

    @property
    def significant(self) -> bool:
        """The interval excludes zero (equivalently p < 1 - level)."""
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def mean_ci(values: Sequence[float], level: float = 0.95) -> MeanCI:
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("mean_ci needs at least one value")
    mean = float(x.mean())
    if x.size < 2:
        return MeanCI(int(x.size), mean, None, None, None)
    std = float(x.std(ddof=1))
    half = float(sps.t.ppf(0.5 + level / 2, x.size - 1)) * std / math.sqrt(x.size)
    return MeanCI(int(x.size), mean, mean - half, mean + half, std)


def welch(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> Difference:
    """Welch's t-test of mean(a) - mean(b) and its interval (SciPy's, with the
    Welch-Satterthwaite degrees of freedom)."""
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = float(xa.mean() - xb.mean())
    if xa.size < 2 or xb.size < 2:
        return Difference(diff, None, None, None, None, None)
    if xa.var(ddof=1) + xb.var(ddof=1) <= 1e-24 * max(1.0, diff * diff):
        # Identical runs in both groups (e.g. fully deterministic training): no spread, no test.
        return Difference(diff, None, None, None, None, None)
    result = sps.ttest_ind(xa, xb, equal_var=False)
    interval = result.confidence_interval(confidence_level=level)
    return Difference(diff, float(interval.low), float(interval.high), float(result.pvalue),
                      float(result.statistic), float(result.df))


def paired(a: dict[int, float], b: dict[int, float], level: float = 0.95) -> Difference | None:
    """``mean(a[r] - b[r])`` over the repeats ``r`` both have, with its t-interval and the paired
    t-test. A curve study trains repeat r of every configuration with the same seed (the same
    initial weights and batch order), so the difference repeat by repeat removes that shared noise.
    None with fewer than 2 pairs.

    Worked out directly (SciPy's t distribution through ``scipy.special``) rather than with
    ``ttest_1samp``: the verdict simulator makes millions of these, and the result is the same."""
    common = sorted(set(a) & set(b))
    if len(common) < 2:
        return None
    diffs = [a[r] - b[r] for r in common]
    n = len(diffs)
    mean = math.fsum(diffs) / n
    sd = math.sqrt(math.fsum((d - mean) ** 2 for d in diffs) / (n - 1))
    if sd <= 1e-12 * max(1.0, abs(mean)):
        # Identical differences on every seed (a deterministic run, or a coarse metric on a small
        # split): no spread to bound the difference with, so no interval and no claim.
        return Difference(mean, None, None, None, None, None)
    se = sd / math.sqrt(n)
    df = n - 1
    half = float(special.stdtrit(df, 0.5 + level / 2)) * se
    t = mean / se
    p_value = float(2 * special.stdtr(df, -abs(t)))
    return Difference(mean, mean - half, mean + half, p_value, float(t), float(df))
