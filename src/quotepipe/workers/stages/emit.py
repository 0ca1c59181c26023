"""Emit: the targets become venue actions per side, handed to the sink.

Round bid down and ask up to the tick, multiply the size by the allocator
weight and round it down to the lot, drop a side whose notional is under the
venue minimum (inverse contracts: contracts x multiplier), then compare with the
resting order: NEW, REPLACE, CANCEL, KEEP (or NONE). HOLD keeps whatever rests.
Every NEW, REPLACE and CANCEL spends one token of the order-action budget.
Emit also assembles the instrument's next state. The sink (a ring writer in the
daemon, ``list.append`` in tests and replay) is its only side effect.
"""

from __future__ import annotations

from collections.abc import Callable

from quotepipe.domain.guards import HOLD
from quotepipe.domain.instrument import InstrumentSpec, round_ask, round_bid, round_lot
from quotepipe.domain.orders import CANCEL, KEEP, NEW, NONE, REPLACE, Action, RestingOrder
from quotepipe.workers.dto import (
    GuardDecision,
    InstrumentState,
    QueueDecision,
    QuoteIntent,
    SpreadDecision,
    TickContext,
)


def _side(px: float, qty: float, resting: RestingOrder | None, spec: InstrumentSpec,
          weight: float) -> tuple[Action, float, float]:
    qty = round_lot(qty * weight, spec.lot, spec.lot_digits)
    if qty > 0.0 and spec.notional_usd(px, qty) < spec.min_notional:
        qty = 0.0
    if qty <= 0.0:
        return (NONE if resting is None else CANCEL), 0.0, 0.0
    if resting is None:
        return NEW, px, qty
    if resting.price == px and resting.qty == qty:
        return KEEP, px, qty
    return REPLACE, px, qty


def emit(qd: QueueDecision, gd: GuardDecision, sd: SpreadDecision, state: InstrumentState,
         ctx: TickContext, spec: InstrumentSpec,
         sink: Callable[[QuoteIntent], object]) -> tuple[QuoteIntent, InstrumentState]:
    bid, ask = ctx.bid, ctx.ask
    weight = ctx.weight
    if gd.guard == HOLD:
        ba, bp, bq = (NONE, 0.0, 0.0) if bid is None else (KEEP, bid.price, bid.qty)
        aa, ap, aq = (NONE, 0.0, 0.0) if ask is None else (KEEP, ask.price, ask.qty)
    else:
        if qd.bid_keep:
            ba, bp, bq = KEEP, bid.price, bid.qty  # type: ignore[union-attr]
        else:
            ba, bp, bq = _side(round_bid(qd.bid_px, spec.tick, spec.digits), qd.bid_qty, bid, spec,
                               weight)
        if qd.ask_keep:
            aa, ap, aq = KEEP, ask.price, ask.qty  # type: ignore[union-attr]
        else:
            aa, ap, aq = _side(round_ask(qd.ask_px, spec.tick, spec.digits), qd.ask_qty, ask, spec,
                               weight)
    spent = (NONE < ba < KEEP) + (NONE < aa < KEEP)  # acting sides (see domain.orders.Action)
    tokens = gd.tokens - spent
    intent = QuoteIntent(spec.slot, ctx.now_ns, ba, bp, bq, aa, ap, aq, weight, gd.guard,
                         gd.reasons, sd.fair)
    new_state = InstrumentState(sd.var_bps2, sd.vol_samples, sd.anchor_ns, sd.anchor_mid, sd.mid,
                                bp, ap, tokens if tokens > 0.0 else 0.0, ctx.now_ns, gd.killed,
                                state.ticks + 1)
    sink(intent)
    return intent, new_state
