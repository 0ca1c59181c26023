"""Shared-memory primitives: correctness under real concurrency, and lifecycle."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import msgspec
import numpy as np
import pytest

from quotepipe.domain.guards import FLAG_BLACKLISTED
from quotepipe.domain.snapshot import Snapshot
from quotepipe.shm.buckets import record_into
from quotepipe.shm.control import ControlBlock, Role
from quotepipe.shm.ring import RingLayout, RingReader, RingWriter
from quotepipe.shm.segment import (
    InstanceRunning,
    Segment,
    SegmentError,
    SegmentSet,
    claim_instance,
    existing_segments,
    segment_name,
)
from quotepipe.shm.snapshots import SnapshotTable
from quotepipe.shm.stats import (
    N_BUCKETS,
    StatsBlock,
    StatsSchema,
    bucket_bounds,
    bucket_of,
    percentile_from_counts,
)
from quotepipe.shm.weights import WeightsArray
from tests import shm_stress as stress

LAYOUT = RingLayout("t", [("a", "q"), ("b", "d")])


def test_torn_read_stress_accepts_no_torn_record():
    """Bounded by 200,000 writes with the readers reading throughout, not by a time window."""
    result = stress.torn_read_stress(writes=200_000, readers=2)
    assert result["written"] == 200_000
    assert result["accepted"] > 0 and result["distinct"] > 0, result  # the reads overlapped the writes
    assert result["torn_accepted"] == 0, result
    assert result["went_backwards"] == 0, result


@pytest.mark.parametrize("batch", [0, 6], ids=["write", "write_batch"])
def test_ring_readers_racing_a_lapping_writer_get_no_torn_or_stale_record(batch):
    """A ring of 8 slots: the readers (two polling, one reading batches) copy slots while the
    writer overwrites them. Each record handed out must be whole and newer than the last, and
    every record is either received or counted lost."""
    for r in stress.ring_race(count=300_000, capacity=8, batch=batch):
        assert r["corrupt"] == 0 and r["out_of_order"] == 0, r
        assert r["received"] + r["lost"] == r["written"] and r["next"] == r["written"] + 1, r
        assert r["received"] > 0, r


@pytest.mark.parametrize("batch", [False, True], ids=["record", "batch"])
def test_slow_reader_counts_what_it_lost(batch):
    result = stress.ring_lapping(count=60_000, capacity=256, slow_every=300, batch=batch)
    assert result["laps"] > 0, result  # the reader really was lapped
    assert result["received"] + result["lost"] == result["written"], result
    assert result["corrupt"] == 0 and result["out_of_order"] == 0, result


def test_weights_reader_never_sees_two_versions():
    result = stress.weights_mix(seconds=1.0)
    assert result["versions_seen"] > 10
    assert result["mixed"] == 0, result


def test_ring_in_one_process(instance_name):
    with SegmentSet(instance_name) as segs:
        w = RingWriter.create(segs, "ring.x", LAYOUT, 8)
        r = RingReader.attach(segment_name(instance_name, "ring.x"), LAYOUT, 8)
        assert r.poll() is None
        for n in range(5):
            w.write(n, n / 2)
        assert [r.poll() for _ in range(6)] == [(n, n / 2) for n in range(5)] + [None]
        for n in range(20):  # laps the reader
            w.write(100 + n, 0.0)
        got = [r.poll() for _ in range(8)]
        assert r.lost == 13 and got[-1] is None  # 25 written - 13 lost - 5 read = 7 received
        assert [g[0] for g in got[:-1]] == list(range(113, 120))
        # a writer reattaching continues after the last record
        w2 = RingWriter.attach(segment_name(instance_name, "ring.x"), LAYOUT, 8)
        assert w2.write(1, 1.0) == 26
        batch = np.zeros(3, dtype=LAYOUT.payload_dtype)
        batch["a"] = [7, 8, 9]
        w2.write_batch(batch)
        recs = r.read_batch()
        assert list(recs["a"]) == [1, 7, 8, 9] and r.pending() == 0


def test_ring_capacity_must_be_a_power_of_two(instance_name):
    with SegmentSet(instance_name) as segs, pytest.raises(ValueError, match="power of two"):
        RingWriter.create(segs, "ring.bad", LAYOUT, 12)


def test_snapshot_table_round_trip(instance_name):
    with SegmentSet(instance_name) as segs:
        table = SnapshotTable.create(segs, 3)
        reader = SnapshotTable.attach(segment_name(instance_name, "snapshots"), 3)
        assert reader.read_l1(1) is None  # never written
        l1 = (100.0, 1.5, 100.5, 2.5, 100.2, 0.1, -1, 11, 12, 13, 14, 1, 99, 1)
        levels = tuple(float(x) for x in range(20))
        table.write(1, l1, levels)
        assert Snapshot(*reader.read_l1(1)).ask_px == 100.5
        got_l1, got_levels = reader.read(1)
        assert msgspec.structs.astuple(got_l1) == l1 and got_levels == levels
        assert len(reader.read_bytes(1)) == table.table.payload.size
        assert reader.sequence(1) == 2


def reference_bucket(v: int) -> int:
    """The buckets' rule written out in Python: below 64 ns one bucket a value (none or less in
    bucket 0); above, 32 buckets a power of two, the top bucket taking everything past it."""
    if v < 64:
        return max(v, 0)
    e = v.bit_length() - 6
    return min((e << 5) + (v >> e), N_BUCKETS - 1)


def histogram_values() -> np.ndarray:
    rng = np.random.default_rng(1)
    edges = [(1 << k) + d for k in range(6, 63) for d in (-1, 0, 1)]  # each power of two's edges
    return np.concatenate([np.arange(-70, 5000), rng.integers(100, 100_000_000, 100_000),
                           np.array(edges + [2**63 - 1, -(2**63)], dtype=np.int64)])


def test_histogram_buckets_are_within_two_percent():
    lower, upper = bucket_bounds()
    assert lower[0] == 0 and upper[-1] > 1e11
    assert np.all(lower[1:] == upper[:-1])  # contiguous
    mid = (lower + upper) / 2
    values = np.unique(histogram_values())
    b = np.array([bucket_of(int(v)) for v in values])
    assert np.array_equal(b, [reference_bucket(int(v)) for v in values])
    inside = (values >= 0) & (values < upper[-1])
    assert np.all((lower[b[inside]] <= values[inside]) & (values[inside] < upper[b[inside]]))
    big = values >= 100
    rel = np.abs(mid[b][big & inside] - values[big & inside]) / values[big & inside]
    assert rel.max() <= 0.02


def test_record_many_counts_each_value_as_record_does(instance_name):
    """The compiled batch (``buckets.record_into``) against one ``record`` a value: the same
    count, sum of the positive values and bucket counts, at every power of two's edges and
    below zero; a strided batch is read as it lies."""
    values = histogram_values()
    values = values[values < 2**40]  # keep the sum inside a uint64 word
    schema = StatsSchema(["batch", "one"], [], [])
    with SegmentSet(instance_name) as segs:
        block = StatsBlock.create(segs, "stats.r", schema)
        batch, one = block.hist("batch"), block.hist("one")
        batch.record_many(values[::2])
        batch.record_many(values[1::2])  # a strided view
        batch.record_many(np.array([], dtype=np.int64))
        for v in values:
            one.record(int(v))
        expected = np.bincount([reference_bucket(int(v)) for v in values], minlength=N_BUCKETS)
        assert np.array_equal(batch.counts(), expected)
        assert np.array_equal(one.counts(), expected)
        assert batch.count == one.count == len(values)
        assert batch.sum_ns == one.sum_ns == int(values[values > 0].sum())
        with pytest.raises(ValueError, match="words"):
            record_into(np.zeros(3, dtype=np.uint64), values)


def test_histogram_percentiles_match_numpy(instance_name):
    rng = np.random.default_rng(2)
    data = rng.lognormal(mean=9, sigma=1.2, size=50_000).astype(np.int64)  # ~100ns .. ms
    with SegmentSet(instance_name) as segs:
        block = StatsBlock.create(segs, "stats.t", StatsSchema(["tick"], ["c"], ["g"]))
        h = block.hist("tick")
        h.record_many(data[:40_000])
        for v in data[40_000:]:
            h.record(int(v))
        assert h.count == len(data) and h.sum_ns == int(data.sum())
        reader = StatsBlock.attach(segment_name(instance_name, "stats.t"),
                                   StatsSchema(["tick"], ["c"], ["g"]), writable=False)
        for q in (50, 90, 95, 99, 99.9):
            exact = np.percentile(data, q, method="inverted_cdf")
            assert abs(reader.hist("tick").percentile(q) - exact) <= 0.02 * exact
        summary = reader.summary()
        assert summary["tick"]["count"] == len(data)
        block.add("c", 5)
        block.set_gauge("g", 1.25)
        assert reader.counter("c") == 5 and reader.gauge("g") == 1.25
    assert np.isnan(percentile_from_counts(np.zeros(N_BUCKETS), 50))


def test_weights_get_and_last_good(instance_name):
    with SegmentSet(instance_name) as segs:
        w = WeightsArray.create(segs, 4)
        reader = WeightsArray.attach(segment_name(instance_name, "weights"), 4)
        assert reader.get(2) == (1.0, 0)
        w.publish(np.array([0.5, 1.0, 0.0, 2.0]), np.array([0, 0, FLAG_BLACKLISTED, 0], np.uint64))
        assert reader.get(2) == (0.0, FLAG_BLACKLISTED) and reader.version == 2
        # a write in progress: the reader keeps the last good pair
        w._words[0] += 1
        assert reader.get(3) == (1.0, 0)  # never read before: the initial value
        assert reader.get(2) == (0.0, FLAG_BLACKLISTED)
        assert reader.give_ups == 2


def test_control_block(instance_name):
    with SegmentSet(instance_name) as segs:
        c = ControlBlock.create(segs, 3)
        r = ControlBlock.attach(segment_name(instance_name, "control"), writable=False)
        c.epoch = 4
        c.set_mode(2, "shadow")
        c.set_shard_halted(1, True)
        c.set_proc(5, Role.WORKER, 2, 4242, 1, restarts=3)
        c.beat(5, 123)
        assert (r.epoch, r.n_shards, r.mode(2), r.mode(0)) == (4, 3, "shadow", "legacy")
        assert r.shard_halted(1) and not r.shard_halted(0)
        assert r.procs() == [(5, (Role.WORKER, 2, 4242, 1, 3, 123))]
        c.halt_all = True
        assert r.shard_halted(0)


# ------------------------------------------------------------------ lifecycle

OWNER = textwrap.dedent("""
    import sys, time
    from quotepipe.shm.segment import SegmentSet
    from quotepipe.shm.control import ControlBlock
    from quotepipe.shm.weights import WeightsArray
    segs = SegmentSet(sys.argv[1])
    segs.claim()
    ControlBlock.create(segs, 1)
    WeightsArray.create(segs, 6)
    print("ready", flush=True)
    if sys.argv[2] == "hold":
        time.sleep(120)
    segs.unlink_all()
