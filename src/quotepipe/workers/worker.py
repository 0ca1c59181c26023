"""The worker process: one shard's instruments through the quote chain.

Busy-polls its market-data ring (``workers.spin_us`` of spinning after the
last update, then ``idle_sleep_us`` sleeps; ``busy_poll: false`` sleeps from
the start). Updates of one instrument that arrive together are coalesced: the
chain runs once, on the newest snapshot in the table. Every tick reads the
instrument's weight from the weights array and its position and resting
orders from the venue table (decoded only when the venue's row moved), and
runs through the ``TickEngine`` (the same code as replay) in the shard's mode.
An intent that acts goes on the shard's intent ring; the time from the
snapshot's publish to that write is the market-data-to-intent latency. A timer
re-runs every instrument through the engine's gate, so that stale data trips
the stale guard.

Housekeeping (``runtime.child``) runs from the busy loop as well as when idle:
a worker under sustained load still beats, follows halts and reloads, takes
the scoreboard's arrival fits (``shm.fits``) into its pipeline's spread stage,
and publishes its counters; overload shows as coalesced updates and ring overruns.
"""

from __future__ import annotations

import logging
import time
from array import array

import numpy as np

from quotepipe.config import Config
from quotepipe.domain.clock import event_now, event_rate
from quotepipe.domain.orders import RestingOrder
from quotepipe.domain.risk import STATE_FLAGS
from quotepipe.domain.snapshot import PUBLISH_NS, RECV_NS
from quotepipe.runtime.child import DRAIN_MAX, ChildProcess
from quotepipe.shm.catalog import WORKER_STATS, Attached, worker_stats_name
from quotepipe.shm.control import MODES
from quotepipe.workers.dto import QuoteIntent
from quotepipe.workers.engine import TickEngine
from quotepipe.workers.shadow import append_report, describe
from quotepipe.workers.timing import BUFFER

log = logging.getLogger(__name__)

FLUSH_NS = 1_000_000_000       # latency buffers into the shm histograms, for status and /metrics


class VenueMirror:
    """The worker's copy of its instruments' venue-table rows, refreshed when a row's version
    moves: the ``VenueState`` its tick engine reads."""

    def __init__(self, n: int) -> None:
        self.seen = [-1] * n
        self.position = [0.0] * n
        self.cash = [0.0] * n
        self.orders: list[list[RestingOrder | None]] = [[None, None] for _ in range(n)]

    def resting(self, slot: int, side: int) -> RestingOrder | None:
        return self.orders[slot][side]


