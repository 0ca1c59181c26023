# cython: language_level=3
"""The paper venue's C interface, for its compiled caller (replay's loop, ``replay_loop.pyx``)."""

from quotepipe.venue.queue_models cimport QueueModel


cdef class _Order:
    cdef public long long oid, tick, lots, left, placed_ns, active_at, cancel_at
    cdef public int slot, side
    cdef public double price, qty, ahead, ahead0, level, traded
    cdef public bint resting, deep, unseen
    cdef public object view


cdef class PaperVenue:
    cdef readonly list specs, maker_bps, orders, current
    cdef readonly list position, position_lots, cash, volume, fills, rejects, version
    cdef public object on_fill, on_order_end
    cdef readonly long long entry_ns, cancel_ns
    cdef readonly QueueModel model
    cdef Py_ssize_t n
    cdef long long _oid
    cdef double *_bid
    cdef double *_bid_qty
    cdef double *_ask
    cdef double *_ask_qty
    cdef double *_tick          # the instrument's price step and lot size
    cdef double *_lot
    cdef long long *_next_due   # earliest activation or cancel landing (0: none)

    cdef inline int _slot(self, Py_ssize_t slot) except -1
    cdef inline double _mid(self, Py_ssize_t slot) noexcept
    cdef list _listed(self, double *values)
    cpdef apply(self, Py_ssize_t slot, t_ns, int bid_action, double bid_px, double bid_qty,
                int ask_action, double ask_px, double ask_qty)
    cdef int _side_action(self, Py_ssize_t slot, int side, int action, double px, double qty,
                          long long now) except -1
    cdef inline void _cancel(self, _Order order, long long now) noexcept
    cdef inline int _catch_up(self, Py_ssize_t slot, long long t, depth) except -1
    cdef inline void _due(self, Py_ssize_t slot, long long t) noexcept
    cpdef on_book(self, Py_ssize_t slot, now, double bid, double bid_qty, double ask, double ask_qty,
                  depth=*, bint depth_moved=*)
    cdef double _look(self, _Order o, depth) except? -2.0
    cdef int _process_due(self, Py_ssize_t slot, long long now, depth) except -1
    cdef bint _activate(self, _Order o, depth) except -1
    cpdef on_trade(self, Py_ssize_t slot, now, double price, double qty, int aggressor)
    cdef int _fill(self, _Order o, long long lots, long long now) except -1
    cpdef resting(self, Py_ssize_t slot, int side)
