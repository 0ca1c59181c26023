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
        self.table = shm.snapshots(writable=True)
        self.rings = [shm.md_ring_writer(s) for s in range(self.shards.count)]
        self.trades = shm.trade_ring_writer()
        self.books = BookSet([i.id for i in cfg.instruments])
        self.ring_of = [self.rings[shard] for shard in self.shards.shard]
        self.live = cfg.feed.kind == "binance" and not paths
        self.feed: Feed | LiveFeed = LiveFeed(cfg, self.books) if self.live else Feed(cfg, paths)
        self.event_lag_ms = 0.0

    def run(self) -> int:
        pin(self.cpu)
        self.start()
        speed = 0.0 if self.live else self.cfg.feed.speed  # live data comes at its own pace
        books = self.books
        table_write = self.table.table.write
        ring_of = self.ring_of
        trades_write = self.trades.write
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
            i = books.apply(ev)
            if i < 0:
                continue
            levels = books.books[i].levels()  # before the stamp: publish_ns is when it is written
            publish_ns = clock()
            table_write(i, *books.l1_record(i, publish_ns), *levels)
            ring_of[i].write(i, books.md_seq[i], publish_ns, ev.recv_ns)
            incr(published)
            if live is not None:  # the receive-to-publish path and the venue's clock to ours
                recv_to_publish.record(publish_ns - live.recv_mono)
                lag = ev.recv_ns - books.exch_ns[i]
                if 0 <= lag < EXCH_LAG_MAX_NS:  # beyond: the clocks are not comparable (a replayed source)
                    exch_to_recv.record(lag)
            if type(ev) is TradeEvent:
                trades_write(i, ev.price, ev.qty, ev.side, ev.trade_ns, ev.recv_ns)
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
        self.totals.publish_all({"malformed": self.feed.malformed,
                                 "resyncs": sum(b.resyncs for b in books),
                                 "crossed": sum(b.crossed for b in books)})
        self.stats.set_gauge("event_lag_ms", self.event_lag_ms)


def run_market_data(cfg: Config, proc_slot: int, cpu: int | None = None) -> int:
    """Process entry point (spawned by the supervisor). Exit 2: the recording does not
    match the config (an instrument to add) or holds no event; the message says which."""
    try:
        return MarketDataProcess(Attached(cfg), proc_slot, cpu).run()
    except (UnknownInstrument, UnusableRecording, FileNotFoundError) as exc:
        log.error("market data: %s", exc)
        return 2
