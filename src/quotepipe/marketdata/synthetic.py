"""The synthetic feed of the embedded default: seeded, deterministic, with toxic instruments.

Each instrument's mid is a random walk in whole ticks with its own volatility;
the market spread and level sizes are in ticks and lots. Updates go round-robin
over the instruments at ``rate_hz`` in event time; an update carries a trade
with probability ``trade_prob``, of a random aggressor side, printed at the touch
plus a sweep depth (exponential, mean ``sweep_bps``): a sweep is what reaches
quotes away from the touch. Right after a trade the mid moves in the trade's
direction, by the sweep plus one volatility step, with probability
``toxicity`` for the instruments listed as toxic and ``benign_toxicity`` (0: no
information) for the others, and otherwise stays; so fills on a toxic
instrument are adversely selected and the allocator has something to find.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from quotepipe.config import Config, Instrument
from quotepipe.domain.instrument import tick_digits
from quotepipe.marketdata.messages import BookTickerEvent, Event, TradeEvent

EPOCH_NS = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z: event time of the first update
CHUNK = 4096


def _start_ticks(inst: Instrument) -> int:
    price = inst.ref_price or 10_000 * inst.tick_size
    return max(10, round(price / inst.tick_size))


def synthetic_events(cfg: Config, limit: int | None = None) -> Iterator[Event]:
    """Events in event-time order; endless unless ``limit`` is given."""
    sc = cfg.feed.synthetic
    insts = cfg.instruments
    n = len(insts)
    rng = np.random.default_rng(sc.seed)
    bid = [_start_ticks(i) for i in insts]
    ticks_per_bps = [b * 1e-4 for b in bid]  # 1 bps of the starting price, in ticks
    toxicity = [sc.toxicity if i.id in sc.toxic else sc.benign_toxicity for i in insts]
    digits = [tick_digits(i.tick_size) for i in insts]
    spread = sc.spread_ticks
    dt_ns = max(1, round(1e9 / sc.rate_hz))
    step_ns = EPOCH_NS
    update_id = 0
    emitted = 0
    k = 0
    while limit is None or emitted < limit:
        moves = rng.standard_normal(CHUNK)
        trades = rng.random(CHUNK)
        sides = rng.random(CHUNK)
        follow = rng.random(CHUNK)
        sizes = rng.lognormal(0.0, 0.7, size=(CHUNK, 3))
        sweeps = rng.exponential(1.0, CHUNK)
        for j in range(CHUNK):
            i = k % n
            k += 1
            inst = insts[i]
            step_ns += dt_ns
            vol = sc.vol_bps * ticks_per_bps[i]
            b = bid[i] + round(moves[j] * vol)
            b = max(b, 1)
            if trades[j] < sc.trade_prob:
                side = 1 if sides[j] < 0.5 else -1
                sweep = math.floor(sweeps[j] * sc.sweep_bps * ticks_per_bps[i])
                px_ticks = b + spread + sweep if side > 0 else b - sweep
                qty = _lots(inst, sizes[j, 0] * inst.base_qty * 2)
                emitted += 1
                yield TradeEvent(recv_ns=step_ns, inst=inst.id,
                                 price=round(px_ticks * inst.tick_size, digits[i]), qty=qty,
                                 buyer_maker=side < 0, trade_ms=step_ns // 1_000_000,
                                 trade_id=emitted)
                jump = sweep + max(1, round(vol))
                if follow[j] < toxicity[i]:
                    b += jump * side
                b = max(b, 1)
            bid[i] = b
            update_id += 1
            emitted += 1
            yield BookTickerEvent(recv_ns=step_ns, inst=inst.id, update_id=update_id,
                                  bid_px=round(b * inst.tick_size, digits[i]),
                                  bid_qty=_lots(inst, sizes[j, 1] * inst.base_qty * 20),
                                  ask_px=round((b + spread) * inst.tick_size, digits[i]),
                                  ask_qty=_lots(inst, sizes[j, 2] * inst.base_qty * 20),
                                  exch_ms=step_ns // 1_000_000)
            if limit is not None and emitted >= limit:
                return


def _lots(inst: Instrument, qty: float) -> float:
    lots = max(1, math.floor(qty / inst.lot_size))
    return round(lots * inst.lot_size, 12)
