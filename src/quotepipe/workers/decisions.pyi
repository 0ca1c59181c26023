"""Type stub of the compiled ``decisions`` extension (decisions.pyx)."""

from typing import Any, ClassVar

from quotepipe.domain.guards import Guard

class Value:
    __struct_fields__: ClassVar[tuple[str, ...]]
    def astuple(self) -> tuple[Any, ...]: ...

class InstrumentState(Value):
    var_bps2: float
    vol_samples: int
    anchor_ns: int
    anchor_mid: float
    last_mid: float
    bid_target: float
    ask_target: float
    tokens: float
    tokens_ns: int
    killed: bool
    ticks: int
    def __init__(self, var_bps2: float = ..., vol_samples: int = ..., anchor_ns: int = ...,
                 anchor_mid: float = ..., last_mid: float = ..., bid_target: float = ...,
                 ask_target: float = ..., tokens: float = ..., tokens_ns: int = ..., killed: bool = ...,
                 ticks: int = ...) -> None: ...
    def unkilled(self) -> InstrumentState: ...

class MarketView(Value):
    bid_px: float
    bid_qty: float
    ask_px: float
    ask_qty: float
    mid: float
    age_ns: int
    book_state: int
    flags: int
    def __init__(self, bid_px: float, bid_qty: float, ask_px: float, ask_qty: float, mid: float,
                 age_ns: int, book_state: int, flags: int) -> None: ...

class SpreadDecision(Value):
    mid: float
    fair: float
    half_spread_bps: float
    model_skew_bps: float
    sigma_bps: float
    var_bps2: float
    vol_samples: int
    anchor_ns: int
    anchor_mid: float
    def __init__(self, mid: float, fair: float, half_spread_bps: float, model_skew_bps: float,
                 sigma_bps: float, var_bps2: float, vol_samples: int, anchor_ns: int,
                 anchor_mid: float) -> None: ...

class GuardDecision(Value):
    guard_code: int
    reasons: int
    tokens: float
    killed: bool
    @property
    def guard(self) -> Guard: ...
    def __init__(self, guard: int, reasons: int, tokens: float, killed: bool) -> None: ...

class InventoryDecision(Value):
    q: float
    reservation: float
    bid_px: float
    bid_qty: float
    ask_px: float
    ask_qty: float
    def __init__(self, q: float, reservation: float, bid_px: float, bid_qty: float, ask_px: float,
                 ask_qty: float) -> None: ...

class QueueDecision(Value):
    bid_px: float
    bid_qty: float
    bid_keep: bool
    ask_px: float
    ask_qty: float
    ask_keep: bool
    def __init__(self, bid_px: float, bid_qty: float, bid_keep: bool, ask_px: float, ask_qty: float,
                 ask_keep: bool) -> None: ...
