"""The allocator's weights array: a float64 weight and a flags word per instrument.

Written by the scoreboard process, read by every worker on every tick. The
whole array is published under one version word (odd while writing). Reads
follow the one seqlock policy (``shm.seqlock``): bounded retries, then a give-up,
counted in ``give_ups``, in which case the reader keeps the last good values it
saw, so a worker never blocks and never mixes two publications.
"""

from __future__ import annotations

import numpy as np

from quotepipe.domain.guards import FLAG_BLACKLISTED, FLAG_HALTED
from quotepipe.shm.segment import LINE, Segment, SegmentSet
from quotepipe.shm.seqlock import seqlock_retry

__all__ = ["FLAG_BLACKLISTED", "FLAG_HALTED", "WeightsArray"]

LAYOUT = "weights:v1:f8,u8"


class WeightsArray:
    def __init__(self, segment: Segment, n_instruments: int) -> None:
        self.segment = segment
        self.n = n_instruments
        body = segment.body
        self._words = body.cast("Q")
        self._w = body[LINE:LINE + 8 * n_instruments].cast("d")
        self._f = body[LINE + 8 * n_instruments:LINE + 16 * n_instruments].cast("Q")
        self.weights = np.frombuffer(body, np.float64, n_instruments, LINE)
        self.flags = np.frombuffer(body, np.uint64, n_instruments, LINE + 8 * n_instruments)
        self._last_w = [1.0] * n_instruments   # last good pair per instrument, for get()
        self._last_f = [0] * n_instruments
        self._last_snapshot = (0, np.ones(n_instruments), np.zeros(n_instruments, np.uint64))
        self.give_ups = 0  #: reads that found a publication in progress after every retry

    @staticmethod
    def body_size(n: int) -> int:
        return LINE + 16 * n

    @classmethod
    def create(cls, segments: SegmentSet, n: int) -> WeightsArray:
        arr = cls(segments.create("weights", cls.body_size(n), f"{LAYOUT}:{n}"), n)
        arr.publish(np.ones(n), np.zeros(n, dtype=np.uint64))
        return arr

    @classmethod
    def attach(cls, name: str, n: int, writable: bool = False) -> WeightsArray:
        return cls(Segment.attach(name, f"{LAYOUT}:{n}", writable), n)

    @property
    def version(self) -> int:
        """Publications so far (even when stable)."""
        return self._words[0] // 2

    def publish(self, weights: np.ndarray, flags: np.ndarray) -> None:
        """Write a whole new set of weights and flags (single writer)."""
        q = self._words
        v = q[0] | 1
        q[0] = v
        self.weights[:] = weights
        self.flags[:] = flags
        q[0] = v + 1

    def get(self, i: int) -> tuple[float, int]:
        """Weight and flags of instrument ``i``; the last good pair if a write is in progress."""
        q = self._words
        v = q[0]
        if v and not v & 1:
            w = self._w[i]
            f = self._f[i]
            if q[0] == v:
                self._last_w[i] = w
                self._last_f[i] = f
                return w, f
        got = seqlock_retry(q, 0, lambda: (self._w[i], self._f[i]))
        if got is None:
            self.give_ups += 1
            return self._last_w[i], self._last_f[i]
        self._last_w[i], self._last_f[i] = got
        return got

    def snapshot(self) -> tuple[int, np.ndarray, np.ndarray]:
        """(version, weights, flags) of one publication; the last good copy on a give-up."""
        q = self._words
        got = seqlock_retry(q, 0, lambda: (q[0] // 2, self.weights.copy(), self.flags.copy()))
        if got is None:
            self.give_ups += 1
            got = self._last_snapshot
        self._last_snapshot = got
        version, w, f = got
        return version, w.copy(), f.copy()
