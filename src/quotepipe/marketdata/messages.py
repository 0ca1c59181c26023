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


# ----------------------------------------------------------------- normalised
#
# Events decode straight from a stream payload (``rename`` maps Binance's
# one-letter keys to these names); the reader then sets ``recv_ns`` and
# ``inst``. They hold only what quotepipe uses: msgspec skips the other keys
# without allocating them, which matters at 300k messages a file. The fields
# that identify a stream's venue and symbol are read once per stream, from the
# ``*Id`` structs below. Events are market-data records, not stage DTOs: the
# stage chain's frozen structs are built from the snapshot table, never from these.

class BookTickerEvent(msgspec.Struct, gc=False, rename={
        "update_id": "u", "bid_px": "b", "bid_qty": "B", "ask_px": "a", "ask_qty": "A", "exch_ms": "E"}):
    recv_ns: int = 0
    inst: str = ""   #: instrument id ``<venue>:<SYMBOL>``
    update_id: int = 0
    bid_px: float = 0.0
    bid_qty: float = 0.0
    ask_px: float = 0.0
    ask_qty: float = 0.0
    exch_ms: int = 0  #: E (futures only)

    @property
    def exch_ns(self) -> int:
        return self.exch_ms * 1_000_000


class DepthEvent(msgspec.Struct, gc=False, rename={
        "first_id": "U", "last_id": "u", "prev_id": "pu", "bids": "b", "asks": "a", "exch_ms": "E"}):
    recv_ns: int = 0
    inst: str = ""
    first_id: int = 0   #: U
    last_id: int = 0    #: u
    prev_id: int = -1   #: pu (futures); -1 on spot
    bids: list[Level] = []
    asks: list[Level] = []
    exch_ms: int = 0

    @property
    def exch_ns(self) -> int:
        return self.exch_ms * 1_000_000


class TradeEvent(msgspec.Struct, gc=False, rename={
        "price": "p", "qty": "q", "buyer_maker": "m", "trade_ms": "T", "trade_id": "t"}):
    recv_ns: int = 0
    inst: str = ""
    price: float = 0.0
    qty: float = 0.0
    buyer_maker: bool = False  #: m: the buyer was the maker, so the seller was the aggressor
    trade_ms: int = 0
    trade_id: int = -1  #: t; an aggTrade's aggregate id ``a``

    @property
    def side(self) -> int:
        """Aggressor: +1 a buyer took the ask, -1 a seller hit the bid."""
        return -1 if self.buyer_maker else 1

    @property
    def trade_ns(self) -> int:
        return self.trade_ms * 1_000_000


# What says which venue and symbol a payload belongs to: decoded from the first
# line of each stream (and from lines of streams not yet known), never per message.

class BookTickerId(msgspec.Struct, rename={
        "symbol": "s", "pair": "ps", "event": "e", "exch_ms": "E", "txn_ms": "T"}):
    symbol: str = ""
    pair: str = ""      #: COIN-M only
    event: str = ""     #: futures only
    exch_ms: int = 0    #: futures only
    txn_ms: int = 0     #: futures only


class DepthId(msgspec.Struct, rename={"symbol": "s", "pair": "ps", "prev_id": "pu"}):
    symbol: str = ""
    pair: str = ""
    prev_id: int = -1   #: futures only


class TradeId(msgspec.Struct, rename={"symbol": "s", "pair": "ps", "spot_flag": "M", "agg_id": "a"}):
    symbol: str = ""
    pair: str = ""
    spot_flag: bool | None = None  #: M: spot only
    agg_id: int = -1    #: a: aggTrade's id


class SnapshotEvent(msgspec.Struct, gc=False):
    recv_ns: int = 0
    inst: str = ""
    last_update_id: int = 0
    bids: list[Level] = []
    asks: list[Level] = []
    exch_ns: int = 0


Event = BookTickerEvent | DepthEvent | TradeEvent | SnapshotEvent


# Whole lines of a stream already recognised: ``stream`` is skipped, not decoded.

class BookTickerLine(msgspec.Struct):
    data: BookTickerEvent


class DepthLine(msgspec.Struct):
    data: DepthEvent


class TradeLine(msgspec.Struct):
    data: TradeEvent
