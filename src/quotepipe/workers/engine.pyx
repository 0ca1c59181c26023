# cython: language_level=3
"""The tick engine: one tick of one instrument, the same code in the worker, replay and the gate.

A tick takes the instrument's L1 record (``domain.snapshot`` field order), the
event time, the allocator's weight and flags and the venue's version of the
instrument, and:

1. asks the ``TickGate`` whether anything the chain reads has changed (else
   it is skipped, and nothing below runs);
2. builds the ``TickContext`` from the venue state (position, PnL at the mid,
   resting orders);
3. runs the chain in the instrument's shard mode (``legacy``, ``shadow`` or
   ``pipeline``: a runner per mode in use);
4. counts the tick, its guard, its reasons and the actions of its intent.

Every intent the chain emits passes the engine's sink; those that act (NEW,
REPLACE or CANCEL on a side) go on to the caller's ``on_acting``: the worker
writes them to its intent ring, replay submits them to the paper venue, the
gate's workload rests them on its instant-ack venue. The venue state comes from
any object with ``position`` and ``cash`` lists and a ``resting(slot, side)``
method: ``PaperVenue`` itself in replay, the worker's mirror of the venue table.

Compiled (Cython): ``run`` and ``context`` are every tick's work outside the
chain. The record and the intent are read in C (the intent's fields at their
slot offsets, ``domain/fields.pxd``); the structs the chain takes are built
as in Python, and PnL comes from ``domain.valuation``'s C entry, the one place
it is valued.
"""


from quotepipe.domain.guards import Guard, Reason
from quotepipe.domain.instrument import InstrumentSpec, instrument_specs
from quotepipe.domain.orders import ASK, BID, KEEP, NONE, Action
from quotepipe.domain.snapshot import ASK_PX, BID_PX, Snapshot
from quotepipe.workers.dto import QuoteIntent, TickContext
from quotepipe.workers.shadow import ShadowTally, make_runner

from quotepipe.domain.fields cimport check, f64, f64_of, flag, i64, obj, offset
from quotepipe.domain.valuation cimport pnl_usd_at
from quotepipe.workers.pipeline cimport PipelineRunner
from quotepipe.workers.trigger cimport TickGate

#: what ``record`` keeps of each tick: the slot and the chain's two inputs
TickInput = tuple

cdef Py_ssize_t _BID_PX = BID_PX, _ASK_PX = ASK_PX
cdef int _BID = BID, _ASK = ASK, _NONE = NONE, _KEEP = KEEP
cdef Py_ssize_t SLOT = offset(QuoteIntent, "slot"), GUARD = offset(QuoteIntent, "guard")
cdef Py_ssize_t BID_ACTION = offset(QuoteIntent, "bid_action"), ASK_ACTION = offset(QuoteIntent, "ask_action")
cdef Py_ssize_t REASONS = offset(QuoteIntent, "reasons")
cdef Py_ssize_t MULTIPLIER = offset(InstrumentSpec, "multiplier"), INVERSE = offset(InstrumentSpec, "inverse")
cdef object _INTENT = QuoteIntent, _CONTEXT = TickContext, _SNAPSHOT = Snapshot, _SPEC = InstrumentSpec


