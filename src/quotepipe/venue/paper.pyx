# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The paper venue: fills our quotes against the recorded market, on event time.

Intents (NEW, REPLACE, CANCEL, KEEP) take effect after ``entry_latency_ms``
(new orders) and ``cancel_latency_ms`` (cancels, and the old order of a
replace), so an order can still fill while its cancel is in flight. Orders are
post-only: one that would cross the book when it arrives is rejected and
counted. A resting order's queue ahead starts at its level's quantity (L2 book;
L1 when at the best; the best level's quantity as a conservative estimate when
the level is not visible; zero inside the spread) and advances by trades at the
level and by the configured queue model. A trade through our price fills what
is left; a trade at our price fills what is left of it after the queue ahead.

Inside the venue our sizes are whole lots and our prices whole ticks (integers,
as hftbacktest keeps them): an order is a number of lots, a fill is a whole
number of lots (a partial fill at our level rounds down to a lot; what is left
rests), the position is a number of lots, and "a trade at our price" or "our
price is the best" compares tick numbers, never floats. So no fill is dust and
every position is a whole number of lots. The market's own quantities (the
queue ahead, the trade sizes) stay what the recording says.

There is no market impact: the recording is the market, our orders never
change it. Fees are maker fees (post-only fills are maker fills), in bps of
notional, negative for a rebate. Inverse (COIN-M) contracts keep cash in coin
and report PnL in USD at the mid.

