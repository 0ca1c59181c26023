# cython: language_level=3
"""Spread's C entry, for the compiled runner."""

from quotepipe.workers.decisions cimport InstrumentState, MarketView, SpreadDecision

cpdef SpreadDecision spread(MarketView view, InstrumentState state, object now_ns, object cfg)
