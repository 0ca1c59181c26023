"""The snapshot table: each instrument's latest book snapshot, one seqlock slot each.

Written only by the market-data process. The first block (L1, last trade,
timestamps, state) is decoded on every worker tick; the five levels per side
follow it in the same slot and are decoded only when asked for.
"""

from __future__ import annotations

import struct
from enum import IntEnum

import msgspec

from quotepipe.shm.segment import Segment
from quotepipe.shm.seqlock import InstrumentTable, SeqlockTable

LEVELS = 5


class BookState(IntEnum):
    EMPTY = 0      #: nothing received yet
    VALID = 1      #: L2 book seeded by a snapshot and in sequence
    L1_ONLY = 2    #: no depth snapshot: best bid/ask from bookTicker only
    RESYNCING = 3  #: a depth gap: L2 unusable until a new snapshot; L1 still current


L1_FIELDS = ("bid_px", "bid_qty", "ask_px", "ask_qty", "last_px", "last_qty", "last_side",
             "last_trade_ns", "exch_ns", "recv_ns", "publish_ns", "book_state", "update_id",
             "md_seq")
L1_FORMAT = "<6d6q2Q"
LEVEL_FORMAT = f"{4 * LEVELS}d"  # bid px, bid qty, ask px, ask qty
L1 = struct.Struct(L1_FORMAT)
FULL = struct.Struct(L1_FORMAT + LEVEL_FORMAT)
LAYOUT = f"snapshots:{L1_FORMAT}{LEVEL_FORMAT}:{','.join(L1_FIELDS)}"


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


class SnapshotTable(InstrumentTable):
    """One slot per instrument. ``write`` from the market-data process only."""

    SEGMENT, RECORD, LAYOUT = "snapshots", FULL, LAYOUT

    def __init__(self, segment: Segment, n_instruments: int) -> None:
        super().__init__(segment, n_instruments)
        self._l1_table = SeqlockTable(segment, n_instruments, L1, stride=self.table.stride)

    def write(self, slot: int, l1: tuple, levels: tuple) -> None:
        """``l1``: the 14 L1 fields; ``levels``: 20 floats (bid px, bid qty, ask px, ask qty)."""
        self.table.write(slot, *l1, *levels)

    def read_l1(self, slot: int) -> tuple | None:
        """The 14 L1 fields (see ``Snapshot``) as a plain tuple: no wrapper per tick."""
        return self._l1_table.read(slot)

    def read(self, slot: int) -> tuple[Snapshot, tuple[float, ...]] | None:
        rec = self.table.read(slot)
        if rec is None:
            return None
        return Snapshot(*rec[:14]), rec[14:]

    def read_bytes(self, slot: int) -> bytes | None:
        return self.table.read_bytes(slot)

    def sequence(self, slot: int) -> int:
        return self.table.sequence(slot)
