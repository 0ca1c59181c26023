"""The stage chain runner: FetchMD -> Spread -> Guards -> Inventory -> QueueAware -> Emit.

Holds the config sections, the per-instrument specs and each instrument's
current (immutable) state; times every tick's total and, on a sample of the ticks
(``stage_budgets.sample_every``), each stage (``workers.timing``).
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter_ns

import msgspec

from quotepipe.config import Config, candidate_config
from quotepipe.domain.instrument import InstrumentSpec, instrument_specs
from quotepipe.domain.snapshot import Snapshot
from quotepipe.shm.catalog import WORKER_STATS
from quotepipe.shm.stats import StatsBlock
from quotepipe.workers.dto import InstrumentState, QuoteIntent, TickContext
from quotepipe.workers.stages import emit, fetch_md, guards, inventory, queue_aware, spread
from quotepipe.workers.timing import BUFFER, StageTimes

Sink = Callable[[QuoteIntent], object]


def _discard(intent: QuoteIntent) -> None:
    return None


class PipelineRunner:
    mode = "pipeline"

    def __init__(self, cfg: Config, sink: Sink, stats: StatsBlock | None = None) -> None:
        self.sink = sink
        self.stats = stats or StatsBlock.local(WORKER_STATS)
        self.states: list[InstrumentState] = [InstrumentState() for _ in cfg.instruments]
        #: per slot, the arrival intensity (A, k) fitted online (``scoreboard.arrival``), if any
        self.arrival: list[tuple[float, float] | None] = [None] * len(cfg.instruments)
        self.times = StageTimes(self.stats)
        self.configure(cfg)

    def configure(self, cfg: Config) -> None:
        """Take a (reloaded) config, with ``pipeline.candidate`` merged onto its stage sections;
        a reload also clears the loss-limit latch."""
        cfg = candidate_config(cfg)
        self.specs: list[InstrumentSpec] = instrument_specs(cfg)
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

    def set_arrival(self, slot: int, fit: tuple[float, float] | None) -> None:
        """The arrival intensity (A, k per bps) fitted for ``slot``, or None: the config's values.
        The spread stage reads it from the slot's own copy of its section (nothing per tick)."""
        self.arrival[slot] = fit
        base = self.spread_cfg
        if fit is None or not base.fitted_arrival():
            self.spread_cfgs[slot] = base
        else:
            a, k = fit
            self.spread_cfgs[slot] = msgspec.structs.replace(base, glft_a=a, glft_k=k, kappa=k)

    def warm(self, slot: int, snap: Snapshot, ctx: TickContext) -> None:
        """The six stages once more on a tick's inputs (the engine's last), to keep their code and
        data in cache while the worker waits; the intent and the new state are thrown away,
        nothing is timed or counted (the stages are pure: nothing else can change)."""
        spec, state, now = self.specs[slot], self.states[slot], ctx.now_ns
        view = fetch_md(snap, now)
        sd = spread(view, state, now, self.spread_cfgs[slot])
        gd = guards(view, sd, state, ctx, spec, self.guards_cfg)
        inv = inventory(sd, gd, ctx, spec, self.inventory_cfg)
        qd = queue_aware(view, sd, inv, ctx, spec, self.queue_cfg)
        emit(qd, gd, sd, state, ctx, spec, _discard)

    def tick(self, slot: int, snap: Snapshot, ctx: TickContext) -> QuoteIntent:
        spec = self.specs[slot]
        spread_cfg = self.spread_cfgs[slot]
        state = self.states[slot]
        now = ctx.now_ns
        times = self.times
        sampled = not times.skip  # one tick in stage_budgets.sample_every: marks between stages
        t0 = perf_counter_ns()
        view = fetch_md(snap, now)
        if sampled:
            t1 = perf_counter_ns()
        sd = spread(view, state, now, spread_cfg)
        if sampled:
            t2 = perf_counter_ns()
        gd = guards(view, sd, state, ctx, spec, self.guards_cfg)
        if sampled:
            t3 = perf_counter_ns()
        inv = inventory(sd, gd, ctx, spec, self.inventory_cfg)
        if sampled:
            t4 = perf_counter_ns()
        qd = queue_aware(view, sd, inv, ctx, spec, self.queue_cfg)
        if sampled:
            t5 = perf_counter_ns()
        intent, self.states[slot] = emit(qd, gd, sd, state, ctx, spec, self.sink)
        t6 = perf_counter_ns()
        n = times.n
        times.totals[n] = t6 - t0
        times.n = n = n + 1
        if sampled:
            times.sample(t0, t1, t2, t3, t4, t5, t6)
        else:
            times.skip -= 1
        if n == BUFFER:
            times.flush()
        return intent
