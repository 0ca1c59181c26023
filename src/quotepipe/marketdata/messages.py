"""Binance wire messages as typed ``msgspec`` structs, and the normalised events.

Wire structs decode straight from the bytes of a line; decimal strings become
floats in msgspec's C decoder (``strict=False``). Events are what the rest of
quotepipe sees: one small frozen struct per kind, stamped with receive time and
instrument id, the same for every venue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import msgspec

# What a field may hold. A value outside is a malformed line, refused by the
# decoder itself (no pass over the events): a missing price is not a price of
# 0, and ``"nan"``, ``"inf"`` or ``"-1"`` is not a price at all. The compiled
# decoder of canonical lines (``lines.read_field``) applies the same bounds, field
# by field, and leaves a line to msgspec where a value falls outside: a bound
# changed here is changed there too (the bound tests in test_marketdata hold both).
PRICE_MAX = 1e15        #: above any traded price: also refuses ``inf``
QTY_MAX = 1e18
EPOCH_MS_MIN = 1_262_304_000_000   #: 2010-01-01 in ms: an exchange time before is not one
EPOCH_MS_MAX = 4_102_444_800_000   #: 2100-01-01
ID_MAX = (1 << 63) - 1             #: ids are int64 in the snapshot table
Price = Annotated[float, msgspec.Meta(gt=0.0, lt=PRICE_MAX)]
Qty = Annotated[float, msgspec.Meta(gt=0.0, lt=QTY_MAX)]
LevelQty = Annotated[float, msgspec.Meta(ge=0.0, lt=QTY_MAX)]  #: 0 removes a depth level
UpdateId = Annotated[int, msgspec.Meta(ge=0, le=ID_MAX)]
ExchangeMs = Annotated[int, msgspec.Meta(ge=EPOCH_MS_MIN, lt=EPOCH_MS_MAX)]
OptionalExchangeMs = Annotated[int, msgspec.Meta(ge=0, lt=EPOCH_MS_MAX)]  #: 0: the venue sends none

Level = tuple[Price, LevelQty]


# ------------------------------------------------------------------ wire format

class Envelope(msgspec.Struct):
    """A combined-stream envelope, a REST depth snapshot, or a bare stream payload."""

    stream: str = ""
    data: msgspec.Raw = msgspec.Raw(b"")
    lastUpdateId: Annotated[int, msgspec.Meta(ge=-1, le=ID_MAX)] = -1  # noqa: N815 - Binance's name
    bids: list[Level] = []
    asks: list[Level] = []
    E: OptionalExchangeMs = 0
    T: OptionalExchangeMs = 0
    symbol: str = ""
    pair: str = ""
    e: str = ""  # bare (non-envelope) payloads carry their event type


# ----------------------------------------------------------------- normalised
#
# Events decode straight from a stream payload (``rename`` maps Binance's
# one-letter keys to these names); the reader then sets ``recv_ns`` and
# ``inst``. They hold only what quotepipe uses: msgspec skips the other keys
# without allocating them, which matters at 300k messages a file. A field the
# event needs has no default, so a line without it fails to decode (keyword-only
# structs: the reader's stamps, with defaults, come first). The fields
# that identify a stream's venue and symbol are read once per stream, from the
# ``*Id`` structs below. Events are market-data records, not stage DTOs: the
# stage chain's frozen structs are built from the snapshot table, never from these.

class BookTickerEvent(msgspec.Struct, gc=False, kw_only=True, rename={
        "update_id": "u", "bid_px": "b", "bid_qty": "B", "ask_px": "a", "ask_qty": "A", "exch_ms": "E"}):
    recv_ns: int = 0
    inst: str = ""   #: instrument id ``<venue>:<SYMBOL>``
    update_id: UpdateId
    bid_px: Price
    bid_qty: Qty
    ask_px: Price
    ask_qty: Qty
    exch_ms: OptionalExchangeMs = 0  #: E (futures only)

    @property
    def exch_ns(self) -> int:
        return self.exch_ms * 1_000_000


class DepthEvent(msgspec.Struct, gc=False, kw_only=True, rename={
        "first_id": "U", "last_id": "u", "prev_id": "pu", "bids": "b", "asks": "a", "exch_ms": "E"}):
    recv_ns: int = 0
    inst: str = ""
    first_id: UpdateId   #: U
    last_id: UpdateId    #: u
    prev_id: Annotated[int, msgspec.Meta(ge=-1, le=ID_MAX)] = -1   #: pu (futures); -1 on spot
    #: msgspec decodes a list; the compiled decoder (``lines``) gives a ``levels.Levels``
    bids: Sequence[Level]
    asks: Sequence[Level]
    exch_ms: OptionalExchangeMs = 0

    @property
    def exch_ns(self) -> int:
        return self.exch_ms * 1_000_000


class TradeEvent(msgspec.Struct, gc=False, kw_only=True, rename={
        "price": "p", "qty": "q", "buyer_maker": "m", "trade_ms": "T", "trade_id": "t"}):
    recv_ns: int = 0
    inst: str = ""
    price: Price
    qty: Qty
    buyer_maker: bool  #: m: the buyer was the maker, so the seller was the aggressor
    trade_ms: ExchangeMs
    trade_id: Annotated[int, msgspec.Meta(ge=-1, le=ID_MAX)] = -1  #: t; an aggTrade's id ``a``

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
