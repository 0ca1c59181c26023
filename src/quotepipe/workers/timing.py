"""Per-stage latency capture for the hot loop.

Each tick stores its stage durations (``perf_counter_ns`` deltas) into
preallocated ``array('q')`` buffers, a few tens of nanoseconds per store and no
allocation; full buffers are flushed into the shm histograms with one numpy
pass (``Histogram.record_many``). A tick slower than the deadline is counted.
"""

from __future__ import annotations

from array import array

import numpy as np

from quotepipe.shm.stats import StatsBlock, StatsSchema
from quotepipe.workers.dto import Guard, Reason
from quotepipe.workers.stages import STAGES

TIMED = (*STAGES, "tick_total")
BUFFER = 4096

#: histograms and counters of a worker's stats block (also used privately by replay)
WORKER_STATS = StatsSchema(
    histograms=(*TIMED, "md_to_intent"),
    counters=("ticks", "timer_ticks", "intents", "coalesced", "deadline_misses", "shadow_mismatches",
              "ring_lost", "action_new", "action_replace", "action_cancel", "action_keep",
              *(f"guard_{g.name.lower()}" for g in Guard), *(f"reason_{n}" for n in Reason.NAMES)),
    gauges=("epoch", "mode"),
)


class StageTimes:
    """Buffers for ``len(names)`` timings per tick, flushed into ``stats``' histograms."""

    def __init__(self, stats: StatsBlock, names: tuple[str, ...] = TIMED, deadline_ns: int = 0) -> None:
        self.stats = stats
        self.names = names
        self.hists = [stats.hist(n) for n in names]
        self.buffers = [array("q", bytes(8 * BUFFER)) for _ in names]
        self.n = 0
        self.deadline_ns = deadline_ns
        self.deadline_misses = 0
        self._misses_flushed = 0
        self._misses_index = (stats.counter_index("deadline_misses")
                              if "deadline_misses" in stats.schema.counters else -1)

    def flush(self) -> None:
        n = self.n
        if n:
            for h, buf in zip(self.hists, self.buffers, strict=True):
                h.record_many(np.frombuffer(buf, np.int64, n))
            self.n = 0
        if self._misses_index >= 0 and self.deadline_misses != self._misses_flushed:
            self.stats.incr(self._misses_index, self.deadline_misses - self._misses_flushed)
            self._misses_flushed = self.deadline_misses
