"""The segments of one quotepipe instance: names, record layouts and capacities.

The supervisor creates them all with ``create_instance_segments``; every other
process attaches by the same names through the helpers here, so a reader finds
the whole shared-memory map of an instance in this one file.
"""

from __future__ import annotations

from quotepipe.config import Config
from quotepipe.domain.guards import Guard, Reason
from quotepipe.domain.orders import Action
from quotepipe.domain.shards import ShardMap
from quotepipe.domain.stages import TIMED
from quotepipe.shm.blob import Blob
from quotepipe.shm.config_block import ConfigBlock
from quotepipe.shm.control import ControlBlock
from quotepipe.shm.counts import InstrumentCounts
from quotepipe.shm.fits import FitTable
from quotepipe.shm.ring import RingLayout, RingReader, RingWriter
from quotepipe.shm.risk import RiskTable
from quotepipe.shm.scores import ScoreTable
from quotepipe.shm.segment import Segment, SegmentSet, segment_name
from quotepipe.shm.snapshots import SnapshotTable
from quotepipe.shm.stats import StatsBlock, StatsSchema
from quotepipe.shm.venue_table import VenueTable
from quotepipe.shm.weights import WeightsArray

#: md -> worker shard: "instrument slot's snapshot changed"
MD_RING = RingLayout("md", [("slot", "q"), ("md_seq", "Q"), ("publish_ns", "q"), ("recv_ns", "q")])
MD_RING_CAPACITY = 1 << 14

#: md -> venue, scoreboard: every trade
TRADE_RING = RingLayout("trades", [("slot", "q"), ("price", "d"), ("qty", "d"), ("side", "q"),
                                   ("trade_ns", "q"), ("recv_ns", "q")])
TRADE_RING_CAPACITY = 1 << 14

#: worker shard -> venue: one intent that acts (NEW, REPLACE or CANCEL on a side). ``actions``
#: packs bid action | ask action << 8 | guard << 16 (see ``workers.dto``)
INTENT_RING = RingLayout("intents", [("slot", "q"), ("t_ns", "q"), ("actions", "q"), ("bid_px", "d"),
                                     ("bid_qty", "d"), ("ask_px", "d"), ("ask_qty", "d")])
INTENT_RING_CAPACITY = 1 << 14

#: venue -> scoreboard: fills (kind 1) and ended orders (kind 2; price = quoted, qty = filled,
#: queue_edge how far up its queue it came)
VENUE_EVENT_FILL, VENUE_EVENT_ORDER_END = 1, 2
VENUE_EVENT_RING = RingLayout("venue_events", [
    ("kind", "q"), ("slot", "q"), ("side", "q"), ("price", "d"), ("qty", "d"), ("t_ns", "q"),
    ("fee_bps", "d"), ("mid", "d"), ("target_px", "d"), ("queue_edge", "d"), ("order_id", "q")])
VENUE_EVENT_RING_CAPACITY = 1 << 14

#: the scoreboard's checkpoint (``scoreboard.checkpoint``): what it learned, for its own restart
SCOREBOARD_STATE = "scoreboard.state"
SCOREBOARD_STATE_CAPACITY = 1 << 22
SCOREBOARD_STATE_LAYOUT = f"scoreboard-state:v2:msgpack:{SCOREBOARD_STATE_CAPACITY}"

#: the outcome of the last SIGHUP (``daemon.supervisor.ReloadOutcome`` as JSON); tag = reloads handled
RELOAD = "reload"
RELOAD_CAPACITY = 1 << 16
RELOAD_LAYOUT = f"reload:v1:json:{RELOAD_CAPACITY}"

#: process-table slots: fixed for the singletons, then one per worker shard
SLOT_SUPERVISOR, SLOT_MD, SLOT_VENUE, SLOT_SCOREBOARD = 0, 1, 2, 3


def worker_slot(shard: int) -> int:
    return 4 + shard


#: what every child's block has (``runtime.child.ChildProcess`` writes them)
CHILD_COUNTERS = ("stalls",)
CHILD_GAUGES = ("loop_gap_max_ms",)

