"""The shard map: which worker shard owns each instrument slot.

Computed once, by the supervisor (or replay) from the config, and published in
the instance's config block next to the config itself; every process reads the
same map from there instead of hashing ids again.
"""

from __future__ import annotations

import zlib

import msgspec

from quotepipe.config import Config, Instrument


def shard_of(inst: Instrument, shard_count: int) -> int:
    """Stable shard of an instrument: explicit in config, else crc32 of its id."""
    if inst.shard is not None:
        return inst.shard
    return zlib.crc32(inst.id.encode()) % shard_count


class ShardMap(msgspec.Struct, frozen=True):
    """``shard[slot]``: the shard of each instrument slot; ``count``: the number of shards."""

    count: int
    shard: tuple[int, ...]

    @classmethod
    def of(cls, cfg: Config) -> ShardMap:
        n = cfg.workers.count
        return cls(n, tuple(shard_of(inst, n) for inst in cfg.instruments))

    def slots(self, shard: int) -> list[int]:
        """Instrument slots of ``shard``, in slot order."""
        return [slot for slot, s in enumerate(self.shard) if s == shard]

    def by_shard(self) -> list[list[int]]:
        """``slots(s)`` for every shard."""
        return [self.slots(s) for s in range(self.count)]
