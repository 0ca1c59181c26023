"""Per-instrument worker counters: chain ticks and intents written, one row per instrument, and
the guard and reasons of its last tick (for the live screen).

Each row is written only by the worker that owns the instrument (a restarted
worker carries on from the row's values), read by ``status`` and /metrics.
"""

from __future__ import annotations

import numpy as np

from quotepipe.shm.segment import Segment, SegmentSet

COLUMNS = ("ticks", "intents", "timer_ticks", "guard", "reasons")
LAYOUT = f"counts:v2:u8:{','.join(COLUMNS)}"


class InstrumentCounts:
    def __init__(self, segment: Segment, n_instruments: int) -> None:
        self.segment = segment
        self.n = n_instruments
        self.rows = np.frombuffer(segment.body, np.uint64, n_instruments * len(COLUMNS)).reshape(
            n_instruments, len(COLUMNS))

    @classmethod
    def create(cls, segments: SegmentSet, n: int) -> InstrumentCounts:
        return cls(segments.create("counts", 8 * n * len(COLUMNS), f"{LAYOUT}:{n}"), n)

    @classmethod
    def attach(cls, name: str, n: int, writable: bool = False) -> InstrumentCounts:
        return cls(Segment.attach(name, f"{LAYOUT}:{n}", writable), n)

    def column(self, name: str) -> np.ndarray:
        return self.rows[:, COLUMNS.index(name)]
