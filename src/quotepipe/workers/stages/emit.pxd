# cython: language_level=3
"""Emit's C entry, for the compiled runner."""

from quotepipe.workers.decisions cimport GuardDecision, InstrumentState, QueueDecision, SpreadDecision

cpdef tuple emit(QueueDecision qd, GuardDecision gd, SpreadDecision sd, InstrumentState state,
                 object ctx, object spec, object sink)
