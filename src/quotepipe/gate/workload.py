"""The tick workload of the benchmarks and the perf gate: the ticks replay runs.

Replay drives the ``TickEngine`` with the paper venue, the scoreboard and the
allocator on a recording (or the synthetic scenario); every tick the engine
runs, its inputs ``(slot, Snapshot, TickContext)`` are kept. Timing a runner over
that list then times exactly the daemon's per-tick chain on realistic inputs:
resting orders with queue estimates, fills and positions, allocator weights,
and the KEEP, REPLACE and CANCEL paths as well as NEW.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from quotepipe.config import Config
from quotepipe.replay import Replay
from quotepipe.workers.engine import TickInput

__all__ = ["TickInput", "build_workload"]


def build_workload(cfg: Config, paths: Sequence[str | Path] | None = None,
                   limit: int | None = None) -> list[TickInput]:
    """The inputs of every tick a replay of ``paths`` (or of ``cfg``'s feed) runs, in order;
    ``limit``: stop after that many market-data events."""
    replay = Replay(cfg, paths, limit=limit)
    inputs: list[TickInput] = []
    replay.engine.record = inputs
    replay.run()
    return inputs
