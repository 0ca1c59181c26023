"""The bare shared-memory hand-off at market-data rates: one writer process stamps and writes
records into a ring at a fixed rate, one reader process spins on it, each pinned to its own
core, and the reader records ``monotonic_ns()`` minus the stamp.

    python benchmarks/bench_handoff.py [--json PATH] [--records 20000] [--gaps-us 50 200 1000]

This is the floor under the daemon's md-to-tick, without books, chain or venue. At each
gap between records it runs twice, alternating: ``plain`` (the writer spins on the clock
between records) and ``warm`` (it also writes a record into a second ring every 50 µs,
keeping its write path in cache). On this shared 2-core host the hand-off slows as the
rate falls; keeping the path warm recovers much of it. Reported: p50, p90, p99, p99.9 in
µs per gap and mode.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from typing import Any

import numpy as np

from quotepipe.shm.ring import RingLayout, RingReader, RingWriter
from quotepipe.shm.segment import SegmentSet, segment_name

from _common import emit, parser, shm_stress

LAYOUT = RingLayout("handoff", [("slot", "q"), ("n", "Q"), ("stamp_ns", "q"), ("spare", "q")])
CAPACITY = 4096
WARM_NS = 50_000
QS = (50, 90, 99, 99.9)


def _writer(name: str, spare: str, records: int, gap_ns: int, warm: bool, cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    ring = RingWriter.attach(name, LAYOUT, CAPACITY)
    aside = RingWriter.attach(spare, LAYOUT, CAPACITY)
    clock = time.monotonic_ns
    time.sleep(0.3)  # the reader is spinning by now
    due = last_warm = clock()
    for n in range(records):
        due += gap_ns
        while (now := clock()) < due:
            if warm and now - last_warm >= WARM_NS:
                aside.write(0, n, now, 0)
                last_warm = now
        ring.write(0, n, clock(), 0)


def _reader(name: str, records: int, cpu: int | None, out: Any) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    ring = RingReader.attach(name, LAYOUT, CAPACITY)
    ring.next = 1
    poll, clock = ring.poll, time.monotonic_ns
    lags = np.empty(records, dtype=np.int64)
    n = 0
    while n < records:
        rec = poll()
        if rec is not None:
            lags[n] = clock() - rec[2]
            n += 1
    out.put([float(np.percentile(lags, q)) / 1000 for q in QS])


def handoff(records: int, gap_us: int, warm: bool) -> list[float]:
    instance = f"handoff{os.getpid()}{int(warm)}{gap_us}"
    reader_cpu, writer_cpu = shm_stress().two_cores()
    ctx = mp.get_context("spawn")
    with SegmentSet(instance) as segs:
        segs.claim()
        RingWriter.create(segs, "ring.a", LAYOUT, CAPACITY)
        RingWriter.create(segs, "ring.b", LAYOUT, CAPACITY)
        out = ctx.Queue()
        name = segment_name(instance, "ring.a")
        reader = ctx.Process(target=_reader, args=(name, records, reader_cpu, out))
        reader.start()
        writer = ctx.Process(target=_writer, args=(name, segment_name(instance, "ring.b"), records,
                                                   gap_us * 1000, warm, writer_cpu))
        writer.start()
        got = out.get(timeout=600)
        writer.join()
        reader.join()
        return got


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=20_000)
    p.add_argument("--gaps-us", type=int, nargs="+", default=[50, 200, 1000])
    args = p.parse_args()
    figures: dict[str, Any] = {"records": args.records, "quantiles": list(QS), "gaps": {}}
    lines = [f"ring hand-off, {args.records:,} records per run, writer and reader pinned apart "
             f"(p50 / p90 / p99 / p99.9 us)"]
    for gap in args.gaps_us:
        row = {mode: handoff(args.records, gap, mode == "warm") for mode in ("plain", "warm")}
        figures["gaps"][str(gap)] = row
        lines.append(f"every {gap:>5} us: plain " + " / ".join(f"{v:.1f}" for v in row["plain"])
                     + "   warm " + " / ".join(f"{v:.1f}" for v in row["warm"]))
    emit(figures, args.json, lines)


if __name__ == "__main__":
    main()
