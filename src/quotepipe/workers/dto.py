"""Every value passed between stages: frozen ``msgspec`` structs, never mutated.

A stage takes immutable inputs and returns a new immutable value; the state an
instrument carries from tick to tick (``InstrumentState``) is one of them, so
the chain takes the old state and returns the new one. Positional fields keep
construction cheap on the hot path (one C call per value). The chain's input
``Snapshot`` and the shared names (``Guard``, ``Action``, ``RestingOrder``) live on
the domain floor, ``quotepipe.domain``.
"""

from __future__ import annotations

import msgspec

from quotepipe.domain.guards import Guard
from quotepipe.domain.orders import Action, RestingOrder

__all__ = ["DTO", "GuardDecision", "InstrumentState", "InventoryDecision", "MarketView", "QueueDecision",
           "QuoteIntent", "SpreadDecision", "TickContext"]


class DTO(msgspec.Struct, frozen=True):
    """Base of every stage value: immutable, compared by value."""


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


class InstrumentState(DTO, frozen=True):
    """What an instrument carries from one tick to the next."""

    var_bps2: float = 0.0       #: EWMA of squared mid log-returns per interval, bps^2
    vol_samples: int = 0
    anchor_ns: int = 0          #: start of the current volatility interval
    anchor_mid: float = 0.0     #: mid at that start
    last_mid: float = 0.0
    bid_target: float = 0.0     #: last targets emitted (0 = none)
    ask_target: float = 0.0
    tokens: float = -1.0        #: order-action budget; -1 = full bucket on the first tick
    tokens_ns: int = 0
    killed: bool = False        #: loss limit hit: pulled until a config reload
    ticks: int = 0


# ------------------------------------------------------------------ stage outputs

class MarketView(DTO, frozen=True):
    """FetchMD: a validated view of the snapshot."""

    bid_px: float
    bid_qty: float
    ask_px: float
    ask_qty: float
    mid: float
    age_ns: int          #: tick time minus the update's event time
    book_state: int
    flags: int           #: BookFlag bits


class SpreadDecision(DTO, frozen=True):
    """Spread: fair price, half-spread and the model's skew, plus the new volatility state."""

    mid: float
    fair: float
    half_spread_bps: float
    model_skew_bps: float   #: reservation shift per unit of normalised position (model skew)
    sigma_bps: float
    var_bps2: float
    vol_samples: int
    anchor_ns: int
    anchor_mid: float


class GuardDecision(DTO, frozen=True):
    guard: Guard
    reasons: int
    tokens: float           #: budget after refill, before this tick's actions
    killed: bool


class InventoryDecision(DTO, frozen=True):
    """Inventory: reservation price and unrounded two-sided targets (qty 0 = no quote)."""

    q: float                #: normalised position in [-1, 1]
    reservation: float
    bid_px: float
    bid_qty: float
    ask_px: float
    ask_qty: float


class QueueDecision(DTO, frozen=True):
    """QueueAware: targets after queue logic; ``*_keep`` leaves the resting order alone."""

    bid_px: float
    bid_qty: float
    bid_keep: bool
    ask_px: float
    ask_qty: float
    ask_keep: bool


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