""")


def _start_owner(instance: str, mode: str) -> subprocess.Popen[str]:
    p = subprocess.Popen([sys.executable, "-c", OWNER, instance, mode], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready", p.stderr.read()
    return p


def test_killed_owner_leaves_segments_that_the_next_start_removes(instance_name):
    owner = _start_owner(instance_name, "hold")
    try:
        assert len(existing_segments(instance_name)) == 2
        for name in existing_segments(instance_name):
            mode = os.stat(f"/dev/shm{name}").st_mode
            assert stat.S_IMODE(mode) == 0o600
        with pytest.raises(InstanceRunning, match=f'instance "{instance_name}" is already running '
                                                  f'as pid {owner.pid}'):
            claim_instance(instance_name)
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=10)
    assert len(existing_segments(instance_name)) == 2  # stale, left behind
    removed = claim_instance(instance_name)
    assert len(removed) == 2 and existing_segments(instance_name) == []


def test_clean_exit_leaves_nothing(instance_name):
    owner = _start_owner(instance_name, "exit")
    assert owner.wait(timeout=30) == 0
    assert existing_segments(instance_name) == []


def test_layout_mismatch_is_refused(instance_name):
    with SegmentSet(instance_name) as segs:
        RingWriter.create(segs, "ring.m", LAYOUT, 8)
        other = RingLayout("t", [("a", "q"), ("b", "q")])
        with pytest.raises(SegmentError, match="different record layout"):
            RingReader.attach(segment_name(instance_name, "ring.m"), other, 8)
        with pytest.raises(SegmentError, match="different record layout"):
            RingReader.attach(segment_name(instance_name, "ring.m"), LAYOUT, 16)
    with pytest.raises(SegmentError, match="does not exist"):
        Segment.attach(segment_name(instance_name, "ring.m"), "x")


def test_segment_names_and_duplicates(instance_name):
    with SegmentSet(instance_name) as segs:
        seg = segs.create("x", 100, "l")
        assert seg.name == f"/quotepipe.{instance_name}.x"
        assert seg.owner[0] == os.getpid() and seg.owner[1] > time.time() - 3600 * 24 * 365
        with pytest.raises(SegmentError, match="already exists"):
            segs.create("x", 100, "l")


def test_the_daemon_refuses_machines_without_total_store_order():
    from quotepipe.shm.ordering import store_order_problem

    assert store_order_problem("x86_64") is None and store_order_problem("AMD64") is None
    for machine in ("aarch64", "arm64", "ppc64le", "riscv64", ""):
        problem = store_order_problem(machine)
        assert problem and "x86-64" in problem and "refuses to start" in problem
