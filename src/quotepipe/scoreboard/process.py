"""The scoreboard process: fills and mids in, metrics and allocator weights out.

Runs niced (low priority) and unpinned. It consumes the venue-events ring
(fills and ended orders) and samples every instrument's mid from the snapshot
table every ``MID_SAMPLE_NS`` (markouts are seconds long; a 10 ms sample is
plenty), runs the same ``Scoreboard`` and ``Allocator`` code as replay on event
time, publishes weights to the weights array when they change, and the
metrics to the score table for ``status`` and /metrics.
"""

from __future__ import annotations

import logging
import time

from quotepipe.config import Config
from quotepipe.lifeline import parent_alive
from quotepipe.scoreboard.allocator import Allocator
from quotepipe.scoreboard.metrics import Scoreboard
from quotepipe.shm.catalog import SCOREBOARD_STATS, VENUE_EVENT_FILL, Attached
from quotepipe.shm.scores import ScoreRow
from quotepipe.shm.stats import CounterTotals
from quotepipe.venue.paper import Fill, OrderEnd

log = logging.getLogger(__name__)

MID_SAMPLE_NS = 10_000_000
SCORES_NS = 200_000_000
HOUSEKEEPING_NS = 50_000_000
IDLE_SLEEP_S = 0.001


class ScoreboardProcess:
    def __init__(self, cfg: Config, proc_slot: int, restarted: bool = False) -> None:
        self.proc_slot = proc_slot
        shm = Attached(cfg)
        self.control = shm.control()
        self.config_block = shm.config_block()
        self.snapshots = shm.snapshots()
        self.weights = shm.weights(writable=True)
        self.scores = shm.scores(writable=True)
        self.stats = shm.stats("stats.scoreboard", SCOREBOARD_STATS)
        # the first scoreboard reads every fill; a restarted one starts from now (its EMAs are new)
        self.events = shm.venue_event_reader(from_start=not restarted)
        self.n = len(cfg.instruments)
        self.board = Scoreboard(cfg.symbol_scoreboard, self.n)
        self.allocator = Allocator(cfg.dynamic_allocator, cfg.symbol_scoreboard, self.n)
        self.epoch = self.control.epoch
        self.rate = 1.0
        self.counts = dict.fromkeys(SCOREBOARD_STATS.counters, 0)
        self.totals = CounterTotals(self.stats)
        self.event_now = 0
        self._configure(cfg)
        if restarted:  # carry on from the weights in force, not from 1
            _, w, f = self.weights.snapshot()
            self.allocator.weights[:] = w
            self.allocator.flags[:] = f

    def _configure(self, cfg: Config) -> None:
        self.cfg = cfg
        self.rate = cfg.feed.speed if cfg.feed.speed > 0 else 1.0
        self.board.reconfigure(cfg.symbol_scoreboard)
        self.allocator.reconfigure(cfg.dynamic_allocator, cfg.symbol_scoreboard)
        if not cfg.dynamic_allocator.enabled:
            self._publish_weights()

    def _drain_events(self) -> int:
        board = self.board
        rec = self.events.poll()
        n = 0
        while rec is not None:
            kind, slot, side, price, qty, t_ns, fee_bps, mid, target_px, queue_edge, oid = rec
            if kind == VENUE_EVENT_FILL:
                board.on_fill(Fill(slot, side, price, qty, t_ns, fee_bps, mid, target_px, queue_edge, oid))
                self.counts["fills"] += 1
            else:
                board.on_order_end(OrderEnd(slot, side, price, qty, t_ns))
                self.counts["order_ends"] += 1
            n += 1
            rec = self.events.poll()
        return n

    def _sample_mids(self) -> None:
        mono = time.monotonic_ns()
        for slot in range(self.n):
            rec = self.snapshots.read_l1(slot)
            if rec is None:
                continue
            bid, ask = rec[0], rec[2]
            now = rec[9] + int((mono - rec[10]) * self.rate)
            if now > self.event_now:
                self.event_now = now
            if 0.0 < bid < ask:
                self.board.on_mid(slot, now, (bid + ask) * 0.5)
                self.counts["mids"] += 1

    def _allocate(self) -> None:
        alloc = self.allocator
        if not self.cfg.dynamic_allocator.enabled or self.event_now == 0:
            return
        if self.event_now >= alloc.next_ns:
            self.counts["allocations"] += 1
            if alloc.allocate(self.event_now, self.board):
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
        s = self.stats
        self.counts["ring_lost"] = self.events.lost
        self.totals.publish_all(self.counts)
        s.set_gauge("event_time_s", self.event_now / 1e9)

    def run(self) -> int:
        control = self.control
        control.set_applied_epoch(self.proc_slot, self.epoch)
        control.beat(self.proc_slot)
        clock = time.monotonic_ns
        next_mid = next_scores = next_house = 0
        while True:
            work = self._drain_events()
            now = clock()
            if now >= next_mid:
                next_mid = now + MID_SAMPLE_NS
                self._sample_mids()
                self._allocate()
            if now >= next_scores:
                next_scores = now + SCORES_NS
                self._publish_scores()
            if now >= next_house:
                next_house = now + HOUSEKEEPING_NS
                control.beat(self.proc_slot, now)
                if control.shutdown or not parent_alive():
                    self._publish_scores()
                    return 0
                if control.epoch != self.epoch:
                    self.epoch, cfg = self.config_block.read()
                    self._configure(cfg)
                    control.set_applied_epoch(self.proc_slot, self.epoch)
                    log.info("scoreboard: config epoch %d applied", self.epoch)
            if not work:
                time.sleep(IDLE_SLEEP_S)


def run_scoreboard(cfg: Config, proc_slot: int, restarted: bool = False) -> int:
    """Process entry point: the scoreboard and allocator until shutdown or parent death."""
    return ScoreboardProcess(cfg, proc_slot, restarted).run()
