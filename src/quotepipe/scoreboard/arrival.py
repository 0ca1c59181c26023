"""Online fit of the order-arrival intensity ``lambda(delta) = A * exp(-k * delta)`` and of sigma.

The GLFT and Avellaneda-Stoikov models price a quote at distance ``delta``
from the mid by how often market orders reach that far. As in hftbacktest's
GLFT market-making example, time is cut into steps (``spread.fit_step_ms``);
each step's deepest trade (``side * (price - mid)``, the aggressor's side,
the mid before the trade) is binned from the mid in bins of half a tick (or
``BIN_FLOOR_BPS`` of the mid where a tick is finer than that), and every bin
up to it counts one arrival. ``lambda(delta_i)``, ``delta_i = i`` bins, is then
the share of steps that reached bin ``i``; a least-squares line through ``ln lambda`` against
``delta`` (in bps, weighted by the counts: a bin seen often is known better)
gives ``-k`` as its slope and ``ln A`` as its intercept. Counts and steps decay
with time constant ``spread.fit_window_s``, so the fit follows the market.

Units match the spread stage: ``delta`` in bps of the mid, so ``k`` is per bps;
``A`` is arrivals per ``spread.vol_interval_ms``, the time unit of the stage's
sigma (the GLFT formula needs both in one unit). Sigma (bps per
``vol_interval_ms``) is an EWMA of squared mid log-returns with the same time
constant; it is published for status and metrics (the stage keeps its own
per-tick EWMA of the same quantity).

The scoreboard process runs one ``ArrivalFits`` on the trade ring and its
mid samples and publishes the fits to the fits table (``shm.fits``); replay
runs the same code on the recording's trades.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from quotepipe.config import SpreadConfig

#: bins from the mid (a trade deeper than the last counts in every bin)
BINS = 128
#: the narrowest bin, bps of the mid: a tick of 0.01 on 60,000 would make 128 bins 0.1 bps deep
BIN_FLOOR_BPS = 0.02
#: event time between two fits (and publications of them): the fit moves over minutes
REFIT_NS = 1_000_000_000


class Fit:
    """A fit's result: ``fitted`` once it has ``fit_min_steps`` steps with trades and a
    decaying line (k > 0) through at least three bins."""

    __slots__ = ("a", "k", "sigma_bps", "r2", "steps", "trade_steps", "fitted")

    def __init__(self) -> None:
        self.a = 0.0
        self.k = 0.0
        self.sigma_bps = 0.0
        self.r2 = 0.0
        self.steps = 0.0         #: steps observed (decayed)
        self.trade_steps = 0     #: steps with at least one trade (not decayed: the warm-up count)
        self.fitted = False

    def as_tuple(self) -> tuple[float, float, float, float, float, int, int]:
        return (self.a, self.k, self.sigma_bps, self.r2, self.steps, self.trade_steps, int(self.fitted))


class _FitFields(Protocol):
    @property
    def a(self) -> float: ...
    @property
    def k(self) -> float: ...
    @property
    def sigma_bps(self) -> float: ...
    @property
    def r2(self) -> float: ...
    @property
    def trade_steps(self) -> int: ...
    @property
    def fitted(self) -> int: ...  # bool on a Fit, 0/1 in the table


def fit_summary(f: _FitFields) -> dict[str, Any]:
    """A fit as replay's summary and ``status`` show it (a ``Fit``, or a row of the fits table)."""
    return {"a": round(f.a, 6), "k_per_bps": round(f.k, 6), "sigma_bps": round(f.sigma_bps, 4),
            "r2": round(f.r2, 4), "trade_steps": f.trade_steps, "fitted": bool(f.fitted)}


