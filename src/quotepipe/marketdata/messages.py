"""Binance wire messages as typed ``msgspec`` structs, and the normalised events.

Wire structs decode straight from the bytes of a line; decimal strings become
floats in msgspec's C decoder (``strict=False``). Events are what the rest of
quotepipe sees: one small frozen struct per kind, stamped with receive time and
instrument id, the same for every venue.
"""

from __future__ import annotations

import msgspec

Level = tuple[float, float]


# ------------------------------------------------------------------ wire format

class Envelope(msgspec.Struct):
    """A combined-stream envelope, a REST depth snapshot, or a bare stream payload."""

    stream: str = ""
    data: msgspec.Raw = msgspec.Raw(b"")
    lastUpdateId: int = -1  # noqa: N815 - Binance's field name
    bids: list[Level] = []
    asks: list[Level] = []
    E: int = 0
    T: int = 0
    symbol: str = ""
    pair: str = ""
    e: str = ""  # bare (non-envelope) payloads carry their event type


class WireBookTicker(msgspec.Struct):
    s: str
    u: int
    b: float
    B: float
    a: float
    A: float
    E: int = 0
    T: int = 0
    e: str = ""
    ps: str = ""


class WireDepth(msgspec.Struct):
    s: str
    U: int
    u: int
    b: list[Level]
    a: list[Level]
    pu: int = -1
    E: int = 0
    T: int = 0
    ps: str = ""


class WireTrade(msgspec.Struct):
    s: str
    p: float
    q: float
    m: bool
    T: int = 0
    E: int = 0
    t: int = -1   # trade id
    a: int = -1   # aggTrade id
    X: str = ""   # futures: trade type
    M: bool | None = None  # spot only: ignore flag
    ps: str = ""


# ----------------------------------------------------------------- normalised

class _Event(msgspec.Struct, frozen=True, gc=False):
    recv_ns: int
    inst: str  #: instrument id ``<venue>:<SYMBOL>``


class BookTickerEvent(_Event, frozen=True, gc=False):
    update_id: int
    bid_px: float
    bid_qty: float
    ask_px: float
    ask_qty: float
    exch_ns: int


class DepthEvent(_Event, frozen=True, gc=False):
    first_id: int  #: U
    last_id: int   #: u
    prev_id: int   #: pu (futures), -1 on spot
    bids: list[Level]
    asks: list[Level]
    exch_ns: int


class TradeEvent(_Event, frozen=True, gc=False):
    price: float
    qty: float
    side: int      #: aggressor: +1 buyer took the ask, -1 seller hit the bid
    trade_ns: int  #: exchange trade time
    trade_id: int


class SnapshotEvent(_Event, frozen=True, gc=False):
    last_update_id: int
    bids: list[Level]
    asks: list[Level]
    exch_ns: int


Event = BookTickerEvent | DepthEvent | TradeEvent | SnapshotEvent