#: the fields of a quote intent (``workers.dto.QuoteIntent``, a test holds them equal): shadow
#: mismatches are counted per field
INTENT_FIELDS = ("slot", "t_ns", "bid_action", "bid_px", "bid_qty", "ask_action", "ask_px", "ask_qty",
                 "weight", "guard", "reasons", "fair")

#: a worker's stats block (replay keeps a private one of the same schema)
WORKER_STATS = StatsSchema(
    histograms=(*TIMED, "md_to_intent", "md_to_tick"),
    counters=("ticks", "timer_ticks", "intents", "coalesced", "deadline_misses", "shadow_mismatches",
              "arrival_fits", "ring_lost", "seqlock_give_ups", *(f"shadow_{f}" for f in INTENT_FIELDS),
              *(f"action_{a.name.lower()}" for a in Action if a != Action.NONE),
              *(f"guard_{g.name.lower()}" for g in Guard), *(f"reason_{n}" for n in Reason.NAMES),
              *CHILD_COUNTERS),
    gauges=("epoch", "mode", *CHILD_GAUGES),
)

VENUE_STATS = StatsSchema(
    counters=("intents", "book_updates", "trades", "fills", "order_ends", "rejects", "stop_cancels",
              "cancel_requests", "silence_cancels", "ring_lost", "seqlock_give_ups", *CHILD_COUNTERS),
    gauges=("open_orders", *CHILD_GAUGES),
)

SCOREBOARD_STATS = StatsSchema(
    counters=("fills", "order_ends", "mids", "trades", "fits", "allocations", "weight_publications",
              "checkpoints", "checkpoint_skips", "ring_lost", "seqlock_give_ups", *CHILD_COUNTERS),
    gauges=("event_time_s", *CHILD_GAUGES),
)

#: the supervisor's own: its stalls (loop gaps judged as its own, not the children's), the
#: children it killed as silent, and SIGHUP reloads by result
SUPERVISOR_STATS = StatsSchema(counters=("stalls", "silent_kills", "reloads_ok", "reloads_refused",
                                         "reloads_unchanged"), gauges=("loop_gap_max_ms",))

#: the live feed's counters (``marketdata.live``)
LIVE_FEED_COUNTERS = ("ws_connects", "ws_reconnects", "ws_planned_reconnects", "ws_frames",
                      "ws_unknown_frames", "snapshot_requests", "snapshot_errors", "ws_resyncs")

MD_STATS = StatsSchema(
    histograms=("recv_to_publish", "exch_to_recv"),
    counters=("book_ticker", "depth", "trade", "snapshot", "malformed", "unknown_instrument",
              "resyncs", "crossed", "off_tick", "published", "depth_writes", *LIVE_FEED_COUNTERS,
              *CHILD_COUNTERS),
    gauges=("feed_done", "event_lag_ms", *CHILD_GAUGES),
)


def md_ring_name(shard: int) -> str:
    return f"ring.md.{shard}"


def intent_ring_name(shard: int) -> str:
    return f"ring.intents.{shard}"


def worker_stats_name(shard: int) -> str:
    return f"stats.worker.{shard}"


def create_instance_segments(cfg: Config, segs: SegmentSet) -> None:
    """Create every segment of ``cfg``'s instance (after ``segs.claim()``)."""
    n = len(cfg.instruments)
    ControlBlock.create(segs, cfg.workers.count)
    ConfigBlock.create(segs).write(cfg, 1, ShardMap.of(cfg))  # the one place the map is computed
    SnapshotTable.create(segs, n)
    WeightsArray.create(segs, n)
    VenueTable.create(segs, n)
    ScoreTable.create(segs, n)
    FitTable.create(segs, n)
    InstrumentCounts.create(segs, n)
    RiskTable.create(segs, 1)
    segs.create(SCOREBOARD_STATE, Blob.size(SCOREBOARD_STATE_CAPACITY), SCOREBOARD_STATE_LAYOUT)
    segs.create(RELOAD, Blob.size(RELOAD_CAPACITY), RELOAD_LAYOUT)
    for shard in range(cfg.workers.count):
        RingWriter.create(segs, md_ring_name(shard), MD_RING, MD_RING_CAPACITY)
        RingWriter.create(segs, intent_ring_name(shard), INTENT_RING, INTENT_RING_CAPACITY)
        StatsBlock.create(segs, worker_stats_name(shard), WORKER_STATS)
    RingWriter.create(segs, "ring.trades", TRADE_RING, TRADE_RING_CAPACITY)
    RingWriter.create(segs, "ring.venue_events", VENUE_EVENT_RING, VENUE_EVENT_RING_CAPACITY)
    StatsBlock.create(segs, "stats.md", MD_STATS)
    StatsBlock.create(segs, "stats.venue", VENUE_STATS)
    StatsBlock.create(segs, "stats.scoreboard", SCOREBOARD_STATS)
    StatsBlock.create(segs, "stats.supervisor", SUPERVISOR_STATS)


