# cython: language_level=3
"""PnL in USD: the one place a position is valued.

Realised + unrealised PnL of ``cash`` and ``position`` at ``mid``. Cash is in USD
for linear contracts and in coin for inverse ones. The tick engine values every
tick's context here from C (``pnl_usd_at``, ``valuation.pxd``); the venue, the
workers' view of the venue table and ``status`` call ``pnl_usd`` on a spec.
Compiled so that the engine's call is a C call: the Python function it replaced
cost about 900 instructions a tick.
"""


cdef double pnl_usd_at(bint inverse, double multiplier, double cash, double position,
                       double mid) noexcept:
    if mid <= 0.0:
        return 0.0
    if inverse:
        return (cash - position * multiplier / mid) * mid
    return cash + position * mid * multiplier


def pnl_usd(spec, double cash, double position, double mid):
    """PnL in USD of ``cash`` and ``position`` at ``mid``, for the instrument ``spec``."""
    return pnl_usd_at(spec.inverse, spec.multiplier, cash, position, mid)
