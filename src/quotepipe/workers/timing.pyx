# cython: language_level=3
"""Stage latency capture for the hot loop: every tick's total, the stages on a sample.

Every tick stores one number, its total (``perf_counter_ns`` after the last stage
minus before the first), in a preallocated ``array('q')``; the deadline is checked
on those totals when the buffer is flushed. One tick in ``every`` on average
(``stage_budgets.sample_every``) also takes a mark between stages and packs the
seven marks into a second buffer: five clock reads fewer on the other ticks. The sampled tick is chosen by a jittered
countdown (uniform on ``0 .. 2 * every - 2`` ticks), so a period in the workload
cannot line up with the sampling. A full buffer is flushed in one C loop (it had
been a dozen numpy passes for each of seven histograms: 350 µs a flush, 85 ns a tick);
``flush`` runs before the deadline changes, so each tick meets the deadline it ran
under.

What sampling costs in accuracy: a stage's percentile ``p`` estimated from ``m``
sampled ticks sits at a true rank within ``p ± 1.96 * sqrt(p * (1 - p) / m)`` (95%);
``rank_error`` gives it, and the histograms' counts are the ``m``.

Compiled, with a C interface (``timing.pxd``) for the compiled runner: a tick's
record (its total, and on a sampled tick its marks and the next countdown) is one
C call there, where it had been a Python call on every sampled tick and four
attribute reads and writes on every tick. The frozen legacy runner records
through the same public ``totals`` and ``n`` as before.
"""


import math
from array import array

from quotepipe.domain.stages import STAGES

from quotepipe.shm.buckets cimport count

BUFFER = 4096  #: ticks buffered between flushes
# the sampling countdown's jitter: a 31-bit linear congruential generator
cdef unsigned long long LCG_MUL = 1103515245, LCG_ADD = 12345, LCG_MASK = 0x7FFFFFFF


def rank_error(p, samples):
    """Half-width, in quantile units, of the 95% interval of a percentile ``p`` (0-1)
    estimated from ``samples`` values."""
    return 1.96 * math.sqrt(p * (1.0 - p) / samples) if samples else 1.0


cdef class StageTimes:
    """Totals of every tick into ``stats``' histogram ``total``; when ``stages`` are named,
    the spans between consecutive marks of the sampled ticks into theirs.

    A compiled caller records a tick with ``record`` (``timing.pxd``): a sampled tick is one
    with ``skip == 0``. Python records inline: ``times.totals[times.n] = end - start``,
    ``times.n += 1``, on a sampled tick also ``times.sample(*marks)``; and, either way,
    ``times.flush()`` once ``times.n == BUFFER``.
    """

    def __init__(self, stats, stages=STAGES, total="tick_total", deadline_ns=0, every=1):
        self.stats = stats
        self.total_hist = stats.hist(total)
        self.stage_hists = [stats.hist(n) for n in stages]
        self.marks = len(stages) + 1
        self.raw = array("q", bytes(8 * self.marks * BUFFER if stages else 8))
        self._raw = self.raw
        self.totals = array("q", bytes(8 * BUFFER))
        self._totals = self.totals
        self.n = 0
        self.m = 0
        self.every = 1
        self.skip = 0
        self._rng = 0x2545F491
        self.set_every(every if stages else 1)
        self.deadline_ns = deadline_ns
        self.deadline_misses = 0
        self._misses_index = (stats.counter_index("deadline_misses")
                              if "deadline_misses" in stats.schema.counters else -1)

    def set_every(self, Py_ssize_t every):
        """Time the stages on one tick in ``every`` (1: every tick)."""
        if every < 1:
            raise ValueError(f"sample_every must be at least 1, got {every}")
        self.every = every
        self.skip = self._next_skip()

    cdef Py_ssize_t _next_skip(self) noexcept:
        if self.every == 1:
            return 0
        self._rng = (self._rng * LCG_MUL + LCG_ADD) & LCG_MASK
        return <Py_ssize_t>(self._rng % <unsigned long long>(2 * self.every - 1))

    cdef void record(self, const long long *marks, bint sampled) noexcept:
        """One tick: its total (last mark minus first), and when ``sampled`` all its marks.
        The caller flushes once ``n`` reaches ``BUFFER``."""
        self._totals[self.n] = marks[self.marks - 1] - marks[0]
        self.n += 1
        if sampled:
            self._keep(marks)
        else:
            self.skip -= 1

    cdef void _keep(self, const long long *marks) noexcept:
        """A sampled tick's marks into ``raw``, and the countdown to the next one."""
        cdef Py_ssize_t k, base = self.m * self.marks
        for k in range(self.marks):
            self._raw[base + k] = marks[k]
        self.m += 1
        self.skip = self._next_skip()

    def sample(self, *marks):
        """The sampled tick's marks: before the first stage, then after each."""
        if len(marks) != self.marks:
            raise ValueError(f"a sampled tick takes {self.marks} marks, got {len(marks)}")
        cdef long long[::1] held = array("q", marks)
        self._keep(&held[0])

    def flush(self):
        """The buffered ticks into the histograms, one C loop over them (``shm.buckets``): the
        stages' spans straight from the sampled marks, every total checked on the deadline."""
        cdef Py_ssize_t n = self.n, m = self.m, i, k, base
        cdef unsigned long long[::1] words
        cdef long long total, deadline = self.deadline_ns, misses = 0
        if m:
            for k in range(self.marks - 1):
                words = self.stage_hists[k].words
                for i in range(m):
                    base = i * self.marks + k
                    count(&words[0], self._raw[base + 1] - self._raw[base])
            self.m = 0
        if n:
            words = self.total_hist.words
            for i in range(n):
                total = self._totals[i]
                count(&words[0], total)
                misses += total > deadline
            self.n = 0
            if misses:
                self.deadline_misses += misses
                if self._misses_index >= 0:
                    self.stats.incr(self._misses_index, misses)
