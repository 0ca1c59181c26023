"""The worker process: one shard's instruments through the quote chain.

Busy-polls its market-data ring (``workers.spin_us`` of spinning after the
last update, then ``idle_sleep_us`` sleeps; ``busy_poll: false`` sleeps from
the start). Updates of one instrument that arrive together are coalesced: the
chain runs once, on the newest snapshot in the table. Every tick reads the
instrument's weight from the weights array and its position and resting
orders from the venue table (decoded only when the venue's row moved), and
runs the chain in the shard's mode. An intent that acts goes on the shard's
intent ring; the time from the snapshot's publish to that write is the
market-data-to-intent latency. A timer re-runs every instrument through the
same ``TickGate`` as replay, so that stale data trips the stale guard.

The event clock: a snapshot's receive time plus the wall time since it was
published, times ``feed.speed`` (1 when the feed runs as fast as it can).
"""

from __future__ import annotations

import logging
import time
from array import array

import numpy as np

from quotepipe.config import Config, shard_of
from quotepipe.lifeline import parent_alive
from quotepipe.shm.catalog import Attached, worker_stats_name
from quotepipe.shm.stats import CounterTotals, StatsBlock
from quotepipe.venue.paper import pnl_usd
from quotepipe.workers.dto import ACTING, Action, Guard, QuoteIntent, Reason, Snapshot, TickContext
from quotepipe.workers.shadow import ShadowRunner, make_runner
from quotepipe.workers.spec import instrument_specs
from quotepipe.workers.timing import BUFFER, WORKER_STATS
from quotepipe.workers.trigger import TickGate

log = logging.getLogger(__name__)

HOUSEKEEPING_NS = 50_000_000   # heartbeat, control block, counters
FLUSH_NS = 1_000_000_000       # latency buffers into the shm histograms, for status and /metrics
_N_GUARDS = len(Guard)


