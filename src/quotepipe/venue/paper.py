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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from quotepipe.config import Config
from quotepipe.domain.instrument import instrument_specs, pnl_usd
from quotepipe.domain.orders import ASK, BID, CANCEL, KEEP, NONE, UNSEEN, Action, Fill, OrderEnd, RestingOrder
from quotepipe.venue.queue_models import queue_model
from quotepipe.workers.dto import QuoteIntent

#: a fill's lots are counted down from ``fillable / lot``: this absorbs the float error of a
#: quantity that is a whole number of lots on paper (3 x 0.001 is 0.0030000000000000001)
LOT_EPS = 1e-9


class LevelDepth(Protocol):
    """Quantity at a price from an L2 source (an ``OrderBook``); None when not visible."""

    def qty_at(self, side: int, price: float) -> float | None: ...


class _Order:
    __slots__ = ("oid", "slot", "side", "price", "tick", "qty", "lots", "left", "placed_ns", "active_at",
                 "cancel_at", "resting", "ahead", "ahead0", "level", "deep", "unseen", "traded", "view")

    def __init__(self, oid: int, slot: int, side: int, price: float, tick: int, lots: int, lot: float,
                 now: int, active_at: int) -> None:
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
        self.view: RestingOrder | None = None  # cached DTO for the chain


def _queue_edge(o: _Order) -> float:
    """How far up its queue an order came: the share of the quantity ahead of it at join that
    was gone (traded or cancelled) by now; 1 when nobody was ahead (it joined at the front)."""
    return (o.ahead0 - o.ahead) / o.ahead0 if o.ahead0 > 0.0 else 1.0


