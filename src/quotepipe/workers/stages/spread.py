"""Spread: fair price and half-spread (bps) from the configured model.

Volatility is an EWMA of squared mid log-returns (bps) sampled once per
``vol_interval_ms`` of event time; a longer gap counts as one sample scaled to
one interval. Models:

- ``fixed``: ``fixed_half_spread_bps``.
- ``vol_adaptive``: ``base_half_spread_bps + vol_mult * sigma``.
- ``avellaneda_stoikov``: half-spread ``gamma*s2/2 + ln(1 + gamma/kappa)/gamma`` and
  reservation skew ``gamma*s2`` per unit of normalised position, ``s2`` the
  variance over ``horizon_s`` (bps^2, units of bps throughout).
- ``glft``: Gueant-Lehalle-Fernandez-Tapia asymptotics, ``c1 + c2*sigma/2`` and skew
  ``c2*sigma`` with ``c1 = ln(1 + gamma/k)/gamma`` and
  ``c2 = sqrt(gamma/(2*A*k) * (1 + gamma/k)**(1 + k/gamma))``.

Every model is floored at ``min_half_spread_bps``. An invalid book leaves the
volatility state unchanged (Guards pulls the quotes anyway).
"""

from __future__ import annotations

import math

from quotepipe.config import SpreadConfig
from quotepipe.domain.snapshot import BookFlag
from quotepipe.workers.dto import InstrumentState, MarketView, SpreadDecision

_INVALID = BookFlag.INVALID


def spread(view: MarketView, state: InstrumentState, now_ns: int, cfg: SpreadConfig) -> SpreadDecision:
    mid = view.mid
    var = state.var_bps2
    samples = state.vol_samples
    anchor_ns = state.anchor_ns
    anchor_mid = state.anchor_mid
    if view.flags & _INVALID:
        return SpreadDecision(mid, mid, cfg.min_half_spread_bps, 0.0, math.sqrt(var), var, samples,
                              anchor_ns, anchor_mid)
    if anchor_mid <= 0.0:
        anchor_ns, anchor_mid = now_ns, mid
    else:
        interval_ns = cfg.vol_interval_ms * 1e6
        elapsed = now_ns - anchor_ns
        if elapsed >= interval_ns:
            r = math.log(mid / anchor_mid) * 1e4
            sample = r * r * (interval_ns / elapsed)
            var = sample if samples == 0 else var + cfg.vol_alpha * (sample - var)
            samples += 1
            anchor_ns, anchor_mid = now_ns, mid
    sigma = math.sqrt(var)

    if cfg.fair_price == "microprice":
        depth = view.bid_qty + view.ask_qty
        fair = (view.bid_px * view.ask_qty + view.ask_px * view.bid_qty) / depth
    else:
        fair = mid

    model = cfg.model
    skew = 0.0
    if model == "vol_adaptive":
        half = cfg.base_half_spread_bps + cfg.vol_mult * sigma
    elif model == "fixed":
        half = cfg.fixed_half_spread_bps
    elif model == "avellaneda_stoikov":
        g = cfg.gamma
        s2 = var * (cfg.horizon_s * 1e3 / cfg.vol_interval_ms)
        half = g * s2 * 0.5 + math.log1p(g / cfg.kappa) / g
        skew = g * s2
    else:  # glft
        g, k = cfg.gamma, cfg.glft_k
        c1 = math.log1p(g / k) / g
        c2 = math.sqrt(g / (2.0 * cfg.glft_a * k) * (1.0 + g / k) ** (1.0 + k / g))
        half = c1 + 0.5 * c2 * sigma
        skew = c2 * sigma
    if half < cfg.min_half_spread_bps:
        half = cfg.min_half_spread_bps
    return SpreadDecision(mid, fair, half, skew, sigma, var, samples, anchor_ns, anchor_mid)
