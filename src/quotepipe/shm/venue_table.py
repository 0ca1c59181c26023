"""The venue table: per instrument, our position, cash and resting orders.

Written only by the venue process (one seqlock slot per instrument, rewritten
whenever the venue's version of that instrument moves); read by the workers
(QueueAware and Inventory inputs, every tick), the scoreboard and ``status``.
A slot's sequence word doubles as its version: a worker decodes the slot only
when that word has moved since its last look.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from quotepipe.domain.orders import RestingOrder
from quotepipe.shm.seqlock import InstrumentTable

FIELDS = ("position", "cash", "volume", "mid", "fills", "rejects", "open_orders", "stop_cancels",
          "bid_oid", "bid_px", "bid_left", "bid_ahead", "bid_level", "bid_placed_ns",
          "ask_oid", "ask_px", "ask_left", "ask_ahead", "ask_level", "ask_placed_ns")
_ORDER = "q4dq"
RECORD = struct.Struct("<4d4q" + _ORDER + _ORDER)
LAYOUT = f"venue:v1:{RECORD.format}:{','.join(FIELDS)}"
NO_ORDER = (0, 0.0, 0.0, 0.0, 0.0, 0)


class VenueRow(NamedTuple):
    position: float
    cash: float          #: USD for linear contracts, coin for inverse ones
    volume: float        #: USD traded
    mid: float           #: the venue's last mid
    fills: int
    rejects: int
    open_orders: int     #: orders in flight or resting
    stop_cancels: int    #: orders cancelled by a stop or a worker restart
    bid: RestingOrder | None
    ask: RestingOrder | None


def order_fields(o: RestingOrder | None) -> tuple:
    return NO_ORDER if o is None else (o.order_id, o.price, o.qty, o.queue_ahead, o.level_qty, o.placed_ns)


def _order(f: tuple) -> RestingOrder | None:
    return RestingOrder(*f) if f[0] else None


class VenueTable(InstrumentTable):
    SEGMENT, RECORD, LAYOUT = "venue", RECORD, LAYOUT

    def write(self, slot: int, position: float, cash: float, volume: float, mid: float, fills: int,
              rejects: int, open_orders: int, stop_cancels: int, bid: RestingOrder | None,
              ask: RestingOrder | None) -> None:
        self.table.write(slot, position, cash, volume, mid, fills, rejects, open_orders, stop_cancels,
                         *order_fields(bid), *order_fields(ask))

    def version(self, slot: int) -> int:
        return self.table.sequence(slot)

    def read(self, slot: int) -> VenueRow | None:
        rec = self.table.read(slot)
        if rec is None:
            return None
        return VenueRow._make((*rec[:8], _order(rec[8:14]), _order(rec[14:20])))
