"""Type stub of the compiled stage chain runner (pipeline.pyx)."""

from collections.abc import Callable
from typing import Any, ClassVar

from quotepipe.config import Config, GuardsConfig, InventoryConfig, QueueConfig, SpreadConfig
from quotepipe.domain.instrument import InstrumentSpec
from quotepipe.domain.snapshot import Snapshot
from quotepipe.shm.stats import StatsBlock
from quotepipe.workers.dto import InstrumentState, QuoteIntent, TickContext
from quotepipe.workers.stages import emit, fetch_md, guards, inventory, queue_aware, spread
from quotepipe.workers.timing import StageTimes

__all__ = ["PipelineRunner", "Sink", "emit", "fetch_md", "guards", "inventory", "queue_aware", "spread",
           "stage_calls"]

Sink = Callable[[QuoteIntent], object]

def stage_calls(name: str, inputs: list[tuple[Any, ...]]) -> None: ...

class PipelineRunner:
    mode: ClassVar[str]
    sink: Sink
    stats: StatsBlock
    times: StageTimes
    specs: list[InstrumentSpec]
    spread_cfg: SpreadConfig
    spread_cfgs: list[SpreadConfig]
    guards_cfg: GuardsConfig
    inventory_cfg: InventoryConfig
    queue_cfg: QueueConfig
    states: list[InstrumentState]
    arrival: list[tuple[float, float] | None]
    trace: dict[str, list[tuple[Any, ...]]] | None
    def __init__(self, cfg: Config, sink: Sink, stats: StatsBlock | None = None) -> None: ...
    def configure(self, cfg: Config) -> None: ...
    def set_arrival(self, slot: int, fit: tuple[float, float] | None) -> None: ...
    def warm(self, slot: int, snap: Snapshot, ctx: TickContext) -> None: ...
    def tick(self, slot: int, snap: Snapshot, ctx: TickContext) -> QuoteIntent: ...
