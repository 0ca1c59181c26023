"""Type stub of the compiled Inventory stage (inventory.pyx)."""

from quotepipe.config import InventoryConfig
from quotepipe.domain.instrument import InstrumentSpec
from quotepipe.workers.decisions import GuardDecision, InventoryDecision, SpreadDecision
from quotepipe.workers.dto import TickContext

def inventory(sd: SpreadDecision, gd: GuardDecision, ctx: TickContext, spec: InstrumentSpec,
              cfg: InventoryConfig) -> InventoryDecision: ...
