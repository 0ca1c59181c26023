"""The snapshot table: each instrument's latest book snapshot, one seqlock slot each.

Written only by the market-data process. The record's fields and their order are
``quotepipe.domain.snapshot``'s. The first block (L1, last trade, timestamps,
state) is decoded on every worker tick; the five levels per side follow it in
the same slot and are decoded only when asked for.
"""

from __future__ import annotations

import struct

from quotepipe.domain.snapshot import L1_FIELDS, LEVELS, Snapshot
from quotepipe.shm.segment import Segment
from quotepipe.shm.seqlock import InstrumentTable, SeqlockTable

L1_FORMAT = "<6d6q2Q"
LEVEL_FORMAT = f"{4 * LEVELS}d"  # bid px, bid qty, ask px, ask qty
L1 = struct.Struct(L1_FORMAT)
FULL = struct.Struct(L1_FORMAT + LEVEL_FORMAT)
LAYOUT = f"snapshots:{L1_FORMAT}{LEVEL_FORMAT}:{','.join(L1_FIELDS)}"
_N_L1 = len(L1_FIELDS)
assert len(L1.unpack(bytes(L1.size))) == _N_L1, "L1_FORMAT must hold every L1 field"


class SnapshotTable(InstrumentTable):
    """One slot per instrument. ``write`` from the market-data process only."""

    SEGMENT, RECORD, LAYOUT = "snapshots", FULL, LAYOUT

    def __init__(self, segment: Segment, n_instruments: int) -> None:
        super().__init__(segment, n_instruments)
        self._l1_table = SeqlockTable(segment, n_instruments, L1, stride=self.table.stride)

    @property
    def give_ups(self) -> int:
        """Reads that gave up on a slot that stayed mid-write (both views of the table)."""
        return self.table.give_ups + self._l1_table.give_ups

    def write(self, slot: int, l1: tuple, levels: tuple) -> None:
        """``l1``: the L1 fields; ``levels``: 20 floats (bid px, bid qty, ask px, ask qty)."""
        self.table.write(slot, *l1, *levels)

    def write_l1(self, slot: int, *l1: object) -> None:
        """The L1 fields alone: the slot's levels stay as they were (they did not change)."""
        self._l1_table.write(slot, *l1)

    def read_l1(self, slot: int) -> tuple | None:
        """The L1 fields (``L1_FIELDS``) as a plain tuple: no wrapper per tick."""
        return self._l1_table.read(slot)

    def read(self, slot: int) -> tuple[Snapshot, tuple[float, ...]] | None:
        rec = self.table.read(slot)
        if rec is None:
            return None
        return Snapshot(*rec[:_N_L1]), rec[_N_L1:]

    def read_bytes(self, slot: int) -> bytes | None:
        return self.table.read_bytes(slot)

    def sequence(self, slot: int) -> int:
        return self.table.sequence(slot)
