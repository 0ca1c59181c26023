"""Shadow mode: legacy and pipeline run on the same input; legacy's intent is emitted.

Every difference is counted, per instrument and per intent field; the first
``pipeline.shadow_log_first`` of each shard are kept with their inputs
(snapshot, context, both intents) for the shadow report and the log. The pipeline's stage
timings go to the stats block; legacy's are kept privately.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import msgspec

from quotepipe.config import Config
from quotepipe.domain.snapshot import Snapshot
from quotepipe.shm.catalog import INTENT_FIELDS as CATALOG_INTENT_FIELDS
from quotepipe.shm.stats import StatsBlock
from quotepipe.workers.dto import QuoteIntent, TickContext
from quotepipe.workers.legacy import LegacyRunner
from quotepipe.workers.pipeline import PipelineRunner, Sink

#: the fields of an intent a mismatch can differ in (counted per field; the stats block's names)
INTENT_FIELDS: tuple[str, ...] = CATALOG_INTENT_FIELDS


class Mismatch(msgspec.Struct, frozen=True):
    """One difference, with everything needed to replay it: a line of the shadow report."""

    shard: int
    instrument: str
    slot: int
    fields: list[str]
    legacy: QuoteIntent
    pipeline: QuoteIntent
    snapshot: Snapshot
    context: TickContext


def _discard(intent: QuoteIntent) -> None:
    return None


def differing_fields(a: QuoteIntent, b: QuoteIntent) -> list[str]:
    return [f for f in INTENT_FIELDS if getattr(a, f) != getattr(b, f)]


class ShadowTally:
    """Every shadow difference of one engine: counts per instrument and per field, and the first
    ``keep_first`` of each shard with their inputs. Owned by the engine, so a mode change that
    retires a shadow runner loses none of it."""

    def __init__(self, shard_of: Sequence[int], ids: Sequence[str], keep_first: int) -> None:
        self.shard_of = shard_of
        self.ids = ids
        self.keep_first = keep_first
        self.total = 0
        self.by_slot = [0] * len(ids)
        self.fields = dict.fromkeys(INTENT_FIELDS, 0)
        self.first: list[Mismatch] = []
        self.kept = [0] * (max(shard_of, default=0) + 1)
        self.reported = 0  #: entries of ``first`` already handed out by ``unreported``

    def add(self, slot: int, snap: Snapshot, ctx: TickContext, old: QuoteIntent, new: QuoteIntent) -> None:
        self.total += 1
        self.by_slot[slot] += 1
        fields = differing_fields(old, new)
        for f in fields:
            self.fields[f] += 1
        shard = self.shard_of[slot]
        if self.kept[shard] < self.keep_first:
            self.kept[shard] += 1
            self.first.append(Mismatch(shard, self.ids[slot], slot, fields, old, new, snap, ctx))

    def by_shard(self, n_shards: int) -> list[int]:
        out = [0] * n_shards
        for slot, n in enumerate(self.by_slot):
            out[self.shard_of[slot]] += n
        return out

    def unreported(self) -> list[Mismatch]:
        """The kept mismatches not handed out before (for the report file and the log)."""
        out = self.first[self.reported:]
        self.reported = len(self.first)
        return out


def append_report(path: str, entries: Sequence[Mismatch]) -> None:
    """Append ``entries`` to the shadow report, one JSON object a line, each line one write
    (several workers append to the same file)."""
    if not entries:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        for m in entries:
            os.write(fd, _encoder.encode(m) + b"\n")
    finally:
        os.close(fd)


def describe(m: Mismatch) -> str:
    """One log line for a mismatch."""
    diffs = ", ".join(f"{f} {getattr(m.legacy, f)!s} -> {getattr(m.pipeline, f)!s}" for f in m.fields)
    where = f"shard {m.shard}, {m.instrument} at t={m.legacy.t_ns}"
    return f"shadow mismatch, {where} (legacy -> pipeline): {diffs}"


_encoder = msgspec.json.Encoder()


class ShadowRunner:
    mode = "shadow"

    def __init__(self, cfg: Config, sink: Sink, stats: StatsBlock | None = None,
                 tally: ShadowTally | None = None) -> None:
        self.sink = sink
        self.pipeline = PipelineRunner(cfg, _discard, stats)
        self.stats = self.pipeline.stats
        self.legacy = LegacyRunner(cfg, sink)
        n = len(cfg.instruments)
        self.tally = tally if tally is not None else ShadowTally([0] * n, [i.id for i in cfg.instruments],
                                                                 cfg.pipeline.shadow_log_first)
        self.configure(cfg)

    @property
    def mismatches(self) -> int:
        return self.tally.total

    @property
    def first(self) -> list[Mismatch]:
        return self.tally.first

    def configure(self, cfg: Config) -> None:
        self.tally.keep_first = cfg.pipeline.shadow_log_first
        self.pipeline.configure(cfg)
        self.legacy.configure(cfg)

    def set_arrival(self, slot: int, fit: tuple[float, float] | None) -> None:
        self.pipeline.set_arrival(slot, fit)
        self.legacy.set_arrival(slot, fit)

    @property
    def times(self):  # noqa: ANN201 - the pipeline's StageTimes
        return self.pipeline.times

    def warm(self, slot: int, snap: Snapshot, ctx: TickContext) -> None:
        self.pipeline.warm(slot, snap, ctx)

    def tick(self, slot: int, snap: Snapshot, ctx: TickContext) -> QuoteIntent:
        new = self.pipeline.tick(slot, snap, ctx)
        old = self.legacy.tick(slot, snap, ctx)
        if new != old:
            self.tally.add(slot, snap, ctx, old, new)
        return old


def make_runner(mode: str, cfg: Config, sink: Sink, stats: StatsBlock | None = None,
                tally: ShadowTally | None = None) -> PipelineRunner | LegacyRunner | ShadowRunner:
    """The runner of a shard mode: ``legacy``, ``shadow`` or ``pipeline``."""
    if mode == "pipeline":
        return PipelineRunner(cfg, sink, stats)
    if mode == "legacy":
        return LegacyRunner(cfg, sink, stats)
    if mode == "shadow":
        return ShadowRunner(cfg, sink, stats, tally)
    raise ValueError(f"unknown shard mode {mode!r}: expected legacy, shadow or pipeline")
