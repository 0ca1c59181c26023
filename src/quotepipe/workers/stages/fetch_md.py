"""FetchMD: a raw snapshot becomes a validated market view.

Flags, without hiding anything: a crossed or locked book, a non-positive or
non-finite price, a non-positive or non-finite size at the touch, an instrument
with nothing published yet. The age is the tick time minus the update's event
time, for the stale guard.
"""

from __future__ import annotations

from quotepipe.domain.snapshot import BookFlag, BookState, Snapshot
from quotepipe.workers.dto import MarketView

_INF = float("inf")
_EMPTY = int(BookState.EMPTY)
_F_EMPTY, _BAD_PRICE, _CROSSED, _LOCKED, _ZERO_SIZE = (
    BookFlag.EMPTY, BookFlag.BAD_PRICE, BookFlag.CROSSED, BookFlag.LOCKED, BookFlag.ZERO_SIZE)


def fetch_md(snap: Snapshot, now_ns: int) -> MarketView:
    bid, bid_qty, ask, ask_qty = snap.bid_px, snap.bid_qty, snap.ask_px, snap.ask_qty
    flags = 0
    if snap.book_state == _EMPTY:
        flags |= _F_EMPTY
    if not (0.0 < bid < _INF and 0.0 < ask < _INF):  # NaN fails every comparison
        flags |= _BAD_PRICE
        mid = 0.0
    else:
        mid = (bid + ask) * 0.5
        if bid > ask:
            flags |= _CROSSED
        elif bid == ask:
            flags |= _LOCKED
    if not (0.0 < bid_qty < _INF and 0.0 < ask_qty < _INF):
        flags |= _ZERO_SIZE
    return MarketView(bid, bid_qty, ask, ask_qty, mid, now_ns - snap.recv_ns, snap.book_state, flags)
