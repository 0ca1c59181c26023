# cython: language_level=3
"""The stage chain runner: FetchMD -> Spread -> Guards -> Inventory -> QueueAware -> Emit.

Holds the config sections, the per-instrument specs and each instrument's
current (immutable) state; times every tick's total and, on a sample of the ticks
(``stage_budgets.sample_every``), each stage (``workers.timing``).

Compiled, so that the tick's own work (the lookups, the clock marks, the timing
record) is C and each stage is called through its C entry (``cpdef``, a ``.pxd``
each), not by the interpreter nor through its Python entry's argument parsing:
15,206 instructions a tick became 11,344 when the stages were called through
vectorcall (callgrind, the gate's workload), and the C calls took about 1,000
more off. ``stage_calls`` runs one stage's C entry over captured arguments, as the
runner calls it: the perf gate counts each stage so. ``trace``, when set to a dict
of lists, gets each stage's arguments of every tick (the gate's probe counts each
stage over them); unset, it costs one test a tick.
"""

from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from quotepipe.workers.decisions cimport (GuardDecision, InstrumentState, InventoryDecision, MarketView,
                                         QueueDecision, SpreadDecision)
from quotepipe.domain.fields cimport check, obj, offset
from quotepipe.workers.timing cimport StageTimes
from quotepipe.workers.stages.emit cimport emit as c_emit
from quotepipe.workers.stages.fetch_md cimport fetch_md as c_fetch_md
from quotepipe.workers.stages.guards cimport guards as c_guards
from quotepipe.workers.stages.inventory cimport inventory as c_inventory
from quotepipe.workers.stages.queue_aware cimport queue_aware as c_queue_aware
from quotepipe.workers.stages.spread cimport spread as c_spread

from collections.abc import Callable

import msgspec

from quotepipe.config import candidate_config
from quotepipe.domain.instrument import instrument_specs
from quotepipe.shm.catalog import WORKER_STATS
from quotepipe.shm.stats import StatsBlock
from quotepipe.workers.dto import QuoteIntent, TickContext
from quotepipe.workers.stages import emit, fetch_md, guards, inventory, queue_aware, spread
from quotepipe.workers.timing import BUFFER

__all__ = ["PipelineRunner", "Sink", "emit", "fetch_md", "guards", "inventory", "queue_aware", "spread",
           "stage_calls"]

Sink = Callable[[QuoteIntent], object]

cdef object CONTEXT = TickContext
cdef Py_ssize_t NOW_NS = offset(TickContext, "now_ns")
cdef Py_ssize_t FLUSH_AT = BUFFER


cdef inline long long clock_ns() noexcept nogil:
    """``time.perf_counter_ns`` (CLOCK_MONOTONIC), without the Python call."""
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1000000000 + ts.tv_nsec


def _discard(intent):
    return None


def stage_calls(str name, list inputs):
    """The stage ``name`` through its C entry once for each argument tuple of ``inputs`` (as
    ``trace`` keeps them), as the runner calls it; ``"loop"``: the same loop, no call. The
    perf gate counts each stage so, the loop's share taken off."""
    cdef tuple a
    if name == "loop":
        for a in inputs:
            pass
    elif name == "fetch_md":
        for a in inputs:
            c_fetch_md(a[0], a[1])
    elif name == "spread":
        for a in inputs:
            c_spread(<MarketView?>a[0], <InstrumentState?>a[1], a[2], a[3])
    elif name == "guards":
        for a in inputs:
            c_guards(<MarketView?>a[0], <SpreadDecision?>a[1], <InstrumentState?>a[2], a[3], a[4], a[5])
    elif name == "inventory":
        for a in inputs:
            c_inventory(<SpreadDecision?>a[0], <GuardDecision?>a[1], a[2], a[3], a[4])
    elif name == "queue_aware":
        for a in inputs:
            c_queue_aware(<MarketView?>a[0], <SpreadDecision?>a[1], <InventoryDecision?>a[2], a[3], a[4], a[5])
    elif name == "emit":
        for a in inputs:
            c_emit(<QueueDecision?>a[0], <GuardDecision?>a[1], <SpreadDecision?>a[2], <InstrumentState?>a[3],
                   a[4], a[5], a[6])
    else:
        raise ValueError(f"no stage {name!r}")


