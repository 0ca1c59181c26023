# cython: language_level=3
"""The tick gate's C interface, for its compiled caller (the tick engine)."""

cdef class TickGate:
    cdef Py_ssize_t n
    cdef double *l1          # per slot: bid, bid size, ask, ask size of the last run
    cdef double *weight
    cdef long long *venue_version
    cdef long long *last_ns  # NEVER until the slot first runs, and once invalidated
    cdef readonly long long max_interval_ns
    cdef public long long skipped
    cpdef invalidate(self, Py_ssize_t slot)
    cpdef bint need(self, Py_ssize_t slot, tuple l1, venue_version, double weight, now_ns) except -1
    cdef inline int _slot(self, Py_ssize_t slot) except -1
