"""The gate's verdict: pass, fail (a regression, named) or inconclusive, from two samples.

A figure (say ``guards`` p50) of the candidate fails only when both hold:

- the ratio of medians, candidate over base, is above ``1 + threshold``;
- the difference is significant: the one-sided Mann-Whitney p is below
  ``ALPHA`` (0.01), or the bootstrap 95% interval of the ratio lies wholly
  above 1.

It is *inconclusive* (never pass, never fail) when the samples cannot resolve
the threshold: fewer than ``MIN_REPLICATES`` replicates on a side, or a
bootstrap interval wider than the threshold on either side of the ratio.
Deterministic counters (instruction counts) have one value a side and are
judged on the ratio alone.

Exit codes of ``quotepipe gate``: 0 pass, 1 regression, 2 bad input,
3 inconclusive.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from quotepipe.gate.stats import bootstrap_ratio_ci, mann_whitney_greater, median

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
EXIT_CODES = {PASS: 0, FAIL: 1, INCONCLUSIVE: 3}
ALPHA = 0.01
MIN_REPLICATES = 5


class Finding(msgspec.Struct, frozen=True):
    """One figure's comparison."""

    figure: str            #: e.g. "guards.p50_us", "tick_total.p99_us", "guards.instructions"
    verdict: str
    ratio: float           #: candidate over base (medians)
    ci_low: float = math.nan
    ci_high: float = math.nan
    p: float = math.nan
    base: float = math.nan     #: median of the base sample
    current: float = math.nan  #: median of the candidate sample
    n_base: int = 0
    n_current: int = 0
    reason: str = ""


def compare(figure: str, base: Sequence[float], current: Sequence[float],
            threshold_pct: float) -> Finding:
    """Compare replicate samples of one figure (see the module docstring)."""
    t = threshold_pct / 100.0
    n_b, n_c = len(base), len(current)
    if n_b == 0 or n_c == 0:
        return Finding(figure, INCONCLUSIVE, math.nan, n_base=n_b, n_current=n_c,
                       reason="no replicates on one side")
    mb, mc = median(base), median(current)
    ratio = mc / mb if mb > 0 else math.inf
    if n_b < MIN_REPLICATES or n_c < MIN_REPLICATES:
        return Finding(figure, INCONCLUSIVE, ratio, base=mb, current=mc, n_base=n_b, n_current=n_c,
                       reason=f"{min(n_b, n_c)} replicates on a side, at least {MIN_REPLICATES} needed")
    lo, hi = bootstrap_ratio_ci(base, current)
    p = mann_whitney_greater(base, current)
    common: dict[str, Any] = {"ci_low": lo, "ci_high": hi, "p": p, "base": mb, "current": mc,
                              "n_base": n_b, "n_current": n_c}
    significant = p < ALPHA or lo > 1.0
    if ratio > 1 + t and significant:
        return Finding(figure, FAIL, ratio, **common,
                       reason=f"{(ratio - 1) * 100:+.1f}% (threshold +{threshold_pct:g}%), "
                              f"p={p:.3g}, 95% CI {lo:.3f}-{hi:.3f}")
    if hi - ratio > t or ratio - lo > t:
        return Finding(figure, INCONCLUSIVE, ratio, **common,
                       reason=f"the replicates' spread (95% CI {lo:.3f}-{hi:.3f}) cannot resolve "
                              f"+{threshold_pct:g}%")
    return Finding(figure, PASS, ratio, **common)


def compare_counts(figure: str, base: float, current: float, threshold_pct: float) -> Finding:
    """Compare one deterministic count a side (instructions): the ratio alone decides."""
    ratio = current / base if base > 0 else math.inf
    verdict = FAIL if ratio > 1 + threshold_pct / 100.0 else PASS
    reason = f"{(ratio - 1) * 100:+.2f}% (threshold +{threshold_pct:g}%)" if verdict == FAIL else ""
    return Finding(figure, verdict, ratio, base=base, current=current, n_base=1, n_current=1,
                   reason=reason)


def overall(findings: Iterable[Finding]) -> str:
    """Fail if any figure fails; else inconclusive if any is; else pass."""
    verdicts = {f.verdict for f in findings}
    if FAIL in verdicts:
        return FAIL
    if INCONCLUSIVE in verdicts or not verdicts:
        return INCONCLUSIVE
    return PASS
