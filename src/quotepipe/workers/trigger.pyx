# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""When an instrument's update needs the quote chain.

The chain reads the top of book, our resting orders and position (published by
the venue with a version number per instrument), the allocator weight, and
the time. An update that changes none of these (a depth diff behind the best
level, a trade that did not fill us) would produce the same quotes, so it is
skipped, except that every instrument is re-run at least every
``pipeline.max_tick_interval_ms`` of event time, which keeps the stale, order-age
and rate-budget logic live. The daemon's workers and ``quotepipe replay`` use
this same gate, so both tick on exactly the same updates of the same data.

Compiled (Cython): it is asked on every market event. What it last ran on is
kept per slot in C (four doubles of L1, the venue version, the weight, the
time); the compare is the one Python's tuple compare made of the same floats.
"""

from cpython.mem cimport PyMem_Calloc, PyMem_Free

from quotepipe.domain.fields cimport f64_of, int64_of

cdef long long NEVER = -(1 << 62)  # a last run this long ago (or none yet): the next look runs


cdef class TickGate:
    def __cinit__(self, Py_ssize_t n_instruments, double max_interval_ms):
        cdef Py_ssize_t size = max(n_instruments, 1)
        self.n = n_instruments
        self.l1 = <double *>PyMem_Calloc(4 * size, sizeof(double))
        self.weight = <double *>PyMem_Calloc(size, sizeof(double))
        self.venue_version = <long long *>PyMem_Calloc(size, sizeof(long long))
        self.last_ns = <long long *>PyMem_Calloc(size, sizeof(long long))
        if not (self.l1 and self.weight and self.venue_version and self.last_ns):
            raise MemoryError()
        for s in range(n_instruments):
            self.last_ns[s] = NEVER

    def __init__(self, Py_ssize_t n_instruments, double max_interval_ms):
        self.set_interval(max_interval_ms)

    def __dealloc__(self):
        PyMem_Free(self.l1)
        PyMem_Free(self.weight)
        PyMem_Free(self.venue_version)
        PyMem_Free(self.last_ns)

    def set_interval(self, double max_interval_ms):
        self.max_interval_ns = int(max_interval_ms * 1e6)

    cpdef invalidate(self, Py_ssize_t slot):
        """The next look at ``slot`` runs the chain (an input outside the gate changed)."""
        self._slot(slot)
        self.last_ns[slot] = NEVER

    cdef inline int _slot(self, Py_ssize_t slot) except -1:
        if not 0 <= slot < self.n:
            raise IndexError(f"instrument slot {slot} out of range (0-{self.n - 1})")
        return 0

    cpdef bint need(self, Py_ssize_t slot, tuple l1, venue_version, double weight, now_ns) except -1:
        """True when the chain must run; records the inputs it ran on. ``l1`` starts with bid,
        bid size, ask, ask size: a book's L1 tuple or an L1 record as it is (nothing after the
        four is read, so the caller slices nothing)."""
        self._slot(slot)
        if len(l1) < 4:
            raise ValueError(f"l1: expected (bid, bid_qty, ask, ask_qty, ...), got {len(l1)} values")
        cdef double bid = f64_of(l1[0]), bid_qty = f64_of(l1[1]), ask = f64_of(l1[2]), ask_qty = f64_of(l1[3])
        cdef long long version = int64_of(venue_version), now = int64_of(now_ns)
        cdef double *last = self.l1 + 4 * slot
        if (bid == last[0] and bid_qty == last[1] and ask == last[2] and ask_qty == last[3]
                and version == self.venue_version[slot] and weight == self.weight[slot]
                and now - self.last_ns[slot] < self.max_interval_ns):
            self.skipped += 1
            return False
        last[0], last[1], last[2], last[3] = bid, bid_qty, ask, ask_qty
        self.venue_version[slot] = version
        self.weight[slot] = weight
        self.last_ns[slot] = now
        return True
