"""The config block: the running config as JSON, under a seqlock, with its epoch.

The supervisor writes it at start and after each accepted reload (SIGHUP);
children read it at start and whenever the control block's epoch moves past
the one they applied. The shard map travels with the config: the supervisor
computes it once. Nothing else carries config to a child, so a restarted
child always runs the config in force, not the one the instance started with.
"""

from __future__ import annotations

import msgspec

from quotepipe.config import Config
from quotepipe.domain.shards import ShardMap
from quotepipe.shm.blob import Blob
from quotepipe.shm.segment import Segment, SegmentError, SegmentSet

CAPACITY = 1 << 20
LAYOUT = f"config:v2:json:{CAPACITY}"


class Published(msgspec.Struct, frozen=True):
    """What the block holds: the config in force and the shard map computed from it once."""

    config: Config
    shards: ShardMap


class ConfigBlock:
    """The config as a ``Blob`` whose tag is the epoch."""

    def __init__(self, segment: Segment) -> None:
        self.segment = segment
        self.blob = Blob(segment, CAPACITY)

    @classmethod
    def create(cls, segments: SegmentSet) -> ConfigBlock:
        return cls(segments.create("config", Blob.size(CAPACITY), LAYOUT))

    @classmethod
    def attach(cls, name: str, writable: bool = False) -> ConfigBlock:
        return cls(Segment.attach(name, LAYOUT, writable))

    def write(self, cfg: Config, epoch: int, shards: ShardMap) -> None:
        data = msgspec.json.encode(Published(cfg, shards))
        if len(data) > CAPACITY:
            raise ValueError(f"config is {len(data)} bytes encoded; the config block holds {CAPACITY}")
        self.blob.write(data, epoch)

    @property
    def epoch(self) -> int:
        return self.blob.tag

    @property
    def give_ups(self) -> int:
        return self.blob.give_ups

    def read(self) -> tuple[int, Config, ShardMap]:
        """(epoch, config, shard map) of one consistent write (``Blob.read``'s policy)."""
        got = self.blob.read()
        if got is None:
            raise SegmentError(f"{self.segment.name}: the config block was never written")
        epoch, data = got
        published = msgspec.json.decode(data, type=Published)
        return epoch, published.config, published.shards
