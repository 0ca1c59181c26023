"""The market-data process: reads the feed, keeps the books, publishes snapshots.

Pinned to its own core. For every update it writes the instrument's snapshot
into the snapshot table (stamped with receive and publish times) and announces
it on the ring of the worker shard that owns the instrument; trades also go on
the trades ring for the venue and the scoreboard. Replays are paced at the
recorded speed times ``feed.speed`` (0: as fast as possible); the synthetic
feed at its event-time rate times the same factor.
"""

from __future__ import annotations

import logging
import time

from quotepipe.config import Config
from quotepipe.marketdata.book import BookSet
from quotepipe.marketdata.feed import Feed, UnknownInstrument
from quotepipe.marketdata.live import LiveFeed
from quotepipe.marketdata.messages import BookTickerEvent, DepthEvent, SnapshotEvent, TradeEvent
from quotepipe.marketdata.publisher import Publisher
from quotepipe.marketdata.recording import UnusableRecording
from quotepipe.runtime.child import HOUSEKEEPING_NS, ChildProcess
from quotepipe.runtime.cpu import pin
from quotepipe.shm.catalog import LIVE_FEED_COUNTERS, MD_STATS, Attached

log = logging.getLogger(__name__)

SPIN_BELOW_S = 0.0002  # shorter waits spin; longer ones sleep
EXCH_LAG_MAX_NS = 60_000_000_000  # exchange-to-receive lags taken into the histogram


class MarketDataProcess(ChildProcess):
    name = "md"

    def __init__(self, shm: Attached, proc_slot: int, cpu: int | None = None,
                 paths: list[str] | None = None) -> None:
        super().__init__(shm, proc_slot, shm.stats("stats.md", MD_STATS))
        cfg = shm.cfg
        self.cpu = cpu
        self.books = BookSet.of(cfg)
        rings = [shm.md_ring_writer(s) for s in range(self.shards.count)]
        self.publisher = Publisher(self.books, shm.snapshots(writable=True),
                                   [rings[shard] for shard in self.shards.shard], shm.trade_ring_writer())
        self.live = cfg.feed.kind == "binance" and not paths
        self.feed: Feed | LiveFeed = LiveFeed(cfg, self.books) if self.live else Feed(cfg, paths)
        self.event_lag_ms = 0.0
        self.warned_off_tick = False

    def run(self) -> int:
        pin(self.cpu)
        self.start()
        speed = 0.0 if self.live else self.cfg.feed.speed  # live data comes at its own pace
        books = self.books
        publisher = self.publisher
        publish = publisher.publish
        stats = self.stats
        incr = stats.incr
        published = stats.counter_index("published")
        kind_counter = {
            BookTickerEvent: stats.counter_index("book_ticker"),
            DepthEvent: stats.counter_index("depth"),
            TradeEvent: stats.counter_index("trade"),
            SnapshotEvent: stats.counter_index("snapshot"),
        }
        clock = time.monotonic_ns
        t0_wall = t0_event = 0
        started = False
        limit = self.cfg.feed.synthetic.events if self.feed.kind == "synthetic" else 0
        recv_to_publish = stats.hist("recv_to_publish")
        exch_to_recv = stats.hist("exch_to_recv")
        live = self.feed if isinstance(self.feed, LiveFeed) else None
        for ev in self.feed.events(limit or None):
            now = clock()
            if ev is None:  # the live feed's inbox stayed empty (it waited on it): beat
                if now >= self.next_house and not self.housekeeping(now):
                    return 0
                continue
            if not started:
                started, t0_wall, t0_event = True, now, ev.recv_ns
            if speed > 0:  # a long wait (a gap in the recording) is slept in turns that beat
                while (wait := (t0_wall + (ev.recv_ns - t0_event) / speed - now) / 1e9) > SPIN_BELOW_S:
                    time.sleep(min(wait - SPIN_BELOW_S / 2, HOUSEKEEPING_NS / 1e9))
                    now = clock()
                    if now >= self.next_house and not self.housekeeping(now):
                        return 0
            if now >= self.next_house:
                if speed > 0:
                    self.event_lag_ms = (now - t0_wall - (ev.recv_ns - t0_event) / speed) / 1e6
                if not self.housekeeping(now):
                    return 0
            incr(kind_counter[type(ev)])
            i = publish(ev)
            if i < 0:
                continue
            incr(published)
            if live is not None:  # the receive-to-publish path and the venue's clock to ours
                recv_to_publish.record(publisher.publish_ns - live.recv_mono)
                lag = ev.recv_ns - books.exch_ns[i]
                if 0 <= lag < EXCH_LAG_MAX_NS:  # beyond: the clocks are not comparable (a replayed source)
                    exch_to_recv.record(lag)
        stats.set_gauge("feed_done", 1.0)
        self.publish_counters()
        log.info("feed ended after %d updates; idling until shutdown", stats.counter("published"))
        # keep beating: the workers see the data go stale and pull their quotes
        while self.housekeeping(clock()):
            time.sleep(0.05)
        return 0

    def publish_counters(self) -> None:
        books = self.books.books
        if isinstance(self.feed, LiveFeed):
            self.totals.publish_all({k: self.feed.counts[k] for k in LIVE_FEED_COUNTERS})
        off_tick = self.books.off_tick()
        self.totals.publish_all({"malformed": self.feed.malformed,
                                 "resyncs": sum(b.resyncs for b in books),
                                 "off_tick": off_tick,
                                 "depth_writes": self.publisher.full_writes,
                                 "crossed": sum(b.crossed for b in books)})
        self.stats.set_gauge("event_lag_ms", self.event_lag_ms)
        if off_tick and not self.warned_off_tick:
            self.warned_off_tick = True
            log.warning("market data: %d price levels off their instrument's tick_size grid: the book "
                        "merges them at the nearest tick; check instruments[].tick_size", off_tick)


def run_market_data(cfg: Config, proc_slot: int, cpu: int | None = None) -> int:
    """Process entry point (spawned by the supervisor). Exit 2: the recording does not
    match the config (an instrument to add) or holds no event; the message says which."""
    try:
        return MarketDataProcess(Attached(cfg), proc_slot, cpu).run()
    except (UnknownInstrument, UnusableRecording, FileNotFoundError) as exc:
        log.error("market data: %s", exc)
        return 2
