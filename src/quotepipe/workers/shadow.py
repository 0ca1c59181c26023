"""Shadow mode: legacy and pipeline run on the same input; legacy's intent is emitted.

Every difference is counted; the first ``keep_first`` are kept with their
inputs (snapshot, context, both intents) for a report. The pipeline's stage
timings go to the stats block; legacy's are kept privately.
"""

from __future__ import annotations

import msgspec

from quotepipe.config import Config
from quotepipe.domain.snapshot import Snapshot
from quotepipe.shm.stats import StatsBlock
from quotepipe.workers.dto import QuoteIntent, TickContext
from quotepipe.workers.legacy import LegacyRunner
from quotepipe.workers.pipeline import PipelineRunner, Sink


class Mismatch(msgspec.Struct, frozen=True):
    slot: int
    snapshot: Snapshot
    context: TickContext
    legacy: QuoteIntent
    pipeline: QuoteIntent
    fields: list[str]


def _discard(intent: QuoteIntent) -> None:
    return None


def differing_fields(a: QuoteIntent, b: QuoteIntent) -> list[str]:
    return [f for f in a.__struct_fields__ if getattr(a, f) != getattr(b, f)]


class ShadowRunner:
    mode = "shadow"

    def __init__(self, cfg: Config, sink: Sink, stats: StatsBlock | None = None) -> None:
        self.sink = sink
        self.pipeline = PipelineRunner(cfg, _discard, stats)
        self.stats = self.pipeline.stats
        self.legacy = LegacyRunner(cfg, sink)
        self.mismatches = 0
        self.first: list[Mismatch] = []
        self.configure(cfg)

    def configure(self, cfg: Config) -> None:
        self.keep_first = cfg.pipeline.shadow_log_first
        self.pipeline.configure(cfg)
        self.legacy.configure(cfg)

    @property
    def times(self):  # noqa: ANN201 - the pipeline's StageTimes
        return self.pipeline.times

    def tick(self, slot: int, snap: Snapshot, ctx: TickContext) -> QuoteIntent:
        new = self.pipeline.tick(slot, snap, ctx)
        old = self.legacy.tick(slot, snap, ctx)
        if new != old:
            self.mismatches += 1
            if len(self.first) < self.keep_first:
                self.first.append(Mismatch(slot, snap, ctx, old, new, differing_fields(old, new)))
        return old


def make_runner(mode: str, cfg: Config, sink: Sink,
                stats: StatsBlock | None = None) -> PipelineRunner | LegacyRunner | ShadowRunner:
    """The runner of a shard mode: ``legacy``, ``shadow`` or ``pipeline``."""
    if mode == "pipeline":
        return PipelineRunner(cfg, sink, stats)
    if mode == "legacy":
        return LegacyRunner(cfg, sink, stats)
    if mode == "shadow":
        return ShadowRunner(cfg, sink, stats)
    raise ValueError(f"unknown shard mode {mode!r}: expected legacy, shadow or pipeline")
