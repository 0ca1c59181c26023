"""Scoreboard metrics on hand-built fills, and the allocator's rules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from quotepipe.domain.guards import FLAG_BLACKLISTED
from quotepipe.domain.orders import Fill, OrderEnd
from quotepipe.scoreboard.allocator import Allocator, clamp_mean_one
from quotepipe.scoreboard.metrics import Scoreboard
from tests.chain_helpers import T0, config

S = 1_000_000_000


def board_cfg(**kw):
    return config(symbol_scoreboard={"alpha": 1.0, "markout_horizon_s": 5.0, **kw}).symbol_scoreboard


def test_metrics_of_one_fill_equal_the_definitions():
    b = Scoreboard(board_cfg(), 1)
    # we buy at 99.99 with mid 100.00, target 99.98, fee -0.5 bps; joined behind 3 of a 4 level
    b.on_fill(Fill(0, 1, 99.99, 1.0, T0, -0.5, 100.0, 99.98, 1 - 3 / 4, 1))
    b.on_mid(0, T0 + 4 * S, 100.5)   # before the horizon: no markout yet
    assert b.symbols[0].markouts == 0
    b.on_mid(0, T0 + 5 * S, 100.04)  # the first mid at the horizon
    m = b.symbols[0].ema
    edge = (100.0 - 99.99) / 100.0 * 1e4
    markout = (100.04 - 99.99) / 99.99 * 1e4
    assert m["edge_bps"] == pytest.approx(edge)
    assert m["markout_bps"] == pytest.approx(markout)
    assert m["net_bps"] == pytest.approx(markout + 0.5)
    assert m["adverse_penalty"] == pytest.approx(max(0.0, edge - markout))
    assert m["slippage_bps"] == pytest.approx((99.99 - 99.98) / 100.0 * 1e4)
    assert m["queue_edge"] == pytest.approx(0.25)
    b.on_order_end(OrderEnd(0, 1, 4.0, 1.0, T0))
    assert m["fill_rate"] == pytest.approx(0.25)


def test_sell_side_signs_and_adverse_penalty():
    b = Scoreboard(board_cfg(), 1)
    b.on_fill(Fill(0, -1, 100.02, 1.0, T0, 0.0, 100.0, 100.02, 0.0, 1))
    b.on_mid(0, T0 + 5 * S, 100.10)  # the price went up after we sold: adverse
    m = b.symbols[0].ema
    edge = (100.02 - 100.0) / 100.0 * 1e4
    markout = -(100.10 - 100.02) / 100.02 * 1e4
    assert m["edge_bps"] == pytest.approx(edge) and m["markout_bps"] == pytest.approx(markout)
    assert m["adverse_penalty"] == pytest.approx(edge - markout)


def test_ema_and_score_shrinkage():
    cfg = board_cfg(alpha=0.5, prior_fills=20.0)
    b = Scoreboard(cfg, 1)
    assert b.score(0) == 0.5
    for k, mid in enumerate((100.02, 100.0)):
        b.on_fill(Fill(0, 1, 100.0, 1.0, T0 + k * S, 0.0, 100.0, 100.0, 0.0, k))
        b.on_mid(0, T0 + (k + 5) * S, mid)
    # bias-corrected EMA of (2, 0) with alpha 0.5: (0.5*0.5*2 + 0.5*0) / 0.75
    assert b.symbols[0].ema["markout_bps"] == pytest.approx(2 * 0.25 / 0.75)
    raw = b.score(0)
    n, k = 2, 20
    s = (raw * (n + k) - k * 0.5) / n  # undo the prior to get the raw score back
    assert 0.0 <= s <= 1.0
    assert abs(raw - 0.5) < abs(s - 0.5)  # shrunk toward 0.5


def test_scoreboard_disabled_gives_no_metrics():
    b = Scoreboard(board_cfg(enabled=False), 1)
    b.on_fill(Fill(0, 1, 100.0, 1.0, T0, 0.0, 100.0, 100.0, 0.0, 1))
    b.on_mid(0, T0 + 10 * S, 101.0)
    assert b.symbols[0].fills == 0 and b.score(0) == 0.5


# ------------------------------------------------------------------ allocator

def test_clamp_keeps_the_mean_at_one_where_possible():
    w = np.array(clamp_mean_one([5.0, 0.5, 0.3, 0.2], 0.3, 2.5))
    assert w.max() <= 2.5 and w.min() >= 0.3
    assert w.mean() == pytest.approx(1.0)
    assert clamp_mean_one(np.array([6.0, 1e-3]), 0.3, 1.2) == pytest.approx([1.2, 0.8])
    assert clamp_mean_one([6.0, 6.0], 0.3, 0.9) == [0.9, 0.9]  # mean 1 impossible
    assert clamp_mean_one([], 0.3, 2.5) == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0.0, 50.0), min_size=1, max_size=12), st.floats(0.05, 1.0), st.floats(1.01, 4.0))
@example([5e-324], 1.0, 2.0)        # kinks at inf: the scale must stay inside the searched range
@example([0.0, 5e-324], 1.0, 2.0)   # (hypothesis found both)
def test_clamp_solves_for_the_scale_exactly(raw, lo, hi):
    """Inside the bounds, order kept, and the mean is 1 whenever a scale can reach it."""
    w = np.array(raw)
    out = np.array(clamp_mean_one(raw, lo, hi))
    assert (out >= lo - 1e-12).all() and (out <= hi + 1e-12).all()
    for i in range(len(w)):
        for j in range(len(w)):
            if w[i] < w[j]:
                assert out[i] <= out[j] + 1e-12
    reachable = np.clip(w * 1e12, lo, hi).mean() >= 1.0 and np.clip(w * 1e-12, lo, hi).mean() <= 1.0
    if reachable:
        assert out.mean() == pytest.approx(1.0, abs=1e-9)


def clamp_by_walking(w, lo, hi, total_wanted=None):
    """The clamp as first written: every kink tried from the left, numpy's clip at the end."""
    w = np.asarray(w, dtype=np.float64)
    n = float(len(w)) if total_wanted is None else total_wanted
    xs = w.tolist()

    def total(c):
        return sum(min(max(c * x, lo), hi) for x in xs)

    if total(1e12) < n:
        return [hi] * len(xs)
    if total(1e-12) > n:
        return [lo] * len(xs)
    left = 0.0
    for right in (*sorted({k for x in xs if x > 0.0 for k in (lo / x, hi / x) if k < 1e12}), 1e12):
        if total(right) >= n:
            break
        left = right
    mid = (left + right) / 2
    slope = sum(x for x in xs if lo < mid * x < hi)
    fixed = sum(min(max(mid * x, lo), hi) for x in xs if not lo < mid * x < hi)
    c = (n - fixed) / slope if slope > 0.0 else right
    return np.clip(w * c, lo, hi).tolist()


