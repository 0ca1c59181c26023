# cython: language_level=3
"""FetchMD: a raw snapshot becomes a validated market view.

Flags, without hiding anything: a crossed or locked book, a non-positive or
non-finite price, a non-positive or non-finite size at the touch, an instrument
with nothing published yet. The age is the tick time minus the update's event
time, for the stale guard.
"""

from quotepipe.workers.decisions cimport MarketView, new_view
from quotepipe.domain.fields cimport check, f64, i64, int64_of, offset

from quotepipe.domain.snapshot import BookFlag, BookState, Snapshot

cdef double INF = float("inf")
cdef long long EMPTY = BookState.EMPTY
cdef long long F_EMPTY = BookFlag.EMPTY, BAD_PRICE = BookFlag.BAD_PRICE, CROSSED = BookFlag.CROSSED
cdef long long LOCKED = BookFlag.LOCKED, ZERO_SIZE = BookFlag.ZERO_SIZE

cdef object SNAPSHOT = Snapshot
cdef Py_ssize_t BID_PX = offset(Snapshot, "bid_px"), BID_QTY = offset(Snapshot, "bid_qty")
cdef Py_ssize_t ASK_PX = offset(Snapshot, "ask_px"), ASK_QTY = offset(Snapshot, "ask_qty")
cdef Py_ssize_t RECV_NS = offset(Snapshot, "recv_ns"), BOOK_STATE = offset(Snapshot, "book_state")


cpdef MarketView fetch_md(object snap, object now_ns):
    check(snap, SNAPSHOT)
    cdef long long t_ns = int64_of(now_ns)  # the fast path for a ns time
    cdef double bid = f64(snap, BID_PX), bid_qty = f64(snap, BID_QTY)
    cdef double ask = f64(snap, ASK_PX), ask_qty = f64(snap, ASK_QTY)
    cdef long long state = i64(snap, BOOK_STATE)
    cdef long long flags = 0
    cdef double mid
    if state == EMPTY:
        flags |= F_EMPTY
    if not (0.0 < bid < INF and 0.0 < ask < INF):  # NaN fails every comparison
        flags |= BAD_PRICE
        mid = 0.0
    else:
        mid = (bid + ask) * 0.5
        if bid > ask:
            flags |= CROSSED
        elif bid == ask:
            flags |= LOCKED
    if not (0.0 < bid_qty < INF and 0.0 < ask_qty < INF):
        flags |= ZERO_SIZE
    return new_view(bid, bid_qty, ask, ask_qty, mid, t_ns - i64(snap, RECV_NS), state, flags)