class Worker:
    def __init__(self, cfg: Config, shard: int, proc_slot: int) -> None:
        self.shard = shard
        self.proc_slot = proc_slot
        shm = Attached(cfg)
        self.control = shm.control()
        self.config_block = shm.config_block()
        self.reader = shm.md_ring_reader(shard)
        self.table = shm.snapshots()
        self.weights = shm.weights()
        self.venue = shm.venue_table()
        self.counts = shm.counts(writable=True)
        self.stats: StatsBlock = shm.stats(worker_stats_name(shard), WORKER_STATS)
        self.intents = shm.intent_ring_writer(shard)
        n = len(cfg.instruments)
        self.slots = [i for i, inst in enumerate(cfg.instruments)
                      if shard_of(inst, cfg.workers.count) == shard]
        # the venue's view of each instrument, refreshed when its row's version moves
        self.venue_seen = [-1] * n
        self.position = [0.0] * n
        self.cash = [0.0] * n
        self.bid_order: list = [None] * n
        self.ask_order: list = [None] * n
        # per-instrument and per-outcome counts, flushed to shm at housekeeping
        self.ticks = [0] * n
        self.timer_ticks = [0] * n
        self.intent_count = [0] * n
        self._counts_base = self.counts.rows.astype(np.int64)  # a restarted worker carries on
        self.guard_counts = [0] * _N_GUARDS
        self.reason_counts = [0] * len(Reason.NAMES)
        self.action_counts = [0] * 5
        self.coalesced = 0
        self.mismatch_base = 0
        self.totals = CounterTotals(self.stats)
        self.md_to_intent = array("q", bytes(8 * BUFFER))
        self.md_n = 0
        self.md_hist = self.stats.hist("md_to_intent")
        self.written = False
        self.halted = False
        self.epoch = self.control.epoch
        self.runner = make_runner(self.control.mode(shard), cfg, self._sink, self.stats)
        self.gate = TickGate(n, cfg.pipeline.max_tick_interval_ms)
        self._apply_config(cfg)

    # ---------------------------------------------------------------- config
    def _apply_config(self, cfg: Config) -> None:
        self.cfg = cfg
        self.specs = instrument_specs(cfg)
        self.rate = cfg.feed.speed if cfg.feed.speed > 0 else 1.0
        self.gate.set_interval(cfg.pipeline.max_tick_interval_ms)
        # the timer visits every instrument often enough for the gate's interval in wall time
        interval_wall_ns = cfg.pipeline.max_tick_interval_ms * 1e6 / self.rate
        self.timer_ns = max(1_000_000, int(min(10e6, interval_wall_ns / 2)))
        w = cfg.workers
        self.spin_ns = w.spin_us * 1000 if w.busy_poll else 0
        self.idle_s = w.idle_sleep_us / 1e6
        self.stats.set_gauge("epoch", float(self.epoch))
        self.stats.set_gauge("mode", float(("legacy", "shadow", "pipeline").index(self.runner.mode)))
        self._invalidate()

    def _reload(self) -> None:
        """The supervisor accepted a new config: take it, in this shard's (maybe new) mode."""
        epoch, cfg = self.config_block.read()
        mode = self.control.mode(self.shard)
        if mode != self.runner.mode:
            self.runner.times.flush()
            if isinstance(self.runner, ShadowRunner):
                self.mismatch_base += self.runner.mismatches
            self.runner = make_runner(mode, cfg, self._sink, self.stats)
            log.info("shard %d: mode %s from config epoch %d", self.shard, mode, epoch)
        else:
            self.runner.configure(cfg)
        self.epoch = epoch
        self._apply_config(cfg)
        self.control.set_applied_epoch(self.proc_slot, epoch)

    def _invalidate(self) -> None:
        """Make every instrument tick on its next look (halt, reload: inputs outside the gate)."""
        for s in self.slots:
            self.gate.invalidate(s)

    # ---------------------------------------------------------------- the tick
    def _sink(self, intent: QuoteIntent) -> None:
        ba, aa = intent.bid_action, intent.ask_action
        self.action_counts[ba] += 1
        self.action_counts[aa] += 1
        if ba in ACTING or aa in ACTING:
            self.intents.write(intent.slot, intent.t_ns, ba | aa << 8 | intent.guard << 16,
                               intent.bid_px, intent.bid_qty, intent.ask_px, intent.ask_qty)
            self.written = True

    def _load_venue(self, slot: int, version: int) -> None:
        row = self.venue.read(slot)
        if row is None:
            return  # never written (nothing traded yet) or the venue is mid-write: next tick
        self.venue_seen[slot] = version
        self.position[slot] = row.position
        self.cash[slot] = row.cash
        self.bid_order[slot] = row.bid
        self.ask_order[slot] = row.ask

    def tick(self, slot: int, from_md: bool, clock=time.monotonic_ns) -> None:  # noqa: ANN001
        rec = self.table.read_l1(slot)
        if rec is None:
            return
        publish_ns = rec[10]
        now = rec[9] + int((clock() - publish_ns) * self.rate)
        weight, flags = self.weights.get(slot)
        version = self.venue.version(slot)
        if version != self.venue_seen[slot] and version and not version & 1:  # 0: never written
            self._load_venue(slot, version)
        if not self.gate.need(slot, rec[:4], self.venue_seen[slot], weight, now):
            return
        mid = (rec[0] + rec[2]) * 0.5
        ctx = TickContext(now, self.position[slot], pnl_usd(self.specs[slot], self.cash[slot],
                          self.position[slot], mid), weight, flags, self.halted,
                          self.bid_order[slot], self.ask_order[slot])
        self.written = False
        intent = self.runner.tick(slot, Snapshot(*rec), ctx)
        if self.written:
            self.intent_count[slot] += 1
            if from_md:
                n = self.md_n
                self.md_to_intent[n] = clock() - publish_ns
                self.md_n = n = n + 1
                if n == BUFFER:
                    self._flush_latency()
        self.ticks[slot] += 1
        if not from_md:
            self.timer_ticks[slot] += 1
        self.guard_counts[intent.guard] += 1
        if intent.reasons:
            reasons = intent.reasons
            for k in range(len(self.reason_counts)):
                if reasons >> k & 1:
                    self.reason_counts[k] += 1

    # ---------------------------------------------------------------- the loop
    def run(self) -> int:
        control = self.control
        control.set_applied_epoch(self.proc_slot, self.epoch)
        control.beat(self.proc_slot)
        poll = self.reader.poll
        tick = self.tick
        pending = [False] * len(self.venue_seen)
        order: list[int] = []
        clock = time.monotonic_ns
        sleep = time.sleep
        last_work = clock()
        next_timer = next_house = next_flush = 0
        coalesced = 0
        while True:
            rec = poll()
            if rec is not None:
                while rec is not None:
                    s = rec[0]
                    if pending[s]:
                        coalesced += 1
                    else:
                        pending[s] = True
                        order.append(s)
                    rec = poll()
                for s in order:
                    pending[s] = False
                    tick(s, True)
                order.clear()
                last_work = clock()
                continue
            now = clock()
            if now >= next_timer:
                next_timer = now + self.timer_ns
                for s in self.slots:
                    tick(s, False)
                if now >= next_house:
                    next_house = now + HOUSEKEEPING_NS
                    self.coalesced += coalesced
                    coalesced = 0
                    if not self._housekeeping(now >= next_flush):
                        return 0
                    if now >= next_flush:
                        next_flush = now + FLUSH_NS
                continue
            if now - last_work > self.spin_ns:
                sleep(self.idle_s)

    def _housekeeping(self, flush_latency: bool) -> bool:
        """Beat, follow the control block, publish counters. False: time to exit."""
        control = self.control
        control.beat(self.proc_slot)
        if control.shutdown or not parent_alive():
            self._flush_latency()
            self._publish_counters()
            return False
        halted = control.shard_halted(self.shard)
        if halted != self.halted:
            self.halted = halted
            self._invalidate()
            for s in self.slots:  # pull (or restore) quotes now, not on the next update
                self.tick(s, False)
            log.info("shard %d: %s", self.shard, "halted: quotes pulled" if halted else "resumed")
        control.set_halt_seen(self.proc_slot, halted and control.halt_all)
        if control.epoch != self.epoch:
            self._reload()
        if flush_latency:
            self._flush_latency()
        self._publish_counters()
        return True

    def _flush_latency(self) -> None:
        self.runner.times.flush()
        if self.md_n:
            self.md_hist.record_many(np.frombuffer(self.md_to_intent, np.int64, self.md_n))
            self.md_n = 0

    def _count_mismatches(self) -> None:
        now = self.runner.mismatches if isinstance(self.runner, ShadowRunner) else 0
        self.totals.publish("shadow_mismatches", self.mismatch_base + now)

    def _publish_counters(self) -> None:
        rows = self.counts.rows
        base = self._counts_base
        for s in self.slots:
            rows[s, 0] = base[s, 0] + self.ticks[s]
            rows[s, 1] = base[s, 1] + self.intent_count[s]
            rows[s, 2] = base[s, 2] + self.timer_ticks[s]
        self.totals.publish("ticks", sum(self.ticks))
        self.totals.publish("timer_ticks", sum(self.timer_ticks))
        self.totals.publish("intents", sum(self.intent_count))
        self.totals.publish("coalesced", self.coalesced)
        self.totals.publish("ring_lost", self.reader.lost)
        for a in Action:
            if a != Action.NONE:
                self.totals.publish(f"action_{a.name.lower()}", self.action_counts[a])
        for g in Guard:
            self.totals.publish(f"guard_{g.name.lower()}", self.guard_counts[g])
        for k, name in enumerate(Reason.NAMES):
            self.totals.publish(f"reason_{name}", self.reason_counts[k])
        self._count_mismatches()


def run_worker(cfg: Config, shard: int, proc_slot: int) -> int:
    """Process entry point: the worker of ``shard`` until shutdown or parent death."""
    worker = Worker(cfg, shard, proc_slot)
    log.info("shard %d: %d instruments, mode %s", shard, len(worker.slots), worker.runner.mode)
    return worker.run()