class PaperVenue:
    def __init__(self, cfg: Config, on_fill: Callable[[Fill], object] | None = None,
                 on_order_end: Callable[[OrderEnd], object] | None = None) -> None:
        vc = cfg.venue
        self.specs = instrument_specs(cfg)
        n = len(self.specs)
        self.entry_ns = int(vc.entry_latency_ms * 1e6)
        self.cancel_ns = int(vc.cancel_latency_ms * 1e6)
        self.model = queue_model(vc.queue_model, vc.prob_exponent)
        fees = vc.fees
        self.maker_bps = [fees[s.venue].maker_bps if s.venue in fees else 0.0
                          for s in self.specs]
        self.on_fill = on_fill or (lambda f: None)
        self.on_order_end = on_order_end or (lambda e: None)
        self.orders: list[list[_Order]] = [[] for _ in range(n)]
        self.current: list[list[_Order | None]] = [[None, None] for _ in range(n)]
        self.next_due = [0] * n     # earliest activation or cancel landing per instrument (0: none)
        self.bid = [0.0] * n
        self.bid_qty = [0.0] * n
        self.ask = [0.0] * n
        self.ask_qty = [0.0] * n
        self.position = [0.0] * n   #: in quantity units: ``position_lots`` times the lot size
        self.position_lots = [0] * n
        self.lot = [s.lot for s in self.specs]
        self.tick = [s.tick for s in self.specs]
        self.cash = [0.0] * n       # quote currency (USD) for linear, coin for inverse
        self.volume = [0.0] * n
        self.fills = [0] * n
        self.rejects = [0] * n
        self.version = [0] * n      #: bumped whenever resting orders or the position change
        self._oid = 0

    # ------------------------------------------------------------------ intents
    def submit(self, intent: QuoteIntent) -> None:
        self.apply(intent.slot, intent.t_ns, intent.bid_action, intent.bid_px, intent.bid_qty,
                   intent.ask_action, intent.ask_px, intent.ask_qty)

    def apply(self, slot: int, t_ns: int, bid_action: int, bid_px: float, bid_qty: float,
              ask_action: int, ask_px: float, ask_qty: float) -> None:
        """An intent's fields (as the venue process reads them off an intent ring)."""
        if NONE < bid_action < KEEP:  # acting (see domain.orders.Action)
            self._side_action(slot, BID, Action(bid_action), bid_px, bid_qty, t_ns)
        if NONE < ask_action < KEEP:
            self._side_action(slot, ASK, Action(ask_action), ask_px, ask_qty, t_ns)

    def _side_action(self, slot: int, side: int, action: Action, px: float, qty: float, now: int) -> None:
        self.version[slot] += 1
        cur = self.current[slot][side]
        if cur is not None:
            self._cancel(cur, now)
        if action == CANCEL:
            self.current[slot][side] = None
            return
        lot = self.lot[slot]
        lots = round(qty / lot)
        if lots <= 0:  # under one lot: nothing the venue would accept
            self.current[slot][side] = None
            self.rejects[slot] += 1
            return
        self._oid += 1
        order = _Order(self._oid, slot, 1 if side == BID else -1, px, round(px / self.tick[slot]), lots, lot,
                       now, now + self.entry_ns)
        self.orders[slot].append(order)
        self.current[slot][side] = order
        self._due(slot, order.active_at)

    def _cancel(self, order: _Order, now: int) -> None:
        if order.cancel_at == 0:
            order.cancel_at = now + self.cancel_ns
            self._due(order.slot, order.cancel_at)

    def cancel_all(self, slot: int, now: int) -> None:
        """Cancel every order of an instrument (a worker restart or a stop)."""
        self.version[slot] += 1
        for side in (BID, ASK):
            cur = self.current[slot][side]
            if cur is not None:
                self._cancel(cur, now)
                self.current[slot][side] = None

    def close_out(self, slot: int, now: int) -> int:
        """Cancel every order of an instrument and land the cancels at once (a stop or a
        worker restart cannot wait on event time that may not come). Returns the orders
        that were open; none is left."""
        was_open = len(self.orders[slot])
        if was_open:
            self.cancel_all(slot, now)
            for o in self.orders[slot]:
                self._cancel(o, now)
            self._process_due(slot, max(o.cancel_at for o in self.orders[slot]), None)
            self.version[slot] += 1
        return was_open

    def advance(self, slot: int, now: int) -> None:
        """Event time passed with no market update: activate orders, land cancels that are due."""
        due = self.next_due[slot]
        if due and due <= now:
            self._process_due(slot, now, None)

    def _due(self, slot: int, t: int) -> None:
        d = self.next_due[slot]
        if d == 0 or t < d:
            self.next_due[slot] = t

    # ------------------------------------------------------------------ market
    def on_book(self, slot: int, now: int, bid: float, bid_qty: float, ask: float, ask_qty: float,
                depth: LevelDepth | None = None, depth_moved: bool = True) -> None:
        """A book update of ``slot`` at event time ``now``. ``depth_moved=False`` says only the
        best levels changed (a bookTicker): an order behind the best then keeps the depth
        it last read, which is most of the work saved on two updates in three."""
        self.bid[slot], self.bid_qty[slot], self.ask[slot], self.ask_qty[slot] = bid, bid_qty, ask, ask_qty
        if not self.orders[slot]:
            return
        due = self.next_due[slot]
        if due and due <= now:
            self._process_due(slot, now, depth)
        model = self.model
        tick = self.tick[slot]
        bid_tick, ask_tick = round(bid / tick), round(ask / tick)
        for o in self.orders[slot]:
            if not o.resting:
                continue
            if o.tick >= ask_tick if o.side > 0 else o.tick <= bid_tick:
                # the market traded through us without a recorded trade reaching us yet:
                # leave it to the trades, but nobody is ahead any more
                o.ahead = 0.0
                continue
            level: float | None
            if not depth_moved and o.deep and (o.tick < bid_tick if o.side > 0 else o.tick > ask_tick):
                level = o.level  # the depth behind the best did not move
            else:
                level = self._look(o, depth)
                if level is None:
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

    def _look(self, o: _Order, depth: LevelDepth | None) -> float | None:
        """The quantity resting at ``o``'s price excluding us (None when not visible), and
        whether it came off the depth behind the best."""
        slot = o.slot
        tick = self.tick[slot]
        if o.side > 0:
            best, best_qty = round(self.bid[slot] / tick), self.bid_qty[slot]
            inside = o.tick > best
        else:
            best, best_qty = round(self.ask[slot] / tick), self.ask_qty[slot]
            inside = o.tick < best
        o.deep = False
        if inside:
            return 0.0
        if o.tick == best:
            return best_qty
        level = depth.qty_at(o.side, o.price) if depth is not None else None
        o.deep = level is not None
        return level

    def _process_due(self, slot: int, now: int, depth: LevelDepth | None) -> None:
        """Activate orders whose entry latency has passed, land cancels whose time has come."""
        nxt = 0
        keep: list[_Order] = []
        for o in self.orders[slot]:
            never_rests = o.cancel_at and o.cancel_at <= o.active_at
            if not o.resting and not never_rests and o.active_at <= now and not self._activate(o, depth):
                continue
            if o.cancel_at and o.cancel_at <= now:
                if o.resting:
                    filled = round((o.lots - o.left) * self.lot[slot], self.specs[slot].lot_digits)
                    self.on_order_end(OrderEnd(slot, o.side, o.qty, filled, o.cancel_at, _queue_edge(o)))
                continue
            for t in (0 if o.resting else o.active_at, o.cancel_at):
                if t > now and (nxt == 0 or t < nxt):
                    nxt = t
            keep.append(o)
        if len(keep) != len(self.orders[slot]):
            self.version[slot] += 1  # orders left the book: what the venue table shows changed
        self.orders[slot] = keep
        self.next_due[slot] = nxt

    def _activate(self, o: _Order, depth: LevelDepth | None) -> bool:
        """The order arrives: rejected if it would cross (post-only), else it joins its level."""
        slot = o.slot
        self.version[slot] += 1
        tick = self.tick[slot]
        if (o.side > 0 and o.tick >= round(self.ask[slot] / tick)
                or o.side < 0 and o.tick <= round(self.bid[slot] / tick)):
            self.rejects[slot] += 1
            cur = self.current[slot]
            side = BID if o.side > 0 else ASK
            if cur[side] is o:
                cur[side] = None
            return False
        o.resting = True
        level = self._look(o, depth)
        o.unseen = level is None
        if level is None:  # not visible: assume the whole best level is ahead of us
            level = self.bid_qty[slot] if o.side > 0 else self.ask_qty[slot]
        o.ahead = o.level = o.ahead0 = level
        o.view = None
        return True

    def on_trade(self, slot: int, now: int, price: float, qty: float, aggressor: int) -> None:
        """A recorded trade: ``aggressor`` +1 buyer (lifts asks), -1 seller (hits bids)."""
        if not self.orders[slot]:
            return
        due = self.next_due[slot]
        if due and due <= now:
            self._process_due(slot, now, None)
        orders = self.orders[slot]
        lot = self.lot[slot]
        trade_tick = round(price / self.tick[slot])
        left_in_trade = qty
        done = False
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
                fill = min(int(fillable / lot + LOT_EPS), o.left)  # whole lots: the rest rests
                if fill <= 0:
                    continue
            else:
                continue
            left_in_trade -= fill * lot
            self._fill(o, fill, now)
            done = done or o.left <= 0
        if done:
            self.orders[slot] = [o for o in orders if o.left > 0]

    def _fill(self, o: _Order, lots: int, now: int) -> None:
        slot = o.slot
        spec = self.specs[slot]
        qty = lots * spec.lot
        o.left -= lots
        o.view = None
        self.version[slot] += 1
        d = o.side
        fee_bps = self.maker_bps[slot]
        if spec.inverse:  # cash in coin: buying contracts takes coin in at 1/price
            value = qty * spec.multiplier / o.price
            flow = d * value
            self.volume[slot] += qty * spec.multiplier
        else:                # cash in USD: buying pays price x qty
            value = o.price * qty * spec.multiplier
            flow = -d * value
            self.volume[slot] += value
        self.cash[slot] += flow - value * fee_bps * 1e-4  # the maker fee, in the cash currency
        self.position_lots[slot] += d * lots
        self.position[slot] = round(self.position_lots[slot] * spec.lot, spec.lot_digits)
        self.fills[slot] += 1
        side = BID if d > 0 else ASK
        cur = self.current[slot][side]
        mid = (self.bid[slot] + self.ask[slot]) * 0.5
        self.on_fill(Fill(slot, d, o.price, qty, now, fee_bps, mid,
                          cur.price if cur is not None else o.price, _queue_edge(o), o.oid, o.ahead0))
        if o.left <= 0:
            self.on_order_end(OrderEnd(slot, d, o.qty, o.qty, now, _queue_edge(o)))
            if cur is o:
                self.current[slot][side] = None

    # ------------------------------------------------------------------ views
    def resting(self, slot: int, side: int) -> RestingOrder | None:
        """Our working order on a side as the chain sees it (pending ones included)."""
        o = self.current[slot][side]
        if o is None:
            return None
        v = o.view
        if v is None:
            left = round(o.left * self.lot[slot], self.specs[slot].lot_digits)
            v = o.view = RestingOrder(o.oid, o.price, left, o.ahead, UNSEEN if o.unseen else o.level,
                                      o.placed_ns)
        return v

    def pnl_usd(self, slot: int, mid: float | None = None) -> float:
        """Realised + unrealised PnL in USD at ``mid`` (default: the last mid seen)."""
        if mid is None:
            mid = (self.bid[slot] + self.ask[slot]) * 0.5
        return pnl_usd(self.specs[slot], self.cash[slot], self.position[slot], mid)

    def total_pnl_usd(self) -> float:
        return sum(self.pnl_usd(s) for s in range(len(self.specs)))

    def gross_usd(self) -> float:
        """Sum over the book of |position| x price (x multiplier; contracts' face value when inverse)."""
        out = 0.0
        for s, spec in enumerate(self.specs):
            pos = self.position[s]
            if pos:
                out += spec.notional_usd((self.bid[s] + self.ask[s]) * 0.5, abs(pos))
        return out

    def flat(self) -> bool:
        """No position the venue would take an order for: each is 0, or under the instrument's
        min_notional (dust no post-only order can work down)."""
        for s, spec in enumerate(self.specs):
            if self.position_lots[s]:
                mid = (self.bid[s] + self.ask[s]) * 0.5
                if spec.notional_usd(mid, abs(self.position[s])) >= spec.min_notional:
                    return False
        return True

    def open_orders(self, slot: int | None = None) -> int:
        slots = range(len(self.orders)) if slot is None else (slot,)
        return sum(len(self.orders[s]) for s in slots)
