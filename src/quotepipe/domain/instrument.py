"""Per-instrument constants resolved once per config epoch, and their rounding.

The pipeline's Emit, the legacy QuoteLoop and the paper venue round prices and
sizes the same way because they call the same three functions here. A position is
valued in ``domain.valuation``.
"""

from __future__ import annotations

import math

import msgspec

from quotepipe.config import Config, Instrument

EPS = 1e-9  # tolerance, in ticks or lots, for values that are on the grid but for float noise


def tick_digits(step: float) -> int:
    """Decimals needed to print multiples of ``step`` exactly (0.01 -> 2, 1e-05 -> 5)."""
    return max(0, -math.floor(math.log10(step) + 1e-9)) + (0 if float(f"{step:.0e}") == step else 2)


class InstrumentSpec(msgspec.Struct, frozen=True):
    slot: int
    id: str
    tick: float
    digits: int          #: decimals of a price on the tick grid
    lot: float
    lot_digits: int
    base_qty: float
    max_position: float  #: absolute position limit, in quantity units
    min_notional: float
    multiplier: float
    inverse: bool
    blacklisted: bool    #: listed in guards.blacklist

    @property
    def venue(self) -> str:
        return self.id.split(":", 1)[0]

    def notional_usd(self, price: float, qty: float) -> float:
        if self.inverse:
            return qty * self.multiplier
        return price * qty * self.multiplier


def instrument_spec(slot: int, inst: Instrument, cfg: Config) -> InstrumentSpec:
    return InstrumentSpec(
        slot, inst.id, inst.tick_size, tick_digits(inst.tick_size), inst.lot_size,
        tick_digits(inst.lot_size), inst.base_qty,
        inst.max_position if inst.max_position is not None else cfg.guards.max_position * inst.base_qty,
        inst.min_notional, inst.contract_multiplier, inst.inverse, inst.id in cfg.guards.blacklist)


def instrument_specs(cfg: Config) -> list[InstrumentSpec]:
    return [instrument_spec(i, inst, cfg) for i, inst in enumerate(cfg.instruments)]


def round_bid(px: float, tick: float, digits: int) -> float:
    """Round a bid down to the tick grid."""
    return round(math.floor(px / tick + EPS) * tick, digits)


def round_ask(px: float, tick: float, digits: int) -> float:
    """Round an ask up to the tick grid."""
    return round(math.ceil(px / tick - EPS) * tick, digits)


def round_lot(qty: float, lot: float, lot_digits: int) -> float:
    """Round a size down to whole lots (never up: a size is a limit)."""
    if qty <= 0.0:
        return 0.0
    return round(math.floor(qty / lot + EPS) * lot, lot_digits)
