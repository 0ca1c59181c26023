"""Type stub of the compiled QueueAware stage (queue_aware.pyx)."""

from quotepipe.config import QueueConfig
from quotepipe.domain.instrument import InstrumentSpec
from quotepipe.workers.decisions import InventoryDecision, MarketView, QueueDecision, SpreadDecision
from quotepipe.workers.dto import TickContext

def queue_aware(view: MarketView, sd: SpreadDecision, inv: InventoryDecision, ctx: TickContext,
                spec: InstrumentSpec, cfg: QueueConfig) -> QueueDecision: ...
