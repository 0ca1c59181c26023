# cython: language_level=3
"""The stage chain runner's C interface, for its compiled caller (the tick engine)."""

from quotepipe.workers.decisions cimport (GuardDecision, InstrumentState, InventoryDecision, MarketView,
                                         QueueDecision, SpreadDecision)
from quotepipe.workers.timing cimport StageTimes


cdef class PipelineRunner:
    cdef public StageTimes times
    cdef public object sink, stats, spread_cfg, guards_cfg, inventory_cfg, queue_cfg
    cdef public list specs, spread_cfgs, states, arrival
    #: None, or a dict of lists by stage name: every tick's arguments of each stage
    cdef public object trace
    cpdef tick(self, Py_ssize_t slot, snap, ctx)
    cdef _record(self, snap, now, InstrumentState state, spread_cfg, ctx, spec,
                 MarketView view, SpreadDecision sd, GuardDecision gd, InventoryDecision inv,
                 QueueDecision qd)
