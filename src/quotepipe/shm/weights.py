"""The allocator's weights array: a float64 weight and a flags word per instrument.

Written by the scoreboard process, read by every worker on every tick. The
whole array is published under one version word (odd while writing). A reader
that catches a write in progress keeps the last good values it saw, so a worker
never blocks and never mixes two publications.
"""

from __future__ import annotations

import numpy as np

from quotepipe.shm.segment import LINE, Segment, SegmentSet

FLAG_BLACKLISTED = 1
FLAG_HALTED = 2
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
        self.inconsistent_reads = 0

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
        if not v & 1:
            w = self._w[i]
            f = self._f[i]
            if q[0] == v:
                self._last_w[i] = w
                self._last_f[i] = f
                return w, f
        self.inconsistent_reads += 1
        return self._last_w[i], self._last_f[i]

    def snapshot(self) -> tuple[int, np.ndarray, np.ndarray]:
        """(version, weights, flags) of one publication; the last good copy if inconsistent."""
        q = self._words
        v = q[0]
        if not v & 1:
            w = self.weights.copy()
            f = self.flags.copy()
            if q[0] == v:
                self._last_snapshot = (v // 2, w, f)
                return v // 2, w.copy(), f.copy()
        self.inconsistent_reads += 1
        version, w, f = self._last_snapshot
        return version, w.copy(), f.copy()
