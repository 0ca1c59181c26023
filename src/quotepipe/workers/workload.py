"""A realistic tick workload from recordings: what the benchmarks and the perf gate time.

Every book update of the recordings becomes one tick input ``(slot, Snapshot,
TickContext)``. Resting orders come from a minimal instant-ack venue driven by
the pipeline's own intents (queue ahead = the level's quantity when we join the
best level), and the position from the fills such a venue would give on the
recorded trades, so the KEEP, REPLACE and CANCEL paths and the inventory skew
are all exercised, not just NEW on an empty book.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from quotepipe.config import Config
from quotepipe.marketdata.book import BookSet
from quotepipe.marketdata.feed import Feed
from quotepipe.marketdata.messages import TradeEvent
from quotepipe.workers.dto import Action, QuoteIntent, RestingOrder, Snapshot, TickContext
from quotepipe.workers.pipeline import PipelineRunner

TickInput = tuple[int, Snapshot, TickContext]


def _rest(side_px: float, qty: float, best_px: float, best_qty: float, now: int,
          oid: int) -> RestingOrder:
    level = best_qty if side_px == best_px else 0.0
    return RestingOrder(oid, side_px, qty, level, level, now)


def build_workload(cfg: Config, paths: Sequence[str | Path] | None = None,
                   limit: int | None = None) -> list[TickInput]:
    """Tick inputs for every update of ``paths`` (or of ``cfg``'s feed), in event order."""
    feed = Feed(cfg, [str(p) for p in paths] if paths else None)
    books = BookSet([i.id for i in cfg.instruments])
    n = len(cfg.instruments)
    resting: list[list[RestingOrder | None]] = [[None, None] for _ in range(n)]
    position = [0.0] * n
    out: list[TickInput] = []
    intents: list[QuoteIntent] = []
    runner = PipelineRunner(cfg, intents.append)
    oid = 0
    for ev in feed.events(limit):
        i = books.apply(ev)
        if i < 0:
            continue
        if type(ev) is TradeEvent:  # a trade through our price fills us fully
            bid, ask = resting[i]
            if bid is not None and ev.side < 0 and ev.price <= bid.price:
                position[i] += bid.qty
                resting[i][0] = None
            if ask is not None and ev.side > 0 and ev.price >= ask.price:
                position[i] -= ask.qty
                resting[i][1] = None
        snap = Snapshot(*books.l1_record(i, 0))
        now = ev.recv_ns
        ctx = TickContext(now, position[i], 0.0, 1.0, 0, False, resting[i][0], resting[i][1])
        out.append((i, snap, ctx))
        intent = runner.tick(i, snap, ctx)
        for side, action, px, qty, best_px, best_qty in (
                (0, intent.bid_action, intent.bid_px, intent.bid_qty, snap.bid_px, snap.bid_qty),
                (1, intent.ask_action, intent.ask_px, intent.ask_qty, snap.ask_px, snap.ask_qty)):
            if action == Action.NEW or action == Action.REPLACE:
                oid += 1
                resting[i][side] = _rest(px, qty, best_px, best_qty, now, oid)
            elif action == Action.CANCEL:
                resting[i][side] = None
    return out
