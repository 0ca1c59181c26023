"""The config block: the running config as JSON, under a seqlock, with its epoch.

The supervisor writes it at start and after each accepted reload (SIGHUP);
children read it at start and whenever the control block's epoch moves past
the one they applied. The shard map travels with the config: the supervisor
computes it once. Nothing else carries config to a child, so a restarted
child always runs the config in force, not the one the instance started with.
"""

from __future__ import annotations

import time

import msgspec

from quotepipe.config import Config
from quotepipe.domain.shards import ShardMap
from quotepipe.shm.segment import LINE, Segment, SegmentError, SegmentSet
from quotepipe.shm.seqlock import seqlock_retry

CAPACITY = 1 << 20
LAYOUT = f"config:v2:json:{CAPACITY}"
READ_ROUNDS = 2000
_SEQ, _EPOCH, _LEN = 0, 1, 2


class Published(msgspec.Struct, frozen=True):
    """What the block holds: the config in force and the shard map computed from it once."""

    config: Config
    shards: ShardMap


class ConfigBlock:
    def __init__(self, segment: Segment) -> None:
        self.segment = segment
        self._q = segment.body.cast("Q")
        self._data = segment.body[LINE:LINE + CAPACITY]
        self.give_ups = 0

    @classmethod
    def create(cls, segments: SegmentSet) -> ConfigBlock:
        return cls(segments.create("config", LINE + CAPACITY, LAYOUT))

    @classmethod
    def attach(cls, name: str, writable: bool = False) -> ConfigBlock:
        return cls(Segment.attach(name, LAYOUT, writable))

    def write(self, cfg: Config, epoch: int, shards: ShardMap) -> None:
        data = msgspec.json.encode(Published(cfg, shards))
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

    def read(self) -> tuple[int, Config, ShardMap]:
        """(epoch, config, shard map) of one consistent write.

        The seqlock policy of ``shm.seqlock``, with a pause between rounds of retries:
        a write copies up to a megabyte, and this is never on a hot path. A block that
        stays mid-write for ``READ_ROUNDS`` ms (a writer that died writing) raises."""
        q = self._q

        def copy() -> tuple[int, bytes]:
            return q[_EPOCH], bytes(self._data[:q[_LEN]])

        for _ in range(READ_ROUNDS):
            got = seqlock_retry(q, _SEQ, copy)
            if got is not None:
                epoch, data = got
                published = msgspec.json.decode(data, type=Published)
                return epoch, published.config, published.shards
            self.give_ups += 1
            time.sleep(0.001)
        raise SegmentError(f"{self.segment.name}: the config block stayed mid-write or was never written")
