"""Inventory: shift the reservation price against the position and skew the sizes.

``q = position / max_position`` clamped to [-1, 1]. The reservation price moves
by ``skew_bps * q`` (linear) or by the spread model's own skew times ``q``
(model), against the position: long lowers both prices. Sizes: bid
``base * (1 - f*q)``, ask ``base * (1 + f*q)``, clamped to
``[0, max_size_mult * base]``. At the limit (and under REDUCE_ONLY) only the side
that reduces the position is quoted; PULL and HOLD quote nothing new.
"""

from __future__ import annotations

from quotepipe.config import InventoryConfig
from quotepipe.domain.guards import BOOK_RISK, HOLD, PULL, REDUCE_ONLY
from quotepipe.domain.instrument import InstrumentSpec
from quotepipe.workers.dto import GuardDecision, InventoryDecision, SpreadDecision, TickContext


def inventory(sd: SpreadDecision, gd: GuardDecision, ctx: TickContext, spec: InstrumentSpec,
              cfg: InventoryConfig) -> InventoryDecision:
    position = ctx.position
    q = position / spec.max_position
    if q > 1.0:
        q = 1.0
    elif q < -1.0:
        q = -1.0
    shift = (cfg.skew_bps if cfg.skew == "linear" else sd.model_skew_bps) * q
    reservation = sd.fair * (1.0 - shift * 1e-4)
    guard = gd.guard
    if guard in (PULL, HOLD):
        return InventoryDecision(q, reservation, 0.0, 0.0, 0.0, 0.0)
    h = sd.half_spread_bps * 1e-4
    base = spec.base_qty
    cap = base * cfg.max_size_mult
    f = cfg.size_skew
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
    return InventoryDecision(q, reservation, reservation * (1.0 - h), bid_qty,
                             reservation * (1.0 + h), ask_qty)