cdef class PipelineRunner:
    mode = "pipeline"

    def __init__(self, cfg, sink, stats=None):
        self.sink = sink
        self.stats = stats or StatsBlock.local(WORKER_STATS)
        self.states = [InstrumentState() for _ in cfg.instruments]
        #: per slot, the arrival intensity (A, k) fitted online (``scoreboard.arrival``), if any
        self.arrival = [None] * len(cfg.instruments)
        self.times = StageTimes(self.stats)
        self.trace = None
        self.configure(cfg)

    def configure(self, cfg):
        """Take a (reloaded) config, with ``pipeline.candidate`` merged onto its stage sections;
        a reload also clears the loss-limit latch."""
        cfg = candidate_config(cfg)
        self.specs = instrument_specs(cfg)
        self.spread_cfg = cfg.spread
        self.spread_cfgs = [cfg.spread] * len(self.specs)  #: per slot: the section, with fitted A, k
        for slot, fit in enumerate(self.arrival):
            self.set_arrival(slot, fit)
        self.guards_cfg = cfg.guards
        self.inventory_cfg = cfg.inventory
        self.queue_cfg = cfg.queue
        self.times.flush()  # a reload keeps the timings taken so far
        self.times.deadline_ns = int(cfg.stage_budgets.deadline_us * 1000)
        self.times.set_every(cfg.stage_budgets.sample_every)
        self.states = [s.unkilled() if s.killed else s for s in self.states]

    def set_arrival(self, slot, fit):
        """The arrival intensity (A, k per bps) fitted for ``slot``, or None: the config's values.
        The spread stage reads it from the slot's own copy of its section (nothing per tick)."""
        self.arrival[slot] = fit
        base = self.spread_cfg
        if fit is None or not base.fitted_arrival():
            self.spread_cfgs[slot] = base
        else:
            a, k = fit
            self.spread_cfgs[slot] = msgspec.structs.replace(base, glft_a=a, glft_k=k, kappa=k)

    def warm(self, Py_ssize_t slot, snap, ctx):
        """The six stages once more on a tick's inputs (the engine's last), to keep their code and
        data in cache while the worker waits; the intent and the new state are thrown away,
        nothing is timed or counted (the stages are pure: nothing else can change)."""
        check(ctx, CONTEXT)
        cdef object spec = self.specs[slot]
        cdef InstrumentState state = self.states[slot]
        cdef object now = obj(ctx, NOW_NS)
        cdef MarketView view = c_fetch_md(snap, now)
        cdef SpreadDecision sd = c_spread(view, state, now, self.spread_cfgs[slot])
        cdef GuardDecision gd = c_guards(view, sd, state, ctx, spec, self.guards_cfg)
        cdef InventoryDecision inv = c_inventory(sd, gd, ctx, spec, self.inventory_cfg)
        cdef QueueDecision qd = c_queue_aware(view, sd, inv, ctx, spec, self.queue_cfg)
        c_emit(qd, gd, sd, state, ctx, spec, _discard)

    cpdef tick(self, Py_ssize_t slot, snap, ctx):
        check(ctx, CONTEXT)
        cdef object spec = self.specs[slot]
        cdef object spread_cfg = self.spread_cfgs[slot]
        cdef InstrumentState state = self.states[slot]
        cdef object now = obj(ctx, NOW_NS)
        cdef StageTimes times = self.times
        cdef bint sampled = times.skip == 0  # one tick in stage_budgets.sample_every: marks between
        cdef long long t[7]
        t[0] = clock_ns()
        cdef MarketView view = c_fetch_md(snap, now)
        if sampled:
            t[1] = clock_ns()
        cdef SpreadDecision sd = c_spread(view, state, now, spread_cfg)
        if sampled:
            t[2] = clock_ns()
        cdef GuardDecision gd = c_guards(view, sd, state, ctx, spec, self.guards_cfg)
        if sampled:
            t[3] = clock_ns()
        cdef InventoryDecision inv = c_inventory(sd, gd, ctx, spec, self.inventory_cfg)
        if sampled:
            t[4] = clock_ns()
        cdef QueueDecision qd = c_queue_aware(view, sd, inv, ctx, spec, self.queue_cfg)
        if sampled:
            t[5] = clock_ns()
        cdef tuple out = c_emit(qd, gd, sd, state, ctx, spec, self.sink)
        t[6] = clock_ns()
        self.states[slot] = out[1]
        times.record(t, sampled)
        if times.n == FLUSH_AT:
            times.flush()
        if self.trace is not None:
            self._record(snap, now, state, spread_cfg, ctx, spec, view, sd, gd, inv, qd)
        return out[0]

    cdef _record(self, snap, now, InstrumentState state, spread_cfg, ctx, spec,
                 MarketView view, SpreadDecision sd, GuardDecision gd, InventoryDecision inv,
                 QueueDecision qd):
        trace = self.trace
        trace["fetch_md"].append((snap, now))
        trace["spread"].append((view, state, now, spread_cfg))
        trace["guards"].append((view, sd, state, ctx, spec, self.guards_cfg))
        trace["inventory"].append((sd, gd, ctx, spec, self.inventory_cfg))
        trace["queue_aware"].append((view, sd, inv, ctx, spec, self.queue_cfg))
        trace["emit"].append((qd, gd, sd, state, ctx, spec, self.sink))
