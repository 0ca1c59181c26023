"""The one child skeleton, the one seqlock read policy and the shard map, on real shared memory
and real processes."""

from __future__ import annotations

import multiprocessing as mp
import time

import numpy as np
import pytest

from quotepipe.config import Config, parse_config
from quotepipe.domain.shards import ShardMap
from quotepipe.runtime.child import HOUSEKEEPING_NS, STALL_NS, ChildProcess
from quotepipe.shm import blob as blob_mod
from quotepipe.shm.catalog import MD_RING, SCOREBOARD_STATS, Attached, create_instance_segments, worker_slot
from quotepipe.shm.segment import SegmentError, SegmentSet
from quotepipe.shm.snapshots import SnapshotTable
from quotepipe.workers.worker import run_worker
from tests.daemon_helpers import wait_for

CTX = mp.get_context("spawn")


def instance(name: str, extra: str = "") -> Config:
    return parse_config(f"instance: {{name: {name}}}\nworkers: {{count: 3}}\n{extra}")


class Probe(ChildProcess):
    name = "probe"

    def __init__(self, shm: Attached) -> None:
        super().__init__(shm, 3, shm.stats("stats.scoreboard", SCOREBOARD_STATS))
        self.reloads: list[tuple[int, Config]] = []
        self.turns = 0
        self.stopped = False

    def reconfigure(self, cfg: Config, epoch: int) -> None:
        self.reloads.append((epoch, cfg))

    def on_turn(self) -> None:
        self.turns += 1

    def on_stop(self) -> None:
        self.stopped = True

    def publish_counters(self) -> None:
        self.totals.publish("fills", self.turns)


def test_housekeeping_beats_counts_stalls_follows_reloads_and_stops(instance_name):
    cfg = instance(instance_name)
    with SegmentSet(instance_name) as segs:
        segs.claim()
        create_instance_segments(cfg, segs)
        shm = Attached(cfg)
        control = shm.control()
        control.epoch = 1  # as the supervisor sets it before it starts any child
        probe = Probe(shm)
        probe.start()
        t = probe.next_house
        assert control.heartbeat(3) > 0 and control.applied_epoch(3) == 1
        assert probe.housekeeping(t) and control.heartbeat(3) == t
        assert probe.stalls == 0 and probe.turns == 1
        # a turn that comes late is a stall, and the longest gap is kept
        assert probe.housekeeping(t + STALL_NS + 1)
        assert probe.stalls == 1 and probe.loop_gap_max_ns == STALL_NS + 1
        assert probe.next_house == t + STALL_NS + 1 + HOUSEKEEPING_NS
        stats = shm.stats("stats.scoreboard", SCOREBOARD_STATS, writable=False)
        assert stats.counter("stalls") == 1 and stats.counter("fills") == 2
        assert stats.gauge("loop_gap_max_ms") == pytest.approx((STALL_NS + 1) / 1e6)
        # a new epoch: the config block is read, the hook runs, the epoch is acknowledged
        new = parse_config(f"instance: {{name: {instance_name}}}\nworkers: {{count: 3}}\n"
                           "guards: {max_actions_per_s: 7}\n")
        shm.config_block(writable=True).write(new, 2, shm.shards)
        control.epoch = 2
        assert probe.housekeeping(t + STALL_NS + 2)
        assert probe.reloads == [(2, new)] and control.applied_epoch(3) == 2 and probe.epoch == 2
        assert probe.housekeeping(t + STALL_NS + 3) and len(probe.reloads) == 1  # once per epoch
        control.shutdown = True
        assert not probe.housekeeping(t + STALL_NS + 4)
        assert probe.stopped and stats.counter("fills") == 4  # the last counters published first


def test_the_shard_map_is_computed_once_and_read_from_the_config_block(instance_name):
    cfg = instance(instance_name, "instruments:\n" + "".join(
        f"- {{id: 'binance-spot:S{k}', tick_size: 0.01, lot_size: 1, base_qty: 1"
        + (", shard: 2" if k == 4 else "") + "}\n" for k in range(6)))
    with SegmentSet(instance_name) as segs:
        segs.claim()
        create_instance_segments(cfg, segs)
        published = Attached.from_config_block(instance_name).shards
        assert published == ShardMap.of(cfg) and published.count == 3 and published.shard[4] == 2
        assert sorted(s for slots in published.by_shard() for s in slots) == list(range(6))
        # every process reads the map in force from the block, not its own hash of the ids
        other = ShardMap(3, (0, 0, 0, 0, 0, 0))
        shm = Attached(cfg)
        shm.config_block(writable=True).write(cfg, 1, other)
        assert Attached(cfg).shards == other and Attached.from_config_block(instance_name).shards == other


