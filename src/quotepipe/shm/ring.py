"""Single-producer broadcast rings of fixed-size records with per-slot sequence numbers.

Record ``n`` (1-based) lives in slot ``(n - 1) % capacity``. Its first word is
``2n - 1`` while the writer fills it and ``2n`` once it is complete; the
writer's cursor (the last complete ``n``) sits alone on its own 128-byte line.
The writer never looks at readers. A reader keeps its own position: a slot
word below ``2n - 1`` means "not yet", above ``2n`` means it was lapped, in
which case it counts the records it lost and resumes from the oldest record
still in the ring. Readers write nothing shared, so any number may attach.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

from quotepipe.shm.segment import HEADER_SIZE, LINE, Segment, SegmentSet, align

RECORD_ALIGN = 64
_NP_CODES = {"d": "<f8", "q": "<i8", "Q": "<u8", "i": "<i4", "I": "<u4", "f": "<f4"}


class RingLayout:
    """Named fields of a record payload, as struct codes (``d``, ``q``, ``Q``, ``i``, ...)."""

    def __init__(self, name: str, fields: Sequence[tuple[str, str]]) -> None:
        self.name = name
        self.fields = tuple(fields)
        self.struct = struct.Struct("<" + "".join(code for _, code in self.fields))
        self.record_size = align(8 + self.struct.size, RECORD_ALIGN)
        offsets, off = [], 8
        for _, code in self.fields:
            offsets.append(off)
            off += struct.calcsize("<" + code)
        self.dtype = np.dtype({
            "names": ["seq", *[n for n, _ in self.fields]],
            "formats": ["<u8", *[_NP_CODES[c] for _, c in self.fields]],
            "offsets": [0, *offsets],
            "itemsize": self.record_size,
        })
        self.payload_dtype = np.dtype([(n, _NP_CODES[c]) for n, c in self.fields])

    def describe(self) -> str:
        return f"ring:{self.name}:{self.struct.format}:{self.record_size}:" + ",".join(
            n for n, _ in self.fields)


def _check_capacity(capacity: int) -> None:
    if capacity < 2 or capacity & (capacity - 1):
        raise ValueError(f"ring capacity must be a power of two >= 2, got {capacity}")


class _RingBase:
    def __init__(self, segment: Segment, layout: RingLayout, capacity: int) -> None:
        _check_capacity(capacity)
        self.segment = segment
        self.layout = layout
        self.capacity = capacity
        self.mask = capacity - 1
        self._mm = segment.mm
        self._words = segment.buf.cast("Q")  # indices below count from the mapping's start
        self._cursor = HEADER_SIZE // 8      # the writer cursor, alone on its line
        first = (HEADER_SIZE + LINE) // 8    # records start after the cursor line
        rec_words = layout.record_size // 8
        self._slot_word = [first + s * rec_words for s in range(capacity)]
        recs = np.frombuffer(segment.body, dtype=layout.dtype, count=capacity, offset=LINE)
        self._records = recs
        self._seqs = recs["seq"]

    @staticmethod
    def body_size(layout: RingLayout, capacity: int) -> int:
        return LINE + layout.record_size * capacity

    @staticmethod
    def layout_text(layout: RingLayout, capacity: int) -> str:
        return f"{layout.describe()}:{capacity}"

    def written(self) -> int:
        """Records completed by the writer so far."""
        return self._words[self._cursor]


class RingWriter(_RingBase):
    """The one writer of a ring. Reattaching continues after the last complete record."""

    def __init__(self, segment: Segment, layout: RingLayout, capacity: int) -> None:
        super().__init__(segment, layout, capacity)
        self._n = self._words[self._cursor]
        self._pack = layout.struct.pack_into

    @classmethod
    def create(cls, segments: SegmentSet, name: str, layout: RingLayout, capacity: int) -> RingWriter:
        seg = segments.create(name, cls.body_size(layout, capacity), cls.layout_text(layout, capacity))
        return cls(seg, layout, capacity)

    @classmethod
    def attach(cls, name: str, layout: RingLayout, capacity: int) -> RingWriter:
        return cls(Segment.attach(name, cls.layout_text(layout, capacity)), layout, capacity)

    def write(self, *fields: object) -> int:
        """Append one record; never blocks. Returns its sequence number."""
        n = self._n + 1
        q = self._words
        i = self._slot_word[(n - 1) & self.mask]
        q[i] = 2 * n - 1
        self._pack(self._mm, 8 * i + 8, *fields)
        q[i] = 2 * n
        q[self._cursor] = n
        self._n = n
        return n


    def write_batch(self, records: np.ndarray) -> int:
        """Append a structured array of ``layout.payload_dtype`` records; returns the last n."""
        k = len(records)
        if k == 0:
            return self._n
        if k >= self.capacity:
            raise ValueError(f"batch of {k} records does not fit a ring of {self.capacity}")
        n0 = self._n + 1
        seqnums = np.arange(n0, n0 + k, dtype=np.uint64)
        idx = (seqnums - 1) & np.uint64(self.mask)
        self._seqs[idx] = seqnums * np.uint64(2) - np.uint64(1)
        for name in records.dtype.names or ():
            self._records[name][idx] = records[name]
        self._seqs[idx] = seqnums * np.uint64(2)
        self._n = n0 + k - 1
        self._words[self._cursor] = self._n
        return self._n


class RingReader(_RingBase):
    """One reader's view. ``lost`` counts records overwritten before it read them."""

    def __init__(self, segment: Segment, layout: RingLayout, capacity: int,
                 from_start: bool = False) -> None:
        super().__init__(segment, layout, capacity)
        self._unpack = layout.struct.unpack_from
        self.next = 1 if from_start else self.written() + 1
        self.lost = 0
        self.laps = 0

    @classmethod
    def attach(cls, name: str, layout: RingLayout, capacity: int, from_start: bool = False,
               writable: bool = False) -> RingReader:
        seg = Segment.attach(name, cls.layout_text(layout, capacity), writable=writable)
        return cls(seg, layout, capacity, from_start)

    def pending(self) -> int:
        return max(0, self.written() - self.next + 1)

    def _resync(self) -> None:
        """Lapped: skip to the oldest record the writer cannot be overwriting."""
        oldest = self.written() - self.capacity + 2
        if oldest > self.next:
            self.lost += oldest - self.next
            self.laps += 1
            self.next = oldest

    def poll(self) -> tuple | None:
        """The next record's fields, or None when there is none yet."""
        n = self.next
        i = self._slot_word[(n - 1) & self.mask]
        q = self._words
        if q[i] == 2 * n:
            rec = self._unpack(self._mm, 8 * i + 8)
            if q[i] == 2 * n:
                self.next = n + 1
                return rec
        return self._poll_slow()

    def _poll_slow(self) -> tuple | None:
        q = self._words
        while True:
            n = self.next
            i = self._slot_word[(n - 1) & self.mask]
            s = q[i]
            want = 2 * n
            if s == want:
                rec = self._unpack(self._mm, 8 * i + 8)
                if q[i] == want:
                    self.next = n + 1
                    return rec
            elif s < want:
                return None  # not yet written, or being written
            self._resync()

    def read_batch(self, max_records: int = 4096) -> np.ndarray:
        """Up to ``max_records`` consecutive records as a structured numpy copy."""
        written = self.written()
        if written - self.next + 1 > self.capacity - 1:
            self._resync()
        n = self.next
        k = min(written - n + 1, max_records, self.capacity - 1)
        if k <= 0:
            return self._records[:0].copy()
        seqnums = np.arange(n, n + k, dtype=np.uint64)
        idx = (seqnums - 1) & np.uint64(self.mask)
        want = seqnums * np.uint64(2)
        before = self._seqs[idx]
        data = self._records[idx]
        after = self._seqs[idx]
        ok = (before == want) & (after == want)
        good = k if ok.all() else int(np.argmin(ok))
        self.next = n + good
        if good < k and int(after[good]) > int(want[good]):
            self._resync()
        return data[:good]
