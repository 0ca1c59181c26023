"""The config block: the running config as JSON, under a seqlock, with its epoch.

The supervisor writes it at start and after each accepted reload (SIGHUP);
children read it at start and whenever the control block's epoch moves past
the one they applied. Nothing else carries config to a child, so a restarted
child always runs the config in force, not the one the instance started with.
"""

from __future__ import annotations

import msgspec

from quotepipe.config import Config
from quotepipe.shm.segment import LINE, Segment, SegmentSet

CAPACITY = 1 << 20
LAYOUT = f"config:v1:json:{CAPACITY}"
_SEQ, _EPOCH, _LEN = 0, 1, 2


class ConfigBlock:
    def __init__(self, segment: Segment) -> None:
        self.segment = segment
        self._q = segment.body.cast("Q")
        self._data = segment.body[LINE:LINE + CAPACITY]

    @classmethod
    def create(cls, segments: SegmentSet) -> ConfigBlock:
        return cls(segments.create("config", LINE + CAPACITY, LAYOUT))

    @classmethod
    def attach(cls, name: str, writable: bool = False) -> ConfigBlock:
        return cls(Segment.attach(name, LAYOUT, writable))

    def write(self, cfg: Config, epoch: int) -> None:
        data = msgspec.json.encode(cfg)
        if len(data) > CAPACITY:
            raise ValueError(f"config is {len(data)} bytes encoded; the config block holds {CAPACITY}")
        q = self._q
        seq = q[_SEQ] | 1
        q[_SEQ] = seq
        self._data[:len(data)] = data
        q[_LEN] = len(data)
        q[_EPOCH] = epoch
        q[_SEQ] = seq + 1

    @property
    def epoch(self) -> int:
        return self._q[_EPOCH]

    def read(self) -> tuple[int, Config]:
        """(epoch, config) of one consistent write."""
        q = self._q
        while True:
            s1 = q[_SEQ]
            if s1 and not s1 & 1:
                epoch, n = q[_EPOCH], q[_LEN]
                data = bytes(self._data[:n])
                if q[_SEQ] == s1:
                    return epoch, msgspec.json.decode(data, type=Config)