class Attached:
    """Attach helpers for a process of ``cfg``'s running instance.

    ``shards`` is the shard map the supervisor published in the config block.
    """

    def __init__(self, cfg: Config, shards: ShardMap | None = None) -> None:
        self.cfg = cfg
        self.instance = cfg.instance.name
        self.n = len(cfg.instruments)
        self.shards = shards if shards is not None else self.config_block().read()[2]

    @classmethod
    def from_config_block(cls, instance: str) -> Attached:
        """Attach to a running instance knowing only its name: the config comes from its block."""
        _, cfg, shards = ConfigBlock.attach(segment_name(instance, "config")).read()
        return cls(cfg, shards)

    def config_block(self, writable: bool = False) -> ConfigBlock:
        return ConfigBlock.attach(self.name("config"), writable)

    def venue_table(self, writable: bool = False) -> VenueTable:
        return VenueTable.attach(self.name(VenueTable.SEGMENT), self.n, writable)

    def scores(self, writable: bool = False) -> ScoreTable:
        return ScoreTable.attach(self.name(ScoreTable.SEGMENT), self.n, writable)

    def fits(self, writable: bool = False) -> FitTable:
        return FitTable.attach(self.name(FitTable.SEGMENT), self.n, writable)

    def scoreboard_state(self, writable: bool = False) -> Blob:
        return Blob(Segment.attach(self.name(SCOREBOARD_STATE), SCOREBOARD_STATE_LAYOUT, writable),
                    SCOREBOARD_STATE_CAPACITY)

    def reload_outcomes(self, writable: bool = False) -> Blob:
        return Blob(Segment.attach(self.name(RELOAD), RELOAD_LAYOUT, writable), RELOAD_CAPACITY)

    def risk(self, writable: bool = False) -> RiskTable:
        return RiskTable.attach(self.name(RiskTable.SEGMENT), 1, writable)

    def counts(self, writable: bool = False) -> InstrumentCounts:
        return InstrumentCounts.attach(self.name("counts"), self.n, writable)

    def intent_ring_writer(self, shard: int) -> RingWriter:
        return RingWriter.attach(self.name(intent_ring_name(shard)), INTENT_RING, INTENT_RING_CAPACITY)

    def intent_ring_reader(self, shard: int) -> RingReader:
        return RingReader.attach(self.name(intent_ring_name(shard)), INTENT_RING, INTENT_RING_CAPACITY)

    def venue_event_writer(self) -> RingWriter:
        return RingWriter.attach(self.name("ring.venue_events"), VENUE_EVENT_RING,
                                 VENUE_EVENT_RING_CAPACITY)

    def venue_event_reader(self, from_start: bool = False) -> RingReader:
        return RingReader.attach(self.name("ring.venue_events"), VENUE_EVENT_RING,
                                 VENUE_EVENT_RING_CAPACITY, from_start)

    def name(self, segment: str) -> str:
        return segment_name(self.instance, segment)

    def control(self, writable: bool = True) -> ControlBlock:
        return ControlBlock.attach(self.name("control"), writable)

    def snapshots(self, writable: bool = False) -> SnapshotTable:
        return SnapshotTable.attach(self.name(SnapshotTable.SEGMENT), self.n, writable)

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
