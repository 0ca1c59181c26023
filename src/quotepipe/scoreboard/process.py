"""The scoreboard process: fills, trades and mids in; metrics, allocator
weights and arrival fits out.

Runs niced (low priority) and unpinned. It consumes the venue-events ring
(fills and ended orders) and the trade ring (every market trade, for the
order-arrival fit of ``scoreboard.arrival``, published to the fits table every
``arrival.REFIT_NS``), and samples every instrument's mid from the snapshot
table every ``MID_SAMPLE_NS`` (markouts are seconds long; a 10 ms sample is
plenty), runs the same ``Scoreboard`` and ``Allocator`` code as replay on event
time, publishes weights to the weights array when they change, and the
metrics to the score table for ``status`` and /metrics. Every ``SCORES_NS`` it
also checkpoints what it has learned (``scoreboard.checkpoint``), so that its
own restart carries on from there instead of from a blank prior.
"""

from __future__ import annotations

import logging
import time

from quotepipe.config import Config
from quotepipe.domain.clock import event_now, event_rate
from quotepipe.domain.orders import Fill, OrderEnd
from quotepipe.domain.snapshot import ASK_PX, BID_PX, PUBLISH_NS, RECV_NS
from quotepipe.runtime.child import DRAIN_MAX, ChildProcess
from quotepipe.scoreboard import checkpoint
from quotepipe.scoreboard.allocator import Allocator
from quotepipe.scoreboard.arrival import REFIT_NS, ArrivalFits
from quotepipe.scoreboard.metrics import Scoreboard
from quotepipe.shm.catalog import SCOREBOARD_STATS, VENUE_EVENT_FILL, Attached
from quotepipe.shm.fits import FitRow
from quotepipe.shm.scores import ScoreRow

log = logging.getLogger(__name__)

MID_SAMPLE_NS = 10_000_000
SCORES_NS = 200_000_000
IDLE_SLEEP_S = 0.001


