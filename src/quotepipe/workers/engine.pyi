"""Type stub of the compiled ``engine`` extension (engine.pyx): the tick engine."""

from collections.abc import Callable, Sequence
from typing import Protocol

from quotepipe.config import Config
from quotepipe.domain.instrument import InstrumentSpec
from quotepipe.domain.orders import RestingOrder
from quotepipe.domain.shards import ShardMap
from quotepipe.domain.snapshot import Snapshot
from quotepipe.shm.stats import StatsBlock
from quotepipe.workers.dto import QuoteIntent, TickContext
from quotepipe.workers.legacy import LegacyRunner
from quotepipe.workers.pipeline import PipelineRunner
from quotepipe.workers.shadow import ShadowRunner, ShadowTally
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
    shards: ShardMap
    venue: VenueState
    on_acting: Callable[[QuoteIntent], object]
    stats: StatsBlock
    shadow: ShadowTally
    cfg: Config
    record: list[TickInput] | None
    last: tuple[int, tuple, int, float, int, bool] | None
    gate: TickGate
    slots: list[int]
    runner_of: list[Runner | None]
    ticks: list[int]
    intents: list[int]
    outcomes: list[int]
    arrival: list[tuple[float, float] | None]
    specs: list[InstrumentSpec]
    runners: dict[str, Runner]
    reason_masks: dict[int, int]
    def __init__(self, cfg: Config, shards: ShardMap, modes: Sequence[str], venue: VenueState,
                 on_acting: Callable[[QuoteIntent], object], stats: StatsBlock,
                 slots: Sequence[int] | None = None) -> None: ...
    def configure(self, cfg: Config, modes: Sequence[str]) -> None: ...
    def set_arrival(self, slot: int, fit: tuple[float, float] | None) -> None: ...
    def invalidate(self) -> None: ...
    def tick(self, slot: int, rec: tuple, now: int, weight: float, flags: int, venue_version: int,
             halted: bool = False) -> QuoteIntent | None: ...
    def context(self, slot: int, rec: tuple, now: int, weight: float, flags: int,
                halted: bool = False) -> tuple[Snapshot, TickContext]: ...
    def run(self, slot: int, rec: tuple, now: int, weight: float, flags: int,
            halted: bool = False) -> QuoteIntent: ...
    def warm(self) -> None: ...
    def flush(self) -> None: ...
    @property
    def mismatches(self) -> int: ...
    def reason_counts(self) -> list[int]: ...
    def counter_totals(self) -> dict[str, int]: ...
