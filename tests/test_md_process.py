"""The market-data process as a real process over real shared memory."""

from __future__ import annotations

import multiprocessing as mp
import time

import pytest

from quotepipe.config import parse_config
from quotepipe.domain.snapshot import BookState, Snapshot
from quotepipe.marketdata.process import run_market_data
from quotepipe.shm.catalog import MD_STATS, Attached, create_instance_segments
from quotepipe.shm.segment import SegmentSet

CTX = mp.get_context("spawn")


def wait_for(pred, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


def run_md(cfg, until):
    with SegmentSet(cfg.instance.name) as segs:
        segs.claim()
        create_instance_segments(cfg, segs)
        shm = Attached(cfg)
        stats = shm.stats("stats.md", MD_STATS, writable=False)
        rings = [shm.md_ring_reader(s) for s in range(cfg.workers.count)]
        for r in rings:
            r.next = 1
        trades = shm.trade_ring_reader()
        trades.next = 1
        proc = CTX.Process(target=run_market_data, args=(cfg, 1, None))
        proc.start()
        try:
            assert wait_for(lambda: until(stats)), stats.copy()["counters"]
            control = shm.control()
            assert control.heartbeat(1) > 0
            control.shutdown = True
            proc.join(timeout=30)
            assert proc.exitcode == 0
            # read once the writer has stopped: a live seqlock read may give up on a preempted writer
            table = shm.snapshots()
            snaps = [table.read_l1(i) for i in range(len(cfg.instruments))]
            announced = [r.read_batch(1 << 13) for r in rings]
            trade_recs = trades.read_batch(1 << 13)
            return stats.copy()["counters"], snaps, announced, trade_recs
        finally:
            if proc.is_alive():
                proc.kill()


def test_md_process_publishes_synthetic_snapshots(instance_name):
    cfg = parse_config(f"instance: {{name: {instance_name}}}\nworkers: {{count: 2}}\n"
                       "feed: {speed: 0}\n")
    counters, snaps, announced, trades = run_md(cfg, lambda s: s.counter("published") > 5000)
    assert counters["book_ticker"] > 3000 and counters["trade"] > 50
    now = time.monotonic_ns()
    for inst, raw in zip(cfg.instruments, snaps, strict=True):
        s = Snapshot(*raw)
        assert 0 < s.bid_px < s.ask_px, inst.id
        assert s.book_state == BookState.L1_ONLY and s.md_seq > 0
        assert 0 < s.publish_ns <= now and s.recv_ns > 0
    # each instrument announced on its own shard's ring only
    from quotepipe.domain.shards import shard_of
    for shard, recs in enumerate(announced):
        assert len(recs) > 0
        assert {int(x) for x in recs["slot"]} <= {
            k for k, i in enumerate(cfg.instruments) if shard_of(i, 2) == shard}
    assert len(trades) > 0 and (trades["price"] > 0).all()


@pytest.mark.realdata
def test_md_process_replays_recordings_in_l2(instance_name, real_recordings):
    paths = [str(p) for p in real_recordings if p.name.startswith(("spot_btc", "cm_eth"))]
    cfg = parse_config(f"instance: {{name: {instance_name}}}\n"
                       f"feed: {{kind: replay, speed: 0, paths: {paths}}}\n")
    counters, snaps, _, trades = run_md(cfg, lambda s: s.gauge("feed_done") == 1.0)
    assert counters["book_ticker"] == 28040 + 15812
    assert counters["trade"] == 9757 + 1732 and counters["snapshot"] == 2
    assert counters["malformed"] == 0 and counters["resyncs"] == 0
    by_id = {i.id: k for k, i in enumerate(cfg.instruments)}
    for iid in ("binance-spot:BTCUSDT", "binance-coinm:ETHUSD_PERP"):
        s = Snapshot(*snaps[by_id[iid]])
        assert s.book_state == BookState.VALID and 0 < s.bid_px < s.ask_px
    assert snaps[by_id["binance-usdm:BTCUSDT"]] is None  # not in these recordings
    assert len(trades) > 0


def test_md_process_counts_and_skips_bad_lines_at_recorded_speed(instance_name, tmp_path):
    """At speed 1 a year-2255 stamp made md sleep toward it (killed as silent); 1e23 crashed it."""
    t0 = 1723161254087891000
    bt = ('{"stream":"btcusdt@bookTicker","data":{"u":%d,"s":"BTCUSDT","b":"60000.0","B":"1",'
          '"a":"60000.1","A":"1"}}')
    trade = ('{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161254087,"s":"BTCUSDT","t":%d,'
             '"q":"0.5","T":1723161254087,"m":true,"M":true}}')  # no price
    lines = [f"{t0 + k * 1_000_000} {bt % k}" for k in range(1, 201)]
    lines[50:50] = [f"8999999999000000000 {bt % 999}", f"1e23 {bt % 998}", f"{t0 + 60_000_000} {trade % 5}"]
    rec = tmp_path / "bad.txt"
    rec.write_text("\n".join(lines) + "\n")
    cfg = parse_config(f"instance: {{name: {instance_name}}}\n"
                       f"feed: {{kind: replay, speed: 1, paths: [{rec}]}}\n")
    counters, snaps, _, trades = run_md(cfg, lambda s: s.gauge("feed_done") == 1.0)
    assert counters["book_ticker"] == 200 and counters["malformed"] == 3 and counters["trade"] == 0
    assert len(trades) == 0
