"""Builders of stage inputs for the chain tests."""

from __future__ import annotations

import msgspec

from quotepipe.config import Config, Instrument
from quotepipe.domain.orders import RestingOrder
from quotepipe.domain.snapshot import Snapshot
from quotepipe.workers.dto import InstrumentState, TickContext

T0 = 1_723_000_000_000_000_000  # 2024-08-07, event time of the tests' ticks

LINEAR = Instrument(id="binance-usdm:TESTUSDT", tick_size=0.01, lot_size=0.001, min_notional=5.0,
                    base_qty=1.0, ref_price=100.0)
INVERSE = Instrument(id="binance-coinm:TESTUSD_PERP", tick_size=0.1, lot_size=1.0,
                     contract_multiplier=10.0, inverse=True, base_qty=3.0, ref_price=100.0)


def config(**sections: dict) -> Config:
    raw = msgspec.to_builtins(Config(instruments=[LINEAR, INVERSE]))
    for name, values in sections.items():
        raw[name].update(values)
    return msgspec.convert(raw, Config)


def snap(bid: float = 100.0, ask: float = 100.02, bid_qty: float = 5.0, ask_qty: float = 5.0,
         recv_ns: int = T0, state: int = 1) -> Snapshot:
    return Snapshot(bid, bid_qty, ask, ask_qty, 0.0, 0.0, 0, 0, recv_ns, recv_ns, 0, state, 1, 1)


def ctx(now: int = T0, position: float = 0.0, pnl: float = 0.0, weight: float = 1.0, flags: int = 0,
        halted: bool = False, bid: RestingOrder | None = None,
        ask: RestingOrder | None = None) -> TickContext:
    return TickContext(now, position, pnl, weight, flags, halted, bid, ask)


def state(**kw: object) -> InstrumentState:
    return InstrumentState(**kw)  # type: ignore[arg-type]


def order(price: float, qty: float = 1.0, queue_ahead: float = 0.0, level_qty: float = 0.0,
          placed_ns: int = T0, oid: int = 1) -> RestingOrder:
    return RestingOrder(oid, price, qty, queue_ahead, level_qty, placed_ns)
