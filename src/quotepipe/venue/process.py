"""The venue process: the paper venue between the workers' intents and the market.

Reads every worker's intent ring, every market-data ring (book updates of an
instrument coalesced to its newest snapshot, with the snapshot's five levels
as depth) and the trades ring, and drives ``PaperVenue`` on event time. It
publishes fills and ended orders on the venue-events ring (for the
scoreboard) and, whenever an instrument's orders or position change, that
instrument's row of the venue table (for the workers and ``status``).

It also carries out the supervisor's cancel requests: before a dead worker is
restarted, and at a stop, every order of the shard is cancelled and the
cancels landed at once; the acknowledgement in the control block says so.
And it is each worker's dead-man's switch: a worker whose heartbeat has not
moved for ``venue.cancel_on_silence_ms`` (judged on the venue's own running
time, ``runtime.silence``) has its orders cancelled the same way, long before
the supervisor's heartbeat time-out kills it: a stopped worker's stale quotes
do not rest.

The event clock is the newest update's receive time plus the wall time since
it was published, times ``feed.speed`` (1 when the feed runs flat out), so
entry and cancel latencies also pass while the market is quiet.
"""

from __future__ import annotations

import logging
import time

from quotepipe.config import Config
from quotepipe.domain.clock import event_now, event_rate
from quotepipe.domain.orders import ASK, BID, Fill, OrderEnd
from quotepipe.domain.risk import BookRisk
from quotepipe.domain.snapshot import LEVELS, BookState
from quotepipe.runtime.child import DRAIN_MAX, HOUSEKEEPING_NS, ChildProcess
from quotepipe.runtime.silence import SilenceWatch
from quotepipe.shm.catalog import VENUE_EVENT_FILL, VENUE_EVENT_ORDER_END, VENUE_STATS, Attached, worker_slot
from quotepipe.shm.risk import RiskRow
from quotepipe.venue.paper import PaperVenue

log = logging.getLogger(__name__)

TIMER_NS = 1_000_000
SILENCE_CREDIT_NS = 4 * HOUSEKEEPING_NS  #: the most of one venue turn gap credited to a worker's silence
IDLE_SLEEP_S = 0.0002


class SnapshotDepth:
    """Quantity at a price from a snapshot's five levels per side; None beyond them."""

    __slots__ = ("levels", "valid")

    def __init__(self, levels: tuple[float, ...], book_state: int) -> None:
        self.levels = levels
        self.valid = book_state == BookState.VALID

    def qty_at(self, side: int, price: float) -> float | None:
        if not self.valid:
            return None
        base = 0 if side > 0 else 2 * LEVELS
        lv = self.levels
        for k in range(LEVELS):
            px = lv[base + k]
            if px == 0.0:
                return None
            if px == price:
                return lv[base + LEVELS + k]
            if (px < price) if side > 0 else (px > price):
                return 0.0  # inside the visible levels, between two of them: empty
        return None


