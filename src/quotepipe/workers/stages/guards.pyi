"""Type stub of the compiled Guards stage (guards.pyx)."""

from quotepipe.config import GuardsConfig
from quotepipe.domain.instrument import InstrumentSpec
from quotepipe.workers.decisions import GuardDecision, InstrumentState, MarketView, SpreadDecision
from quotepipe.workers.dto import TickContext

def guards(view: MarketView, sd: SpreadDecision, state: InstrumentState, ctx: TickContext,
           spec: InstrumentSpec, cfg: GuardsConfig) -> GuardDecision: ...