@settings(max_examples=400, deadline=None)
@given(st.lists(st.floats(0.0, 50.0), min_size=1, max_size=12), st.floats(0.05, 1.0), st.floats(1.01, 4.0),
       st.one_of(st.none(), st.floats(0.5, 14.0)))
@example([5e-324], 1.0, 2.0, None)
@example([1.0, 1.0, 1.0], 0.3, 2.5, None)      # no kink inside: the first candidate already crosses
@example([0.0, 0.0, 3.0], 0.3, 2.5, 2.0)       # weights at zero have no kinks
def test_clamp_finds_the_piece_a_walk_from_the_left_finds(raw, lo, hi, total_wanted):
    """The binary search over the kinks gives the weights of the walk it replaced, bit for bit
    (replay's quotes depend on them): the same piece, the same scale, the same clip."""
    assert clamp_mean_one(raw, lo, hi, total_wanted) == clamp_by_walking(raw, lo, hi, total_wanted)


class FakeScores(Scoreboard):
    """A real Scoreboard whose scores and net_bps are set directly."""

    def __init__(self, n, scores, net=None, markouts=100):
        super().__init__(board_cfg(), n)
        self.scores = list(scores)
        self.net = list(net or [0.0] * n)
        for m in self.symbols:
            m.markouts = markouts

    def score(self, slot):
        return self.scores[slot]

    def net_bps(self, slot):
        return self.net[slot]


def alloc(n=4, **kw):
    cfg = config(dynamic_allocator={"interval_ms": 1000.0, **kw})
    return Allocator(cfg.dynamic_allocator, cfg.symbol_scoreboard, n)


def test_softmax_clamp_and_mean():
    a = alloc(max_step=10.0, hysteresis=0.0, temperature=0.1)
    board = FakeScores(4, [0.9, 0.5, 0.5, 0.1])
    a.allocate(T0, board)
    w = a.weights
    assert w[0] == 2.5 and 0.3 <= w[3] < w[1]
    assert w.mean() == pytest.approx(1.0)
    assert w[1] == w[2]