class VenueProcess(ChildProcess):
    name = "venue"

    def __init__(self, shm: Attached, proc_slot: int) -> None:
        super().__init__(shm, proc_slot, shm.stats("stats.venue", VENUE_STATS))
        cfg = shm.cfg
        self.snapshots = shm.snapshots()
        self.table = shm.venue_table(writable=True)
        self.events = shm.venue_event_writer()
        n_shards = self.shards.count
        self.intent_readers = [shm.intent_ring_reader(s) for s in range(n_shards)]
        self.md_readers = [shm.md_ring_reader(s) for s in range(n_shards)]
        self.trades = shm.trade_ring_reader()
        n = len(cfg.instruments)
        self.shard_slots = self.shards.by_shard()
        self.venue = PaperVenue(cfg, self._on_fill, self._on_order_end)
        self.published = [-1] * n
        self.stop_cancels = [0] * n
        self.cancels_done = [self.control.cancel_ack(s) for s in range(n_shards)]
        self.rate = event_rate(cfg.feed.speed)
        self.ev_recv = 0     # event clock: newest update's receive time ...
        self.ev_mono = 0     # ... and when it was published
        self.counts = {name: 0 for name in ("intents", "book_updates", "trades", "fills", "order_ends",
                                            "cancel_requests", "stop_cancels", "silence_cancels")}
        self.silence = SilenceWatch([worker_slot(s) for s in range(n_shards)], self.control.heartbeat,
                                    SILENCE_CREDIT_NS)
        self.silenced = [False] * n_shards  #: orders cancelled for silence; cleared at the next beat
        self.risk_table = shm.risk(writable=True)
        self.risk = BookRisk(cfg.risk)

    def now(self) -> int:
        if self.ev_mono == 0:
            return 0
        return event_now(self.ev_recv, self.ev_mono, time.monotonic_ns(), self.rate)

    # ------------------------------------------------------------------ outputs
    def _on_fill(self, f: Fill) -> None:
        self.events.write(VENUE_EVENT_FILL, f.slot, f.side, f.price, f.qty, f.t_ns, f.fee_bps, f.mid,
                          f.target_px, f.queue_edge, f.order_id)
        self.counts["fills"] += 1

    def _on_order_end(self, e: OrderEnd) -> None:
        self.events.write(VENUE_EVENT_ORDER_END, e.slot, e.side, e.quoted, e.filled, e.t_ns, 0.0, 0.0,
                          0.0, e.queue_edge, 0)
        self.counts["order_ends"] += 1

    def _publish(self) -> None:
        v = self.venue
        for slot, version in enumerate(v.version):
            if version != self.published[slot]:
                self.published[slot] = version
                mid = (v.bid[slot] + v.ask[slot]) * 0.5
                self.table.write(slot, v.position[slot], v.cash[slot], v.volume[slot], mid, v.fills[slot],
                                 v.rejects[slot], len(v.orders[slot]), self.stop_cancels[slot],
                                 v.resting(slot, BID), v.resting(slot, ASK))

    # ------------------------------------------------------------------ inputs
    def _drain_intents(self, limit: int = DRAIN_MAX) -> int:
        """Apply the workers' intents, at most ``limit`` in one go (the loop turns and beats)."""
        apply = self.venue.apply
        n = 0
        for reader in self.intent_readers:
            rec = reader.poll()
            while rec is not None:
                slot, t_ns, actions, bid_px, bid_qty, ask_px, ask_qty = rec
                apply(slot, t_ns, actions & 0xFF, bid_px, bid_qty, actions >> 8 & 0xFF, ask_px, ask_qty)
                n += 1
                rec = reader.poll() if n < limit else None
        self.counts["intents"] += n
        return n

    def _drain_market(self) -> int:
        dirty: dict[int, None] = {}
        for reader in self.md_readers:
            rec = reader.poll()
            while rec is not None:
                slot, _, publish_ns, recv_ns = rec
                dirty[slot] = None
                if recv_ns >= self.ev_recv:
                    self.ev_recv, self.ev_mono = recv_ns, publish_ns
                rec = reader.poll()
        venue = self.venue
        for slot in dirty:
            got = self.snapshots.read(slot)
            if got is None:
                continue
            snap, levels = got
            venue.on_book(slot, snap.recv_ns, snap.bid_px, snap.bid_qty, snap.ask_px, snap.ask_qty,
                          SnapshotDepth(levels, snap.book_state))
        rec = self.trades.poll()
        trades = 0
        while rec is not None:
            slot, price, qty, side, _, recv_ns = rec
            venue.on_trade(slot, recv_ns, price, qty, side)
            trades += 1
            rec = self.trades.poll()
        self.counts["book_updates"] += len(dirty)
        self.counts["trades"] += trades
        return len(dirty) + trades

    def _timers(self) -> None:
        now = self.now()
        venue = self.venue
        for slot, due in enumerate(venue.next_due):
            if due and due <= now:
                venue.advance(slot, now)

    def _cancel_requests(self) -> None:
        """Carry out the supervisor's cancel requests (a worker restart, a stop)."""
        control = self.control
        for shard, done in enumerate(self.cancels_done):
            request = control.cancel_request(shard)
            if request == done:
                continue
            cancelled = self._cancel_shard(shard)
            self.cancels_done[shard] = request
            self.counts["cancel_requests"] += 1
            control.ack_cancel(shard, request)
            log.info("venue: shard %d: cancelled %d open orders on request %d", shard, cancelled, request)

    def _cancel_shard(self, shard: int) -> int:
        """Cancel every order of ``shard`` and land the cancels now; how many there were."""
        self._drain_intents(limit=1 << 62)  # every last intent first: nothing lands after the cancel
        now = self.now()
        cancelled = 0
        for slot in self.shard_slots[shard]:
            k = self.venue.close_out(slot, now)
            self.stop_cancels[slot] += k
            cancelled += k
        self._publish()
        self.counts["stop_cancels"] += cancelled
        return cancelled

    def _dead_man_switch(self) -> None:
        """Cancel the orders of a worker whose heartbeat stopped moving (once per silence)."""
        watch = self.silence
        watch.look(time.monotonic_ns())
        limit = self.cfg.venue.cancel_on_silence_ms
        for shard, done in enumerate(self.silenced):
            slot = worker_slot(shard)
            silent = watch.silent_ms(slot)
            if done:
                self.silenced[shard] = silent > 0.0  # it beat again: armed for the next silence
            elif silent > limit and watch.beat(slot):
                cancelled = self._cancel_shard(shard)
                self.silenced[shard] = True
                self.counts["silence_cancels"] += 1
                log.warning("venue: worker %d silent for %.0f ms (venue.cancel_on_silence_ms %g): "
                            "cancelled its %d open orders", shard, silent, limit, cancelled)

    # ------------------------------------------------------------------ loop
    def run(self) -> int:
        self.start()
        clock = time.monotonic_ns
        next_timer = 0
        while True:
            work = self._drain_intents() + self._drain_market()
            now = clock()
            if now >= next_timer:
                next_timer = now + TIMER_NS
                self._timers()
            self._publish()
            if now >= self.next_house and not self.housekeeping(now):
                return 0
            if not work:
                time.sleep(IDLE_SLEEP_S)

    def on_turn(self) -> None:
        self._cancel_requests()
        self._dead_man_switch()
        self._book_risk()

    def _book_risk(self) -> None:
        """The book-wide limits, judged on the venue's own books (it holds every position)."""
        risk, v = self.risk, self.venue
        if not risk.enabled:
            return
        if risk.update(v.total_pnl_usd(), v.gross_usd(), v.flat()):
            log.warning("venue: %s", risk.describe())
        self.risk_table.write_row(RiskRow(risk.state, risk.reason, risk.total_pnl, risk.peak_pnl,
                                          risk.gross_usd))

    def reconfigure(self, cfg: Config, epoch: int) -> None:
        super().reconfigure(cfg, epoch)
        self.risk.reconfigure(cfg.risk)  # a reload releases a tripped book limit

    def publish_counters(self) -> None:
        totals = self.totals
        totals.publish_all(self.counts)
        totals.publish("rejects", sum(self.venue.rejects))
        totals.publish("ring_lost", sum(r.lost for r in self.intent_readers)
                       + sum(r.lost for r in self.md_readers) + self.trades.lost)
        totals.publish("seqlock_give_ups", self.snapshots.give_ups)
        self.stats.set_gauge("open_orders", float(self.venue.open_orders()))


def run_venue(cfg: Config, proc_slot: int) -> int:
    """Process entry point: the paper venue until shutdown or parent death."""
    return VenueProcess(Attached(cfg), proc_slot).run()
