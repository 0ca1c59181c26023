"""Seqlock-protected fixed-size records: one writer, any number of readers.

Each slot starts with a sequence word: 0 = never written, odd = being
written, even = stable. The word is only ever written with one aligned 8-byte
store through ``memoryview.cast("Q")`` (``struct.pack_into`` writes byte by byte
and lets torn records through). Slots are 128-byte aligned, so two slots never
share a cache line. Readers copy the slot, then re-check the sequence.

The read policy, the same for every seqlock in quotepipe (these tables, the
weights array, the config block): try once; on a write in progress or a changed
word, retry up to ``READ_RETRIES`` times; then give up rather than wait on a
writer that may have died mid-write, and count the give-up (``give_ups``) so the
reader's owner can export it. ``seqlock_retry`` is that policy, in one place.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Self, TypeVar

from quotepipe.shm.segment import HEADER_SIZE, Segment, SegmentSet, align

T = TypeVar("T")

READ_RETRIES = 64


def seqlock_retry(words: memoryview, i: int, copy: Callable[[], T]) -> T | None:
    """Up to ``READ_RETRIES`` consistent-read attempts of the record whose sequence word is
    ``words[i]``: ``copy()`` between two equal, even, non-zero readings. None: never written,
    or still mid-write after every retry (the caller counts a give-up)."""
    for _ in range(READ_RETRIES):
        s1 = words[i]
        if s1 == 0:
            return None
        if s1 & 1:
            continue
        rec = copy()
        if words[i] == s1:
            return rec
    return None


class SeqlockTable:
    """``n_slots`` records of ``payload`` in ``segment``'s body at ``offset``.

    ``stride`` lets a shorter ``payload`` decode just the head of longer slots.
    """

    def __init__(self, segment: Segment, n_slots: int, payload: struct.Struct, offset: int = 0,
                 stride: int | None = None) -> None:
        self.n_slots = n_slots
        self.payload = payload
        self.stride = stride or align(8 + payload.size)
        self._mm = segment.mm
        self._words = segment.buf.cast("Q")
        self._unpack = payload.unpack_from
        self._pack = payload.pack_into
        self._size = payload.size
        self.give_ups = 0  #: reads that gave up on a slot stuck mid-write
        base = HEADER_SIZE + offset
        # per slot: (sequence word index, payload start, payload end) in the mapping
        self._slots = [((base + s * self.stride) // 8, base + s * self.stride + 8,
                        base + s * self.stride + 8 + payload.size) for s in range(n_slots)]

    @staticmethod
    def size_for(n_slots: int, payload: struct.Struct) -> int:
        return n_slots * align(8 + payload.size)

    def write(self, slot: int, *fields: object) -> None:
        """Publish a record (single writer per table)."""
        q = self._words
        i, off, _ = self._slots[slot]
        seq = q[i] | 1  # odd; also right after a writer died mid-write
        q[i] = seq
        self._pack(self._mm, off, *fields)
        q[i] = seq + 1

    def sequence(self, slot: int) -> int:
        return self._words[self._slots[slot][0]]

    def read(self, slot: int) -> tuple | None:
        """A consistent decoded record, or None (never written, or writer stuck)."""
        q = self._words
        i, off, _ = self._slots[slot]
        s1 = q[i]
        if s1 and not s1 & 1:
            rec = self._unpack(self._mm, off)
            if q[i] == s1:
                return rec
        return self._retry(slot, lambda: self._unpack(self._mm, off))

    def read_bytes(self, slot: int) -> bytes | None:
        """A consistent raw copy of the payload: decode it after the lock, not under it."""
        q = self._words
        i, off, end = self._slots[slot]
        s1 = q[i]
        if s1 and not s1 & 1:
            raw = self._mm[off:end]
            if q[i] == s1:
                return raw
        return self._retry(slot, lambda: self._mm[off:end])

    def _retry(self, slot: int, copy: Callable[[], T]) -> T | None:
        """The slow path of both reads: the one seqlock policy, a give-up counted."""
        i = self._slots[slot][0]
        got = seqlock_retry(self._words, i, copy)
        if got is None and self._words[i]:
            self.give_ups += 1
        return got


class InstrumentTable:
    """A segment of one seqlock slot per instrument: the snapshot, venue and score tables.

    A subclass names its segment (``SEGMENT``), its record (``RECORD``) and the
    layout text that attaching checks (``LAYOUT``, followed by the instrument count).
    """

    SEGMENT: str
    RECORD: struct.Struct
    LAYOUT: str

    def __init__(self, segment: Segment, n_instruments: int) -> None:
        self.segment = segment
        self.n = n_instruments
        self.table = SeqlockTable(segment, n_instruments, self.RECORD)

    @classmethod
    def create(cls, segments: SegmentSet, n_instruments: int) -> Self:
        body = SeqlockTable.size_for(n_instruments, cls.RECORD)
        return cls(segments.create(cls.SEGMENT, body, f"{cls.LAYOUT}:{n_instruments}"), n_instruments)

    @classmethod
    def attach(cls, name: str, n_instruments: int, writable: bool = False) -> Self:
        return cls(Segment.attach(name, f"{cls.LAYOUT}:{n_instruments}", writable), n_instruments)
