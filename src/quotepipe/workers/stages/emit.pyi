"""Type stub of the compiled Emit stage (emit.pyx)."""

from collections.abc import Callable

from quotepipe.domain.instrument import InstrumentSpec
from quotepipe.workers.decisions import GuardDecision, InstrumentState, QueueDecision, SpreadDecision
from quotepipe.workers.dto import QuoteIntent, TickContext

def round_to(x: float, digits: int) -> float: ...
def emit(qd: QueueDecision, gd: GuardDecision, sd: SpreadDecision, state: InstrumentState,
         ctx: TickContext, spec: InstrumentSpec,
         sink: Callable[[QuoteIntent], object]) -> tuple[QuoteIntent, InstrumentState]: ...
