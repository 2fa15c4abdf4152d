"""Price screens of one tender: statistics of its bid prices that cartels distort.

Honest bids scatter; cover bids placed to lose sit in a tight, regular band above the designated
winner, who is separated from them by a gap. The screens measure that (Huber & Imhof 2019,
"Machine learning with screens for detecting bid-rigging cartels"; García Rodríguez et al. 2022):

- ``cv``: coefficient of variation, sample standard deviation over the mean (low when rigged)
- ``spd``: spread, (highest - lowest) / lowest
- ``diffp``: (second lowest - lowest) / lowest, the gap in front of the winner
- ``rd``: relative distance, (second lowest - lowest) / standard deviation of the losing bids
- ``kurt``, ``skew``: bias-corrected excess kurtosis and skewness (Fisher-Pearson)
- ``kstest``: Kolmogorov-Smirnov statistic of the bids against a uniform distribution over
  [lowest, highest]

Every tender gets a value for every screen: where a statistic is undefined (one bid, all bids
equal, too few bids for kurtosis) it is 0, the value the published data sets use, and
``n_bids`` tells a model how much to trust it. The checks against the published values are in
tests/unit/collusion/test_screens.py; docs/collusion.md says where our RD and DIFFP differ.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

SCREEN_NAMES = ("cv", "spd", "diffp", "rd", "kurt", "skew", "kstest")
# The standard deviation of equal prices comes out of floating point as 1e-10 rather than 0;
# dividing by it would give an RD of 1e14.
_EPSILON = 1e-9


@dataclass(frozen=True)
class Screens:
    n_bids: int
    cv: float
    spd: float
    diffp: float
    rd: float
    kurt: float
    skew: float
    kstest: float
    mean: float
    median: float
    # Relative to the buyer's estimate; 0 when no estimate is known.
    min_to_estimate: float = 0.0
    mean_to_estimate: float = 0.0

    def as_json(self) -> dict[str, float | int]:
        return {k: (v if isinstance(v, int) else round(v, 6)) for k, v in asdict(self).items()}


def compute(prices: Sequence[float], *, estimate: float | None = None) -> Screens:
    """The screens of one tender's bid prices (in any order; non-positive prices ignored)."""
    b = np.sort(np.asarray([p for p in prices if p is not None and p > 0], dtype=float))
    n = len(b)
    if n == 0:
        return Screens(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    mean = float(b.mean())
    spread = float(b[-1] - b[0])
    sd = float(b.std(ddof=1)) if n > 1 else 0.0
    equal = spread == 0.0
    cv = sd / mean if n > 1 else 0.0
    spd = spread / float(b[0])
    diffp = float(b[1] - b[0]) / float(b[0]) if n > 1 else 0.0
    losing_sd = float(b[1:].std(ddof=1)) if n > 2 else 0.0
    rd = float(b[1] - b[0]) / losing_sd if losing_sd > _EPSILON * mean else 0.0
    kurt, skew, ks = 0.0, 0.0, 0.0
    if n > 1 and not equal:
        # The formulas of scipy.stats.kurtosis/skew(bias=False) and kstest against
        # uniform(min, max), written out: scipy's wrappers cost 5 ms a call, and cross-validation
        # computes the screens of thousands of tenders.
        d = b - mean
        m2, m3, m4 = float((d**2).mean()), float((d**3).mean()), float((d**4).mean())
        if n > 2:
            skew = _finite(m3 / m2**1.5 * math.sqrt(n * (n - 1)) / (n - 2))
        if n > 3:
            g2 = m4 / m2**2 - 3.0
            kurt = _finite(((n + 1) * g2 + 6.0) * (n - 1) / ((n - 2) * (n - 3)))
        u = (b - b[0]) / spread
        i = np.arange(1, n + 1)
        ks = float(max((i / n - u).max(), (u - (i - 1) / n).max()))
    est = float(estimate) if estimate is not None and estimate > 0 else 0.0
    return Screens(
        n_bids=n, cv=cv, spd=spd, diffp=diffp, rd=rd, kurt=kurt, skew=skew, kstest=ks,
        mean=mean, median=float(np.median(b)),
        min_to_estimate=float(b[0]) / est if est else 0.0,
        mean_to_estimate=mean / est if est else 0.0,
    )


def supplementary(prices: Sequence[float]) -> tuple[float, ...]:
    """More shape of the bids, for the classifier only: the share of duplicate prices, DIFFP
    over distinct prices, the gap over the spread of the bids below the highest (the RD the data
    sets publish, close to it), CV and spread of the losing bids, the smallest gap over the mean
    gap, and where the mean sits between lowest and highest. Measured on the cartel data sets,
    they add about 0.01 of ROC AUC (bench/RESULTS.md)."""
    b = np.sort(np.asarray([p for p in prices if p is not None and p > 0], dtype=float))
    n = len(b)
    if n < 2 or b[-1] == b[0]:
        return (1.0 - 1.0 / n if n else 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    u = np.unique(b)
    duplicates = 1.0 - len(u) / n
    diffp_distinct = float(u[1] - u[0]) / float(u[0])
    below = b[b < u[-1]]
    below_sd = float(below.std(ddof=1)) if len(below) > 1 else 0.0
    rd_below = float(u[1] - u[0]) / below_sd if below_sd > _EPSILON * float(b.mean()) else 0.0
    losing = b[1:]
    cv_losing = float(losing.std(ddof=1) / losing.mean()) if len(losing) > 1 else 0.0
    spd_losing = float((losing[-1] - losing[0]) / losing[0])
    gaps = np.diff(b)
    min_gap = float(gaps.min() / gaps.mean()) if len(gaps) > 1 else 0.0
    position = float((b.mean() - b[0]) / (b[-1] - b[0]))
    return (duplicates, diffp_distinct, rd_below, cv_losing, spd_losing, min_gap, position)


def _finite(x: float) -> float:
    x = float(x)
    return x if math.isfinite(x) else 0.0
