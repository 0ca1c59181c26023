"""Bytes under a seqlock, with a tag word: the config block's and the scoreboard checkpoint's body.

One writer replaces the whole blob; readers copy it between two equal even
sequence readings (``shm.seqlock``'s policy), with a short pause between
rounds of retries: a write copies up to megabytes and is never on a hot path.
A blob that stays mid-write for ``READ_ROUNDS`` rounds (its writer died
writing) raises ``SegmentError``.
"""

from __future__ import annotations

import time

from quotepipe.shm.segment import LINE, Segment, SegmentError
from quotepipe.shm.seqlock import seqlock_retry

READ_ROUNDS = 2000
_SEQ, _TAG, _LEN = 0, 1, 2


class Blob:
    """A segment body of one header line then ``capacity`` bytes."""

    def __init__(self, segment: Segment, capacity: int) -> None:
        self.segment = segment
        self.capacity = capacity
        self._q = segment.body.cast("Q")
        self._data = segment.body[LINE:LINE + capacity]
        self.give_ups = 0  #: rounds of retries that found a write in progress

    @staticmethod
    def size(capacity: int) -> int:
        return LINE + capacity

    def write(self, data: bytes, tag: int) -> None:
        if len(data) > self.capacity:
            raise ValueError(f"{self.segment.name}: {len(data)} bytes do not fit in {self.capacity}")
        q = self._q
        seq = q[_SEQ] | 1
        q[_SEQ] = seq
        self._data[:len(data)] = data
        q[_LEN] = len(data)
        q[_TAG] = tag
        q[_SEQ] = seq + 1

    @property
    def tag(self) -> int:
        return self._q[_TAG]

    @property
    def written(self) -> bool:
        return self._q[_SEQ] != 0

    def read(self) -> tuple[int, bytes] | None:
        """(tag, bytes) of one consistent write; None when nothing was ever written."""
        q = self._q
        if q[_SEQ] == 0:
            return None

        def copy() -> tuple[int, bytes]:
            return q[_TAG], bytes(self._data[:q[_LEN]])

        for _ in range(READ_ROUNDS):
            got = seqlock_retry(q, _SEQ, copy)
            if got is not None:
                return got
            self.give_ups += 1
            time.sleep(0.001)
        raise SegmentError(f"{self.segment.name}: stayed mid-write (its writer died writing?)")
