"""Type stub of the compiled stage timer (timing.pyx)."""

from array import array

from quotepipe.shm.stats import Histogram, StatsBlock

BUFFER: int

def rank_error(p: float, samples: int) -> float: ...

class StageTimes:
    stats: StatsBlock
    total_hist: Histogram
    stage_hists: list[Histogram]
    marks: int
    raw: array[int]
    totals: array[int]
    n: int
    m: int
    every: int
    skip: int
    deadline_ns: int
    deadline_misses: int
    def __init__(self, stats: StatsBlock, stages: tuple[str, ...] = ..., total: str = "tick_total",
                 deadline_ns: int = 0, every: int = 1) -> None: ...
    def set_every(self, every: int) -> None: ...
    def sample(self, *marks: int) -> None: ...
    def flush(self) -> None: ...
