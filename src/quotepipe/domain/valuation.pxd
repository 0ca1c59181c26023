# cython: language_level=3
"""PnL's C entry, for the compiled tick engine."""

cdef double pnl_usd_at(bint inverse, double multiplier, double cash, double position,
                       double mid) noexcept
