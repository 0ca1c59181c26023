# cython: language_level=3
"""Emit: the targets become venue actions per side, handed to the sink.

Round bid down and ask up to the tick, multiply the size by the allocator
weight and round it down to the lot, drop a side whose notional is under the
venue minimum (inverse contracts: contracts x multiplier), then compare with the
resting order: NEW, REPLACE, CANCEL, KEEP (or NONE). HOLD keeps whatever rests.
Every NEW, REPLACE and CANCEL spends one token of the order-action budget.
Emit also assembles the instrument's next state. The sink (a ring writer in the
daemon, ``list.append`` in tests and replay) is its only side effect.

The rounding is ``domain.instrument``'s (``round_bid``, ``round_ask``,
``round_lot``, which the legacy loop and the venue call) in C: ``round_to`` gives
Python's ``round(x, digits)`` bit for bit (below).
"""

from libc.math cimport ceil, fabs, floor, nearbyint

from quotepipe.workers.decisions cimport (
    GuardDecision,
    InstrumentState,
    QueueDecision,
    SpreadDecision,
    new_state,
)
from quotepipe.domain.fields cimport check, f64, flag, i64, obj, offset

from quotepipe.domain.guards import Guard
from quotepipe.domain.instrument import EPS as _EPS
from quotepipe.domain.instrument import InstrumentSpec
from quotepipe.domain.orders import Action, RestingOrder
from quotepipe.workers.dto import QuoteIntent, TickContext

cdef double EPS = _EPS
cdef int HOLD = Guard.HOLD
cdef int NONE = Action.NONE, NEW = Action.NEW, REPLACE = Action.REPLACE, CANCEL = Action.CANCEL
cdef int KEEP = Action.KEEP
cdef tuple ACTIONS = tuple(Action)
cdef tuple GUARDS = tuple(Guard)
cdef object INTENT = QuoteIntent

cdef object CONTEXT = TickContext, SPEC = InstrumentSpec, RESTING = RestingOrder
cdef Py_ssize_t NOW_NS = offset(TickContext, "now_ns"), WEIGHT = offset(TickContext, "weight")
cdef Py_ssize_t CTX_BID = offset(TickContext, "bid"), CTX_ASK = offset(TickContext, "ask")
cdef Py_ssize_t SLOT = offset(InstrumentSpec, "slot"), TICK = offset(InstrumentSpec, "tick")
cdef Py_ssize_t DIGITS = offset(InstrumentSpec, "digits"), LOT = offset(InstrumentSpec, "lot")
cdef Py_ssize_t LOT_DIGITS = offset(InstrumentSpec, "lot_digits")
cdef Py_ssize_t MIN_NOTIONAL = offset(InstrumentSpec, "min_notional")
cdef Py_ssize_t MULTIPLIER = offset(InstrumentSpec, "multiplier"), INVERSE = offset(InstrumentSpec, "inverse")
cdef Py_ssize_t PRICE = offset(RestingOrder, "price"), QTY = offset(RestingOrder, "qty")

cdef double POW10[23]
POW10[0] = 1.0
for _n in range(1, 23):
    POW10[_n] = POW10[_n - 1] * 10.0
cdef double EXACT_BELOW = 2.0 ** 50


cpdef double round_to(double x, long long digits) except? -1.0:
    """Python's ``round(x, digits)``: the double nearest the decimal ``r / 10**digits``, ``r``
    the exact value of ``x * 10**digits`` rounded half to even. When the product ``y`` is below
    2**50 its rounding error is under 1/8, so a ``y`` within 1/4 of the integer ``r`` leaves no
    doubt about ``r``, and one correctly rounded division gives that nearest double; a ``y``
    near a half (or huge, or not finite) asks Python."""
    cdef double y, r
    if 0 <= digits <= 22:
        y = x * POW10[digits]
        r = nearbyint(y)
        if fabs(y) < EXACT_BELOW and fabs(y - r) < 0.25:
            return r / POW10[digits]
    return round(x, digits)


