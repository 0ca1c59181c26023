"""The market-data process's publish loop on the shared recordings, on one core: every
event into the books, its snapshot into a real shared-memory table, its announcement onto
a real ring (trades onto the trades ring), as the md process runs it.

    python benchmarks/bench_md_publish.py [--json PATH] [--repeat 5]

The events are decoded into memory first (decoding is bench_md's), so this times only the
per-update work. Two loops, alternating, in one run:

- ``publisher``: ``marketdata.publisher.Publisher.publish``, what the md process calls;
- ``full_record``: the loop the md process ran before it (every update rebuilds the ten
  levels per side and writes the whole 34-field record), on this tree's books. Run with
  ``PYTHONPATH=<older tree>/src`` it is that tree's md loop as it was: the reference across
  commits (``benchmarks/ab_commits.py``).

A third pass times the books alone (``BookSet.apply``). Reported: events/s, median and
spread over the repeats.
"""

from __future__ import annotations

import time
import uuid

from quotepipe.config import Config, parse_config
from quotepipe.marketdata.feed import Feed
from quotepipe.marketdata.messages import TradeEvent
from quotepipe.runtime.cpu import host_cpus, pin
from quotepipe.shm.catalog import Attached, create_instance_segments
from quotepipe.shm.segment import SegmentSet

from _common import books_of, data_files, emit, parser, show, spread


def books_pass(cfg: Config, events: list) -> float:
    """The books alone: ``BookSet.apply`` on every event."""
    apply = books_of(cfg).apply
    t0 = time.perf_counter()
    for ev in events:
        apply(ev)
    return len(events) / (time.perf_counter() - t0)


def full_record_pass(cfg: Config, shm: Attached, events: list) -> float:
    """The md loop before ``Publisher``: every snapshot written whole."""
    books = books_of(cfg)
    table_write = shm.snapshots(writable=True).table.write
    rings = [shm.md_ring_writer(s) for s in range(shm.shards.count)]
    ring_of = [rings[shard] for shard in shm.shards.shard]
    trades_write = shm.trade_ring_writer().write
    clock = time.monotonic_ns
    t0 = time.perf_counter()
    for ev in events:
        i = books.apply(ev)
        if i < 0:
            continue
        levels = books.books[i].levels()
        publish_ns = clock()
        table_write(i, *books.l1_record(i, publish_ns), *levels)
        ring_of[i].write(i, books.md_seq[i], publish_ns, ev.recv_ns)
        if type(ev) is TradeEvent:
            trades_write(i, ev.price, ev.qty, ev.side, ev.trade_ns, ev.recv_ns)
    return len(events) / (time.perf_counter() - t0)


def publisher_pass(cfg: Config, shm: Attached, events: list) -> float | None:
    try:
        from quotepipe.marketdata.publisher import Publisher
    except ImportError:  # a tree from before it
        return None
    rings = [shm.md_ring_writer(s) for s in range(shm.shards.count)]
    pub = Publisher(books_of(cfg), shm.snapshots(writable=True), [rings[s] for s in shm.shards.shard],
                    shm.trade_ring_writer())
    publish = pub.publish
    t0 = time.perf_counter()
    for ev in events:
        publish(ev)
    return len(events) / (time.perf_counter() - t0)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5, help="passes of each loop, alternating")
    args = p.parse_args()
    pin(host_cpus()[-1])
    cfg = parse_config(f"instance: {{name: benchpub{uuid.uuid4().hex[:6]}}}\n")
    events = list(Feed(cfg, [str(f) for f in data_files()]).events())
    full: list[float] = []
    ours: list[float] = []
    books: list[float] = []
    with SegmentSet(cfg.instance.name) as segs:
        segs.claim()
        create_instance_segments(cfg, segs)
        shm = Attached(cfg)
        for _ in range(args.repeat):
            books.append(books_pass(cfg, events))
            full.append(full_record_pass(cfg, shm, events))
            r = publisher_pass(cfg, shm, events)
            if r is not None:
                ours.append(r)
    figures: dict = {"events": len(events), "full_record_events_per_s": spread(full),
                     "books_events_per_s": spread(books)}
    lines = [f"{len(events):,} events (decoded beforehand), books + snapshot table + rings",
             f"books alone (BookSet.apply): {show(spread(books), 1e3, ' k/s')}",
             f"full record every update: {show(spread(full), 1e3, ' k/s')}"]
    if ours:
        figures["publisher_events_per_s"] = spread(ours)
        figures["ratio"] = spread([a / b for a, b in zip(ours, full, strict=True)])
        lines += [f"publisher (this tree)   : {show(spread(ours), 1e3, ' k/s')}",
                  f"ratio, per pair of passes: {show(figures['ratio'])}"]
    emit(figures, args.json, lines)


if __name__ == "__main__":
    main()
