"""The perf gate's decision rule on synthetic samples: the verdicts it must give."""

from __future__ import annotations

import itertools
import random

import pytest

from quotepipe.gate.decide import FAIL, INCONCLUSIVE, PASS, compare, compare_counts, overall
from quotepipe.gate.stats import _exact_u_tail, bootstrap_ratio_ci, cv, mann_whitney_greater


def sample(n: int, centre: float, cv_pct: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [centre * (1 + rng.gauss(0, cv_pct / 100)) for _ in range(n)]


def test_a_a_passes():
    for seed in range(20):
        f = compare("guards.p50_us", sample(12, 2.0, 1.0, seed), sample(12, 2.0, 1.0, seed + 100), 3.0)
        assert f.verdict == PASS, f


def test_three_percent_slower_with_low_noise_fails_and_is_named():
    f = compare("guards.p50_us", sample(12, 2.0, 0.5, 1), sample(12, 2.0 * 1.045, 0.5, 2), 3.0)
    assert f.verdict == FAIL and f.figure == "guards.p50_us"
    assert f.ratio > 1.03 and f.p < 0.01 and f.ci_low > 1.0
    assert "threshold +3%" in f.reason


def test_ten_percent_slower_fails_even_with_five_percent_noise():
    f = compare("tick_total.p95_us", sample(15, 5.0, 5.0, 3), sample(15, 5.5, 5.0, 4), 3.0)
    assert f.verdict == FAIL, f


def test_slower_but_within_the_threshold_passes():
    f = compare("spread.p50_us", sample(12, 2.0, 0.3, 5), sample(12, 2.02, 0.3, 6), 3.0)
    assert f.ratio > 1.0 and f.verdict == PASS, f


def test_noisy_replicates_are_inconclusive_not_pass_or_fail():
    base = [4.0, 6.0, 5.0, 3.5, 6.5, 5.1]     # p95s of fresh processes on a busy host: CV ~20%
    current = [6.3, 4.2, 5.2, 6.7, 3.8, 5.4]
    f = compare("emit.p95_us", base, current, 3.0)
    assert f.verdict == INCONCLUSIVE and "cannot resolve" in f.reason, f


def test_too_few_replicates_are_inconclusive():
    f = compare("emit.p50_us", [1.0, 1.0, 1.0], [2.0, 2.0, 2.0], 3.0)
    assert f.verdict == INCONCLUSIVE and "at least 5" in f.reason


def test_unequal_counts_are_compared():
    f = compare("fetch_md.p50_us", sample(7, 1.0, 0.5, 9), sample(14, 1.10, 0.5, 10), 3.0)
    assert (f.n_base, f.n_current) == (7, 14) and f.verdict == FAIL
    g = compare("fetch_md.p50_us", sample(7, 1.0, 0.5, 11), sample(14, 1.0, 0.5, 12), 3.0)
    assert g.verdict == PASS


def test_one_slow_outlier_process_does_not_fail_the_gate():
    base = sample(10, 2.0, 0.5, 13)
    current = sample(10, 2.0, 0.5, 14)
    current[3] = 9.0  # one replicate landed on a busy spell of the host
    f = compare("guards.p50_us", base, current, 3.0)
    assert f.verdict == PASS, f


def test_a_faster_candidate_passes():
    f = compare("guards.p50_us", sample(10, 2.0, 0.5, 15), sample(10, 1.7, 0.5, 16), 3.0)
    assert f.verdict == PASS and f.ratio < 1


def test_instruction_counts_judge_on_the_ratio():
    assert compare_counts("guards.instructions", 6000, 6180, 2.0).verdict == FAIL   # +3%
    assert compare_counts("guards.instructions", 6000, 6060, 2.0).verdict == PASS   # +1%
    assert compare_counts("guards.instructions", 6000, 5000, 2.0).verdict == PASS


def test_overall_verdict():
    p = compare_counts("a", 1, 1, 2.0)
    f = compare_counts("b", 1, 2, 2.0)
    i = compare("c", [1.0], [1.0], 3.0)
    assert overall([p, p]) == PASS and overall([p, i]) == INCONCLUSIVE and overall([p, i, f]) == FAIL
    assert overall([]) == INCONCLUSIVE


def test_exact_mann_whitney_matches_brute_force():
    a, b = [1.0, 4.0, 6.0], [2.0, 5.0, 7.0, 8.0]
    values = sorted(a + b)
    u_obs = sum(1 for x in a for y in b if y > x)
    count = total = 0
    for idx in itertools.combinations(range(len(values)), len(b)):
        bb = [values[k] for k in idx]
        aa = [values[k] for k in range(len(values)) if k not in idx]
        total += 1
        count += sum(1 for x in aa for y in bb if y > x) >= u_obs
    assert mann_whitney_greater(a, b) == pytest.approx(count / total)
    assert _exact_u_tail(3, 4, 0) == pytest.approx(1.0)


def test_mann_whitney_normal_approximation_with_ties():
    a = [1.0] * 10 + [2.0] * 10
    b = [2.0] * 10 + [3.0] * 10
    assert mann_whitney_greater(a, b) < 0.001
    assert mann_whitney_greater(b, a) > 0.99


def test_bootstrap_is_seeded_and_brackets_the_ratio():
    a, b = sample(10, 1.0, 1.0, 17), sample(10, 1.2, 1.0, 18)
    lo, hi = bootstrap_ratio_ci(a, b)
    assert (lo, hi) == bootstrap_ratio_ci(a, b)
    assert lo < 1.2 < hi * 1.01 and lo > 1.1
    assert cv([1.0, 1.0]) == 0.0 and cv([1.0]) == 0.0
