"""When an instrument's update needs the quote chain.

The chain reads the top of book, our resting orders and position (published by
the venue with a version number per instrument), the allocator weight, and
the time. An update that changes none of these (a depth diff behind the best
level, a trade that did not fill us) would produce the same quotes, so it is
skipped, except that every instrument is re-run at least every
``pipeline.max_tick_interval_ms`` of event time, which keeps the stale, order-age
and rate-budget logic live. The daemon's workers and ``quotepipe replay`` use
this same gate, so both tick on exactly the same updates of the same data.
"""

from __future__ import annotations


class TickGate:
    def __init__(self, n_instruments: int, max_interval_ms: float) -> None:
        self.set_interval(max_interval_ms)
        self.l1: list[tuple[float, float, float, float] | None] = [None] * n_instruments
        self.venue_version = [-1] * n_instruments
        self.weight = [-1.0] * n_instruments
        self.last_ns = [0] * n_instruments
        self.skipped = 0

    def set_interval(self, max_interval_ms: float) -> None:
        self.max_interval_ns = int(max_interval_ms * 1e6)

    def invalidate(self, slot: int) -> None:
        """The next look at ``slot`` runs the chain (an input outside the gate changed)."""
        self.last_ns[slot] = -(1 << 62)

    def need(self, slot: int, l1: tuple[float, float, float, float], venue_version: int, weight: float,
             now_ns: int) -> bool:
        """True when the chain must run; records the inputs it ran on."""
        if (l1 == self.l1[slot] and venue_version == self.venue_version[slot]
                and weight == self.weight[slot] and now_ns - self.last_ns[slot] < self.max_interval_ns):
            self.skipped += 1
            return False
        self.l1[slot] = l1
        self.venue_version[slot] = venue_version
        self.weight[slot] = weight
        self.last_ns[slot] = now_ns
        return True