class Worker(ChildProcess):
    def __init__(self, shm: Attached, shard: int, proc_slot: int) -> None:
        super().__init__(shm, proc_slot, shm.stats(worker_stats_name(shard), WORKER_STATS))
        self.name = f"worker {shard}"
        self.shard = shard
        cfg = shm.cfg
        self.reader = shm.md_ring_reader(shard)
        self.table = shm.snapshots()
        self.weights = shm.weights()
        self.venue = shm.venue_table()
        self.counts = shm.counts(writable=True)
        self.intents = shm.intent_ring_writer(shard)
        self.slots = self.shards.slots(shard)
        n = len(cfg.instruments)
        self.mirror = VenueMirror(n)
        self.timer_ticks = [0] * n
        self.last: list[QuoteIntent | None] = [None] * n  #: each slot's last intent
        self._counts_base = self.counts.rows.astype(np.int64)  # a restarted worker carries on
        self.coalesced = 0
        self.md_to_intent = array("q", bytes(8 * BUFFER))
        self.md_n = 0
        self.md_hist = self.stats.hist("md_to_intent")
        # publish to the chain's intent on every tick an update ran, acting or not: the hand-off's
        # latency at the tick rate (acting intents alone come a few dozen a second)
        self.md_to_tick = array("q", bytes(8 * BUFFER))
        self.tick_n = 0
        self.tick_hist = self.stats.hist("md_to_tick")
        self.halted = False       #: the shard (or the whole instance) is halted by the supervisor
        self.operator_halted = [False] * n  #: per slot: halted by the operator (quotepipe halt)
        self.risk = shm.risk()
        self.fits = shm.fits()
        self.fits_seen = [0] * n  #: per slot, the fits table's sequence last taken
        self.fits_taken = 0       #: fitted rows handed to the engine
        self.book_flags = 0       #: the book-risk state's Guards flags (domain.risk)
        #: per slot, what the tick hands the chain as "halted": derived on each housekeeping turn
        #: from the three above (and a book limit on a legacy shard, which knows no flatten)
        self.pulled = [False] * n
        self.engine = TickEngine(cfg, self.shards, self._modes(), self.mirror, self._write_intent,
                                 self.stats, self.slots)
        self._apply(cfg)

    def _modes(self) -> list[str]:
        return [self.control.mode(s) for s in range(self.shards.count)]

    @property
    def mode(self) -> str:
        return self.control.mode(self.shard)

    # ---------------------------------------------------------------- config
    def _apply(self, cfg: Config) -> None:
        self.cfg = cfg
        self.rate = event_rate(cfg.feed.speed)
        # the timer visits every instrument often enough for the gate's interval in wall time
        interval_wall_ns = cfg.pipeline.max_tick_interval_ms * 1e6 / self.rate
        self.timer_ns = max(1_000_000, int(min(10e6, interval_wall_ns / 2)))
        w = cfg.workers
        self.spin_ns = w.spin_us * 1000 if w.busy_poll else 0
        self.idle_s = w.idle_sleep_us / 1e6
        self.warm_ns = w.warm_us * 1000 if w.busy_poll else 0
        self.stats.set_gauge("epoch", float(self.epoch))
        self.stats.set_gauge("mode", float(MODES.index(self.mode)))
        self.legacy = self.mode == "legacy"

    def reconfigure(self, cfg: Config, epoch: int) -> None:
        """The supervisor accepted a new config: take it, in this shard's (maybe new) mode."""
        old = {r.mode for r in self.engine.runners.values()}
        self.epoch = epoch
        self.engine.configure(cfg, self._modes())
        if {self.mode} != old:
            log.info("shard %d: mode %s from config epoch %d", self.shard, self.mode, epoch)
        self._apply(cfg)

    # ---------------------------------------------------------------- the tick
    def _write_intent(self, intent: QuoteIntent) -> None:
        self.intents.write(intent.slot, intent.t_ns,
                           intent.bid_action | intent.ask_action << 8 | intent.guard << 16,
                           intent.bid_px, intent.bid_qty, intent.ask_px, intent.ask_qty)

    def _load_venue(self, slot: int, version: int) -> None:
        row = self.venue.read(slot)
        if row is None:
            return  # never written (nothing traded yet) or the venue is mid-write: next tick
        m = self.mirror
        m.seen[slot] = version
        m.position[slot] = row.position
        m.cash[slot] = row.cash
        m.orders[slot][0] = row.bid
        m.orders[slot][1] = row.ask

    def tick(self, slot: int, from_md: bool, clock=time.monotonic_ns) -> None:  # noqa: ANN001
        rec = self.table.read_l1(slot)
        if rec is None:
            return
        publish_ns = rec[PUBLISH_NS]
        now = event_now(rec[RECV_NS], publish_ns, clock(), self.rate)
        weight, flags = self.weights.get(slot)
        version = self.venue.version(slot)
        if version != self.mirror.seen[slot] and version and not version & 1:  # 0: never written
            self._load_venue(slot, version)
        engine = self.engine
        intents = engine.intents[slot]
        book = self.book_flags
        if book:  # a book-wide flatten works every position down, whatever the allocator says
            weight, flags = 1.0, book
        intent = engine.tick(slot, rec, now, weight, flags, self.mirror.seen[slot], self.pulled[slot])
        if intent is None:
            return
        self.last[slot] = intent  # its guard and reasons, for the live screen (the counts table)
        if not from_md:
            self.timer_ticks[slot] += 1
            return
        lag = clock() - publish_ns
        k = self.tick_n
        self.md_to_tick[k] = lag
        self.tick_n = k = k + 1
        if engine.intents[slot] != intents:  # the tick's intent acted: it is on the ring
            n = self.md_n
            self.md_to_intent[n] = lag
            self.md_n = n + 1
        if k == BUFFER:  # md_n <= tick_n: one flush point for both
            self._flush_latency()

    def warm(self) -> None:
        """A tick's reads of the last slot ticked (its snapshot, weight and venue version) and the
        engine's warm-up, everything thrown away: the whole tick path stays in cache while the
        worker spins between updates (``workers.warm_us``)."""
        last = self.engine.last
        if last is None:
            return
        slot = last[0]
        self.table.read_l1(slot)
        self.weights.get(slot)
        self.venue.version(slot)
        self.engine.warm()

    # ---------------------------------------------------------------- the loop
    def run(self) -> int:
        self.start()
        poll = self.reader.poll
        tick = self.tick
        pending = [False] * len(self.mirror.seen)
        order: list[int] = []
        clock = time.monotonic_ns
        sleep = time.sleep
        last_work = clock()
        next_timer = next_flush = last_warm = 0
        coalesced = 0
        warm = self.warm
        while True:
            rec = poll()
            if rec is not None:
                drained = 1
                while rec is not None:
                    s = rec[0]
                    if pending[s]:
                        coalesced += 1
                    else:
                        pending[s] = True
                        order.append(s)
                    if drained == DRAIN_MAX:  # a ring that never empties still yields to the rest
                        break
                    rec = poll()
                    drained += 1
                for s in order:
                    pending[s] = False
                    tick(s, True)
                order.clear()
                now = last_work = clock()
            else:
                now = clock()
                if self.warm_ns and now - last_warm > self.warm_ns and now - last_work <= self.spin_ns:
                    warm()  # spinning on an empty ring: keep the tick path in cache for the next update
                    last_warm = now
            if now >= next_timer:
                next_timer = now + self.timer_ns
                for s in self.slots:
                    tick(s, False)
            if now >= self.next_house:  # from the busy loop too: a loaded worker still beats
                self.coalesced += coalesced
                coalesced = 0
                if now >= next_flush:
                    next_flush = now + FLUSH_NS
                    self._flush_latency()
                if not self.housekeeping(now):
                    return 0
                continue
            if now - last_work > self.spin_ns:
                sleep(self.idle_s)

    def on_turn(self) -> None:
        """The halts (the supervisor's, the operator's) and the book-risk state: an instrument
        whose inputs changed ticks now, so its quotes are pulled or restored at once."""
        control = self.control
        halted = control.shard_halted(self.shard)
        if halted != self.halted:
            log.info("shard %d: %s", self.shard, "halted: quotes pulled" if halted else "resumed")
        book = STATE_FLAGS[self.risk.read_row().state]
        book_moved = book != self.book_flags
        self.halted, self.book_flags = halted, book
        changed = []
        for s in self.slots:
            op = control.operator_halted(self.shard, s)
            if op != self.operator_halted[s]:
                self.operator_halted[s] = op
                log.info("shard %d: %s %s by the operator", self.shard, self.cfg.instruments[s].id,
                         "halted" if op else "resumed")
            # the frozen legacy chain knows no reduce-only flatten: a book limit pulls it instead
            pulled = halted or op or (book != 0 and self.legacy)
            if pulled != self.pulled[s] or book_moved:
                self.pulled[s] = pulled
                changed.append(s)
        for s in changed:
            self.engine.gate.invalidate(s)
            self.tick(s, False)
        self._take_fits()
        control.set_halt_seen(self.proc_slot, halted and control.halt_all)
        self._report_mismatches()

    def _take_fits(self) -> None:
        """The scoreboard's arrival fits of this shard's instruments, where a row moved."""
        fits, seen = self.fits, self.fits_seen
        for s in self.slots:
            seq = fits.sequence(s)
            if seq != seen[s] and not seq & 1:
                row = fits.read(s)
                seen[s] = seq
                if row.fitted:
                    self.fits_taken += 1
                self.engine.set_arrival(s, (row.a, row.k) if row.fitted else None)

    def _report_mismatches(self) -> None:
        """Shadow mismatches kept since the last turn: logged once each, and appended to the
        shadow report when the config names one."""
        entries = self.engine.shadow.unreported()
        if not entries:
            return
        for m in entries:
            log.warning("%s", describe(m))
        path = self.cfg.pipeline.shadow_report
        if path:
            try:
                append_report(path, entries)
            except OSError as exc:
                log.error("shard %d: cannot write the shadow report %s: %s", self.shard, path, exc.strerror)

    def _flush_latency(self) -> None:
        self.engine.flush()
        if self.md_n:
            self.md_hist.record_many(np.frombuffer(self.md_to_intent, np.int64, self.md_n))
            self.md_n = 0
        if self.tick_n:
            self.tick_hist.record_many(np.frombuffer(self.md_to_tick, np.int64, self.tick_n))
            self.tick_n = 0

    def on_stop(self) -> None:
        self._flush_latency()

    def publish_counters(self) -> None:
        engine = self.engine
        rows = self.counts.rows
        base = self._counts_base
        for s in self.slots:
            rows[s, 0] = base[s, 0] + engine.ticks[s]
            rows[s, 1] = base[s, 1] + engine.intents[s]
            rows[s, 2] = base[s, 2] + self.timer_ticks[s]
            last = self.last[s]
            if last is not None:
                rows[s, 3] = last.guard
                rows[s, 4] = last.reasons
        totals = self.totals
        totals.publish_all(engine.counter_totals())
        totals.publish("timer_ticks", sum(self.timer_ticks))
        totals.publish("coalesced", self.coalesced)
        totals.publish("arrival_fits", self.fits_taken)
        totals.publish("ring_lost", self.reader.lost)
        totals.publish("seqlock_give_ups", self.table.give_ups + self.venue.table.give_ups
                       + self.weights.give_ups)


def run_worker(cfg: Config, shard: int, proc_slot: int) -> int:
    """Process entry point: the worker of ``shard`` until shutdown or parent death."""
    worker = Worker(Attached(cfg), shard, proc_slot)
    log.info("shard %d: %d instruments, mode %s", shard, len(worker.slots), worker.mode)
    return worker.run()
