"""Per-process stats blocks: latency histograms, counters and gauges in shared memory.

One writer per block (the process it belongs to); readers copy it at any time
without stopping the writer. Histograms use fixed log-linear buckets over
integer nanoseconds (``shm.buckets``, compiled): values below 64 ns have a bucket
each; above, every power of two is split into 32 buckets, so a bucket is at most
1/32 of its value wide and its midpoint is within 1.6% of anything in it (100 ns
to 100 ms and far beyond). Hot loops record timings into a local array and flush
them with ``Histogram.record_many``; one ``record`` per value is there for slow
paths.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from quotepipe.shm.buckets import HIST_WORDS, LINEAR, N_BUCKETS, SUB, bucket_of, record_into
from quotepipe.shm.segment import Segment, SegmentSet, align


def bucket_bounds() -> tuple[np.ndarray, np.ndarray]:
    """Lower (inclusive) and upper (exclusive) value of every bucket, in ns."""
    b = np.arange(N_BUCKETS, dtype=np.int64)
    e = np.maximum(b // SUB - 1, 0)
    mant = np.where(b < LINEAR, b, b - e * SUB)
    lower = np.where(b < LINEAR, b, mant << e)
    upper = np.where(b < LINEAR, b + 1, (mant + 1) << e)
    return lower.astype(np.float64), upper.astype(np.float64)


_LOWER, _UPPER = bucket_bounds()
_MID = np.where(_UPPER - _LOWER <= 1, _LOWER, (_LOWER + _UPPER) / 2)


def percentile_from_counts(counts: np.ndarray, q: float) -> float:
    """Value (ns) at percentile ``q`` (0-100) of a bucket-count vector; nan when empty."""
    total = int(counts.sum())
    if total == 0:
        return float("nan")
    rank = max(1, int(np.ceil(q / 100.0 * total)))
    b = int(np.searchsorted(np.cumsum(counts), rank))
    return float(_MID[b])


class Histogram:
    """A view of one histogram inside a stats block."""

    def __init__(self, words: memoryview, array: np.ndarray, word_offset: int) -> None:
        self._q = words
        self._count = word_offset
        self._sum = word_offset + 1
        self._b0 = word_offset + 2
        self._array = array[word_offset:word_offset + HIST_WORDS]

    def record(self, ns: int) -> None:
        q = self._q
        q[self._b0 + bucket_of(ns)] += 1
        q[self._count] += 1
        q[self._sum] += ns if ns > 0 else 0

    def record_many(self, ns: np.ndarray) -> None:
        """Add a batch of values in one compiled loop (``buckets.record_into``): for flushing
        hot-loop timings."""
        record_into(self._array, np.asarray(ns, dtype=np.int64))

    @property
    def words(self) -> np.ndarray:
        """The histogram's words (count, sum_ns, buckets) as a uint64 view, for compiled writers."""
        return self._array

    def counts(self) -> np.ndarray:
        return self._array[2:].copy()

    @property
    def count(self) -> int:
        return self._q[self._count]

    @property
    def sum_ns(self) -> int:
        return self._q[self._sum]

    def percentile(self, q: float) -> float:
        return percentile_from_counts(self.counts(), q)


class _PrivateBody:
    """Stands in for a segment: just a zeroed body."""

    def __init__(self, size: int) -> None:
        self.body = memoryview(bytearray(size))


class StatsSchema:
    """Names of a block's histograms, counters and gauges; part of the layout hash."""

    def __init__(self, histograms: Sequence[str] = (), counters: Sequence[str] = (),
                 gauges: Sequence[str] = ()) -> None:
        self.histograms = tuple(histograms)
        self.counters = tuple(counters)
        self.gauges = tuple(gauges)

    def describe(self) -> str:
        return (f"stats:v1:{N_BUCKETS}:h={','.join(self.histograms)}:c={','.join(self.counters)}"
                f":g={','.join(self.gauges)}")

    @property
    def words(self) -> int:
        return (align(8 * len(self.counters)) + align(8 * len(self.gauges))
                + len(self.histograms) * align(8 * HIST_WORDS)) // 8