def test_weights_do_not_depend_on_numpys_exp_kernel(monkeypatch):
    """numpy's ``exp`` picks a SIMD kernel by the CPU, and its AVX-512 kernel rounds some values
    to another last bit than its AVX2 path: the weights, and so replay's quotes, must be the same
    on every host. Here numpy's exp is made to round every other value up one bit."""
    def weights():
        a = alloc(n=6, max_step=10.0, hysteresis=0.0, temperature=0.3)
        a.allocate(T0, FakeScores(6, [0.73, 0.52, 0.41, 0.66, 0.58, 0.2]))
        return a.weights.tolist()

    expected = weights()
    exp = np.exp

    def another_kernel(x, *args, **kw):
        out = np.array(exp(x, *args, **kw), dtype=np.float64, ndmin=1)
        out[::2] = np.nextafter(out[::2], np.inf)
        return out if np.ndim(x) else out[0]

    monkeypatch.setattr(np, "exp", another_kernel)
    assert weights() == expected


def test_hysteresis_and_max_step():
    a = alloc(max_step=0.5, hysteresis=0.1, temperature=0.3)
    small = FakeScores(4, [0.51, 0.5, 0.5, 0.49])  # targets within 0.1 of 1: no change
    assert not a.allocate(T0, small)
    assert list(a.weights) == [1.0] * 4
    big = FakeScores(4, [1.0, 0.5, 0.5, 0.0])
    a.allocate(T0 + S, big)
    w1 = a.weights.copy()
    assert w1[0] > w1[1] == w1[2] > w1[3] and w1.mean() == pytest.approx(1.0)
    assert w1[3] >= 0.5 - 1e-12  # one step of 0.5 down at most (the rescale moves it up, if at all)
    a.allocate(T0 + 2 * S, big)
    assert a.weights[0] > w1[0] and a.weights.mean() == pytest.approx(1.0)


def test_the_mean_weight_stays_one_under_hysteresis():
    """Hysteresis holds some weights still while others move: the mean drifted (1.06 in a probe)."""
    a = alloc(n=5, max_step=0.3, hysteresis=0.15, temperature=0.3)
    rng = np.random.default_rng(3)
    for k in range(200):
        a.allocate(T0 + k * S, FakeScores(5, list(rng.uniform(0.2, 0.8, 5))))
        assert a.weights.mean() == pytest.approx(1.0, abs=1e-9), (k, a.weights)


def test_instruments_without_market_data_stay_at_one_and_take_no_size():
    """Two configured instruments with no data used to get 1.11 while the live ones got 0.86-1.0."""
    a = alloc(n=4, max_step=10.0, hysteresis=0.0)
    live = [1, 1, 0, 0]
    a.allocate(T0, FakeScores(4, [0.4, 0.3, 0.5, 0.5]), live)
    assert a.weights[2] == a.weights[3] == 1.0
    assert a.weights[:2].mean() == pytest.approx(1.0) and a.weights[0] > a.weights[1]


def test_probation_ramps_and_stays_under_the_weight_before_the_blacklist():
    """A toxic instrument came back at 0.3 and was at 1.01 two seconds later, above its 0.48."""
    a = alloc(n=4, blacklist_net_bps=-5.0, blacklist_after_s=1.0, cooldown_s=10.0, max_step=0.2,
              hysteresis=0.0, min_weight=0.3, temperature=0.3)
    board = FakeScores(4, [0.2, 0.5, 0.5, 0.5], net=[-9.0, 0, 0, 0])
    before = 1.0
    for k in range(4):
        if not a.flags[0] & FLAG_BLACKLISTED:
            before = float(a.weights[0])  # its weight just before the blacklist
        a.allocate(T0 + k * S, board)
    assert a.flags[0] & FLAG_BLACKLISTED and 0.3 <= before < 1.0 and a.before_blacklist[0] == before
    board.net[0] = 0.0
    board.scores[0] = 0.99  # it now looks like the best instrument of all
    a.allocate(T0 + 20 * S, board)  # back on probation at min_weight
    assert a.weights[0] == pytest.approx(0.3) and a.probation[0]
    seen = [0.3]
    for k in range(21, 40):
        a.allocate(T0 + k * S, board)
        seen.append(float(a.weights[0]))
    assert max(seen) <= before + 1e-12, (before, seen)
    assert all(b - a_ <= 0.2 + 1e-12 for a_, b in zip(seen, seen[1:], strict=False)), seen
    board.symbols[0].fills = 20  # prior_fills fresh fills: free again
    for k in range(40, 60):
        a.allocate(T0 + k * S, board)
    assert not a.probation[0] and a.weights[0] > before


