"""The segments of one quotepipe instance: names, record layouts and capacities.

The supervisor creates them all with ``create_instance_segments``; every other
process attaches by the same names through the helpers here, so a reader finds
the whole shared-memory map of an instance in this one file.
"""

from __future__ import annotations

from quotepipe.config import Config
from quotepipe.shm.control import ControlBlock
from quotepipe.shm.ring import RingLayout, RingReader, RingWriter
from quotepipe.shm.segment import SegmentSet, segment_name
from quotepipe.shm.snapshots import SnapshotTable
from quotepipe.shm.stats import StatsBlock, StatsSchema
from quotepipe.shm.weights import WeightsArray

#: md -> worker shard: "instrument slot's snapshot changed"
MD_RING = RingLayout("md", [("slot", "q"), ("md_seq", "Q"), ("publish_ns", "q"), ("recv_ns", "q")])
MD_RING_CAPACITY = 1 << 14

#: md -> venue, scoreboard: every trade
TRADE_RING = RingLayout("trades", [("slot", "q"), ("price", "d"), ("qty", "d"), ("side", "q"),
                                   ("trade_ns", "q"), ("recv_ns", "q")])
TRADE_RING_CAPACITY = 1 << 14

MD_STATS = StatsSchema(
    histograms=("publish",),
    counters=("book_ticker", "depth", "trade", "snapshot", "malformed", "unknown_instrument",
              "resyncs", "crossed", "published"),
    gauges=("feed_done", "event_lag_ms"),
)


def md_ring_name(shard: int) -> str:
    return f"ring.md.{shard}"


def create_instance_segments(cfg: Config, segs: SegmentSet) -> None:
    """Create every segment of ``cfg``'s instance (after ``segs.claim()``)."""
    n = len(cfg.instruments)
    ControlBlock.create(segs, cfg.workers.count)
    SnapshotTable.create(segs, n)
    WeightsArray.create(segs, n)
    for shard in range(cfg.workers.count):
        RingWriter.create(segs, md_ring_name(shard), MD_RING, MD_RING_CAPACITY)
    RingWriter.create(segs, "ring.trades", TRADE_RING, TRADE_RING_CAPACITY)
    StatsBlock.create(segs, "stats.md", MD_STATS)


class Attached:
    """Attach helpers for a child process of ``cfg``'s instance."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.instance = cfg.instance.name
        self.n = len(cfg.instruments)

    def name(self, segment: str) -> str:
        return segment_name(self.instance, segment)

    def control(self, writable: bool = True) -> ControlBlock:
        return ControlBlock.attach(self.name("control"), writable)

    def snapshots(self, writable: bool = False) -> SnapshotTable:
        return SnapshotTable.attach(self.name("snapshots"), self.n, writable)

    def weights(self, writable: bool = False) -> WeightsArray:
        return WeightsArray.attach(self.name("weights"), self.n, writable)

    def md_ring_writer(self, shard: int) -> RingWriter:
        return RingWriter.attach(self.name(md_ring_name(shard)), MD_RING, MD_RING_CAPACITY)

    def md_ring_reader(self, shard: int) -> RingReader:
        return RingReader.attach(self.name(md_ring_name(shard)), MD_RING, MD_RING_CAPACITY)

    def trade_ring_writer(self) -> RingWriter:
        return RingWriter.attach(self.name("ring.trades"), TRADE_RING, TRADE_RING_CAPACITY)

    def trade_ring_reader(self) -> RingReader:
        return RingReader.attach(self.name("ring.trades"), TRADE_RING, TRADE_RING_CAPACITY)

    def stats(self, name: str, schema: StatsSchema, writable: bool = True) -> StatsBlock:
        return StatsBlock.attach(self.name(name), schema, writable)