cdef class TickEngine:
    """The ticks of the slots one process runs, in each slot's shard mode (a runner per mode)."""

    def __init__(self, cfg, shards, modes, venue, on_acting, stats, slots=None):
        n = len(cfg.instruments)
        self.shards = shards
        self.slots = list(range(n)) if slots is None else list(slots)
        self.venue = venue
        self._position, self._cash, self._resting = venue.position, venue.cash, venue.resting
        self.on_acting = on_acting
        self.stats = stats
        self.gate = TickGate(n, cfg.pipeline.max_tick_interval_ms)
        self.runners = {}
        self.runner_of = [None] * n
        #: every shadow difference, kept here so that a mode change that retires a runner loses none
        self.shadow = ShadowTally(shards.shard, [i.id for i in cfg.instruments],
                                  cfg.pipeline.shadow_log_first)
        self.ticks = [0] * n
        self.intents = [0] * n        # ticks whose intent acted
        # ticks by outcome: guard << 6 | bid action << 3 | ask action, and by reason bitmask;
        # one increment a tick, expanded into per-guard, per-action, per-reason counts when read
        self.outcomes = [0] * (len(Guard) << 6)
        self.reason_masks = {}
        self.record = None  # set to a list to keep every tick's inputs
        #: the last run's arguments, for warm(): one tuple a tick
        self.last = None
        self.arrival = [None] * n
        self.configure(cfg, modes)

    # ---------------------------------------------------------------- config
    def configure(self, cfg, modes):
        """Take a config (start or reload) and the mode of every shard. A runner whose mode is
        still in use takes the new config; one no longer used is retired (its timings flushed)."""
        self.cfg = cfg
        self.specs = instrument_specs(cfg)
        self.gate.set_interval(cfg.pipeline.max_tick_interval_ms)
        wanted = {modes[self.shards.shard[s]] for s in self.slots}
        for mode in sorted(set(self.runners) - wanted):
            old = self.runners.pop(mode)
            old.times.flush()
        for mode in sorted(wanted):
            if mode in self.runners:
                self.runners[mode].configure(cfg)
            else:
                runner = self.runners[mode] = make_runner(mode, cfg, self._sink, self.stats, self.shadow)
                for slot, fit in enumerate(self.arrival):
                    if fit is not None:
                        runner.set_arrival(slot, fit)
        for s in self.slots:
            self.runner_of[s] = self.runners[modes[self.shards.shard[s]]]
            self.gate.invalidate(s)

    def set_arrival(self, slot, fit):
        """The order-arrival intensity (A, k) fitted for ``slot`` (None: the config's), kept by
        every runner, so that a mode change keeps it too."""
        self.arrival[slot] = fit
        for r in self.runners.values():
            r.set_arrival(slot, fit)

    def invalidate(self):
        """Make every slot tick on its next look (an input outside the gate changed: a halt)."""
        for s in self.slots:
            self.gate.invalidate(s)

    # ---------------------------------------------------------------- the tick
    def _sink(self, intent):
        check(intent, _INTENT)
        cdef long long bid_action = i64(intent, BID_ACTION), ask_action = i64(intent, ASK_ACTION)
        if _NONE < bid_action < _KEEP or _NONE < ask_action < _KEEP:  # acting (domain.orders)
            self.intents[i64(intent, SLOT)] += 1
            self.on_acting(intent)

    def tick(self, Py_ssize_t slot, tuple rec, now, weight, flags, venue_version, halted=False):
        """One tick of ``slot`` on its L1 record ``rec`` at event time ``now``; None when the
        gate skips it. A caller that builds the record only for a tick that runs (replay) asks
        ``gate.need`` itself, then calls ``run``."""
        if not self.gate.need(slot, rec, venue_version, weight, now):  # reads the top of the record
            return None
        return self.run(slot, rec, now, weight, flags, halted)

    def context(self, Py_ssize_t slot, tuple rec, now, weight, flags, halted=False):
        """Step 2: the chain's inputs, from the record and the venue state (reads only)."""
        return _SNAPSHOT(*rec), self._context(slot, rec, now, weight, flags, halted)

    cdef object _context(self, Py_ssize_t slot, tuple rec, now, weight, flags, halted):
        position = self._position[slot]
        spec = self.specs[slot]
        check(spec, _SPEC)
        cdef double mid = (f64_of(rec[_BID_PX]) + f64_of(rec[_ASK_PX])) * 0.5
        cdef double pnl = pnl_usd_at(flag(spec, INVERSE), f64(spec, MULTIPLIER), f64_of(self._cash[slot]),
                                     f64_of(position), mid)
        resting = self._resting
        return _CONTEXT(now, position, pnl, weight, flags, halted, resting(slot, _BID), resting(slot, _ASK))

    cpdef run(self, Py_ssize_t slot, tuple rec, now, weight, flags, halted=False):
        """Steps 2-4 of a tick the gate let through."""
        self.last = (slot, rec, now, weight, flags, halted)
        snap = _SNAPSHOT(*rec)
        ctx = self._context(slot, rec, now, weight, flags, halted)
        if self.record is not None:
            self.record.append((slot, snap, ctx))
        runner = self.runner_of[slot]
        if type(runner) is PipelineRunner:  # its C entry; the legacy and shadow runners are Python
            intent = (<PipelineRunner>runner).tick(slot, snap, ctx)
        else:
            intent = runner.tick(slot, snap, ctx)
        check(intent, _INTENT)
        self.ticks[slot] += 1
        self.outcomes[i64(intent, GUARD) << 6 | i64(intent, BID_ACTION) << 3 | i64(intent, ASK_ACTION)] += 1
        reasons = obj(intent, REASONS)
        if reasons:
            masks = self.reason_masks
            masks[reasons] = masks.get(reasons, 0) + 1
        return intent

    def warm(self) -> None:
        """The last tick's context assembled again and its runner's chain run on it, the results
        thrown away (``workers.warm_us``): both only read, so nothing changes."""
        if self.last is None:
            return
        slot = self.last[0]
        snap, ctx = self.context(*self.last)
        self.runner_of[slot].warm(slot, snap, ctx)

    # ---------------------------------------------------------------- totals
    def flush(self) -> None:
        """Stage timings into the stats block's histograms."""
        for r in self.runners.values():
            r.times.flush()

    @property
    def mismatches(self) -> int:
        """Shadow mismatches so far, over every shadow runner this engine has had."""
        return self.shadow.total

    def reason_counts(self) -> list[int]:
        """Ticks on which each guard reason (``Reason.NAMES`` order) held."""
        out = [0] * len(Reason.NAMES)
        for mask, n in self.reason_masks.items():
            for k in range(len(out)):
                if mask >> k & 1:
                    out[k] += n
        return out

    def counter_totals(self) -> dict[str, int]:
        """The engine's totals under the worker stats block's counter names."""
        out = {"ticks": sum(self.ticks), "intents": sum(self.intents),
               "shadow_mismatches": self.mismatches,
               **{f"shadow_{f}": n for f, n in self.shadow.fields.items()}}
        guards = [0] * len(Guard)
        actions = [0] * len(Action)
        for k, n in enumerate(self.outcomes):
            if n:
                guards[k >> 6] += n
                actions[k >> 3 & 7] += n
                actions[k & 7] += n
        for a in Action:
            if a != Action.NONE:
                out[f"action_{a.name.lower()}"] = actions[a]
        for g in Guard:
            out[f"guard_{g.name.lower()}"] = guards[g]
        for name, n in zip(Reason.NAMES, self.reason_counts(), strict=True):
            out[f"reason_{name}"] = n
        return out
