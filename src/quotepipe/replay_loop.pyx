# cython: language_level=3
"""Replay's per-event loop, compiled with its callees typed.

``Replay.run`` (``replay.py``) owns the run and says what it does; this module is
its loop over the events. Compiled as plain Python, every event paid Python's call
protocol five times over (the books, the venue, the tick gate, the record and the
tick engine: argument parsing, the slot, prices and times boxed and unboxed, a
method lookup each) and read its fields by name. Here the books, the venue, the
tick gate and the tick engine are called through their C entries (their ``.pxd``),
and an event's fields are read at their slot offsets (``domain/fields.pxd``). What
runs on a small share of the events (the scoreboard's markouts, the allocator, the
book risk, the arrival fits, the run directory) is called as before, on Python
objects. The order of the calls, and so every quote, is the same as before.
"""

import time

from quotepipe.marketdata.messages import BookTickerEvent, DepthEvent, TradeEvent
from quotepipe.scoreboard.arrival import REFIT_NS

from cpython.list cimport PyList_GET_ITEM

from quotepipe.domain.fields cimport f64, flag, int64_of, obj, offset
from quotepipe.marketdata.book cimport BookSet
from quotepipe.venue.paper cimport PaperVenue
from quotepipe.workers.engine cimport TickEngine
from quotepipe.workers.trigger cimport TickGate

cdef object _BOOK_TICKER = BookTickerEvent, _DEPTH = DepthEvent, _TRADE = TradeEvent
cdef Py_ssize_t BT_RECV = offset(BookTickerEvent, "recv_ns"), D_RECV = offset(DepthEvent, "recv_ns")
cdef Py_ssize_t T_RECV = offset(TradeEvent, "recv_ns"), T_PRICE = offset(TradeEvent, "price")
cdef Py_ssize_t T_QTY = offset(TradeEvent, "qty"), T_MAKER = offset(TradeEvent, "buyer_maker")
cdef long long C_REFIT_NS = REFIT_NS


def play(replay, long long risk_ns, double t0):
    """Every event of ``replay``'s feed through its books, venue, scoreboard, allocator and
    tick engine; returns ``(events, the last event's time)``. ``risk_ns``: event time between
    two looks at the book-wide limits; ``t0``: the run's start (``perf_counter``), for the
    progress line."""
    cdef BookSet books = replay.books
    cdef PaperVenue venue = replay.venue
    cdef TickEngine engine = replay.engine
    cdef TickGate gate = engine.gate
    board, alloc, risk, fits, rec = replay.board, replay.allocator, replay.risk, replay.fits, replay.recorder
    weights, flags = alloc.weights, alloc.flags
    cdef list weight_of = weights.tolist(), flags_of = [int(f) for f in flags]  # refreshed on each change
    cdef bint use_alloc = replay.use_allocator, use_risk = risk.enabled, progress = replay.progress
    cdef long long alloc_next = int64_of(alloc.next_ns)  # moved only by allocate()
    cdef list markout_due = board.due_ns, venue_version = venue.version, legacy_slot = replay.legacy_slot
    cdef list md_seq = books.md_seq, book_list = books.books
    cdef list rec_due = rec.due if rec is not None else []
    on_mid = board.on_mid
    cdef long long events = 0, now_ns = 0, next_risk = 0, next_fit = 0, due
    cdef int i, s
    cdef double bid, ask, mid, next_progress = t0 + 1.0
    cdef tuple l1
    cdef bint trade
    cdef int aggressor = 0  # a trade's: +1 a buyer lifted the ask, -1 a seller hit the bid
    now, book_flags = 0, 0
    for batch in replay.feed.batches(replay.limit):
        for ev in <list>batch:
            events += 1
            i = books.apply(ev)
            if i < 0:
                continue
            t = type(ev)
            trade = t is _TRADE
            if t is _BOOK_TICKER:
                now = obj(ev, BT_RECV)
            elif trade:
                now = obj(ev, T_RECV)
            elif t is _DEPTH:
                now = obj(ev, D_RECV)
            else:
                now = ev.recv_ns
            now_ns = int64_of(now)
            l1 = books.l1(i)
            bid, ask = l1[0], l1[2]
            mid = (bid + ask) * 0.5
            if trade:
                aggressor = -1 if flag(ev, T_MAKER) else 1
                venue.on_trade(i, now, f64(ev, T_PRICE), f64(ev, T_QTY), aggressor)
            else:
                venue.on_book(i, now, bid, l1[1], ask, l1[3], <object>PyList_GET_ITEM(book_list, i),
                              t is not _BOOK_TICKER)
            due = int64_of(<object>PyList_GET_ITEM(markout_due, i))
            if 0 < due <= now_ns and 0.0 < bid < ask:
                on_mid(i, now, mid)
            if rec is not None:
                if 0 < rec_due[i] <= now and 0.0 < bid < ask:
                    rec.on_mid(i, now, mid)
                if now >= rec.next_sample:
                    replay._sample(now)
            if fits is not None:
                if trade:
                    fits.on_trade(i, now, obj(ev, T_PRICE), aggressor)
                elif 0.0 < bid < ask:
                    fits.on_mid(i, now, mid)
                if now_ns >= next_fit:
                    next_fit = now_ns + C_REFIT_NS
                    for s in range(len(md_seq)):
                        if md_seq[s]:
                            engine.set_arrival(s, fits.fitted(s, now))
            if use_alloc and now_ns >= alloc_next:
                changed = alloc.allocate(now, board, md_seq)
                alloc_next = int64_of(alloc.next_ns)
                if changed:
                    weight_of, flags_of = weights.tolist(), [int(f) for f in flags]
            if use_risk and now_ns >= next_risk:
                next_risk = now_ns + risk_ns
                if risk.update(venue.total_pnl_usd(), venue.gross_usd(), venue.flat()):
                    book_flags = risk.flags
                    engine.invalidate()
                    replay.risk_log.append((now, risk.describe()))
            if book_flags:  # a flatten works every position down, whatever the allocator says
                if gate.need(i, l1, <object>PyList_GET_ITEM(venue_version, i), 1.0, now):
                    engine.run(i, books.l1_record(i, 0, l1), now, 1.0, book_flags,
                               <object>PyList_GET_ITEM(legacy_slot, i))
                continue
            weight = <object>PyList_GET_ITEM(weight_of, i)
            if gate.need(i, l1, <object>PyList_GET_ITEM(venue_version, i), weight, now):
                engine.run(i, books.l1_record(i, 0, l1), now, weight, <object>PyList_GET_ITEM(flags_of, i))
        if progress and time.perf_counter() > next_progress:  # once a batch, not per event
            next_progress += 0.5
            replay._show_progress(events, time.perf_counter() - t0, batch[-1].recv_ns)
    return events, now
