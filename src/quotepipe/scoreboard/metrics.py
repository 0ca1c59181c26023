"""The scoreboard: per-instrument fill metrics as EMAs, and a score in [0, 1].

Per fill of side d (+1 buy, -1 sell) at price p with mid m at the fill:

- ``edge_bps = d*(m - p)/m*1e4``
- ``markout_bps = d*(m_H - p)/p*1e4``, m_H the first mid at least H seconds of
  event time after the fill (``markout_horizon_s``), so it lands H later
- ``net_bps = markout_bps - fee_bps``
- ``adverse_penalty = max(0, edge_bps - markout_bps)``
- ``slippage_bps = d*(p - target_p)/m*1e4``, target_p the chain's latest target
  on that side when the fill happened
- ``queue_edge``: how far up its queue the order came, the share of the
  quantity ahead of it when it joined its level that was gone (traded or
  cancelled) by the fill, or by the end of an order that never filled (1: it
  joined at the front, or the queue ahead cleared; 0: nobody ahead of it moved)
- ``fill_rate``: filled over quoted quantity, per order that left the book.

Each is an EMA with weight ``alpha``, bias-corrected (``sum w_i x_i / sum w_i``)
so that the first fills count equally instead of the first one seeding it.

The score is calibrated so that **break-even scores the prior, 0.5**, as a
symbol with no fills does: otherwise the allocator favours symbols that do not
trade (a break-even live symbol scored 0.39). Each part is 0.5 at break-even:

- net: ``sigmoid(net_bps / scale)``, 0.5 at a net markout of 0;
- slippage: ``sigmoid(-slippage_bps / scale)``, 0.5 at none;
- adverse selection: ``sigmoid((edge_bps - adverse_penalty) / scale)``, 0.5 when
  adverse moves took exactly the edge captured (the penalty is never negative,
  so ``sigmoid(-penalty)`` could only lose);
- fill rate and queue edge (fractions without a natural break-even):
  ``0.5 + (x - mean)`` clamped to [0, 1], the mean over the symbols that have
  the metric, so a symbol as good as the others scores 0.5 there.

The weighted mean is shrunk toward 0.5 by a prior of ``prior_fills``:
``(n*s + k*0.5)/(n + k)``, n the fills whose markout has landed.
"""

from __future__ import annotations

import math
from collections import deque

from quotepipe.config import ScoreboardConfig
from quotepipe.domain.orders import Fill, OrderEnd

METRICS = ("edge_bps", "markout_bps", "net_bps", "adverse_penalty", "slippage_bps", "queue_edge",
           "fill_rate")


class SymbolMetrics:
    """One instrument's EMAs and counts."""

    __slots__ = ("fills", "markouts", "orders_ended", "ema", "norm", "pending")

    def __init__(self) -> None:
        self.fills = 0          #: fills seen
        self.markouts = 0       #: fills whose markout has landed (the n of the prior)
        self.orders_ended = 0
        self.ema = dict.fromkeys(METRICS, 0.0)   #: bias-corrected values
        self.norm = dict.fromkeys(METRICS, 0.0)  #: sum of the EMA weights so far (0: no value yet)
        self.pending: deque[tuple[int, Fill, float]] = deque()  # (due_ns, fill, edge_bps)


