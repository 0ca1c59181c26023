"""Type stub of the compiled valuation (valuation.pyx)."""

from quotepipe.domain.instrument import InstrumentSpec

def pnl_usd(spec: InstrumentSpec, cash: float, position: float, mid: float) -> float: ...