def test_seqlock_reads_give_up_after_bounded_retries_and_count_it(instance_name, monkeypatch):
    cfg = instance(instance_name)
    with SegmentSet(instance_name) as segs:
        segs.claim()
        create_instance_segments(cfg, segs)
        shm = Attached(cfg)
        writer = shm.snapshots(writable=True)
        reader = shm.snapshots()
        assert reader.read_l1(0) is None and reader.give_ups == 0  # never written: no give-up
        writer.write(0, (1.0, 1.0, 2.0, 1.0, 0.0, 0.0, 0, 0, 0, 5, 6, 1, 1, 1), (0.0,) * 20)
        assert reader.read_l1(0)[9] == 5
        writer.table._words[writer.table._slots[0][0]] += 1  # a writer that died mid-write
        assert reader.read_l1(0) is None and reader.read(0) is None
        assert reader.give_ups == 2
        # the config block: the same policy, with pauses; a block stuck mid-write raises
        block = shm.config_block()
        assert block.read()[0] == 1
        monkeypatch.setattr(blob_mod, "READ_ROUNDS", 3)
        shm.config_block(writable=True).blob._q[0] += 1
        with pytest.raises(SegmentError, match="mid-write"):
            block.read()
        assert block.give_ups == 3


def _flood(name: str, records: int, writing: object) -> None:
    """Write ``records`` md-ring records in numpy batches: far faster than a worker reads."""
    from quotepipe.shm.catalog import MD_RING_CAPACITY
    from quotepipe.shm.ring import RingWriter
    from quotepipe.shm.segment import segment_name

    ring = RingWriter.attach(segment_name(name, "ring.md.0"), MD_RING, MD_RING_CAPACITY)
    batch = np.zeros(1024, MD_RING.payload_dtype)
    batch["slot"] = np.arange(1024) % 6
    batch["publish_ns"] = time.monotonic_ns()
    writing.set()  # type: ignore[attr-defined]
    for _ in range(records // len(batch)):
        ring.write_batch(batch)


def test_a_worker_whose_ring_never_empties_still_beats(instance_name):
    """A worker under sustained overload keeps beating (housekeeping from the busy loop) and shows
    the overload as ring overruns, rather than going silent and being killed."""
    cfg = parse_config(f"instance: {{name: {instance_name}}}\n")
    with SegmentSet(instance_name) as segs:
        segs.claim()
        create_instance_segments(cfg, segs)
        shm = Attached(cfg)
        table: SnapshotTable = shm.snapshots(writable=True)
        for slot in range(6):
            table.write(slot, (100.0, 1.0, 100.1, 1.0, 0.0, 0.0, 0, 0, 0, 1, time.monotonic_ns(), 1, 1, 1),
                        (0.0,) * 20)
        control = shm.control()
        worker = CTX.Process(target=run_worker, args=(cfg, 0, worker_slot(0)))
        worker.start()
        try:
            assert wait_for(lambda: control.heartbeat(worker_slot(0)) > 0, 60)
            writing = CTX.Event()
            flood = CTX.Process(target=_flood, args=(instance_name, 200_000_000, writing))
            flood.start()
            assert writing.wait(60)
            beats = set()
            while flood.is_alive():  # only while the flood writes
                beats.add(control.heartbeat(worker_slot(0)))
                time.sleep(0.02)
            flood.join()
            assert worker.is_alive()
            assert len(beats) >= 5, f"{len(beats)} distinct heartbeats while the ring was flooded"
            from quotepipe.shm.catalog import WORKER_STATS
            stats = shm.stats("stats.worker.0", WORKER_STATS, writable=False)
            assert wait_for(lambda: stats.counter("ring_lost") > 0, 30)  # the overload is visible
            control.shutdown = True
            worker.join(timeout=30)
            assert worker.exitcode == 0
        finally:
            if worker.is_alive():
                worker.kill()

