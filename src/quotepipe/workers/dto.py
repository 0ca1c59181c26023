"""Every value passed between stages: frozen ``msgspec`` structs, never mutated.

A stage takes immutable inputs and returns a new immutable value; the state an
instrument carries from tick to tick (``InstrumentState``) is one of them, so
the chain takes the old state and returns the new one. Positional fields keep
construction cheap on the hot path (one C call per value).
"""

from __future__ import annotations

from enum import IntEnum

import msgspec

# the chain's input type lives with the table it is read from
from quotepipe.shm.snapshots import Snapshot as Snapshot


class DTO(msgspec.Struct, frozen=True):
    """Base of every stage value: immutable, compared by value."""


# ------------------------------------------------------------------ enums

class Guard(IntEnum):
    QUOTE = 0        #: quote both sides
    REDUCE_ONLY = 1  #: quote only the side that reduces the position
    PULL = 2         #: cancel everything
    HOLD = 3         #: order-action budget exhausted: leave resting orders as they are


class Reason:
    """Guard reasons, a bitmask: every reason that held on the tick is set."""

    STALE = 1 << 0
    INVALID_BOOK = 1 << 1
    WIDE_SPREAD = 1 << 2
    VOL_SPIKE = 1 << 3
    POSITION_LIMIT = 1 << 4
    LOSS_LIMIT = 1 << 5
    BLACKLISTED = 1 << 6
    HALTED = 1 << 7
    RATE_LIMIT = 1 << 8

    NAMES = ("stale", "invalid_book", "wide_spread", "vol_spike", "position_limit", "loss_limit",
             "blacklisted", "halted", "rate_limit")

    @classmethod
    def names(cls, mask: int) -> list[str]:
        return [n for b, n in enumerate(cls.NAMES) if mask >> b & 1]


#: reasons that pull every quote
PULL_REASONS = (Reason.STALE | Reason.INVALID_BOOK | Reason.WIDE_SPREAD | Reason.VOL_SPIKE
                | Reason.LOSS_LIMIT | Reason.BLACKLISTED | Reason.HALTED)


class BookFlag:
    """What FetchMD found wrong with a snapshot (bitmask)."""

    CROSSED = 1 << 0
    LOCKED = 1 << 1
    BAD_PRICE = 1 << 2   #: non-positive or non-finite price
    ZERO_SIZE = 1 << 3   #: non-positive or non-finite size at the touch
    EMPTY = 1 << 4       #: nothing published yet

    INVALID = CROSSED | LOCKED | BAD_PRICE | ZERO_SIZE | EMPTY


class Action(IntEnum):
    NONE = 0     #: no order on this side, none wanted
    NEW = 1
    REPLACE = 2
    CANCEL = 3
    KEEP = 4


#: the actions that ask the venue to do something (KEEP and NONE leave it alone)
ACTING = (Action.NEW, Action.REPLACE, Action.CANCEL)


# ------------------------------------------------------------------ inputs

class RestingOrder(DTO):
    """Our order resting at the venue, as the venue last published it."""

    order_id: int
    price: float
    qty: float           #: quantity left
    queue_ahead: float   #: estimated quantity ahead of us at our price
    level_qty: float     #: quantity at our level when we last looked (us excluded)
    placed_ns: int       #: event time it started resting


class TickContext(DTO):
    """Everything outside the instrument's own state that a tick depends on."""

    now_ns: int                 #: event time of the tick
    position: float             #: signed, in the instrument's quantity unit
    pnl_usd: float              #: realised + unrealised, USD
    weight: float               #: allocator weight (0 = do not quote)
    weight_flags: int           #: allocator flags (blacklisted, halted)
    halted: bool                #: the shard or the whole instance is halted
    bid: RestingOrder | None
    ask: RestingOrder | None


class InstrumentState(DTO):
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

class MarketView(DTO):
    """FetchMD: a validated view of the snapshot."""

    bid_px: float
    bid_qty: float
    ask_px: float
    ask_qty: float
    mid: float
    age_ns: int          #: tick time minus the update's event time
    book_state: int
    flags: int           #: BookFlag bits


class SpreadDecision(DTO):
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


class GuardDecision(DTO):
    guard: Guard
    reasons: int
    tokens: float           #: budget after refill, before this tick's actions
    killed: bool


class InventoryDecision(DTO):
    """Inventory: reservation price and unrounded two-sided targets (qty 0 = no quote)."""

    q: float                #: normalised position in [-1, 1]
    reservation: float
    bid_px: float
    bid_qty: float
    ask_px: float
    ask_qty: float


class QueueDecision(DTO):
    """QueueAware: targets after queue logic; ``*_keep`` leaves the resting order alone."""

    bid_px: float
    bid_qty: float
    bid_keep: bool
    ask_px: float
    ask_qty: float
    ask_keep: bool


class QuoteIntent(DTO):
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