def test_blacklist_only_after_the_sustained_window_then_probation():
    a = alloc(blacklist_net_bps=-5.0, blacklist_after_s=30.0, cooldown_s=60.0)
    board = FakeScores(4, [0.5] * 4, net=[-6.0, 0.0, 0.0, 0.0])
    a.allocate(T0, board)
    a.allocate(T0 + 29 * S, board)
    assert not a.flags[0] & FLAG_BLACKLISTED
    board.net[0] = 0.0  # recovers for a moment: the clock restarts
    a.allocate(T0 + 30 * S, board)
    board.net[0] = -6.0
    a.allocate(T0 + 31 * S, board)
    a.allocate(T0 + 60 * S, board)
    assert not a.flags[0] & FLAG_BLACKLISTED
    a.allocate(T0 + 61 * S, board)
    assert a.flags[0] & FLAG_BLACKLISTED and a.weights[0] == 0.0
    assert a.weights[1:].mean() == pytest.approx(1.0, abs=0.2)
    a.allocate(T0 + 100 * S, board)
    assert a.weights[0] == 0.0
    a.allocate(T0 + 121 * S, board)  # cooldown over: probation at min weight, fresh prior
    assert not a.flags[0] & FLAG_BLACKLISTED and a.weights[0] == pytest.approx(0.3)
    assert board.symbols[0].markouts == 0


def test_no_blacklist_with_too_few_fills():
    a = alloc(blacklist_after_s=1.0)
    board = FakeScores(4, [0.5] * 4, net=[-50.0, 0, 0, 0], markouts=5)
    for k in range(10):
        a.allocate(T0 + k * S, board)
    assert not a.flags[0] & FLAG_BLACKLISTED


def test_allocator_disabled_keeps_every_weight_at_one():
    a = alloc(enabled=False)
    a.allocate(T0, FakeScores(4, [1.0, 0.0, 0.0, 0.0]))
    assert list(a.weights) == [1.0] * 4


def test_no_death_spiral_with_equal_quality():
    """Six instruments of equal quality over 20,000 s: every weight stays in [0.8, 1.25]."""
    cfg = config()
    n = 6
    board = Scoreboard(cfg.symbol_scoreboard, n)
    a = Allocator(cfg.dynamic_allocator, cfg.symbol_scoreboard, n)
    rng = np.random.default_rng(11)
    lo, hi = 9.0, 0.0
    t = T0
    for step in range(20_000):
        t += S
        for i in range(n):
            if rng.random() < 0.5 * a.weights[i]:  # fills scale with the weight: the spiral's lever
                d = 1 if rng.random() < 0.5 else -1
                p = 100.0 - d * 0.01
                board.on_fill(Fill(i, d, p, 1.0, t, -0.5, 100.0, p, float(rng.random() < 0.3), step))
                board.on_order_end(OrderEnd(i, d, 1.0, float(rng.random() < 0.3), t))
            board.on_mid(i, t, 100.0 * (1 + 3e-4 * rng.standard_normal()))  # markout ~ N(1, 3) bps
        a.allocate(t, board)
        if step > 300:
            lo, hi = min(lo, a.weights.min()), max(hi, a.weights.max())
    assert lo >= 0.8 and hi <= 1.25, (lo, hi)


def test_break_even_scores_the_prior_like_a_symbol_without_fills():
    """A break-even live symbol scored about 0.39 against the 0.5 of one that never traded."""
    cfg = board_cfg(alpha=0.1, prior_fills=5.0)
    b = Scoreboard(cfg, 3)
    t = T0
    for k in range(200):
        t += S
        # symbol 0 breaks even: buys 1 bp under the mid, the mid falls by that 1 bp (the edge is
        # lost to adverse selection, no fee); symbol 1 earns: the mid stays; symbol 2 never fills
        for slot, later in ((0, 99.99), (1, 100.0)):
            b.on_fill(Fill(slot, 1, 99.99, 1.0, t, 0.0, 100.0, 99.99, 0.5, k))
            b.on_order_end(OrderEnd(slot, 1, 10.0, 1.0, t, 0.5))  # a fill rate of 0.1, as live
            b.on_mid(slot, t + 6 * S, later)
    assert b.symbols[0].ema["net_bps"] == pytest.approx(0.0, abs=1e-9)
    assert b.score(0) == pytest.approx(0.5, abs=0.01)
    assert b.score(2) == 0.5
    assert b.score(1) > 0.55