class StatsBlock:
    """One process's stats. ``counter``/``gauge``/``hist`` hand out cheap views."""

    def __init__(self, segment: Segment | _PrivateBody, schema: StatsSchema) -> None:
        self.segment = segment
        self.schema = schema
        self._q = segment.body.cast("Q")
        self._d = segment.body.cast("d")
        self._array = np.frombuffer(segment.body, np.uint64, schema.words)
        self._counter_at = {n: i for i, n in enumerate(schema.counters)}
        g0 = align(8 * len(schema.counters)) // 8
        self._gauge_at = {n: g0 + i for i, n in enumerate(schema.gauges)}
        h0 = g0 + align(8 * len(schema.gauges)) // 8
        hstride = align(8 * HIST_WORDS) // 8
        self.histograms = {n: Histogram(self._q, self._array, h0 + i * hstride)
                           for i, n in enumerate(schema.histograms)}

    @classmethod
    def create(cls, segments: SegmentSet, name: str, schema: StatsSchema) -> StatsBlock:
        return cls(segments.create(name, 8 * schema.words, schema.describe()), schema)

    @classmethod
    def attach(cls, name: str, schema: StatsSchema, writable: bool = True) -> StatsBlock:
        return cls(Segment.attach(name, schema.describe(), writable), schema)

    @classmethod
    def local(cls, schema: StatsSchema) -> StatsBlock:
        """The same block in private memory: for one-process runs (replay, benchmarks)."""
        return cls(_PrivateBody(8 * schema.words), schema)

    # -- writer side
    def counter_index(self, name: str) -> int:
        return self._counter_at[name]

    def incr(self, index: int, n: int = 1) -> None:
        self._q[index] += n

    def add(self, name: str, n: int = 1) -> None:
        self._q[self._counter_at[name]] += n

    def set_gauge(self, name: str, value: float) -> None:
        self._d[self._gauge_at[name]] = value

    def hist(self, name: str) -> Histogram:
        return self.histograms[name]

    # -- reader side
    def counter(self, name: str) -> int:
        return self._q[self._counter_at[name]]

    def gauge(self, name: str) -> float:
        return self._d[self._gauge_at[name]]

    def copy(self) -> dict:
        """A consistent-enough copy: counters, gauges, and per-histogram counts."""
        arr = self._array.copy()
        out: dict = {
            "counters": {n: int(arr[i]) for n, i in self._counter_at.items()},
            "gauges": {n: float(arr[i:i + 1].view(np.float64)[0]) for n, i in self._gauge_at.items()},
            "histograms": {},
        }
        for name, h in self.histograms.items():
            counts = arr[h._b0:h._b0 + N_BUCKETS]
            out["histograms"][name] = {
                "count": int(counts.sum()), "sum_ns": int(arr[h._sum]), "counts": counts}
        return out

    def summary(self, qs: Sequence[float] = (50, 95, 99)) -> dict[str, dict[str, float]]:
        """Percentiles (µs) of every histogram from one copy."""
        snap = self.copy()
        out = {}
        for name, h in snap["histograms"].items():
            out[name] = {f"p{q:g}_us": percentile_from_counts(h["counts"], q) / 1000.0 for q in qs}
            out[name]["count"] = h["count"]
        return out


class CounterTotals:
    """Publishes a process's running totals into its block's counters.

    Adds only what each total grew by since the last publication, so the block
    also keeps what a predecessor (the same role before a restart) counted.
    """

    def __init__(self, stats: StatsBlock) -> None:
        self.stats = stats
        self._published: dict[str, int] = {}

    def publish_all(self, totals: dict[str, int]) -> None:
        for name, total in totals.items():
            self.publish(name, total)

    def publish(self, name: str, total: int) -> None:
        delta = total - self._published.get(name, 0)
        if delta:
            self.stats.add(name, delta)
            self._published[name] = total
