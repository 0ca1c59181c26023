"""The figures of a run, as plain functions of its series (tested on hand-computed cases).

PnL here is in USD with no capital base, so Sharpe and Sortino are taken on
PnL *changes* per sampling interval, not on returns: ``mean / std`` of the
changes (Sortino: over the downside deviation, the root mean square of the
negative changes, zeros counted), scaled by ``sqrt(periods)`` to the stated
period (a day of event time by default). Both are None where undefined (fewer
than two changes, or no dispersion).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

DAY_S = 86_400.0


def max_drawdown(equity: Sequence[float]) -> float:
    """The largest fall from a running peak (USD, >= 0); the start counts as a peak."""
    peak = -math.inf
    worst = 0.0
    for x in equity:
        if x > peak:
            peak = x
        elif peak - x > worst:
            worst = peak - x
    return worst


def changes(series: Sequence[float]) -> list[float]:
    return [b - a for a, b in zip(series, series[1:], strict=False)]


def sharpe(diffs: Sequence[float], periods: float) -> float | None:
    """``mean/std * sqrt(periods)`` of per-interval changes (sample std, n-1)."""
    n = len(diffs)
    if n < 2:
        return None
    mean = sum(diffs) / n
    var = sum((d - mean) ** 2 for d in diffs) / (n - 1)
    if var <= 0.0:
        return None
    return mean / math.sqrt(var) * math.sqrt(periods)


def sortino(diffs: Sequence[float], periods: float) -> float | None:
    """``mean/downside * sqrt(periods)``, downside = sqrt(mean(min(0, d)^2)) over every change."""
    n = len(diffs)
    if n < 2:
        return None
    mean = sum(diffs) / n
    down = math.sqrt(sum(d * d for d in diffs if d < 0.0) / n)
    if down <= 0.0:
        return None
    return mean / down * math.sqrt(periods)


def periods_per_day(interval_s: float) -> float:
    return DAY_S / interval_s
