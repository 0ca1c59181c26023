# cython: language_level=3
"""Guards' C entry, for the compiled runner."""

from quotepipe.workers.decisions cimport GuardDecision, InstrumentState, MarketView, SpreadDecision

cpdef GuardDecision guards(MarketView view, SpreadDecision sd, InstrumentState state, object ctx,
                           object spec, object cfg)