Compiled (Cython): replay and the venue process call ``on_book`` or
``on_trade`` on every market event. An order is an extension type with C
fields (ticks and lots as ``long long``, quantities as ``double``), the best
prices of each instrument are C arrays, and the queue model is called from C.
The arithmetic is Python's: IEEE doubles with no contraction, prices to ticks
by ``llrint`` (round half to even, as Python's ``round``), and the few
``round(x, digits)`` on a fill or an order's end by Python's own ``round``, so
the fills are bit for bit those of the Python venue it replaced (the replay
hash tests hold them).
"""

from cpython.mem cimport PyMem_Calloc, PyMem_Free
from libc.math cimport fabs, llrint

from quotepipe.domain.instrument import instrument_specs
from quotepipe.domain.valuation import pnl_usd
from quotepipe.domain.orders import ASK, BID, CANCEL, KEEP, NONE, UNSEEN, Fill, OrderEnd, RestingOrder
from quotepipe.venue.queue_models import queue_model

from quotepipe.domain.fields cimport int64_of

#: a fill's lots are counted down from ``fillable / lot``: this absorbs the float error of a
#: quantity that is a whole number of lots on paper (3 x 0.001 is 0.0030000000000000001)
LOT_EPS = 1e-9

cdef double _LOT_EPS = LOT_EPS
cdef int _BID = BID, _ASK = ASK, _NONE = NONE, _KEEP = KEEP, _CANCEL = CANCEL
cdef double NOT_VISIBLE = -1.0  # _look: the level cannot be seen (quantities are never negative)
cdef double INT64_SPAN = 9.223372036854775807e18


cdef long long whole(double x) except? -1:
    """``round(x)`` of a float as Python gives it, in C: half to even (``llrint`` in the default
    rounding mode), and Python's errors for what has no int64 value."""
    if x != x:
        raise ValueError("cannot convert float NaN to integer")
    if not fabs(x) < INT64_SPAN:
        raise OverflowError(f"{x!r} does not fit an int64 (prices and sizes in ticks and lots)")
    return llrint(x)


cdef class _Order:
    """One order at the venue, from its arrival to its end (filled, cancelled or rejected)."""

    def __init__(self, long long oid, int slot, int side, double price, long long tick, long long lots,
                 double lot, long long now, long long active_at):
        self.oid = oid
        self.slot = slot
        self.side = side          # +1 bid, -1 ask
        self.price = price
        self.tick = tick          # price in whole ticks
        self.lots = lots          # size in whole lots
        self.qty = round(lots * lot, 12)  # the same in quantity units, for events
        self.left = lots          # lots not yet filled
        self.placed_ns = now
        self.active_at = active_at
        self.cancel_at = 0        # 0: no cancel in flight
        self.resting = False
        self.ahead = 0.0
        self.level = 0.0
        self.deep = False         # ``level`` was read off the depth, behind the best price
        self.unseen = False       # its level is not visible (L1-only, behind the touch): a guess
        self.traded = 0.0         # traded at our level since the last book look
        self.ahead0 = 0.0         # the queue ahead when it joined its level
        self.view = None          # cached RestingOrder for the chain


cdef inline double _queue_edge(_Order o):
    """How far up its queue an order came: the share of the quantity ahead of it at join that
    was gone (traded or cancelled) by now; 1 when nobody was ahead (it joined at the front)."""
    return (o.ahead0 - o.ahead) / o.ahead0 if o.ahead0 > 0.0 else 1.0


cdef class PaperVenue:
    """The venue of every instrument of a config. Per instrument (slot): the lists below
    (shared with the tick engine by reference: ``position``, ``cash``, ``version``), the best
    prices and sizes last seen and the earliest time something is due, in C."""

    def __init__(self, cfg, on_fill=None, on_order_end=None):
        vc = cfg.venue
        self.specs = instrument_specs(cfg)
        n = self.n = len(self.specs)
        self.entry_ns = int(vc.entry_latency_ms * 1e6)
        self.cancel_ns = int(vc.cancel_latency_ms * 1e6)
        self.model = queue_model(vc.queue_model, vc.prob_exponent)
        fees = vc.fees
        self.maker_bps = [fees[s.venue].maker_bps if s.venue in fees else 0.0 for s in self.specs]
        self.on_fill = on_fill or (lambda f: None)
        self.on_order_end = on_order_end or (lambda e: None)
        self.orders = [[] for _ in range(n)]
        self.current = [[None, None] for _ in range(n)]
        self.position = [0.0] * n   # in quantity units: ``position_lots`` times the lot size
        self.position_lots = [0] * n
        self.cash = [0.0] * n       # quote currency (USD) for linear, coin for inverse
        self.volume = [0.0] * n
        self.fills = [0] * n
        self.rejects = [0] * n
        self.version = [0] * n      # bumped whenever resting orders or the position change
        cdef Py_ssize_t size = max(n, 1)
        self._bid = <double *>PyMem_Calloc(6 * size, sizeof(double))
        self._next_due = <long long *>PyMem_Calloc(size, sizeof(long long))
        if self._bid == NULL or self._next_due == NULL:
            raise MemoryError()
        self._bid_qty, self._ask, self._ask_qty = self._bid + size, self._bid + 2 * size, self._bid + 3 * size
        self._tick, self._lot = self._bid + 4 * size, self._bid + 5 * size
        for s in range(n):
            self._tick[s], self._lot[s] = self.specs[s].tick, self.specs[s].lot

    def __dealloc__(self):
        PyMem_Free(self._bid)
        PyMem_Free(self._next_due)

    cdef inline int _slot(self, Py_ssize_t slot) except -1:
        if not 0 <= slot < self.n:
            raise IndexError(f"instrument slot {slot} out of range (0-{self.n - 1})")
        return 0

    cdef inline double _mid(self, Py_ssize_t slot) noexcept:
        return (self._bid[slot] + self._ask[slot]) * 0.5

    # per slot, as lists (copies): the best prices last seen, the lot size
    cdef list _listed(self, double *values):
        return [values[s] for s in range(self.n)]

    @property
    def bid(self) -> list:
        return self._listed(self._bid)

    @property
    def ask(self) -> list:
        return self._listed(self._ask)

    @property
    def lot(self) -> list:
        return self._listed(self._lot)

    @property
    def next_due(self) -> list:
        """Per slot, the earliest activation or cancel landing (0: none), as a list (a copy)."""
        return [self._next_due[s] for s in range(self.n)]

    # ------------------------------------------------------------------ intents
    def submit(self, intent):
        self.apply(intent.slot, intent.t_ns, intent.bid_action, intent.bid_px, intent.bid_qty,
                   intent.ask_action, intent.ask_px, intent.ask_qty)

    cpdef apply(self, Py_ssize_t slot, t_ns, int bid_action, double bid_px, double bid_qty,
                int ask_action, double ask_px, double ask_qty):
        """An intent's fields (as the venue process reads them off an intent ring)."""
        self._slot(slot)
        cdef long long now = int64_of(t_ns)
        if _NONE < bid_action < _KEEP:  # acting (see domain.orders.Action)
            self._side_action(slot, _BID, bid_action, bid_px, bid_qty, now)
        if _NONE < ask_action < _KEEP:
            self._side_action(slot, _ASK, ask_action, ask_px, ask_qty, now)

    cdef int _side_action(self, Py_ssize_t slot, int side, int action, double px, double qty,
                          long long now) except -1:
        self.version[slot] += 1
        cdef list cur = self.current[slot]
        if cur[side] is not None:
            self._cancel(cur[side], now)
        if action == _CANCEL:
            cur[side] = None
            return 0
        cdef double lot = self._lot[slot]
        cdef long long lots = whole(qty / lot)
        if lots <= 0:  # under one lot: nothing the venue would accept
            cur[side] = None
            self.rejects[slot] += 1
            return 0
        self._oid += 1
        order = _Order(self._oid, slot, 1 if side == _BID else -1, px, whole(px / self._tick[slot]), lots,
                       lot, now, now + self.entry_ns)
        self.orders[slot].append(order)
        cur[side] = order
        self._due(slot, order.active_at)
        return 0

    cdef inline void _cancel(self, _Order order, long long now) noexcept:
        if order.cancel_at == 0:
            order.cancel_at = now + self.cancel_ns
            self._due(order.slot, order.cancel_at)

    def cancel_all(self, Py_ssize_t slot, now):
        """Cancel every order of an instrument (a worker restart or a stop)."""
        self._slot(slot)
        cdef long long t = int64_of(now)
        self.version[slot] += 1
        cdef list cur = self.current[slot]
        for side in (_BID, _ASK):
            if cur[side] is not None:
                self._cancel(cur[side], t)
                cur[side] = None

    def close_out(self, Py_ssize_t slot, now) -> int:
        """Cancel every order of an instrument and land the cancels at once (a stop or a
        worker restart cannot wait on event time that may not come). Returns the orders
        that were open; none is left."""
        self._slot(slot)
        cdef long long t = int64_of(now)
        cdef _Order o
        was_open = len(self.orders[slot])
        if was_open:
            self.cancel_all(slot, now)
            for o in self.orders[slot]:
                self._cancel(o, t)
            self._process_due(slot, max([o.cancel_at for o in self.orders[slot]]), None)
            self.version[slot] += 1
        return was_open

    def advance(self, Py_ssize_t slot, now):
        """Event time passed with no market update: activate orders, land cancels that are due."""
        self._slot(slot)
        self._catch_up(slot, int64_of(now), None)

    cdef inline int _catch_up(self, Py_ssize_t slot, long long t, depth) except -1:
        """What is due by ``t`` (entries whose latency passed, cancels) done first."""
        cdef long long due = self._next_due[slot]
        if due and due <= t:
            self._process_due(slot, t, depth)
        return 0

    cdef inline void _due(self, Py_ssize_t slot, long long t) noexcept:
        cdef long long d = self._next_due[slot]
        if d == 0 or t < d:
            self._next_due[slot] = t

    # ------------------------------------------------------------------ market
    cpdef on_book(self, Py_ssize_t slot, now, double bid, double bid_qty, double ask, double ask_qty,
                  depth=None, bint depth_moved=True):
        """A book update of ``slot`` at event time ``now``. ``depth_moved=False`` says only the
        best levels changed (a bookTicker): an order behind the best then keeps the depth
        it last read, which is most of the work saved on two updates in three."""
        self._slot(slot)
        self._bid[slot], self._bid_qty[slot], self._ask[slot], self._ask_qty[slot] = bid, bid_qty, ask, ask_qty
        cdef list orders = self.orders[slot]
        if not orders:
            return
        cdef long long t = int64_of(now)
        self._catch_up(slot, t, depth)
        orders = self.orders[slot]
        cdef QueueModel model = self.model
        cdef double tick = self._tick[slot]
        cdef long long bid_tick = whole(bid / tick), ask_tick = whole(ask / tick)
        cdef double level, ahead
        cdef _Order o
        for o in orders:
            if not o.resting:
                continue
            if o.tick >= ask_tick if o.side > 0 else o.tick <= bid_tick:
                # the market traded through us without a recorded trade reaching us yet:
                # leave it to the trades, but nobody is ahead any more
                o.ahead = 0.0
                continue
            if not depth_moved and o.deep and (o.tick < bid_tick if o.side > 0 else o.tick > ask_tick):
                level = o.level  # the depth behind the best did not move
            else:
                level = self._look(o, depth)
                if level == NOT_VISIBLE:
                    continue
                if o.unseen:  # its level came into view
                    o.unseen = False
                    o.view = None
                    self.version[slot] += 1
            if level == o.level and o.traded == 0.0:
                continue  # nothing moved at our level
            ahead = model.advance(o.ahead, o.level, level, o.traded)
            if ahead != o.ahead or level != o.level:
                o.ahead = ahead
                o.view = None
                self.version[slot] += 1
            o.level = level
            o.traded = 0.0

    cdef double _look(self, _Order o, depth) except? -2.0:
        """The quantity resting at ``o``'s price excluding us (NOT_VISIBLE when it cannot be
        seen), and whether it came off the depth behind the best (``o.deep``)."""
        cdef Py_ssize_t slot = o.slot
        cdef double tick = self._tick[slot], best_qty
        cdef long long best
        cdef bint inside
        if o.side > 0:
            best, best_qty = whole(self._bid[slot] / tick), self._bid_qty[slot]
            inside = o.tick > best
        else:
            best, best_qty = whole(self._ask[slot] / tick), self._ask_qty[slot]
            inside = o.tick < best
        o.deep = False
        if inside:
            return 0.0
        if o.tick == best:
            return best_qty
        if depth is None:
            return NOT_VISIBLE
        level = depth.qty_at(o.side, o.price)
        if level is None:
            return NOT_VISIBLE
        o.deep = True
        return level

    cdef int _process_due(self, Py_ssize_t slot, long long now, depth) except -1:
        """Activate orders whose entry latency has passed, land cancels whose time has come."""
        cdef long long nxt = 0, t
        cdef list keep = [], orders = self.orders[slot]
        cdef _Order o
        cdef bint never_rests
        for o in orders:
            never_rests = o.cancel_at != 0 and o.cancel_at <= o.active_at
            if not o.resting and not never_rests and o.active_at <= now and not self._activate(o, depth):
                continue
            if o.cancel_at and o.cancel_at <= now:
                if o.resting:
                    filled = round((o.lots - o.left) * self._lot[slot], self.specs[slot].lot_digits)
                    self.on_order_end(OrderEnd(slot, o.side, o.qty, filled, o.cancel_at, _queue_edge(o)))
                continue
            for t in (0 if o.resting else o.active_at, o.cancel_at):
                if t > now and (nxt == 0 or t < nxt):
                    nxt = t
            keep.append(o)
        if len(keep) != len(orders):
            self.version[slot] += 1  # orders left the book: what the venue table shows changed
        self.orders[slot] = keep
        self._next_due[slot] = nxt
        return 0

    cdef bint _activate(self, _Order o, depth) except -1:
        """The order arrives: rejected if it would cross (post-only), else it joins its level."""
        cdef Py_ssize_t slot = o.slot
        self.version[slot] += 1
        cdef double tick = self._tick[slot], level
        if (o.side > 0 and o.tick >= whole(self._ask[slot] / tick)
                or o.side < 0 and o.tick <= whole(self._bid[slot] / tick)):
            self.rejects[slot] += 1
            cur = self.current[slot]
            side = _BID if o.side > 0 else _ASK
            if cur[side] is o:
                cur[side] = None
            return False
        o.resting = True
        level = self._look(o, depth)
        o.unseen = level == NOT_VISIBLE
        if o.unseen:  # not visible: assume the whole best level is ahead of us
            level = self._bid_qty[slot] if o.side > 0 else self._ask_qty[slot]
        o.ahead = o.level = o.ahead0 = level
        o.view = None
        return True

    cpdef on_trade(self, Py_ssize_t slot, now, double price, double qty, int aggressor):
        """A recorded trade: ``aggressor`` +1 buyer (lifts asks), -1 seller (hits bids)."""
        self._slot(slot)
        cdef list orders = self.orders[slot]
        if not orders:
            return
        cdef long long t = int64_of(now)
        self._catch_up(slot, t, None)
        orders = self.orders[slot]
        cdef double lot = self._lot[slot], left_in_trade = qty, fillable, whole_lots
        cdef long long trade_tick = whole(price / self._tick[slot]), fill
        cdef bint done = False, through
        cdef _Order o
        for o in orders:
            if not o.resting or o.side != -aggressor or left_in_trade <= 0.0:
                continue
            through = trade_tick < o.tick if o.side > 0 else trade_tick > o.tick
            if through:
                fill = o.left
            elif trade_tick == o.tick:
                fillable = left_in_trade - o.ahead
                o.ahead = o.ahead - left_in_trade if o.ahead > left_in_trade else 0.0
                o.traded += left_in_trade
                o.view = None
                self.version[slot] += 1
                if fillable <= 0.0:
                    continue
                whole_lots = fillable / lot + _LOT_EPS  # whole lots: the rest rests
                fill = o.left if whole_lots >= o.left else <long long>whole_lots
                if fill <= 0:
                    continue
            else:
                continue
            left_in_trade -= fill * lot
            self._fill(o, fill, t)
            done = done or o.left <= 0
        if done:
            self.orders[slot] = [o for o in orders if o.left > 0]

    cdef int _fill(self, _Order o, long long lots, long long now) except -1:
        cdef Py_ssize_t slot = o.slot
        spec = self.specs[slot]
        cdef double qty = lots * self._lot[slot], value, flow
        cdef double multiplier = spec.multiplier
        o.left -= lots
        o.view = None
        self.version[slot] += 1
        cdef int d = o.side
        cdef double fee_bps = self.maker_bps[slot]
        if spec.inverse:  # cash in coin: buying contracts takes coin in at 1/price
            value = qty * multiplier / o.price
            flow = d * value
            self.volume[slot] += qty * multiplier
        else:                # cash in USD: buying pays price x qty
            value = o.price * qty * multiplier
            flow = -d * value
            self.volume[slot] += value
        self.cash[slot] += flow - value * fee_bps * 1e-4  # the maker fee, in the cash currency
        self.position_lots[slot] += d * lots
        self.position[slot] = round(self.position_lots[slot] * spec.lot, spec.lot_digits)
        self.fills[slot] += 1
        side = _BID if d > 0 else _ASK
        cdef list current = self.current[slot]
        cur = current[side]
        self.on_fill(Fill(slot, d, o.price, qty, now, fee_bps, self._mid(slot),
                          (<_Order>cur).price if cur is not None else o.price, _queue_edge(o), o.oid,
                          o.ahead0))
        if o.left <= 0:
            self.on_order_end(OrderEnd(slot, d, o.qty, o.qty, now, _queue_edge(o)))
            if cur is o:
                current[side] = None
        return 0

    # ------------------------------------------------------------------ views
    cpdef resting(self, Py_ssize_t slot, int side):
        """Our working order on a side as the chain sees it (pending ones included)."""
        self._slot(slot)
        o = (<list>self.current[slot])[side]
        if o is None:
            return None
        cdef _Order order = o
        v = order.view
        if v is None:
            left = round(order.left * self._lot[slot], self.specs[slot].lot_digits)
            v = order.view = RestingOrder(order.oid, order.price, left, order.ahead,
                                          UNSEEN if order.unseen else order.level, order.placed_ns)
        return v

    def pnl_usd(self, Py_ssize_t slot, mid=None) -> float:
        """Realised + unrealised PnL in USD at ``mid`` (default: the last mid seen)."""
        self._slot(slot)
        return pnl_usd(self.specs[slot], self.cash[slot], self.position[slot],
                       self._mid(slot) if mid is None else mid)

    def total_pnl_usd(self) -> float:
        return sum([self.pnl_usd(s) for s in range(self.n)])

    def gross_usd(self) -> float:
        """Sum over the book of |position| x price (x multiplier; contracts' face value when inverse)."""
        out = 0.0
        for s, spec in enumerate(self.specs):
            pos = self.position[s]
            if pos:
                out += spec.notional_usd(self._mid(s), abs(pos))
        return out

    def flat(self) -> bool:
        """No position the venue would take an order for: each is 0, or under the instrument's
        min_notional (dust no post-only order can work down)."""
        for s, spec in enumerate(self.specs):
            if self.position_lots[s]:
                if spec.notional_usd(self._mid(s), abs(self.position[s])) >= spec.min_notional:
                    return False
        return True

    def open_orders(self, slot=None) -> int:
        slots = range(self.n) if slot is None else (slot,)
        return sum([len(self.orders[s]) for s in slots])
