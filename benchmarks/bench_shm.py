"""Shared-memory transport benchmark: ping-pong against the standard library,
ring throughput, seqlock read cost, and a torn-read stress run.

    python benchmarks/bench_shm.py [--json PATH] [--stress-writes 2000000]
"""

from __future__ import annotations

import time

import numpy as np

from quotepipe.runtime.cpu import pin
from quotepipe.shm.ring import RingLayout, RingReader, RingWriter
from quotepipe.shm.segment import SegmentSet, segment_name
from quotepipe.shm.snapshots import SnapshotTable

from _common import emit, parser, shm_stress, spread

stress = shm_stress()

THROUGHPUT = RingLayout("tp", [("slot", "q"), ("md_seq", "Q"), ("publish_ns", "q")])


def _tp_writer(name: str, capacity: int, count: int, batch: bool, cpu: int | None) -> None:
    pin(cpu)
    ring = RingWriter.attach(name, THROUGHPUT, capacity)
    reader_ready = RingReader.attach(name.replace("tp", "go"), THROUGHPUT, 2, from_start=True)
    while reader_ready.poll() is None:
        pass
    if batch:
        chunk = np.zeros(1024, dtype=THROUGHPUT.payload_dtype)
        chunk["slot"] = np.arange(1024)
        for _ in range(count // 1024):
            # stay a half ring ahead of the reader at most: measure transfer, not loss
            while ring.written() - int(np.frombuffer(ring.segment.body, np.uint64, 1, 64)[0]) > capacity // 2:
                pass
            ring.write_batch(chunk)
    else:
        for n in range(count):
            ring.write(n, n, n)


def ring_throughput(count: int, batch: bool) -> tuple[float, int]:
    """Records/s through one ring, writer and reader each on its own core, counted by the reader."""
    inst = f"bench{time.monotonic_ns() % 10**9}"
    c0, c1 = stress.two_cores()
    capacity = 1 << 16
    with SegmentSet(inst) as segs:
        RingWriter.create(segs, "ring.tp", THROUGHPUT, capacity)
        go = RingWriter.create(segs, "ring.go", THROUGHPUT, 2)
        reader = RingReader.attach(segment_name(inst, "ring.tp"), THROUGHPUT, capacity, from_start=True)
        if batch:
            count -= count % 1024
        p = stress._ctx.Process(target=_tp_writer,
                                args=(segment_name(inst, "ring.tp"), capacity, count, batch, c1))
        p.start()
        pin(c0)
        progress = np.frombuffer(segs.segments["ring.tp"].body, np.uint64, 1, 64)  # spare cursor-line word
        go.write(1, 1, 1)
        received = 0
        t0 = time.perf_counter()
        poll = reader.poll
        while received + reader.lost < count:
            if batch:
                received += len(reader.read_batch(4096))
                progress[0] = reader.next - 1
            elif poll() is not None:
                received += 1
        dt = time.perf_counter() - t0
        p.join()
        stress.pin_all()
        return received / dt, reader.lost


def seqlock_read_ns(n: int = 300_000) -> tuple[float, float, float]:
    """ns per consistent slot copy, per decoded L1 read, and per full decode (uncontended)."""
    with SegmentSet(f"bench{time.monotonic_ns() % 10**9}") as segs:
        table = SnapshotTable.create(segs, 8)
        table.write(3, (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 1, 2, 3, 4, 5, 1, 7, 8), tuple(map(float, range(20))))
        out = []
        for fn in (table.read_bytes, table.read_l1, table.table.read):
            runs = []
            for _ in range(5):
                t0 = time.perf_counter_ns()
                for _ in range(n // 5):
                    fn(3)
                runs.append((time.perf_counter_ns() - t0) / (n // 5))
            out.append(spread(runs)["median"])  # the median of 5 runs, not the best
        return out[0], out[1], out[2]


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--stress-writes", type=int, default=2_000_000)
    p.add_argument("--rounds", type=int, default=20000)
    args = p.parse_args()

    ring = stress.pingpong_ring(args.rounds)
    others = {}
    for kind in stress.PINGPONG_KINDS:
        try:
            others[kind] = stress.pingpong_stdlib(kind, max(2000, args.rounds // 4))
        except ImportError as exc:  # faster-fifo is not a dependency: compared where installed
            print(f"{kind}: skipped ({exc})")
    queue, pipe = others["queue"], others["pipe"]
    tp, tp_lost = ring_throughput(2_000_000, batch=False)
    tpb, tpb_lost = ring_throughput(10_000_000, batch=True)
    copy_ns, l1_ns, full_ns = seqlock_read_ns()
    torn = stress.torn_read_stress(args.stress_writes)

    figures = {
        "pingpong_p50_us": float(np.percentile(ring, 50)) / 1000,
        "pingpong_p99_us": float(np.percentile(ring, 99)) / 1000,
        "mpqueue_pingpong_p50_us": float(np.percentile(queue, 50)) / 1000,
        "pipe_pingpong_p50_us": float(np.percentile(pipe, 50)) / 1000,
        "ring_records_per_s": tp,
        "ring_batch_records_per_s": tpb,
        "seqlock_read_ns": copy_ns,
        "snapshot_l1_decode_read_ns": l1_ns,
        "snapshot_full_decode_read_ns": full_ns,
        "torn_accepted": torn["torn_accepted"],
        "torn_stress": torn,
        "ring_lost": {"record": tp_lost, "batch": tpb_lost},
    }
    for kind, rtt in others.items():
        figures[f"{kind}_pingpong_p50_us"] = float(np.percentile(rtt, 50)) / 1000
        figures[f"{kind}_pingpong_p99_us"] = float(np.percentile(rtt, 99)) / 1000
        figures[f"{kind}_over_ring_p50"] = figures[f"{kind}_pingpong_p50_us"] / figures["pingpong_p50_us"]
    figures["queue_over_ring_p50"] = figures["mpqueue_pingpong_p50_us"] / figures["pingpong_p50_us"]
    figures["pipe_over_ring_p50"] = figures["pipe_pingpong_p50_us"] / figures["pingpong_p50_us"]
    lines = [
        f"ping-pong ring   p50 {figures['pingpong_p50_us']:.2f} us  p99 {figures['pingpong_p99_us']:.2f} us",
        f"ping-pong mp.Queue p50 {figures['mpqueue_pingpong_p50_us']:.1f} us "
        f"({figures['queue_over_ring_p50']:.0f}x the ring)",
        f"ping-pong Pipe   p50 {figures['pipe_pingpong_p50_us']:.1f} us "
        f"({figures['pipe_over_ring_p50']:.0f}x the ring)",
        *(f"ping-pong {kind:<17} p50 {figures[f'{kind}_pingpong_p50_us']:.2f} us  p99 "
          f"{figures[f'{kind}_pingpong_p99_us']:.2f} us ({figures[f'{kind}_over_ring_p50']:.1f}x the ring; "
          f"{'both sides spin' if kind.endswith('_spin') else 'blocking'})" for kind in others),
        f"ring one at a time {tp / 1e6:.2f} M records/s (lost {tp_lost})",
        f"ring numpy batches {tpb / 1e6:.2f} M records/s (lost {tpb_lost})",
        f"seqlock read (consistent slot copy) {copy_ns:.0f} ns; decoded L1 {l1_ns:.0f} ns; "
        f"full decode {full_ns:.0f} ns",
        f"torn-read stress: {torn['written']} writes, {torn['accepted']} reads "
        f"accepted, torn accepted {torn['torn_accepted']}",
    ]
    emit(figures, args.json, lines)


if __name__ == "__main__":
    main()
