"""What the scoreboard has learned, kept in shared memory so its own restart loses nothing.

The scoreboard's state is small (a few EMAs per instrument, the fills waiting
for their markout, the allocator's blacklist clocks), but it takes minutes of
fills to learn. The scoreboard process writes it to the ``scoreboard.state``
segment (a ``Blob``) every few hundred milliseconds and at stop, with the
position in the venue-events ring it has read up to. A restarted scoreboard
restores it and reads the ring on from that position, so the fills that came
while it was down are applied too (unless the ring lapped it, which is counted
as ``ring_lost``). The weights in force are the weights array's, not the
checkpoint's: they stay as published until the allocator publishes again.
"""

from __future__ import annotations

from collections import deque

import msgspec

from quotepipe.domain.orders import Fill
from quotepipe.scoreboard.allocator import Allocator
from quotepipe.scoreboard.metrics import METRICS, Scoreboard, SymbolMetrics


class SymbolState(msgspec.Struct, array_like=True):
    fills: int
    markouts: int
    orders_ended: int
    ema: list[float]     #: in ``METRICS`` order
    norm: list[float]
    pending: list[tuple[int, Fill, float]]


class AllocatorState(msgspec.Struct, array_like=True):
    below_since: list[int]
    blacklisted_until: list[int]
    blacklists: list[int]
    next_ns: int
    before_blacklist: list[float]
    probation: list[bool]


class Checkpoint(msgspec.Struct):
    instruments: list[str]  #: restored only onto the same instruments, in the same order
    events_next: int        #: venue-events ring sequence of the next event to apply
    event_now: int          #: the scoreboard's event clock
    symbols: list[SymbolState]
    allocator: AllocatorState


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Checkpoint)


def capture(instruments: list[str], board: Scoreboard, alloc: Allocator, events_next: int,
            event_now: int) -> bytes:
    symbols = [SymbolState(m.fills, m.markouts, m.orders_ended, [m.ema[k] for k in METRICS],
                           [m.norm[k] for k in METRICS], list(m.pending)) for m in board.symbols]
    state = AllocatorState(list(alloc.below_since), list(alloc.blacklisted_until), list(alloc.blacklists),
                           alloc.next_ns, list(alloc.before_blacklist), list(alloc.probation))
    return _encoder.encode(Checkpoint(instruments, events_next, event_now, symbols, state))


def restore(data: bytes, instruments: list[str], board: Scoreboard, alloc: Allocator) -> Checkpoint | None:
    """Put a checkpoint's state into ``board`` and ``alloc``; None (nothing changed) when it is
    of other instruments or does not decode."""
    try:
        cp = _decoder.decode(data)
    except msgspec.DecodeError:
        return None
    if cp.instruments != instruments or len(cp.symbols) != len(instruments):
        return None
    for slot, s in enumerate(cp.symbols):
        m = SymbolMetrics()
        m.fills, m.markouts, m.orders_ended = s.fills, s.markouts, s.orders_ended
        m.ema = dict(zip(METRICS, s.ema, strict=True))
        m.norm = dict(zip(METRICS, s.norm, strict=True))
        m.pending = deque(s.pending)
        board.symbols[slot] = m
        board.due_ns[slot] = m.pending[0][0] if m.pending else 0
    a = cp.allocator
    alloc.below_since[:] = a.below_since
    alloc.blacklisted_until[:] = a.blacklisted_until
    alloc.blacklists[:] = a.blacklists
    alloc.next_ns = a.next_ns
    alloc.before_blacklist[:] = a.before_blacklist
    alloc.probation[:] = a.probation
    return cp
