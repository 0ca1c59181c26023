# distutils: language = c++
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""An L2 order book per instrument under Binance's sequencing rules, with L1 from bookTicker.

Depth diffs received before the REST snapshot are buffered (the bridging diff
often arrives first). On the snapshot, stale diffs are dropped and the first
applied one must straddle ``lastUpdateId`` (spot: ``U <= id+1 <= u``; futures:
``U <= id <= u``, or ``pu == id``: it continues a snapshot taken between diffs);
after that every diff must follow the previous one (spot:
``U == prev u + 1``; futures: ``pu == prev u``). A gap clears L2 and marks the
book RESYNCING until a new snapshot; bookTicker keeps L1 current throughout. A
recording with no snapshot runs L1-only, with one warning. A snapshot that a
book in sequence is already past (a recording's periodic one) changes nothing.

Compiled (Cython, C++): every event of the md process and of replay passes here.
A side (``BookSide``) keys each level by its price in integer ticks
(``llround(price / tick)``), negated on the bid side, so the smallest key is the
best level on both sides; a dense ladder holds the keys of a window around the
best, an ordered C++ map the rest. Each key keeps the price and size as received
(floats), so what the book publishes is bit for bit what the venue sent. A price off the tick grid (a
config whose ``tick_size`` does not fit the data) is still booked, at its
nearest tick, and counted in ``off_tick``. The events' fields are read at their
slot offsets (``domain/fields.pxd``), as the stages read theirs.
"""

import logging
from collections import deque

from cython.operator cimport dereference as deref
from cython.operator cimport preincrement as inc
from libc.math cimport fabs, llround
from libcpp.map cimport map as cmap
from libcpp.utility cimport pair
from libcpp.vector cimport vector

from quotepipe.domain.snapshot import BOOK_EMPTY, BOOK_L1_ONLY, BOOK_RESYNCING, BOOK_VALID
from quotepipe.domain.snapshot import LEVELS as _LEVELS
from quotepipe.marketdata.messages import BookTickerEvent, DepthEvent, SnapshotEvent, TradeEvent

from quotepipe.domain.fields cimport check, f64, flag, i64, obj, offset
from quotepipe.marketdata.levels cimport Levels

log = logging.getLogger(__name__)

BUFFER_DIFFS = 5000        # diffs kept while waiting for a snapshot
L1_ONLY_WARN_DIFFS = 1000  # diffs without any snapshot before warning "L1-only" ...
L1_ONLY_WARN_NS = 5_000_000_000  # ... or this much receive time since the first one
DEFAULT_TICK = 1e-8  # the finest price step Binance lists: for a book whose instrument has no spec

cdef int LEVELS = _LEVELS
cdef object _EMPTY = BOOK_EMPTY, _VALID = BOOK_VALID, _L1_ONLY = BOOK_L1_ONLY, _RESYNCING = BOOK_RESYNCING
cdef object _BOOK_TICKER = BookTickerEvent, _DEPTH = DepthEvent, _SNAPSHOT = SnapshotEvent, _TRADE = TradeEvent
# the events' fields at their slot offsets (``domain/fields.pxd``): read on every event, where a
# read by name is a generic attribute lookup, and an id of two 30-bit digits or more a slow convert
cdef Py_ssize_t BT_INST = offset(BookTickerEvent, "inst"), BT_RECV = offset(BookTickerEvent, "recv_ns")
cdef Py_ssize_t BT_ID = offset(BookTickerEvent, "update_id"), BT_EXCH = offset(BookTickerEvent, "exch_ms")
cdef Py_ssize_t BT_BID = offset(BookTickerEvent, "bid_px"), BT_BID_QTY = offset(BookTickerEvent, "bid_qty")
cdef Py_ssize_t BT_ASK = offset(BookTickerEvent, "ask_px"), BT_ASK_QTY = offset(BookTickerEvent, "ask_qty")
cdef Py_ssize_t D_INST = offset(DepthEvent, "inst"), D_RECV = offset(DepthEvent, "recv_ns")
cdef Py_ssize_t D_FIRST = offset(DepthEvent, "first_id"), D_LAST = offset(DepthEvent, "last_id")
cdef Py_ssize_t D_PREV = offset(DepthEvent, "prev_id"), D_EXCH = offset(DepthEvent, "exch_ms")
cdef Py_ssize_t D_BIDS = offset(DepthEvent, "bids"), D_ASKS = offset(DepthEvent, "asks")
cdef Py_ssize_t T_INST = offset(TradeEvent, "inst"), T_RECV = offset(TradeEvent, "recv_ns")
cdef Py_ssize_t T_PRICE = offset(TradeEvent, "price"), T_QTY = offset(TradeEvent, "qty")
cdef Py_ssize_t T_MAKER = offset(TradeEvent, "buyer_maker"), T_MS = offset(TradeEvent, "trade_ms")
cdef double KEY_MAX = 9.0e18   # |ticks| beyond this does not fit the int64 key
cdef double OFF_TICK = 0.01    # a price this far from its tick (in ticks) is off the grid


cdef struct Level:
    double px
    double qty


ctypedef cmap[long long, Level] LevelMap
ctypedef pair[long long, Level] Entry


cdef enum:
    WINDOW = 32768        # ticks held in the dense ladder (512 KiB a side)
    WINDOW_AHEAD = 4096   # ticks of the window kept better than the best level
cdef long long NO_KEY = 0x7FFFFFFFFFFFFFFF


cdef class BookSide:
    """Levels of one side, best first. ``bid``: the bid side; ``tick``: the price step.

    Keys are integer ticks, negated on the bid side, so the smallest key is the best
    level on both sides. The ``WINDOW`` keys from ``lo`` live in a dense ladder (one
    slot per tick: a level costs one array store, where a tree costs a dozen cache
    misses); keys beyond it, all worse than the window, in an ordered map. The window
    is placed with ``WINDOW_AHEAD`` ticks of room before the best level, and moved
    (``recenter``) when the best leaves it or drifts past half of it: rare.
    """

    cdef vector[Level] ladder        # qty 0.0: no level at that tick
    cdef long long lo                # key of ladder[0]
    cdef long long best_i            # ladder index of the best level; -1: the ladder is empty
    cdef long long n_in              # levels in the ladder
    cdef LevelMap far                # levels at keys >= lo + WINDOW
    cdef readonly bint bid
    cdef readonly double tick
    cdef double per_tick
    cdef long long sign
    cdef readonly long long off_tick  #: levels received off the tick grid

    def __cinit__(self, bint bid, double tick):
        if not tick > 0.0:
            raise ValueError(f"tick must be positive, got {tick}")
        self.bid = bid
        self.tick = tick
        self.per_tick = 1.0 / tick
        self.sign = -1 if bid else 1
        self.off_tick = 0
        self.ladder.resize(WINDOW)
        self.lo = 0
        self.best_i = -1
        self.n_in = 0

    cdef inline long long key(self, double px, bint received) except? -1:
        """``px``'s key; a ``received`` level off the tick grid is counted (a lookup is not)."""
        cdef double x = px * self.per_tick
        if not fabs(x) < KEY_MAX:
            raise OverflowError(f"price {px} does not fit the book at tick {self.tick}")
        cdef long long k = llround(x)
        if received and fabs(x - <double>k) > OFF_TICK:
            self.off_tick += 1
        return self.sign * k

    # -------------------------------------------------------------- the store
    cdef inline bint set_level(self, long long k, Level lv):
        """Set or (qty <= 0) remove the level at key ``k``; True when something changed."""
        cdef long long i = k - self.lo
        cdef Level* slot
        cdef LevelMap.iterator it
        if 0 <= i < WINDOW:
            slot = &self.ladder[i]
            if lv.qty > 0.0:
                if slot.qty == lv.qty and slot.px == lv.px:
                    return False
                if slot.qty <= 0.0:
                    self.n_in += 1
                    if self.best_i < 0 or i < self.best_i:
                        self.best_i = i
                slot[0] = lv
                return True
            if slot.qty <= 0.0:
                return False
            slot.qty = 0.0
            self.n_in -= 1
            if i == self.best_i:
                self.best_i = self.next_in(i + 1)
            return True
        it = self.far.lower_bound(k)
        if it == self.far.end() or deref(it).first != k:
            if lv.qty <= 0.0:
                return False
            self.far.insert(<LevelMap.const_iterator>it, Entry(k, lv))
            return True
        if lv.qty > 0.0:
            if deref(it).second.qty == lv.qty and deref(it).second.px == lv.px:
                return False
            deref(it).second = lv
            return True
        self.far.erase(it)
        return True

    cdef inline long long next_in(self, long long i):
        """The first ladder index from ``i`` holding a level; -1 when none."""
        while i < WINDOW:
            if self.ladder[i].qty > 0.0:
                return i
            i += 1
        return -1

    cdef void settle(self):
        """Keep the invariants after a change: the best level is in the ladder, the ladder
        is empty only with the whole side, and the best sits in the first half."""
        cdef long long best
        if not self.far.empty() and deref(self.far.begin()).first < self.lo:
            best = deref(self.far.begin()).first
            if self.best_i >= 0 and self.lo + self.best_i < best:
                best = self.lo + self.best_i
            self.recenter(best - WINDOW_AHEAD)
        elif self.best_i < 0 and not self.far.empty():
            self.recenter(deref(self.far.begin()).first - WINDOW_AHEAD)
        elif self.best_i > WINDOW // 2:
            self.recenter(self.lo + self.best_i - WINDOW_AHEAD)

    cdef void recenter(self, long long lo):
        """Move the window to start at key ``lo``: every level goes to the map, then those
        inside the new window come back into the ladder."""
        cdef long long i
        cdef LevelMap.iterator it
        for i in range(WINDOW):
            if self.ladder[i].qty > 0.0:
                self.far[self.lo + i] = self.ladder[i]
                self.ladder[i].qty = 0.0
        self.lo = lo
        self.n_in = 0
        self.best_i = -1
        it = self.far.lower_bound(lo)
        while it != self.far.end() and deref(it).first < lo + WINDOW:
            i = deref(it).first - lo
            self.ladder[i] = deref(it).second
            self.n_in += 1
            if self.best_i < 0:
                self.best_i = i
            it = self.far.erase(it)

    cdef inline bint first(self, Level* out):
        """The best level into ``out``; False on an empty side."""
        if self.best_i < 0:
            return False
        out[0] = self.ladder[self.best_i]
        return True

    cdef int walk(self, int n, double* px, double* qty, long long* last_key):
        """Up to ``n`` best levels into ``px``/``qty`` (either may be NULL); their count. The
        key of the last one into ``last_key``."""
        cdef int got = 0
        cdef long long i = self.best_i
        cdef LevelMap.iterator it
        if i < 0:
            return 0
        while i < WINDOW and got < n:
            if self.ladder[i].qty > 0.0:
                if px != NULL:
                    px[got] = self.ladder[i].px
                    qty[got] = self.ladder[i].qty
                last_key[0] = self.lo + i
                got += 1
            i += 1
        it = self.far.begin()
        while it != self.far.end() and got < n:
            if px != NULL:
                px[got] = deref(it).second.px
                qty[got] = deref(it).second.qty
            last_key[0] = deref(it).first
            got += 1
            inc(it)
        return got

    cdef inline long long kth_key(self):
        """The key of the ``LEVELS``-th best level; the largest key when there are fewer."""
        cdef long long k = NO_KEY
        if self.walk(LEVELS, NULL, NULL, &k) < LEVELS:
            return NO_KEY
        return k

    # ------------------------------------------------------------- the API
    def clear(self) -> None:
        cdef long long i
        if self.n_in:
            for i in range(WINDOW):
                self.ladder[i].qty = 0.0
        self.n_in = 0
        self.best_i = -1
        self.far.clear()

    def seed(self, list levels) -> None:
        """Replace every level (a snapshot); sizes that are not positive are left out."""
        self.clear()
        cdef Level lv
        cdef tuple t
        cdef long long k, best = NO_KEY
        for t in levels:
            lv.px = t[0]
            lv.qty = t[1]
            if lv.qty > 0.0:
                k = self.key(lv.px, True)
                self.far[k] = lv
                if k < best:
                    best = k
        if best != NO_KEY:
            self.lo = best + WINDOW  # the map holds everything: recenter pulls the window in
            self.recenter(best - WINDOW_AHEAD)

    def apply(self, levels) -> bool:
        """Set each ``(price, size)``; a size that is not positive removes the level.
        True when the best ``LEVELS`` changed."""
        return self.apply_levels(levels)

    cdef bint apply_levels(self, object levels) except -1:
        """``apply``: the levels of a ``Levels`` (the compiled decoder's) read as C doubles, of
        a list (msgspec's) from its tuples.

        While nothing in the top has changed, the top's last key is the one found
        before the diff, so one comparison per level tells whether it is inside."""
        cdef long long kth = self.kth_key()
        cdef bint changed = False
        cdef Level lv
        cdef Py_ssize_t j
        cdef tuple t
        cdef Levels packed
        if type(levels) is Levels:
            packed = <Levels>levels
            for j in range(packed.n):
                lv.px = packed.pairs[2 * j]
                lv.qty = packed.pairs[2 * j + 1]
                changed |= self.put(lv, kth)
        else:
            for t in <list?>levels:
                lv.px = t[0]
                lv.qty = t[1]
                changed |= self.put(lv, kth)
        self.settle()
        return changed

    cdef inline bint put(self, Level lv, long long kth) except -1:
        """Set one level; True when it is within the top (key ``kth`` or better)."""
        cdef long long k = self.key(lv.px, True)
        return self.set_level(k, lv) and k <= kth

    def __len__(self) -> int:
        return self.n_in + self.far.size()

    def best(self):
        """The best price, or None on an empty side."""
        cdef Level lv
        return lv.px if self.first(&lv) else None

    def best_level(self):
        """``(price, size)`` of the best level, or None on an empty side."""
        cdef Level lv
        return (lv.px, lv.qty) if self.first(&lv) else None

    def best_levels(self, int n) -> list:
        """Up to ``n`` ``(price, size)`` levels, best first."""
        cdef vector[double] px, qty
        cdef long long last
        px.resize(max(n, 1))
        qty.resize(max(n, 1))
        cdef int got = self.walk(n, &px[0], &qty[0], &last)
        return [(px[i], qty[i]) for i in range(got)]

    def top(self, int n) -> tuple:
        """``n`` prices then ``n`` sizes, best first, zeros where the side has fewer levels."""
        levels = self.best_levels(n)
        pad = (0.0,) * (n - len(levels))
        return (*[p for p, _ in levels], *pad, *[q for _, q in levels], *pad)

    def qty_at(self, double px) -> float:
        """The size resting at ``px``; 0.0 when there is no level there."""
        cdef long long k = self.key(px, False)
        cdef long long i = k - self.lo
        cdef LevelMap.iterator it
        if 0 <= i < WINDOW:
            return self.ladder[i].qty if self.ladder[i].qty > 0.0 else 0.0
        it = self.far.find(k)
        if it == self.far.end():
            return 0.0
        return deref(it).second.qty


cdef class OrderBook:
    """One instrument's book. ``tick``: its price step, the sides' integer key (``BookSide``).

    ``top_dirty`` is set whenever what ``levels()`` returns may have changed (a diff
    inside the top ``LEVELS``, a snapshot, a gap, a state change, a bookTicker while
    L2 is not valid); the publisher clears it when it writes the depth block.
    """

    cdef public str inst
    cdef public bint futures
    cdef public BookSide bids, asks
    cdef public object state
    cdef public bint top_dirty
    cdef public long long last_id      # u of the last applied diff (or the snapshot id)
    cdef bint _synced                  # first diff after the snapshot applied
    cdef object _buffer
    cdef long long _diffs_without_snapshot, _first_diff_ns
    cdef bint _warned_l1_only
    cdef public long long bt_id        # L1 from bookTicker
    cdef public tuple bt               # bid px/qty, ask px/qty, update id: l1()'s shape
    cdef public long long resyncs, crossed, applied, stale_dropped, snapshots

    def __init__(self, str inst, bint futures, double tick=DEFAULT_TICK):
        self.inst = inst
        self.futures = futures
        self.bids = BookSide(True, tick)
        self.asks = BookSide(False, tick)
        self.state = _EMPTY
        self.top_dirty = True
        self.last_id = -1
        self._synced = False
        self._buffer = deque(maxlen=BUFFER_DIFFS)
        self._diffs_without_snapshot = 0
        self._first_diff_ns = -1
        self._warned_l1_only = False
        self.bt_id = -1
        self.bt = (0.0, 0.0, 0.0, 0.0, -1)
        self.resyncs = self.crossed = self.applied = self.stale_dropped = self.snapshots = 0

    # ------------------------------------------------------------- updates
    cpdef on_book_ticker(self, ev):
        check(ev, _BOOK_TICKER)
        cdef long long uid = i64(ev, BT_ID)
        cdef double bid = f64(ev, BT_BID), ask = f64(ev, BT_ASK)
        if uid >= self.bt_id:
            self.bt_id = uid
            self.bt = (bid, f64(ev, BT_BID_QTY), ask, f64(ev, BT_ASK_QTY), uid)
            if self.state is not _VALID:  # levels() shows the bookTicker's L1
                self.top_dirty = True
        if self.state is _EMPTY:
            self.state = _L1_ONLY
        if bid >= ask > 0:
            self.crossed += 1

    cpdef on_snapshot(self, ev):
        self.snapshots += 1
        if self.state is _VALID and ev.last_update_id <= self.last_id:
            return  # a book in sequence is already at or past it (a recorder's periodic snapshot)
        self.bids.seed(ev.bids)
        self.asks.seed(ev.asks)
        self.last_id = ev.last_update_id
        self._synced = False
        self.state = _RESYNCING  # until a diff bridges the snapshot
        self.top_dirty = True
        buffered = list(self._buffer)
        self._buffer.clear()
        for diff in buffered:
            self._apply(diff)

    cpdef bint on_depth(self, ev):
        """Apply a diff; True when the L2 book changed."""
        check(ev, _DEPTH)
        if self.snapshots == 0:
            self._buffer.append(ev)
            self._diffs_without_snapshot += 1
            if self._first_diff_ns < 0:
                self._first_diff_ns = ev.recv_ns
            if not self._warned_l1_only and (
                    self._diffs_without_snapshot >= L1_ONLY_WARN_DIFFS
                    or ev.recv_ns - self._first_diff_ns >= L1_ONLY_WARN_NS):
                self._warned_l1_only = True
                log.warning("%s: %d depth diffs and no depth snapshot: running L1-only (bookTicker) "
                            "until a snapshot arrives", self.inst, self._diffs_without_snapshot)
            if self.state is _EMPTY:
                self.state = _L1_ONLY
                self.top_dirty = True
            return False
        if self.state is _RESYNCING and not self._synced and self.last_id < 0:
            self._buffer.append(ev)  # gap: wait for the next snapshot
            return False
        return self._apply(ev)

    cdef bint _apply(self, ev):
        cdef long long lid = self.last_id
        cdef long long first = i64(ev, D_FIRST), last = i64(ev, D_LAST), prev = i64(ev, D_PREV)
        cdef long long bridge
        if not self._synced:
            if (last < lid) if self.futures else (last <= lid):
                self.stale_dropped += 1
                return False
            bridge = lid if self.futures else lid + 1
            # futures: a diff that continues the snapshot exactly (pu == its id, as when the
            # snapshot was taken between two diffs) bridges it too
            if not (first <= bridge <= last or self.futures and prev == lid):
                self._gap(ev)
                return False
            self._synced = True
            self.state = _VALID
            self.top_dirty = True
        elif (prev != lid) if self.futures else (first != lid + 1):
            self._gap(ev)
            return False
        if self.bids.apply_levels(obj(ev, D_BIDS)) | self.asks.apply_levels(obj(ev, D_ASKS)):  # both, always
            self.top_dirty = True
        self.last_id = last
        self.applied += 1
        cdef Level b, a
        if self.bids.first(&b) and self.asks.first(&a) and b.px >= a.px:
            self.crossed += 1
        return True

    cdef void _gap(self, ev):
        self.resyncs += 1
        self.bids.clear()
        self.asks.clear()
        self._synced = False
        self.last_id = -1
        self.state = _RESYNCING
        self.top_dirty = True
        self._buffer.clear()
        self._buffer.append(ev)

    # -------------------------------------------------------------- reading
    @property
    def mode(self) -> str:
        return "l2" if self.snapshots else "l1-only"

    cpdef tuple l1(self):
        """Best bid px/qty, ask px/qty and update id from the freshest source."""
        cdef Level b, a
        if self.state is _VALID and self.last_id >= self.bt_id and self.bids.first(&b) \
                and self.asks.first(&a):
            return (b.px, b.qty, a.px, a.qty, self.last_id)
        return self.bt

    def levels(self) -> tuple:
        """Top levels: 5 bid px, 5 bid qty, 5 ask px, 5 ask qty (zeros where absent)."""
        if self.state is not _VALID:
            bid, bid_qty, ask, ask_qty, _ = self.bt
            pad = (0.0,) * (LEVELS - 1)
            return (bid, *pad, bid_qty, *pad, ask, *pad, ask_qty, *pad)
        return self.bids.top(LEVELS) + self.asks.top(LEVELS)

    def qty_at(self, int side, double price):
        """Quantity resting at ``price`` (side +1 bid, -1 ask); None when L2 is not valid."""
        if self.state is not _VALID:
            return None
        return (self.bids if side > 0 else self.asks).qty_at(price)


cdef class BookSet:
    """Every configured instrument's book, last trade and update count.

    The one place that turns events into snapshot records, shared by the
    market-data process, ``quotepipe replay`` and ``quotepipe data inspect``.
    """

    def __init__(self, instrument_ids, ticks=None):
        self.ids = list(instrument_ids)
        self.index = {iid: i for i, iid in enumerate(self.ids)}
        self.books = [OrderBook(iid, not iid.startswith("binance-spot:"), tick)
                      for iid, tick in zip(self.ids, ticks or [DEFAULT_TICK] * len(self.ids), strict=True)]
        self._slot = {iid: (i, self.books[i]) for iid, i in self.index.items()}  # one lookup per event
        n = len(self.ids)
        self.last_trade = [(0.0, 0.0, 0, 0)] * n
        self.exch_ns = [0] * n
        self.recv_ns = [0] * n
        self.md_seq = [0] * n

    @classmethod
    def of(cls, cfg):
        """The configured instruments' books, each keyed by its instrument's tick."""
        return cls([i.id for i in cfg.instruments], [i.tick_size for i in cfg.instruments])

    def off_tick(self) -> int:
        """Levels received off their instrument's tick grid (a ``tick_size`` that does not fit)."""
        return sum(b.bids.off_tick + b.asks.off_tick for b in self.books)

    cpdef int apply(self, ev) except -2:
        """Apply one event; the instrument's index when its snapshot changed, else -1.

        Raises ``KeyError`` for an instrument that is not configured. Reads the events'
        raw ms fields rather than their ``*_ns``/``side`` properties."""
        cdef tuple slot
        cdef int i
        cdef OrderBook book
        cdef long long exch_ms
        t = type(ev)
        if t is _BOOK_TICKER:
            slot = self._slot[obj(ev, BT_INST)]
            i, book = slot
            book.on_book_ticker(ev)
            exch_ms = i64(ev, BT_EXCH)
            if exch_ms:
                self.exch_ns[i] = exch_ms * 1_000_000
            self.recv_ns[i] = obj(ev, BT_RECV)
        elif t is _DEPTH:
            slot = self._slot[obj(ev, D_INST)]
            i, book = slot
            if not book.on_depth(ev):
                return -1
            self.exch_ns[i] = i64(ev, D_EXCH) * 1_000_000
            self.recv_ns[i] = obj(ev, D_RECV)
        elif t is _SNAPSHOT:
            slot = self._slot[ev.inst]
            i, book = slot
            book.on_snapshot(ev)
            self.recv_ns[i] = ev.recv_ns
        else:
            check(ev, _TRADE)
            slot = self._slot[obj(ev, T_INST)]
            i = slot[0]
            trade_ns = i64(ev, T_MS) * 1_000_000
            self.last_trade[i] = (obj(ev, T_PRICE), obj(ev, T_QTY), -1 if flag(ev, T_MAKER) else 1, trade_ns)
            self.exch_ns[i] = trade_ns
            self.recv_ns[i] = obj(ev, T_RECV)
        self.md_seq[i] += 1
        return i

    cpdef tuple l1(self, int i):
        """Instrument ``i``'s ``OrderBook.l1()``: bid, bid size, ask, ask size, update id."""
        return (<OrderBook>self.books[i]).l1()

    cpdef tuple l1_record(self, int i, publish_ns, l1=None):
        """The 14 L1 fields of the snapshot table for instrument ``i`` (``l1``: its
        ``OrderBook.l1()`` when the caller already has it)."""
        cdef OrderBook book = self.books[i]
        bid, bid_qty, ask, ask_qty, update_id = l1 or book.l1()
        px, qty, side, trade_ns = self.last_trade[i]
        return (bid, bid_qty, ask, ask_qty, px, qty, side, trade_ns, self.exch_ns[i],
                self.recv_ns[i], publish_ns, int(book.state),
                update_id if update_id > 0 else 0, self.md_seq[i])
