"""The book-risk record: the venue's verdict on the whole book, for the workers and ``status``.

One seqlock slot: state (``domain.risk``: ok, flatten, pulled), the limit that
tripped, total PnL, its peak, gross notional. Written by the venue process on
its housekeeping turns; every worker reads it on its own.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from quotepipe.shm.seqlock import InstrumentTable

RECORD = struct.Struct("<qqddd")
LAYOUT = f"risk:v1:{RECORD.format}"


class RiskRow(NamedTuple):
    state: int
    reason: int
    total_pnl_usd: float
    peak_pnl_usd: float
    gross_usd: float


EMPTY = RiskRow(0, 0, 0.0, 0.0, 0.0)


class RiskTable(InstrumentTable):
    SEGMENT, RECORD, LAYOUT = "risk", RECORD, LAYOUT

    def write_row(self, row: RiskRow) -> None:
        self.table.write(0, *row)

    def read_row(self) -> RiskRow:
        rec = self.table.read(0)
        return EMPTY if rec is None else RiskRow(*rec)
