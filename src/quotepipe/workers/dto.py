"""Every value passed between stages, never mutated.

A stage takes immutable inputs and returns a new immutable value; the state an
instrument carries from tick to tick (``InstrumentState``) is one of them, so
the chain takes the old state and returns the new one.

Two kinds, by who reads them. The chain's boundary values, ``TickContext`` (built
by the tick engine) and ``QuoteIntent`` (read by the worker, the venue, shadow and
the legacy loop, which builds its own), are frozen ``msgspec`` structs: Python
reads their fields at interpreter speed, and the compiled stages read them at
their slot offsets (``domain/fields.pxd``). The values the stages pass each
other and the instrument state are compiled extension types with read-only
fields (``workers/decisions.pyx``), built and read as C structs. The chain's
input ``Snapshot`` and the shared names (``Guard``, ``Action``, ``RestingOrder``)
live on the domain floor, ``quotepipe.domain``.
"""

from __future__ import annotations

import msgspec

from quotepipe.domain.guards import Guard
from quotepipe.domain.orders import Action, RestingOrder
from quotepipe.workers.decisions import (
    GuardDecision,
    InstrumentState,
    InventoryDecision,
    MarketView,
    QueueDecision,
    SpreadDecision,
)

__all__ = ["DTO", "GuardDecision", "InstrumentState", "InventoryDecision", "MarketView", "QueueDecision",
           "QuoteIntent", "SpreadDecision", "TickContext"]


class DTO(msgspec.Struct, frozen=True):
    """Base of the boundary values: immutable, compared by value."""


# ------------------------------------------------------------------ inputs

class TickContext(DTO, frozen=True):
    """Everything outside the instrument's own state that a tick depends on."""

    now_ns: int                 #: event time of the tick
    position: float             #: signed, in the instrument's quantity unit
    pnl_usd: float              #: realised + unrealised, USD
    weight: float               #: allocator weight (0 = do not quote)
    weight_flags: int           #: allocator flags (blacklisted, halted)
    halted: bool                #: the shard or the whole instance is halted
    bid: RestingOrder | None
    ask: RestingOrder | None


# ------------------------------------------------------------------ output

class QuoteIntent(DTO, frozen=True):
    """Emit's output: the actions for one instrument on one tick."""

    slot: int
    t_ns: int
    bid_action: Action
    bid_px: float
    bid_qty: float
    ask_action: Action
    ask_px: float
    ask_qty: float
    weight: float
    guard: Guard
    reasons: int
    fair: float