class ArrivalFit:
    """One instrument's arrival counts and sigma."""

    __slots__ = ("half_tick", "width", "step_ns", "decay", "per_interval", "min_steps", "vol_ns", "vol_alpha",
                 "counts", "steps", "step_end", "step_depth", "mid", "vol_t", "vol_mid", "var",
                 "vol_samples", "fit")

    def __init__(self, cfg: SpreadConfig, tick_size: float) -> None:
        self.half_tick = tick_size * 0.5
        self.width = 0.0         #: bin width in price, set at the first mid
        self.counts = [0.0] * BINS
        self.steps = 0.0
        self.step_end = 0        #: event time the open step ends (0: none open yet)
        self.step_depth = -1     #: deepest bin reached in the open step (-1: no trade yet)
        self.mid = 0.0
        self.vol_t = 0
        self.vol_mid = 0.0
        self.var = 0.0
        self.vol_samples = 0
        self.fit = Fit()
        self.configure(cfg)

    def configure(self, cfg: SpreadConfig) -> None:
        self.step_ns = int(cfg.fit_step_ms * 1e6)
        self.decay = math.exp(-cfg.fit_step_ms / (cfg.fit_window_s * 1e3))
        self.per_interval = cfg.vol_interval_ms / cfg.fit_step_ms  # per step -> per sigma interval
        self.min_steps = cfg.fit_min_steps
        self.vol_ns = int(cfg.vol_interval_ms * 1e6)
        self.vol_alpha = 1.0 - math.exp(-cfg.vol_interval_ms / (cfg.fit_window_s * 1e3))

    # ---------------------------------------------------------------- inputs
    def on_mid(self, t_ns: int, mid: float) -> None:
        self.mid = mid
        if self.width == 0.0:
            self.width = max(self.half_tick, mid * BIN_FLOOR_BPS * 1e-4)
        if self.vol_mid <= 0.0:
            self.vol_t, self.vol_mid = t_ns, mid
            return
        elapsed = t_ns - self.vol_t
        if elapsed >= self.vol_ns:
            r = math.log(mid / self.vol_mid) * 1e4
            sample = r * r * (self.vol_ns / elapsed)
            self.var = sample if not self.vol_samples else self.var + self.vol_alpha * (sample - self.var)
            self.vol_samples += 1
            self.vol_t, self.vol_mid = t_ns, mid

    def on_trade(self, t_ns: int, price: float, side: int) -> None:
        """A trade at ``price`` by an aggressor on ``side`` (+1 buy, -1 sell) at event time ``t_ns``."""
        mid = self.mid
        if mid <= 0.0:
            return
        self.advance(t_ns)
        depth = side * (price - mid)
        if depth < 0.0:  # inside the mid on the far side: the mid had moved; it reached bin 0
            depth = 0.0
        i = int(depth / self.width)
        if i >= BINS:
            i = BINS - 1
        if i > self.step_depth:
            self.step_depth = i

    def advance(self, t_ns: int) -> None:
        """Close every step that ended by ``t_ns`` (the empty ones count as steps too)."""
        if self.step_end == 0:
            self.step_end = t_ns + self.step_ns
            return
        if t_ns < self.step_end:
            return
        n = (t_ns - self.step_end) // self.step_ns + 1  # steps closed: the open one and the empty ones
        d = self.decay
        counts = self.counts
        if self.step_depth >= 0:  # the open step first, at its own place in the decay
            self.fit.trade_steps += 1
            for i in range(self.step_depth + 1):
                counts[i] += 1.0
        dn = d ** n
        for i in range(BINS):
            counts[i] *= dn
        # steps = steps*d^n + 1 + d + ... + d^(n-1), scaled like the counts (the open step decayed n)
        self.steps = self.steps * dn + d * (1.0 - dn) / (1.0 - d)
        self.step_depth = -1
        self.step_end += n * self.step_ns

    # ---------------------------------------------------------------- the fit
    def refit(self, now_ns: int) -> Fit:
        """Fit the line through the counts seen up to ``now_ns``."""
        self.advance(now_ns)
        fit = self.fit
        fit.steps = self.steps
        fit.sigma_bps = math.sqrt(self.var)
        mid = self.mid
        if self.steps <= 0.0 or mid <= 0.0:
            return fit
        bps = self.width / mid * 1e4  # one bin in bps of the mid
        sw = sx = sy = sxx = sxy = syy = 0.0
        points = 0
        for i, c in enumerate(self.counts):
            if c < 1.0:  # less than one (decayed) step reached it: noise, and every deeper bin too
                break
            x = i * bps
            y = math.log(c / self.steps)
            sw += c
            sx += c * x
            sy += c * y
            sxx += c * x * x
            sxy += c * x * y
            syy += c * y * y
            points += 1
        if points < 3:
            return fit
        vx = sxx - sx * sx / sw
        vy = syy - sy * sy / sw
        cov = sxy - sx * sy / sw
        if vx <= 0.0:
            return fit
        slope = cov / vx
        if slope >= 0.0:
            return fit
        fit.k = -slope
        fit.a = math.exp((sy - slope * sx) / sw) * self.per_interval
        fit.r2 = cov * cov / (vx * vy) if vy > 0.0 else 1.0
        fit.fitted = fit.trade_steps >= self.min_steps
        return fit


class ArrivalFits:
    """Every instrument's ``ArrivalFit``."""

    def __init__(self, cfg: SpreadConfig, tick_sizes: list[float]) -> None:
        self.fits = [ArrivalFit(cfg, t) for t in tick_sizes]

    def configure(self, cfg: SpreadConfig) -> None:
        for f in self.fits:
            f.configure(cfg)

    def on_mid(self, slot: int, t_ns: int, mid: float) -> None:
        self.fits[slot].on_mid(t_ns, mid)

    def on_trade(self, slot: int, t_ns: int, price: float, side: int) -> None:
        self.fits[slot].on_trade(t_ns, price, side)

    def refit(self, slot: int, now_ns: int) -> Fit:
        return self.fits[slot].refit(now_ns)

    def fitted(self, slot: int, now_ns: int) -> tuple[float, float] | None:
        """The (A, k) the spread stage takes for ``slot``: None until the fit is ready."""
        fit = self.refit(slot, now_ns)
        return (fit.a, fit.k) if fit.fitted else None

