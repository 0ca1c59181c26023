"""The fits table: each instrument's fitted order-arrival intensity and sigma.

Written by the scoreboard process (``scoreboard.arrival``) once a second, one
seqlock slot per instrument; every worker reads the rows of its shard on its
housekeeping turns (a row whose sequence moved) and hands the fitted A and k to
the spread stage of the pipeline (``fitted`` = 0: the config's values stay).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from quotepipe.shm.seqlock import InstrumentTable

FIELDS = ("a", "k", "sigma_bps", "r2", "steps", "trade_steps", "fitted")
RECORD = struct.Struct("<5d2q")
LAYOUT = f"fits:v1:{RECORD.format}:{','.join(FIELDS)}"


class FitRow(NamedTuple):
    a: float            #: arrivals per spread.vol_interval_ms at the mid
    k: float            #: decay of the arrival rate per bps from the mid
    sigma_bps: float    #: per spread.vol_interval_ms
    r2: float           #: of the log-linear fit
    steps: float        #: observation steps (decayed)
    trade_steps: int    #: steps with trades
    fitted: int         #: 1 once the fit is used


EMPTY = FitRow(0.0, 0.0, 0.0, 0.0, 0.0, 0, 0)


class FitTable(InstrumentTable):
    SEGMENT, RECORD, LAYOUT = "fits", RECORD, LAYOUT

    def write(self, slot: int, row: FitRow) -> None:
        self.table.write(slot, *row)

    def read(self, slot: int) -> FitRow:
        rec = self.table.read(slot)
        return EMPTY if rec is None else FitRow(*rec)

    def sequence(self, slot: int) -> int:
        return self.table.sequence(slot)
