# cython: language_level=3
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

from libc.math cimport log, log1p, pow, sqrt

from quotepipe.workers.decisions cimport InstrumentState, MarketView, SpreadDecision, new_spread
from quotepipe.domain.fields cimport check, f64, int64_of, is_choice, offset

from quotepipe.config import SpreadConfig
from quotepipe.domain.snapshot import BookFlag

cdef long long INVALID = BookFlag.INVALID

cdef object CONFIG = SpreadConfig
cdef Py_ssize_t MIN_HALF = offset(SpreadConfig, "min_half_spread_bps")
cdef Py_ssize_t INTERVAL_MS = offset(SpreadConfig, "vol_interval_ms")
cdef Py_ssize_t ALPHA = offset(SpreadConfig, "vol_alpha")
cdef Py_ssize_t FAIR_PRICE = offset(SpreadConfig, "fair_price")
cdef Py_ssize_t MODEL = offset(SpreadConfig, "model")
cdef Py_ssize_t BASE_HALF = offset(SpreadConfig, "base_half_spread_bps")
cdef Py_ssize_t VOL_MULT = offset(SpreadConfig, "vol_mult")
cdef Py_ssize_t FIXED_HALF = offset(SpreadConfig, "fixed_half_spread_bps")
cdef Py_ssize_t GAMMA = offset(SpreadConfig, "gamma")
cdef Py_ssize_t HORIZON_S = offset(SpreadConfig, "horizon_s")
cdef Py_ssize_t KAPPA = offset(SpreadConfig, "kappa")
cdef Py_ssize_t GLFT_A = offset(SpreadConfig, "glft_a")
cdef Py_ssize_t GLFT_K = offset(SpreadConfig, "glft_k")


cpdef SpreadDecision spread(MarketView view, InstrumentState state, object now_ns, object cfg):
    check(cfg, CONFIG)
    cdef long long t_ns = int64_of(now_ns)  # the fast path for a ns time
    cdef double mid = view.mid
    cdef double var = state.var_bps2
    cdef long long samples = state.vol_samples
    cdef long long anchor_ns = state.anchor_ns
    cdef double anchor_mid = state.anchor_mid
    cdef double interval_ns, r, sample, sigma, fair, half, skew, g, k, s2, c1, c2
    cdef long long elapsed
    if view.flags & INVALID:
        return new_spread(mid, mid, f64(cfg, MIN_HALF), 0.0, sqrt(var), var, samples, anchor_ns,
                          anchor_mid)
    if anchor_mid <= 0.0:
        anchor_ns, anchor_mid = t_ns, mid
    else:
        interval_ns = f64(cfg, INTERVAL_MS) * 1e6
        elapsed = t_ns - anchor_ns
        if elapsed >= interval_ns:
            r = log(mid / anchor_mid) * 1e4
            sample = r * r * (interval_ns / elapsed)
            var = sample if samples == 0 else var + f64(cfg, ALPHA) * (sample - var)
            samples += 1
            anchor_ns, anchor_mid = t_ns, mid
    sigma = sqrt(var)

    if is_choice(cfg, FAIR_PRICE, "microprice"):
        fair = (view.bid_px * view.ask_qty + view.ask_px * view.bid_qty) / (view.bid_qty + view.ask_qty)
    else:
        fair = mid

    skew = 0.0
    if is_choice(cfg, MODEL, "vol_adaptive"):
        half = f64(cfg, BASE_HALF) + f64(cfg, VOL_MULT) * sigma
    elif is_choice(cfg, MODEL, "fixed"):
        half = f64(cfg, FIXED_HALF)
    elif is_choice(cfg, MODEL, "avellaneda_stoikov"):
        g = f64(cfg, GAMMA)
        s2 = var * (f64(cfg, HORIZON_S) * 1e3 / f64(cfg, INTERVAL_MS))
        half = g * s2 * 0.5 + log1p(g / f64(cfg, KAPPA)) / g
        skew = g * s2
    else:  # glft
        g, k = f64(cfg, GAMMA), f64(cfg, GLFT_K)
        c1 = log1p(g / k) / g
        c2 = sqrt(g / (2.0 * f64(cfg, GLFT_A) * k) * pow(1.0 + g / k, 1.0 + k / g))
        half = c1 + 0.5 * c2 * sigma
        skew = c2 * sigma
    if half < f64(cfg, MIN_HALF):
        half = f64(cfg, MIN_HALF)
    return new_spread(mid, fair, half, skew, sigma, var, samples, anchor_ns, anchor_mid)
