# cython: language_level=3
"""The stage timer's C interface, for its compiled caller (the stage chain runner)."""

cdef class StageTimes:
    cdef readonly object stats, total_hist, raw, totals
    cdef readonly list stage_hists
    cdef readonly Py_ssize_t marks  #: marks a sampled tick takes: one more than the stages
    cdef public Py_ssize_t n        #: ticks in ``totals``
    cdef readonly Py_ssize_t m      #: sampled ticks in ``raw``
    cdef readonly Py_ssize_t every
    cdef public Py_ssize_t skip     #: ticks to go before the next sampled one
    cdef public long long deadline_ns, deadline_misses
    cdef unsigned long long _rng
    cdef Py_ssize_t _misses_index
    cdef long long[::1] _raw, _totals
    cdef Py_ssize_t _next_skip(self) noexcept
    cdef void record(self, const long long *marks, bint sampled) noexcept
    cdef void _keep(self, const long long *marks) noexcept
