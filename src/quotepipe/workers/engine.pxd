# cython: language_level=3
"""The tick engine's C interface, for its compiled caller (replay's loop, ``replay_loop.pyx``)."""

from quotepipe.workers.trigger cimport TickGate


cdef class TickEngine:
    cdef public object shards, venue, on_acting, stats, shadow, cfg, record, last
    cdef public TickGate gate
    cdef public list slots, runner_of, ticks, intents, outcomes, arrival, specs
    cdef public dict runners, reason_masks
    cdef list _position, _cash
    cdef object _resting

    cdef object _context(self, Py_ssize_t slot, tuple rec, now, weight, flags, halted)
    cpdef run(self, Py_ssize_t slot, tuple rec, now, weight, flags, halted=*)
