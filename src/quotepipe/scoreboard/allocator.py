"""The dynamic allocator: scores become per-instrument size weights.

Every ``interval_ms`` of event time: target weights ``N * softmax(score / T)``
over the active (not blacklisted) instruments, clamped to
``[min_weight, max_weight]`` with the mean kept at 1 where the clamp allows
(one common scale before clipping, so the order of the weights is kept). A
published weight moves only when its target differs by more than
``hysteresis``, and then by at most ``max_step``.

After the moves of a round that moved anything, the weights that are free
(active, not on probation) are rescaled by one common factor so that the mean
over the active instruments is exactly 1 again (hysteresis alone would let it
drift: 1.06 in a probe); so the step bound holds before that rescale.

Only instruments with market data take part (``live``): one without any stays
at 1 and takes no size from the others.

Auto-blacklist: an instrument whose net_bps EMA stays below
``blacklist_net_bps`` for ``blacklist_after_s`` of event time, with at least
``prior_fills`` markouts behind it, gets weight 0 (flag blacklisted) for
``cooldown_s``, then returns on probation at ``min_weight`` with a fresh prior.
On probation its weight moves by at most ``max_step`` a round and cannot pass
its weight before the blacklist until it has ``prior_fills`` fresh fills.
Disabled: every weight is 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from quotepipe.config import AllocatorConfig, ScoreboardConfig
from quotepipe.domain.guards import FLAG_BLACKLISTED
from quotepipe.scoreboard.metrics import Scoreboard

C_MAX = 1e12  #: the scales searched lie in [1 / C_MAX, C_MAX]


def clamp_mean_one(w: Sequence[float], lo: float, hi: float,
                   total_wanted: float | None = None) -> list[float]:
    """``clip(c * w, lo, hi)`` with the one scale ``c`` that makes the mean 1 (the sum
    ``total_wanted`` when given).

    One common scale keeps the order of the weights; when no scale can reach a
    mean of 1 inside the bounds, the closest bound wins (all at ``lo`` or ``hi``).
    ``f(c) = sum(clip(c * w))`` is continuous, nondecreasing and linear between
    the kinks ``lo / w_i`` and ``hi / w_i``: the piece where ``f`` crosses ``n`` is
    found by a binary search over the sorted kinks (``f`` as computed in floats is
    nondecreasing too, each term and each rounded sum being so, so the search
    finds the piece a walk from the left finds), and the scale is solved exactly on
    it, in plain floats: a few instruments, where numpy's per-call cost was most of
    an allocation round.
    """
    xs = [float(x) for x in w]
    if not xs:
        return []
    n = float(len(xs)) if total_wanted is None else total_wanted

    def total(c: float) -> float:
        return sum([min(max(c * x, lo), hi) for x in xs])

    if total(C_MAX) < n:
        return [hi] * len(xs)
    if total(1 / C_MAX) > n:
        return [lo] * len(xs)
    # the kinks inside the searched range (a weight near the smallest float puts its kinks past
    # it, or at inf); the range's end is the last candidate, where total >= n was checked above
    candidates = sorted({k for x in xs if x > 0.0 for k in (lo / x, hi / x) if k < C_MAX})
    candidates.append(C_MAX)
    first, last = 0, len(candidates) - 1  # the first candidate with total >= n lies in [first, last]
    while first < last:
        middle = (first + last) // 2
        if total(candidates[middle]) >= n:
            last = middle
        else:
            first = middle + 1
    right = candidates[first]
    left = candidates[first - 1] if first else 0.0
    mid = (left + right) / 2
    slope = sum([x for x in xs if lo < mid * x < hi])
    fixed = sum([min(max(mid * x, lo), hi) for x in xs if not lo < mid * x < hi])
    c = (n - fixed) / slope if slope > 0.0 else right
    return [min(max(x * c, lo), hi) for x in xs]


class Allocator:
    def __init__(self, cfg: AllocatorConfig, board_cfg: ScoreboardConfig, n_instruments: int) -> None:
        self.cfg = cfg
        self.board_cfg = board_cfg
        n = n_instruments
        self.weights = np.ones(n)
        self.flags = np.zeros(n, dtype=np.uint64)
        self.below_since = [0] * n     # event time net_bps first fell below the threshold (0: not)
        self.blacklisted_until = [0] * n
        self.blacklists = [0] * n      # times each instrument was blacklisted
        self.before_blacklist = [1.0] * n  # its weight when it was last blacklisted
        self.probation = [False] * n   # back from a blacklist, not yet ``prior_fills`` fresh fills
        self.next_ns = 0

    def reconfigure(self, cfg: AllocatorConfig, board_cfg: ScoreboardConfig) -> None:
        self.cfg = cfg
        self.board_cfg = board_cfg
        if not cfg.enabled:
            self.weights[:] = 1.0
            self.flags[:] = 0

    def due(self, now_ns: int) -> bool:
        return now_ns >= self.next_ns

    def allocate(self, now_ns: int, board: Scoreboard, live: Sequence[int] | None = None) -> bool:
        """One allocation round at event time ``now_ns``; True when a weight or flag changed.
        ``live[i]`` true (non-zero): instrument ``i`` has had market data (None: all have).

        The round works on plain lists (``w``, ``f``), read from the arrays once and written
        back once when something changed: numpy's per-element scalars (an ``&`` on a uint64,
        a float read) cost thousands of instructions each, 190,000 a round on six
        instruments. The softmax is plain floats with the C library's ``exp``: numpy's
        ``exp`` picks a SIMD kernel by the CPU, and its AVX-512 kernel rounds some values
        to another last bit than its AVX2 path and the C library, so the same recording
        gave other weights, and other quotes, on another host."""
        cfg = self.cfg
        self.next_ns = now_ns + int(cfg.interval_ms * 1e6)
        if not cfg.enabled:
            return False
        w: list[float] = self.weights.tolist()
        f: list[int] = self.flags.tolist()
        before_w, before_f = w[:], f[:]
        n = len(w)
        returned = [self._blacklist_clock(i, now_ns, board, w, f) for i in range(n)]
        probation = self.probation
        for i in range(n):
            if probation[i] and board.symbols[i].fills >= self.board_cfg.prior_fills:
                probation[i] = False  # earned its fresh prior: free again
        active = [i for i in range(n) if not f[i] & FLAG_BLACKLISTED and (live is None or live[i])]
        if active:
            z = [board.score(i) / cfg.temperature for i in active]
            top = max(z)
            e = [math.exp(x - top) for x in z]
            e_sum = sum(e)
            target = clamp_mean_one([len(active) * x / e_sum for x in e], cfg.min_weight, cfg.max_weight)
            moved = False
            for i, t in zip(active, target, strict=True):
                if returned[i]:
                    continue  # starts probation at min_weight this round
                cur = w[i]
                if probation[i]:
                    t = min(t, self.before_blacklist[i])
                move = t - cur
                if abs(move) > cfg.hysteresis:
                    w[i] = cur + math.copysign(min(abs(move), cfg.max_step), move)
                    moved = True
            free = [i for i in active if not probation[i]]
            if moved and free:
                held = sum(w[i] for i in active if probation[i])
                rescaled = clamp_mean_one([w[i] for i in free], cfg.min_weight, cfg.max_weight,
                                          len(active) - held)
                for i, x in zip(free, rescaled, strict=True):
                    w[i] = x
        if w == before_w and f == before_f:
            return False
        self.weights[:] = w
        self.flags[:] = f
        return True

    def _blacklist_clock(self, i: int, now_ns: int, board: Scoreboard, w: list[float], f: list[int]) -> bool:
        """Advance instrument ``i``'s blacklist clock on the round's weights ``w`` and flags
        ``f``; True when it returns on probation now."""
        cfg = self.cfg
        if f[i] & FLAG_BLACKLISTED:
            if now_ns >= self.blacklisted_until[i]:  # probation: back at min weight, fresh prior
                f[i] &= ~FLAG_BLACKLISTED
                w[i] = cfg.min_weight
                self.below_since[i] = 0
                self.probation[i] = True
                board.reset(i)
                return True
            return False
        m = board.symbols[i]
        if (self.board_cfg.enabled and m.markouts >= self.board_cfg.prior_fills
                and board.net_bps(i) < cfg.blacklist_net_bps):
            if self.below_since[i] == 0:
                self.below_since[i] = now_ns
            elif now_ns - self.below_since[i] >= cfg.blacklist_after_s * 1e9:
                f[i] |= FLAG_BLACKLISTED
                self.before_blacklist[i] = max(w[i], cfg.min_weight)
                w[i] = 0.0
                self.blacklisted_until[i] = now_ns + int(cfg.cooldown_s * 1e9)
                self.blacklists[i] += 1
        else:
            self.below_since[i] = 0
        return False
