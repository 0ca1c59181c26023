# cython: language_level=3
"""Inventory: shift the reservation price against the position and skew the sizes.

``q = position / max_position`` clamped to [-1, 1]. The reservation price moves
by ``skew_bps * q`` (linear) or by the spread model's own skew times ``q``
(model), against the position: long lowers both prices. Sizes: bid
``base * (1 - f*q)``, ask ``base * (1 + f*q)``, clamped to
``[0, max_size_mult * base]``. At the limit (and under REDUCE_ONLY) only the side
that reduces the position is quoted; PULL and HOLD quote nothing new.
"""

from quotepipe.workers.decisions cimport GuardDecision, InventoryDecision, SpreadDecision, new_inventory
from quotepipe.domain.fields cimport check, f64, is_choice, offset

from quotepipe.config import InventoryConfig
from quotepipe.domain import guards as g
from quotepipe.domain.instrument import InstrumentSpec
from quotepipe.workers.dto import TickContext

cdef long long BOOK_RISK = g.BOOK_RISK
cdef int HOLD = g.HOLD, PULL = g.PULL, REDUCE_ONLY = g.REDUCE_ONLY

cdef object CONTEXT = TickContext, SPEC = InstrumentSpec, CONFIG = InventoryConfig
cdef Py_ssize_t POSITION = offset(TickContext, "position")
cdef Py_ssize_t MAX_POSITION = offset(InstrumentSpec, "max_position")
cdef Py_ssize_t BASE_QTY = offset(InstrumentSpec, "base_qty")
cdef Py_ssize_t SKEW = offset(InventoryConfig, "skew"), SKEW_BPS = offset(InventoryConfig, "skew_bps")
cdef Py_ssize_t SIZE_SKEW = offset(InventoryConfig, "size_skew")
cdef Py_ssize_t MAX_SIZE_MULT = offset(InventoryConfig, "max_size_mult")


cpdef InventoryDecision inventory(SpreadDecision sd, GuardDecision gd, object ctx, object spec,
                                  object cfg):
    check(ctx, CONTEXT)
    check(spec, SPEC)
    check(cfg, CONFIG)
    cdef double position = f64(ctx, POSITION)
    cdef double q = position / f64(spec, MAX_POSITION)
    cdef double shift, reservation, h, base, cap, f, bid_qty, ask_qty
    cdef int guard = gd.guard_code
    cdef bint reduce_only
    if q > 1.0:
        q = 1.0
    elif q < -1.0:
        q = -1.0
    shift = (f64(cfg, SKEW_BPS) if is_choice(cfg, SKEW, "linear") else sd.model_skew_bps) * q
    reservation = sd.fair * (1.0 - shift * 1e-4)
    if guard == PULL or guard == HOLD:
        return new_inventory(q, reservation, 0.0, 0.0, 0.0, 0.0)
    h = sd.half_spread_bps * 1e-4
    base = f64(spec, BASE_QTY)
    cap = base * f64(cfg, MAX_SIZE_MULT)
    f = f64(cfg, SIZE_SKEW)
    bid_qty = base * (1.0 - f * q)
    ask_qty = base * (1.0 + f * q)
    bid_qty = 0.0 if bid_qty < 0.0 else (cap if bid_qty > cap else bid_qty)
    ask_qty = 0.0 if ask_qty < 0.0 else (cap if ask_qty > cap else ask_qty)
    reduce_only = guard == REDUCE_ONLY
    if q >= 1.0 or (reduce_only and position > 0.0):
        bid_qty = 0.0
    if q <= -1.0 or (reduce_only and position < 0.0):
        ask_qty = 0.0
    if reduce_only and gd.reasons & BOOK_RISK:  # flattening: never more than the position, never past flat
        bid_qty = min(bid_qty, -position) if position < 0.0 else 0.0
        ask_qty = min(ask_qty, position) if position > 0.0 else 0.0
    return new_inventory(q, reservation, reservation * (1.0 - h), bid_qty, reservation * (1.0 + h), ask_qty)
