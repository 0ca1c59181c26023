"""The statistics of the perf gate: medians, spread, a rank test and a bootstrap interval.

Each replicate is one fresh process and contributes one value per figure (a
stage's p50, say); samples are never pooled across processes, because the
noise of a shared host lives between processes, not inside one. Two samples
(base and candidate) are compared by the ratio of their medians, a one-sided
Mann-Whitney U test (is the candidate stochastically slower?) and a seeded
bootstrap confidence interval of that ratio. All of it is rank- or
median-based, so one slow outlier process moves none of it much.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from statistics import median

__all__ = ["bootstrap_ratio_ci", "cv", "mann_whitney_greater", "median"]


def cv(xs: Sequence[float]) -> float:
    """Coefficient of variation (sample standard deviation over mean); 0 for fewer than two."""
    if len(xs) < 2:
        return 0.0
    m = sum(xs) / len(xs)
    if m == 0:
        return 0.0
    var = sum((x - m) ** 2 for x in xs) / (len(xs) - 1)
    return math.sqrt(var) / abs(m)


def _ranks(values: Sequence[float]) -> list[float]:
    """Mid-ranks (ties share the mean of their ranks), 1-based."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _exact_u_tail(n_a: int, n_b: int, u: float) -> float:
    """P(U_b >= u) under H0 with no ties: the count of arrangements, by dynamic programming."""
    # counts[i][j][s]: ways for i of A and j of B to give U = s; built one size at a time
    max_u = n_a * n_b
    prev = [[1] + [0] * max_u for _ in range(n_b + 1)]  # i = 0: any j gives U = 0
    for _i in range(1, n_a + 1):
        cur = [[0] * (max_u + 1) for _ in range(n_b + 1)]
        cur[0][0] = 1
        for j in range(1, n_b + 1):
            # the largest of the i + j values is a B (it beats all i A's) or an A
            for s in range(max_u + 1):
                ways = prev[j][s]  # largest is an A: U unchanged
                if s >= _i:
                    ways += cur[j - 1][s - _i]  # largest is a B: it beats the _i A's
                cur[j][s] = ways
        prev = cur
    total = math.comb(n_a + n_b, n_a)
    tail = sum(prev[n_b][s] for s in range(math.ceil(u), max_u + 1))
    return tail / total


def mann_whitney_greater(a: Sequence[float], b: Sequence[float]) -> float:
    """One-sided p-value of ``b`` being stochastically greater than ``a`` (Mann-Whitney U).

    Exact when there are no ties and the samples are small; otherwise the normal
    approximation with tie correction and continuity correction.
    """
    n_a, n_b = len(a), len(b)
    if n_a == 0 or n_b == 0:
        return 1.0
    ranks = _ranks([*a, *b])
    r_b = sum(ranks[n_a:])
    u_b = r_b - n_b * (n_b + 1) / 2
    tied = len(set(ranks)) < len(ranks)
    if not tied and n_a * n_b <= 900:
        return _exact_u_tail(n_a, n_b, u_b)
    n = n_a + n_b
    counts: dict[float, int] = {}
    for r in ranks:
        counts[r] = counts.get(r, 0) + 1
    tie_term = sum(t ** 3 - t for t in counts.values()) / (n * (n - 1)) if n > 1 else 0.0
    var = n_a * n_b / 12 * ((n + 1) - tie_term)
    if var <= 0:
        return 1.0 if u_b <= n_a * n_b / 2 else 0.0
    z = (u_b - n_a * n_b / 2 - 0.5) / math.sqrt(var)
    return 0.5 * math.erfc(z / math.sqrt(2))


def bootstrap_ratio_ci(a: Sequence[float], b: Sequence[float], level: float = 0.95,
                       resamples: int = 4000, seed: int = 20261202) -> tuple[float, float]:
    """Percentile bootstrap interval of ``median(b) / median(a)``, resampling each sample
    independently, with a fixed seed (the same samples always give the same interval)."""
    if not a or not b:
        return (math.nan, math.nan)
    rng = random.Random(seed)
    ratios = []
    for _ in range(resamples):
        ma = median(rng.choices(a, k=len(a)))
        mb = median(rng.choices(b, k=len(b)))
        ratios.append(mb / ma if ma > 0 else math.inf)
    ratios.sort()
    lo = ratios[int((1 - level) / 2 * resamples)]
    hi = ratios[min(resamples - 1, int((1 + level) / 2 * resamples))]
    return (lo, hi)
