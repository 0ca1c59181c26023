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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from quotepipe.config import Config
from quotepipe.domain.guards import Guard, Reason
from quotepipe.domain.instrument import instrument_specs, pnl_usd
from quotepipe.domain.orders import ASK, BID, KEEP, NONE, Action, RestingOrder
from quotepipe.domain.shards import ShardMap
from quotepipe.domain.snapshot import ASK_PX, BID_PX, TOP, Snapshot
from quotepipe.shm.stats import StatsBlock
from quotepipe.workers.dto import QuoteIntent, TickContext
from quotepipe.workers.legacy import LegacyRunner
from quotepipe.workers.pipeline import PipelineRunner
from quotepipe.workers.shadow import ShadowRunner, ShadowTally, make_runner
from quotepipe.workers.trigger import TickGate

Runner = PipelineRunner | LegacyRunner | ShadowRunner
TickInput = tuple[int, Snapshot, TickContext]


class VenueState(Protocol):
    """What a tick reads of the venue: per slot position and cash (lists the venue updates in
    place: the engine keeps them), and the resting orders."""

    @property
    def position(self) -> list[float]: ...
    @property
    def cash(self) -> list[float]: ...

    def resting(self, slot: int, side: int) -> RestingOrder | None: ...


class TickEngine:
    def __init__(self, cfg: Config, shards: ShardMap, modes: Sequence[str], venue: VenueState,
                 on_acting: Callable[[QuoteIntent], object], stats: StatsBlock,
                 slots: Sequence[int] | None = None) -> None:
        n = len(cfg.instruments)
        self.shards = shards
        self.slots = list(range(n)) if slots is None else list(slots)
        self.venue = venue
        self._position, self._cash, self._resting = venue.position, venue.cash, venue.resting
        self.on_acting = on_acting
        self.stats = stats
        self.gate = TickGate(n, cfg.pipeline.max_tick_interval_ms)
        self.runners: dict[str, Runner] = {}
        self.runner_of: list[Runner | None] = [None] * n
        #: every shadow difference, kept here so that a mode change that retires a runner loses none
        self.shadow = ShadowTally(shards.shard, [i.id for i in cfg.instruments],
                                  cfg.pipeline.shadow_log_first)
        self.ticks = [0] * n
        self.intents = [0] * n        # ticks whose intent acted
        # ticks by outcome: guard << 6 | bid action << 3 | ask action, and by reason bitmask;
        # one increment a tick, expanded into per-guard, per-action, per-reason counts when read
        self.outcomes = [0] * (len(Guard) << 6)
        self.reason_masks: dict[int, int] = {}
        self.record: list[TickInput] | None = None  # set to a list to keep every tick's inputs
        #: the last run's arguments, for warm(): one tuple a tick
        self.last: tuple[int, tuple, int, float, int, bool] | None = None
        self.arrival: list[tuple[float, float] | None] = [None] * n
        self.configure(cfg, modes)

    # ---------------------------------------------------------------- config
    def configure(self, cfg: Config, modes: Sequence[str]) -> None:
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

    def set_arrival(self, slot: int, fit: tuple[float, float] | None) -> None:
        """The order-arrival intensity (A, k) fitted for ``slot`` (None: the config's), kept by
        every runner, so that a mode change keeps it too."""
        self.arrival[slot] = fit
        for r in self.runners.values():
            r.set_arrival(slot, fit)

    def invalidate(self) -> None:
        """Make every slot tick on its next look (an input outside the gate changed: a halt)."""
        for s in self.slots:
            self.gate.invalidate(s)

    # ---------------------------------------------------------------- the tick
    def _sink(self, intent: QuoteIntent) -> None:
        if NONE < intent.bid_action < KEEP or NONE < intent.ask_action < KEEP:  # acting (domain.orders)
            self.intents[intent.slot] += 1
            self.on_acting(intent)

    def tick(self, slot: int, rec: tuple, now: int, weight: float, flags: int, venue_version: int,
             halted: bool = False) -> QuoteIntent | None:
        """One tick of ``slot`` on its L1 record ``rec`` at event time ``now``; None when the
        gate skips it. A caller that builds the record only for a tick that runs (replay) asks
        ``gate.need`` itself, then calls ``run``."""
        if not self.gate.need(slot, rec[TOP], venue_version, weight, now):
            return None
        return self.run(slot, rec, now, weight, flags, halted)

    def context(self, slot: int, rec: tuple, now: int, weight: float, flags: int,
                halted: bool = False) -> tuple[Snapshot, TickContext]:
        """Step 2: the chain's inputs, from the record and the venue state (reads only)."""
        position = self._position[slot]
        resting = self._resting
        mid = (rec[BID_PX] + rec[ASK_PX]) * 0.5
        ctx = TickContext(now, position, pnl_usd(self.specs[slot], self._cash[slot], position, mid),
                          weight, flags, halted, resting(slot, BID), resting(slot, ASK))
        return Snapshot(*rec), ctx

    def run(self, slot: int, rec: tuple, now: int, weight: float, flags: int,
            halted: bool = False) -> QuoteIntent:
        """Steps 2-4 of a tick the gate let through."""
        self.last = (slot, rec, now, weight, flags, halted)
        snap, ctx = self.context(slot, rec, now, weight, flags, halted)
        if self.record is not None:
            self.record.append((slot, snap, ctx))
        intent = self.runner_of[slot].tick(slot, snap, ctx)  # type: ignore[union-attr]
        self.ticks[slot] += 1
        self.outcomes[intent.guard << 6 | intent.bid_action << 3 | intent.ask_action] += 1
        reasons = intent.reasons
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
        self.runner_of[slot].warm(slot, snap, ctx)  # type: ignore[union-attr]

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
