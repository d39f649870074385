"""The t-statistics of ``sweeper evaluate`` and the reports: a t-interval of one configuration's
runs (the bands), and the paired t-interval of a configuration against the unregularized baseline,
seed by seed (every comparison a verdict makes; ``verdicts.py`` sets its level). Paired rather than
Welch's unpaired test: repeat r of every configuration uses the same seed, and the difference seed
by seed removes that shared noise (issue 19 replaced Welch's test here).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy import stats as sps


@dataclass(frozen=True)
class MeanCI:
    n: int
    mean: float
    low: float | None  # None when n < 2: one run gives no interval
    high: float | None
    std: float | None


@dataclass(frozen=True)
class Difference:
    """A difference of means with its interval and test (None where nothing bounds it)."""

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
