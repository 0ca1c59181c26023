"""How long a process has been silent, judged on the watcher's own running time.

A heartbeat is a monotonic stamp a child writes every housekeeping turn. A
watcher (the supervisor for every child, the venue for the workers' dead-man
switch) must not call a child silent because the whole host stalled: when the
host freezes for 1.6 s, the watcher freezes too, and every child's beat looks
1.6 s old when it wakes. So silence is not ``now - beat`` but the sum of the
watcher's own loop gaps since the beat last changed, each gap credited at most
``credit_cap_ns``: a longer gap is the watcher's own stall, during which
nobody could be expected to beat. A child that is stopped while the watcher
runs is silent at the speed of the clock; a host stall costs it one capped gap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

STALL_NS = 250_000_000  #: a watcher gap longer than this is counted as the watcher's own stall


class SilenceWatch:
    """Silence per watched slot; ``look`` once per watcher turn, then ``silent_ms``."""

    def __init__(self, slots: Iterable[int], read_beat: Callable[[int], int], credit_cap_ns: int) -> None:
        self.read_beat = read_beat
        self.credit_cap_ns = credit_cap_ns
        self.beats: dict[int, int] = {s: 0 for s in slots}
        self.silent_ns: dict[int, int] = dict.fromkeys(self.beats, 0)
        self.last_look = 0
        self.stalls = 0            #: watcher gaps longer than STALL_NS
        self.gap_max_ns = 0        #: the watcher's longest gap between looks
        self.last_gap_ns = 0

    def look(self, now_ns: int) -> None:
        """Credit the time since the previous look (capped) to every slot whose beat is unchanged."""
        gap = now_ns - self.last_look if self.last_look else 0
        self.last_look = now_ns
        self.last_gap_ns = gap
        if gap > STALL_NS:
            self.stalls += 1
        if gap > self.gap_max_ns:
            self.gap_max_ns = gap
        credit = min(gap, self.credit_cap_ns)
        silent = self.silent_ns
        for slot, last in self.beats.items():
            beat = self.read_beat(slot)
            if beat != last:
                self.beats[slot] = beat
                silent[slot] = 0
            else:
                silent[slot] += credit

    def beat(self, slot: int) -> int:
        """The slot's heartbeat as last looked at (0: it has not beaten since its line was cleared)."""
        return self.beats[slot]

    def silent_ms(self, slot: int) -> float:
        return self.silent_ns[slot] / 1e6

    def restart(self, slot: int) -> None:
        """A new process takes the slot: its silence starts from zero."""
        self.beats[slot] = self.read_beat(slot)
        self.silent_ns[slot] = 0
