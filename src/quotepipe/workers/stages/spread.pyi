"""Type stub of the compiled Spread stage (spread.pyx)."""

from quotepipe.config import SpreadConfig
from quotepipe.workers.decisions import InstrumentState, MarketView, SpreadDecision

def spread(view: MarketView, state: InstrumentState, now_ns: int, cfg: SpreadConfig) -> SpreadDecision: ...