cdef inline int side(double px, double qty, object resting, object spec, double weight,
                     double *out_px, double *out_qty) except -1:
    """One side's action (``Action`` value), its price and size in ``out_px``, ``out_qty``."""
    qty *= weight
    if qty <= 0.0:  # round_lot
        qty = 0.0
    else:
        qty = round_to(floor(qty / f64(spec, LOT) + EPS) * f64(spec, LOT), i64(spec, LOT_DIGITS))
    if qty > 0.0:
        if flag(spec, INVERSE):  # InstrumentSpec.notional_usd
            notional = qty * f64(spec, MULTIPLIER)
        else:
            notional = px * qty * f64(spec, MULTIPLIER)
        if notional < f64(spec, MIN_NOTIONAL):
            qty = 0.0
    if qty <= 0.0:
        out_px[0] = 0.0
        out_qty[0] = 0.0
        return NONE if resting is None else CANCEL
    out_px[0] = px
    out_qty[0] = qty
    if resting is None:
        return NEW
    check(resting, RESTING)
    if f64(resting, PRICE) == px and f64(resting, QTY) == qty:
        return KEEP
    return REPLACE


cpdef tuple emit(QueueDecision qd, GuardDecision gd, SpreadDecision sd, InstrumentState state,
                 object ctx, object spec, object sink):
    check(ctx, CONTEXT)
    check(spec, SPEC)
    bid, ask = obj(ctx, CTX_BID), obj(ctx, CTX_ASK)
    weight = obj(ctx, WEIGHT)
    cdef double bp = 0.0, bq = 0.0, ap = 0.0, aq = 0.0, tick, tokens
    cdef int ba = NONE, aa = NONE
    cdef long long digits
    # a resting order kept as it is keeps its own price and size objects, as the Python stage did
    bid_px = bid_qty = ask_px = ask_qty = None
    if gd.guard_code == HOLD or qd.bid_keep:
        if bid is None:
            ba = NONE
        else:
            check(bid, RESTING)
            ba = KEEP
            bid_px, bid_qty = obj(bid, PRICE), obj(bid, QTY)
            bp, bq = f64(bid, PRICE), f64(bid, QTY)
    if gd.guard_code == HOLD or qd.ask_keep:
        if ask is None:
            aa = NONE
        else:
            check(ask, RESTING)
            aa = KEEP
            ask_px, ask_qty = obj(ask, PRICE), obj(ask, QTY)
            ap, aq = f64(ask, PRICE), f64(ask, QTY)
    if gd.guard_code != HOLD:
        tick = f64(spec, TICK)
        digits = i64(spec, DIGITS)
        if not qd.bid_keep:  # round_bid
            ba = side(round_to(floor(qd.bid_px / tick + EPS) * tick, digits), qd.bid_qty, bid, spec,
                      f64(ctx, WEIGHT), &bp, &bq)
        if not qd.ask_keep:  # round_ask
            aa = side(round_to(ceil(qd.ask_px / tick - EPS) * tick, digits), qd.ask_qty, ask, spec,
                      f64(ctx, WEIGHT), &ap, &aq)
    if bid_px is None:
        bid_px, bid_qty = bp, bq
    if ask_px is None:
        ask_px, ask_qty = ap, aq
    tokens = gd.tokens - ((NONE < ba < KEEP) + (NONE < aa < KEEP))  # acting sides (domain.orders)
    now_ns = obj(ctx, NOW_NS)
    intent = INTENT(obj(spec, SLOT), now_ns, ACTIONS[ba], bid_px, bid_qty, ACTIONS[aa], ask_px, ask_qty,
                    weight, GUARDS[gd.guard_code], gd.reasons, sd.fair)
    state = new_state(sd.var_bps2, sd.vol_samples, sd.anchor_ns, sd.anchor_mid, sd.mid, bp, ap,
                      tokens if tokens > 0.0 else 0.0, i64(ctx, NOW_NS), gd.killed, state.ticks + 1)
    sink(intent)
    return intent, state