class ScoreboardProcess(ChildProcess):
    name = "scoreboard"

    def __init__(self, shm: Attached, proc_slot: int, restarted: bool = False) -> None:
        super().__init__(shm, proc_slot, shm.stats("stats.scoreboard", SCOREBOARD_STATS))
        cfg = shm.cfg
        self.snapshots = shm.snapshots()
        self.weights = shm.weights(writable=True)
        self.scores = shm.scores(writable=True)
        self.checkpoint = shm.scoreboard_state(writable=True)
        # the first scoreboard reads every fill; a restarted one reads on from its checkpoint
        self.events = shm.venue_event_reader(from_start=not restarted)
        self.trades = shm.trade_ring_reader()
        self.fits_table = shm.fits(writable=True)
        self.n = len(cfg.instruments)
        self.ids = [i.id for i in cfg.instruments]
        self.board = Scoreboard(cfg.symbol_scoreboard, self.n)
        self.allocator = Allocator(cfg.dynamic_allocator, cfg.symbol_scoreboard, self.n)
        self.rate = 1.0
        self.fits = ArrivalFits(cfg.spread, [i.tick_size for i in cfg.instruments])
        self.counts = dict.fromkeys(("fills", "order_ends", "mids", "trades", "fits", "allocations",
                                     "weight_publications", "checkpoints", "checkpoint_skips"), 0)
        self.event_now = 0
        self.live = [0] * self.n  #: instruments seen with market data
        self._configure(cfg)
        if restarted:
            self._resume()

    def _resume(self) -> None:
        """After a restart: the weights in force (not 1), and what the last process had learned."""
        _, w, f = self.weights.snapshot()
        self.allocator.weights[:] = w
        self.allocator.flags[:] = f
        got = self.checkpoint.read()
        cp = checkpoint.restore(got[1], self.ids, self.board, self.allocator) if got else None
        if cp is None:
            log.warning("scoreboard: restarted without a usable checkpoint: metrics start afresh; "
                        "the weights in force stay")
            return
        self.events.next = max(cp.events_next, 1)  # the fills that came while it was down, too
        self.event_now = cp.event_now
        log.info("scoreboard: restarted from its checkpoint (%d fills, %d markouts); reading on from "
                 "venue event %d", sum(s.fills for s in cp.symbols), sum(s.markouts for s in cp.symbols),
                 cp.events_next)

    def _save(self) -> None:
        data = checkpoint.capture(self.ids, self.board, self.allocator, self.events.next, self.event_now)
        if len(data) <= self.checkpoint.capacity:
            self.checkpoint.write(data, self.checkpoint.tag + 1)
        else:
            self.counts["checkpoint_skips"] += 1
            return
        self.counts["checkpoints"] += 1

    def _configure(self, cfg: Config) -> None:
        self.cfg = cfg
        self.rate = event_rate(cfg.feed.speed)
        self.board.reconfigure(cfg.symbol_scoreboard)
        self.fits.configure(cfg.spread)
        self.allocator.reconfigure(cfg.dynamic_allocator, cfg.symbol_scoreboard)
        if not cfg.dynamic_allocator.enabled:
            self._publish_weights()

    def _drain_events(self) -> int:
        board = self.board
        rec = self.events.poll()
        n = 0
        while rec is not None and n < DRAIN_MAX:
            kind, slot, side, price, qty, t_ns, fee_bps, mid, target_px, queue_edge, oid = rec
            if kind == VENUE_EVENT_FILL:
                board.on_fill(Fill(slot, side, price, qty, t_ns, fee_bps, mid, target_px, queue_edge, oid))
                self.counts["fills"] += 1
            else:
                board.on_order_end(OrderEnd(slot, side, price, qty, t_ns, queue_edge))
                self.counts["order_ends"] += 1
            n += 1
            if n < DRAIN_MAX:
                rec = self.events.poll()
        return n

    def _drain_trades(self) -> int:
        on_trade = self.fits.on_trade
        rec = self.trades.poll()
        n = 0
        while rec is not None and n < DRAIN_MAX:
            slot, price, _, side, _, recv_ns = rec
            on_trade(slot, recv_ns, price, side)
            n += 1
            if n < DRAIN_MAX:
                rec = self.trades.poll()
        self.counts["trades"] += n
        return n

    def _publish_fits(self) -> None:
        if self.event_now == 0:
            return
        for slot in range(self.n):
            if self.live[slot]:
                self.fits_table.write(slot, FitRow(*self.fits.refit(slot, self.event_now).as_tuple()))
        self.counts["fits"] += 1

    def _sample_mids(self) -> None:
        mono = time.monotonic_ns()
        for slot in range(self.n):
            rec = self.snapshots.read_l1(slot)
            if rec is None:
                continue
            self.live[slot] = 1  # it has market data: it takes part in the allocation
            bid, ask = rec[BID_PX], rec[ASK_PX]
            now = event_now(rec[RECV_NS], rec[PUBLISH_NS], mono, self.rate)
            if now > self.event_now:
                self.event_now = now
            if 0.0 < bid < ask:
                mid = (bid + ask) * 0.5
                self.board.on_mid(slot, now, mid)
                self.fits.on_mid(slot, now, mid)
                self.counts["mids"] += 1

    def _allocate(self) -> None:
        alloc = self.allocator
        if not self.cfg.dynamic_allocator.enabled or self.event_now == 0:
            return
        if self.event_now >= alloc.next_ns:
            self.counts["allocations"] += 1
            if alloc.allocate(self.event_now, self.board, self.live):
                self._publish_weights()

    def _publish_weights(self) -> None:
        self.weights.publish(self.allocator.weights, self.allocator.flags)
        self.counts["weight_publications"] += 1

    def _publish_scores(self) -> None:
        board = self.board
        for slot in range(self.n):
            m = board.symbols[slot]
            e = m.ema
            self.scores.write(slot, ScoreRow(
                board.score(slot), e["net_bps"], e["markout_bps"], e["edge_bps"], e["fill_rate"],
                e["slippage_bps"], e["queue_edge"], e["adverse_penalty"], m.fills, m.markouts,
                m.orders_ended, self.allocator.blacklists[slot]))

    def publish_counters(self) -> None:
        totals = self.totals
        totals.publish_all(self.counts)
        totals.publish("ring_lost", self.events.lost + self.trades.lost)
        totals.publish("seqlock_give_ups", self.snapshots.give_ups + self.weights.give_ups)
        self.stats.set_gauge("event_time_s", self.event_now / 1e9)

    def reconfigure(self, cfg: Config, epoch: int) -> None:
        self._configure(cfg)
        log.info("scoreboard: config epoch %d applied", epoch)

    def on_stop(self) -> None:
        self._publish_scores()
        self._save()

    def run(self) -> int:
        self.start()
        clock = time.monotonic_ns
        next_mid = next_scores = next_fit = 0
        while True:
            work = self._drain_events() + self._drain_trades()
            now = clock()
            if now >= next_mid:
                next_mid = now + MID_SAMPLE_NS
                self._sample_mids()
                self._allocate()
            if now >= next_fit:
                next_fit = now + REFIT_NS
                self._publish_fits()
            if now >= next_scores:
                next_scores = now + SCORES_NS
                self._publish_scores()
                self._save()
            if now >= self.next_house and not self.housekeeping(now):
                return 0
            if not work:
                time.sleep(IDLE_SLEEP_S)


def run_scoreboard(cfg: Config, proc_slot: int, restarted: bool = False) -> int:
    """Process entry point: the scoreboard and allocator until shutdown or parent death."""
    return ScoreboardProcess(Attached(cfg), proc_slot, restarted).run()
