"""The snapshot record: one instrument's book as market data publishes it.

``L1_FIELDS`` is the record's field order everywhere: in the snapshot table, in
``BookSet.l1_record``, and in ``Snapshot``, the quote chain's first value. Code
that reads the plain tuple (the table's hot read) indexes it with the named
constants below, never with bare numbers.
"""

from __future__ import annotations

from enum import IntEnum

import msgspec

LEVELS = 5  #: depth levels per side published after the L1 block


class BookState(IntEnum):
    EMPTY = 0      #: nothing received yet
    VALID = 1      #: L2 book seeded by a snapshot and in sequence
    L1_ONLY = 2    #: no depth snapshot: best bid/ask from bookTicker only
    RESYNCING = 3  #: a depth gap: L2 unusable until a new snapshot; L1 still current


# Hot loops import the module-level names below instead of reading members off their classes
# (on CPython 3.11 an enum member read off its class costs about 70 ns, a module global a few):
# defined once, here.
BOOK_EMPTY, BOOK_VALID, BOOK_L1_ONLY, BOOK_RESYNCING = (
    BookState.EMPTY, BookState.VALID, BookState.L1_ONLY, BookState.RESYNCING)


class BookFlag:
    """What FetchMD found wrong with a snapshot (bitmask)."""

    CROSSED = 1 << 0
    LOCKED = 1 << 1
    BAD_PRICE = 1 << 2   #: non-positive or non-finite price
    ZERO_SIZE = 1 << 3   #: non-positive or non-finite size at the touch
    EMPTY = 1 << 4       #: nothing published yet

    INVALID = CROSSED | LOCKED | BAD_PRICE | ZERO_SIZE | EMPTY


class Snapshot(msgspec.Struct, frozen=True):
    """One instrument's snapshot (the L1 block): the first value of the quote chain."""

    bid_px: float
    bid_qty: float
    ask_px: float
    ask_qty: float
    last_px: float
    last_qty: float
    last_side: int        #: aggressor of the last trade: +1 buy, -1 sell, 0 none
    last_trade_ns: int    #: exchange time of the last trade
    exch_ns: int          #: exchange event time of the update (0 when the venue sends none)
    recv_ns: int          #: local receive time (recording clock): the update's event time
    publish_ns: int       #: time.monotonic_ns() when published
    book_state: int
    update_id: int        #: venue update id of the book
    md_seq: int           #: count of updates published for this instrument


L1_FIELDS: tuple[str, ...] = Snapshot.__struct_fields__

#: positions of the fields in an L1 record tuple
(BID_PX, BID_QTY, ASK_PX, ASK_QTY, LAST_PX, LAST_QTY, LAST_SIDE, LAST_TRADE_NS, EXCH_NS, RECV_NS,
 PUBLISH_NS, BOOK_STATE, UPDATE_ID, MD_SEQ) = range(len(L1_FIELDS))

#: the record's fields that the tick gate compares: the top of book
TOP = slice(BID_PX, ASK_QTY + 1)
