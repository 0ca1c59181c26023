"""The score table: each instrument's scoreboard metrics, for ``status`` and /metrics.

Written by the scoreboard process a few times a second (one seqlock slot per
instrument); the workers never read it: they read only the weights array.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from quotepipe.shm.seqlock import InstrumentTable

FIELDS = ("score", "net_bps", "markout_bps", "edge_bps", "fill_rate", "slippage_bps", "queue_edge",
          "adverse_penalty", "fills", "markouts", "orders_ended", "blacklists")
RECORD = struct.Struct("<8d4q")
LAYOUT = f"scores:v1:{RECORD.format}:{','.join(FIELDS)}"


class ScoreRow(NamedTuple):
    score: float
    net_bps: float
    markout_bps: float
    edge_bps: float
    fill_rate: float
    slippage_bps: float
    queue_edge: float
    adverse_penalty: float
    fills: int
    markouts: int
    orders_ended: int
    blacklists: int


EMPTY = ScoreRow(0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, 0)


class ScoreTable(InstrumentTable):
    SEGMENT, RECORD, LAYOUT = "scores", RECORD, LAYOUT

    def write(self, slot: int, row: ScoreRow) -> None:
        self.table.write(slot, *row)

    def read(self, slot: int) -> ScoreRow:
        rec = self.table.read(slot)
        return EMPTY if rec is None else ScoreRow(*rec)