class Scoreboard:
    def __init__(self, cfg: ScoreboardConfig, n_instruments: int) -> None:
        self.cfg = cfg
        self.horizon_ns = int(cfg.markout_horizon_s * 1e9)
        self.symbols = [SymbolMetrics() for _ in range(n_instruments)]
        #: per instrument, when its oldest pending markout is due (0: none): a caller with
        #: many mids calls ``on_mid`` only once one is due
        self.due_ns = [0] * n_instruments

    def reconfigure(self, cfg: ScoreboardConfig) -> None:
        self.cfg = cfg
        self.horizon_ns = int(cfg.markout_horizon_s * 1e9)

    def reset(self, slot: int) -> None:
        """A fresh prior (probation after a blacklist)."""
        self.symbols[slot] = SymbolMetrics()
        self.due_ns[slot] = 0

    def _update(self, m: SymbolMetrics, name: str, value: float) -> None:
        a = self.cfg.alpha
        old_norm = m.norm[name]
        norm = old_norm + a * (1.0 - old_norm)
        m.ema[name] = ((1.0 - a) * old_norm * m.ema[name] + a * value) / norm
        m.norm[name] = norm

    # ------------------------------------------------------------------ inputs
    def on_fill(self, fill: Fill) -> None:
        if not self.cfg.enabled:
            return
        m = self.symbols[fill.slot]
        m.fills += 1
        mid = fill.mid if fill.mid > 0.0 else fill.price
        edge = fill.side * (mid - fill.price) / mid * 1e4
        slippage = fill.side * (fill.price - fill.target_px) / mid * 1e4
        self._update(m, "edge_bps", edge)
        self._update(m, "slippage_bps", slippage)
        self._update(m, "queue_edge", fill.queue_edge)
        m.pending.append((fill.t_ns + self.horizon_ns, fill, edge))
        self.due_ns[fill.slot] = m.pending[0][0]

    def on_order_end(self, end: OrderEnd) -> None:
        if not self.cfg.enabled or end.quoted <= 0.0:
            return
        m = self.symbols[end.slot]
        m.orders_ended += 1
        self._update(m, "fill_rate", end.filled / end.quoted)
        if end.filled <= 0.0:  # a filled order's queue edge came with its fills
            self._update(m, "queue_edge", end.queue_edge)

    def on_mid(self, slot: int, now_ns: int, mid: float) -> None:
        """A mid at event time ``now_ns``: lands the markouts that are due."""
        m = self.symbols[slot]
        pending = m.pending
        while pending and pending[0][0] <= now_ns:
            _, fill, edge = pending.popleft()
            markout = fill.side * (mid - fill.price) / fill.price * 1e4
            self._update(m, "markout_bps", markout)
            self._update(m, "net_bps", markout - fill.fee_bps)
            self._update(m, "adverse_penalty", max(0.0, edge - markout))
            m.markouts += 1
        self.due_ns[slot] = pending[0][0] if pending else 0

    # ------------------------------------------------------------------ outputs
    def score(self, slot: int) -> float:
        cfg = self.cfg
        m = self.symbols[slot]
        if not cfg.enabled or m.markouts == 0:
            return 0.5
        w = cfg.weights
        scale = cfg.score_scale_bps
        ema = m.ema
        parts = (
            (w.net_bps, _sigmoid(ema["net_bps"] / scale)),
            (w.slippage, _sigmoid(-ema["slippage_bps"] / scale)),
            (w.adverse, _sigmoid((ema["edge_bps"] - ema["adverse_penalty"]) / scale)),
            (w.fill_rate, self._relative(m, "fill_rate")),
            (w.queue_edge, self._relative(m, "queue_edge")),
        )
        total_w = sum(wt for wt, _ in parts)
        s = sum(wt * v for wt, v in parts) / total_w if total_w > 0 else 0.5
        n, k = m.markouts, cfg.prior_fills
        return (n * s + k * 0.5) / (n + k)

    def _relative(self, m: SymbolMetrics, name: str) -> float:
        """A fraction metric against the mean of the symbols that have it: 0.5 at the mean."""
        if not m.norm[name]:
            return 0.5
        have = [s.ema[name] for s in self.symbols if s.norm[name]]
        return min(1.0, max(0.0, 0.5 + m.ema[name] - sum(have) / len(have)))

    def net_bps(self, slot: int) -> float:
        return self.symbols[slot].ema["net_bps"]


def _sigmoid(x: float) -> float:
    if x < -60.0:
        return 0.0
    return 1.0 / (1.0 + math.exp(-x))
