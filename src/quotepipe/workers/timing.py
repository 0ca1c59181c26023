"""Stage latency capture for the hot loop: every tick's total, the stages on a sample.

Every tick stores one number, its total (``perf_counter_ns`` after the last stage
minus before the first), in a preallocated ``array('q')``; the deadline is checked
on those totals when the buffer is flushed. One tick in ``every`` on average
(``stage_budgets.sample_every``) also takes a mark between stages and packs the
seven marks into a second buffer with one ``struct.pack_into`` call: five clock
reads fewer on the other ticks. The sampled tick is chosen by a jittered
countdown (uniform on ``0 .. 2 * every - 2`` ticks), so a period in the workload
cannot line up with the sampling. A full buffer is flushed with one numpy pass;
``flush`` runs before the deadline changes, so each tick meets the deadline it ran
under.

What sampling costs in accuracy: a stage's percentile ``p`` estimated from ``m``
sampled ticks sits at a true rank within ``p ± 1.96 * sqrt(p * (1 - p) / m)`` (95%);
``rank_error`` gives it, and the histograms' counts are the ``m``.
"""

from __future__ import annotations

import math
import struct
from array import array

import numpy as np

from quotepipe.domain.stages import STAGES
from quotepipe.shm.stats import StatsBlock

BUFFER = 4096  #: ticks buffered between flushes
_LCG_MUL, _LCG_ADD, _LCG_MASK = 1103515245, 12345, 0x7FFFFFFF  # the sampling countdown's jitter


def rank_error(p: float, samples: int) -> float:
    """Half-width, in quantile units, of the 95% interval of a percentile ``p`` (0-1)
    estimated from ``samples`` values."""
    return 1.96 * math.sqrt(p * (1.0 - p) / samples) if samples else 1.0


class StageTimes:
    """Totals of every tick into ``stats``' histogram ``total``; when ``stages`` are named,
    the spans between consecutive marks of the sampled ticks into theirs.

    Hot loops record inline: ``times.totals[times.n] = end - start``, ``times.n += 1``;
    on a sampled tick (``times.skip == 0``) also ``times.sample(*marks)``, otherwise
    ``times.skip -= 1``; and ``times.flush()`` once ``times.n == BUFFER``. Slots, since the
    compiled runner reads and writes ``n`` and ``skip`` from C on every tick: a slot is a
    descriptor's offset, an instance attribute a dict lookup.
    """

    __slots__ = ("stats", "total_hist", "stage_hists", "marks", "pack", "stride", "raw", "totals", "n",
                 "m", "every", "skip", "_rng", "deadline_ns", "deadline_misses", "_misses_index")

    def __init__(self, stats: StatsBlock, stages: tuple[str, ...] = STAGES, total: str = "tick_total",
                 deadline_ns: int = 0, every: int = 1) -> None:
        self.stats = stats
        self.total_hist = stats.hist(total)
        self.stage_hists = [stats.hist(n) for n in stages]
        self.marks = len(stages) + 1
        self.pack = struct.Struct(f"{self.marks}q").pack_into
        self.stride = 8 * self.marks
        self.raw = bytearray(self.stride * BUFFER) if stages else bytearray()
        self.totals = array("q", bytes(8 * BUFFER))
        self.n = 0          #: ticks in ``totals``
        self.m = 0          #: sampled ticks in ``raw``
        self.every = 1
        self.skip = 0       #: ticks to go before the next sampled one
        self._rng = 0x2545F491
        self.set_every(every if stages else 1)
        self.deadline_ns = deadline_ns
        self.deadline_misses = 0
        self._misses_index = (stats.counter_index("deadline_misses")
                              if "deadline_misses" in stats.schema.counters else -1)

    def set_every(self, every: int) -> None:
        """Time the stages on one tick in ``every`` (1: every tick)."""
        if every < 1:
            raise ValueError(f"sample_every must be at least 1, got {every}")
        self.every = every
        self.skip = self._next_skip()

    def _next_skip(self) -> int:
        if self.every == 1:
            return 0
        self._rng = (self._rng * _LCG_MUL + _LCG_ADD) & _LCG_MASK
        return self._rng % (2 * self.every - 1)

    def sample(self, *marks: int) -> None:
        """The sampled tick's marks: before the first stage, then after each."""
        self.pack(self.raw, self.m * self.stride, *marks)
        self.m += 1
        self.skip = self._next_skip()

    def flush(self) -> None:
        n, m = self.n, self.m
        if m:
            marks = np.frombuffer(self.raw, np.int64, m * self.marks).reshape(m, self.marks)
            spans = np.diff(marks, axis=1)
            for k, h in enumerate(self.stage_hists):
                h.record_many(spans[:, k])
            self.m = 0
        if n:
            total = np.frombuffer(self.totals, np.int64, n)
            self.total_hist.record_many(total)
            misses = int(np.count_nonzero(total > self.deadline_ns))
            self.n = 0
            if misses:
                self.deadline_misses += misses
                if self._misses_index >= 0:
                    self.stats.incr(self._misses_index, misses)
