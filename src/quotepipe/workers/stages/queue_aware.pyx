# cython: language_level=3
"""QueueAware: keep good resting orders, step ahead of long queues, never cross.

Per side, given our resting order there (from the venue):

- keep it when its price is within ``refresh_tolerance_ticks`` (or
  ``refresh_tolerance_bps``, whichever is wider) of the new target, its queue
  place is good (queue ahead at most ``good_queue_fraction`` of the level, or a
  level no longer than ``max_join_queue``, where requeueing gains nothing, or a
  level the venue cannot see, ``level_qty`` = ``domain.orders.UNSEEN``: an
  L1-only book behind the touch, where a new order would only join the back
  again; that one test costs the stage nothing, and without it an L1-only
  book sent 2.9x the intents of the same data with depth), it
  is younger than ``max_order_age_ms`` and it still does not cross the book;
- otherwise price the target on the tick grid (bid down, ask up); when that
  joins the best level and the queue there is longer than ``max_join_queue``
  base quantities, step one tick inside if the edge to fair stays at least
  ``min_edge_bps`` and the book is not crossed by doing so;
- post-only: a bid is at most one tick under the best ask, an ask at least one
  tick over the best bid.

Ticks are counted in C doubles (exact integers to 2**53), ``round`` to nearest
even as Python's is.
"""

from libc.math cimport ceil, fabs, floor, nearbyint

from quotepipe.workers.decisions cimport (
    InventoryDecision,
    MarketView,
    QueueDecision,
    SpreadDecision,
    new_queue,
)
from quotepipe.domain.fields cimport check, f64, i64, obj, offset

from quotepipe.config import QueueConfig
from quotepipe.domain.instrument import EPS as _EPS
from quotepipe.domain.instrument import InstrumentSpec
from quotepipe.domain.orders import RestingOrder
from quotepipe.workers.dto import TickContext

cdef double EPS = _EPS
cdef QueueDecision NOTHING = new_queue(0.0, 0.0, False, 0.0, 0.0, False)

cdef object CONTEXT = TickContext, SPEC = InstrumentSpec, CONFIG = QueueConfig, RESTING = RestingOrder
cdef Py_ssize_t NOW_NS = offset(TickContext, "now_ns")
cdef Py_ssize_t CTX_BID = offset(TickContext, "bid"), CTX_ASK = offset(TickContext, "ask")
cdef Py_ssize_t TICK = offset(InstrumentSpec, "tick"), BASE_QTY = offset(InstrumentSpec, "base_qty")
cdef Py_ssize_t PRICE = offset(RestingOrder, "price"), QTY = offset(RestingOrder, "qty")
cdef Py_ssize_t QUEUE_AHEAD = offset(RestingOrder, "queue_ahead")
cdef Py_ssize_t LEVEL_QTY = offset(RestingOrder, "level_qty"), PLACED_NS = offset(RestingOrder, "placed_ns")
cdef Py_ssize_t TOLERANCE_TICKS = offset(QueueConfig, "refresh_tolerance_ticks")
cdef Py_ssize_t TOLERANCE_BPS = offset(QueueConfig, "refresh_tolerance_bps")
cdef Py_ssize_t GOOD_FRACTION = offset(QueueConfig, "good_queue_fraction")
cdef Py_ssize_t MAX_JOIN = offset(QueueConfig, "max_join_queue")
cdef Py_ssize_t MIN_EDGE = offset(QueueConfig, "min_edge_bps")
cdef Py_ssize_t MAX_AGE_MS = offset(QueueConfig, "max_order_age_ms")


cdef bint keep(object resting, double target, long long now_ns, double tick, double join_limit,
               object cfg) except -1:
    if resting is None:
        return False
    check(resting, RESTING)
    cdef double tolerance = (f64(cfg, TOLERANCE_TICKS) + EPS) * tick
    cdef double bps = f64(cfg, TOLERANCE_BPS) * 1e-4 * target
    cdef double level_qty
    if bps > tolerance:
        tolerance = bps
    if fabs(f64(resting, PRICE) - target) > tolerance:
        return False
    level_qty = f64(resting, LEVEL_QTY)
    return ((f64(resting, QUEUE_AHEAD) <= f64(cfg, GOOD_FRACTION) * level_qty or level_qty <= join_limit)
            and now_ns - i64(resting, PLACED_NS) < f64(cfg, MAX_AGE_MS) * 1e6)


cpdef QueueDecision queue_aware(MarketView view, SpreadDecision sd, InventoryDecision inv, object ctx,
                                object spec, object cfg):
    check(ctx, CONTEXT)
    check(spec, SPEC)
    check(cfg, CONFIG)
    cdef double bid_qty = inv.bid_qty, ask_qty = inv.ask_qty
    if bid_qty <= 0.0 and ask_qty <= 0.0:
        return NOTHING  # pulled or held: the book may be unusable, do not price it
    cdef double tick = f64(spec, TICK)
    cdef long long now = i64(ctx, NOW_NS)
    cdef double join_limit = f64(cfg, MAX_JOIN) * f64(spec, BASE_QTY)
    cdef double bid_px = 0.0, ask_px = 0.0, best_bid_t, best_ask_t, fair, t
    cdef bint bid_keep = False, ask_keep = False, price_bid, price_ask

    resting = obj(ctx, CTX_BID)
    if (bid_qty > 0.0 and keep(resting, inv.bid_px, now, tick, join_limit, cfg)
            and f64(resting, PRICE) < view.ask_px):
        bid_px, bid_qty, bid_keep = f64(resting, PRICE), f64(resting, QTY), True
    resting = obj(ctx, CTX_ASK)
    if (ask_qty > 0.0 and keep(resting, inv.ask_px, now, tick, join_limit, cfg)
            and f64(resting, PRICE) > view.bid_px):
        ask_px, ask_qty, ask_keep = f64(resting, PRICE), f64(resting, QTY), True
    price_bid = bid_qty > 0.0 and not bid_keep
    price_ask = ask_qty > 0.0 and not ask_keep
    if not (price_bid or price_ask):
        return new_queue(bid_px, bid_qty, bid_keep, ask_px, ask_qty, ask_keep)

    best_bid_t = nearbyint(view.bid_px / tick)
    best_ask_t = nearbyint(view.ask_px / tick)
    fair = sd.fair
    if price_bid:
        t = floor(inv.bid_px / tick + EPS)
        if (t == best_bid_t and view.bid_qty > join_limit and t + 1 < best_ask_t
                and (fair - (t + 1) * tick) / fair * 1e4 >= f64(cfg, MIN_EDGE)):
            t += 1
        if t >= best_ask_t:
            t = best_ask_t - 1
        bid_px = t * tick
    if price_ask:
        t = ceil(inv.ask_px / tick - EPS)
        if (t == best_ask_t and view.ask_qty > join_limit and t - 1 > best_bid_t
                and ((t - 1) * tick - fair) / fair * 1e4 >= f64(cfg, MIN_EDGE)):
            t -= 1
        if t <= best_bid_t:
            t = best_bid_t + 1
        ask_px = t * tick
    return new_queue(bid_px, bid_qty, bid_keep, ask_px, ask_qty, ask_keep)
