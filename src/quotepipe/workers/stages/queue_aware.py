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
"""

from __future__ import annotations

import math

from quotepipe.config import QueueConfig
from quotepipe.domain.instrument import EPS, InstrumentSpec
from quotepipe.domain.orders import RestingOrder
from quotepipe.workers.dto import InventoryDecision, MarketView, QueueDecision, SpreadDecision, TickContext

_NOTHING = QueueDecision(0.0, 0.0, False, 0.0, 0.0, False)


def _keep(resting: RestingOrder | None, target: float, now_ns: int, tick: float, join_limit: float,
          cfg: QueueConfig) -> bool:
    if resting is None:
        return False
    tolerance = (cfg.refresh_tolerance_ticks + EPS) * tick
    bps = cfg.refresh_tolerance_bps * 1e-4 * target
    if bps > tolerance:
        tolerance = bps
    return (abs(resting.price - target) <= tolerance
            and (resting.queue_ahead <= cfg.good_queue_fraction * resting.level_qty
                 or resting.level_qty <= join_limit)
            and now_ns - resting.placed_ns < cfg.max_order_age_ms * 1e6)


def queue_aware(view: MarketView, sd: SpreadDecision, inv: InventoryDecision, ctx: TickContext,
                spec: InstrumentSpec, cfg: QueueConfig) -> QueueDecision:
    bid_qty, ask_qty = inv.bid_qty, inv.ask_qty
    if bid_qty <= 0.0 and ask_qty <= 0.0:
        return _NOTHING  # pulled or held: the book may be unusable, do not price it
    tick = spec.tick
    now = ctx.now_ns
    join_limit = cfg.max_join_queue * spec.base_qty

    bid_px, bid_keep = 0.0, False
    resting = ctx.bid
    if (bid_qty > 0.0 and _keep(resting, inv.bid_px, now, tick, join_limit, cfg)
            and resting.price < view.ask_px):  # type: ignore[union-attr]
        bid_px, bid_qty, bid_keep = resting.price, resting.qty, True  # type: ignore[union-attr]
    ask_px, ask_keep = 0.0, False
    resting = ctx.ask
    if (ask_qty > 0.0 and _keep(resting, inv.ask_px, now, tick, join_limit, cfg)
            and resting.price > view.bid_px):  # type: ignore[union-attr]
        ask_px, ask_qty, ask_keep = resting.price, resting.qty, True  # type: ignore[union-attr]
    price_bid = bid_qty > 0.0 and not bid_keep
    price_ask = ask_qty > 0.0 and not ask_keep
    if not (price_bid or price_ask):
        return QueueDecision(bid_px, bid_qty, bid_keep, ask_px, ask_qty, ask_keep)

    best_bid_t = round(view.bid_px / tick)
    best_ask_t = round(view.ask_px / tick)
    fair = sd.fair
    if price_bid:
        t = math.floor(inv.bid_px / tick + EPS)
        if (t == best_bid_t and view.bid_qty > join_limit and t + 1 < best_ask_t
                and (fair - (t + 1) * tick) / fair * 1e4 >= cfg.min_edge_bps):
            t += 1
        if t >= best_ask_t:
            t = best_ask_t - 1
        bid_px = t * tick
    if price_ask:
        t = math.ceil(inv.ask_px / tick - EPS)
        if (t == best_ask_t and view.ask_qty > join_limit and t - 1 > best_bid_t
                and ((t - 1) * tick - fair) / fair * 1e4 >= cfg.min_edge_bps):
            t -= 1
        if t <= best_bid_t:
            t = best_bid_t + 1
        ask_px = t * tick
    return QueueDecision(bid_px, bid_qty, bid_keep, ask_px, ask_qty, ask_keep)
