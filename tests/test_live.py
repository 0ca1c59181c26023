"""The live Binance feed against the local exchange simulator: book sync, faults, recording, the daemon.

Everything runs for real: a WebSocket + HTTP server on 127.0.0.1 (``marketdata.simulator``)
playing the shared recordings, the feed's own I/O thread, real processes for ``record`` and
``run``. Waits are bounded by counts with generous time-outs.
"""

from __future__ import annotations

import gzip
import json
import signal
import time
from pathlib import Path

import pytest

from quotepipe.config import parse_config
from quotepipe.domain.snapshot import BOOK_VALID
from quotepipe.marketdata.book import BookSet
from quotepipe.marketdata.live import LiveFeed
from quotepipe.marketdata.messages import DepthEvent
from quotepipe.marketdata.recording import RecordingReader
from quotepipe.marketdata.simulator import Simulator
from quotepipe.shm.catalog import LIVE_FEED_COUNTERS
from tests.conftest import run_cli
from tests.daemon_helpers import Daemon, wait_for

pytestmark = pytest.mark.realdata

INSTRUMENTS = {
    "binance-usdm:ETHUSDT": "{tick_size: 0.01, lot_size: 0.001, base_qty: 0.05}",
    "binance-spot:ETHUSDT": "{tick_size: 0.01, lot_size: 0.0001, base_qty: 0.05}",
}


def cut(real_recordings, tmp_path: Path, name: str, lines: int) -> Path:
    src = next(p for p in real_recordings if p.name == name)
    out = tmp_path / name
    with gzip.open(src, "rb") as f, gzip.open(out, "wb") as g:
        for k, line in enumerate(f):
            if k >= lines:
                break
            g.write(line)
    return out


def config(sim: Simulator, ids, extra: str = ""):
    inst = "".join(f"  - {{id: '{i}', {INSTRUMENTS[i][1:-1]}}}\n" for i in ids)
    return sim.feed_yaml() + "instruments:\n" + inst + extra


def consume(feed: LiveFeed, books: BookSet, until, timeout: float = 120.0, on_event=None) -> None:
    """Run the feed's events through the books until ``until()`` or the time-out."""
    end = time.monotonic() + timeout
    for n, ev in enumerate(feed.events()):
        if ev is not None:
            books.apply(ev)
            if on_event is not None:
                on_event(ev)
        if (ev is None or n % 32 == 0) and (until() or time.monotonic() > end):
            break
    feed.close()


def tops_after_each_diff(events, books: BookSet) -> dict[tuple[str, int], tuple]:
    out = {}
    for ev in events:
        books.apply(ev)
        if type(ev) is DepthEvent:
            book = books.books[books.ids.index(ev.inst)]
            if book.state is BOOK_VALID:
                out[ev.inst, book.last_id] = (book.bids.best(), book.asks.best())
    return out


def test_books_from_the_live_feed_equal_the_books_of_the_replay(real_recordings, tmp_path):
    files = [cut(real_recordings, tmp_path, "usdm_ethusdt.gz", 30_000),
             cut(real_recordings, tmp_path, "spot_ethusdt.gz", 20_000)]
    ids = list(INSTRUMENTS)
    replay_books = BookSet(ids)
    replayed = tops_after_each_diff((ev for f in files for _, _, _, ev in RecordingReader(f)), replay_books)
    sim = Simulator(files, speed=20, wait_clients=2).start()  # 20x the recorded pace: about 7 s
    try:
        cfg = parse_config(config(sim, ids))
        books = BookSet(ids)
        feed = LiveFeed(cfg, books)
        live = {}

        def seen(ev):
            if type(ev) is DepthEvent:
                book = books.books[books.ids.index(ev.inst)]
                if book.state is BOOK_VALID:
                    live[ev.inst, book.last_id] = (book.bids.best(), book.asks.best())
        consume(feed, books, lambda: sim.played.is_set() and feed.inbox.empty(), on_event=seen)
    finally:
        sim.stop()
    for iid in ids:
        mine = {k: v for k, v in live.items() if k[0] == iid}
        assert mine, (iid, feed.counts, [(b.state, b.snapshots, b.applied) for b in books.books])
        first = min(k[1] for k in mine)
        theirs = {k: v for k, v in replayed.items() if k[0] == iid and k[1] >= first}
        assert len(mine) >= 0.95 * len(theirs) > 500, (iid, len(mine), len(theirs))
        wrong = [(k, v, theirs.get(k)) for k, v in mine.items() if theirs.get(k) != v]
        assert not wrong, wrong[:5]
    assert feed.malformed == 0 and feed.counts["ws_connects"] == 2


@pytest.fixture
def paced(real_recordings, tmp_path):
    """The simulator at 5x the recorded pace on one L2 instrument, and a feed synced to it."""
    files = [cut(real_recordings, tmp_path, "usdm_ethusdt.gz", 60_000)]
    sim = Simulator(files, speed=5, wait_clients=1).start()
    cfg = parse_config(config(sim, ["binance-usdm:ETHUSDT"]))
    books = BookSet(["binance-usdm:ETHUSDT"])
    feed = LiveFeed(cfg, books)
    yield sim, feed, books
    feed.close()
    sim.stop()


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_closing_the_feed_ends_its_io_thread_with_every_task_finished(paced):
    """A close that comes before the I/O thread's loop runs (a stop during start-up) still ends
    the thread; so do closes once connected, twice over (the event generator's own ``finally``,
    then the caller's), and no connection task is left pending to be finalised later on another
    thread (picows refuses that: 'disconnect called from a wrong thread')."""
    import gc

    sim, feed, books = paced
    feed.close()
    events = feed.events()
    next(events)  # the I/O thread starts after the close; the generator is still held
    assert feed.join(30)
    events.close()
    for _ in range(2):
        feed = LiveFeed(feed.cfg, books)
        consume(feed, books, lambda f=feed: f.counts["ws_frames"] > 20)
        feed.close()
        assert feed.join(30)
        assert feed.counts["ws_connects"] >= 1
    gc.collect()  # a coroutine left pending would be finalised here, on this thread


def test_a_sequence_gap_triggers_one_resync(paced):
    sim, feed, books = paced
    book = books.books[0]
    state = {"gapped": False}

    def step(ev):
        if not state["gapped"] and book.state is BOOK_VALID and book.applied > 20:
            sim.gap("binance-usdm:ETHUSDT")
            state["gapped"] = True
    consume(feed, books, lambda: state["gapped"] and book.resyncs and book.state is BOOK_VALID
            and book.applied > 60, on_event=step)
    assert book.resyncs == 1 and book.state is BOOK_VALID, (book.resyncs, book.state)
    assert feed.counts["snapshot_requests"] == 2 and feed.counts["ws_resyncs"] == 1  # first sync, one resync


def test_malformed_frames_are_counted_and_skipped(paced):
    sim, feed, books = paced
    book = books.books[0]
    sent = {"n": 0}

    def step(ev):
        if not sent["n"] and book.state is BOOK_VALID:
            sim.malformed("binance-usdm", 6)
            sent["n"] = 6
    consume(feed, books, lambda: sent["n"] and feed.malformed >= 6 and book.applied > 50, on_event=step)
    assert feed.malformed == 6 and book.state is BOOK_VALID
    assert feed.counts["ws_reconnects"] == 0


def test_a_dropped_connection_reconnects_and_resyncs(paced):
    sim, feed, books = paced
    book = books.books[0]
    state = {"dropped": 0}

    def step(ev):
        if not state["dropped"] and book.state is BOOK_VALID and book.applied > 20:
            sim.drop("binance-usdm")
            state["dropped"] = book.applied
    consume(feed, books, lambda: state["dropped"] and feed.counts["ws_reconnects"] >= 1
            and book.state is BOOK_VALID and book.applied > state["dropped"] + 30, on_event=step)
    assert feed.counts["ws_reconnects"] == 1 and feed.counts["ws_connects"] == 2
    assert book.state is BOOK_VALID and feed.counts["ws_resyncs"] >= 1  # a fresh snapshot after it


def test_record_then_inspect_counts_what_the_simulator_sent(real_recordings, tmp_path):
    files = [cut(real_recordings, tmp_path, "usdm_ethusdt.gz", 8_000),
             cut(real_recordings, tmp_path, "spot_ethusdt.gz", 6_000)]
    sim = Simulator(files, speed=4, wait_clients=2).start()  # about 10 s of data: it spans rotations
    try:
        cfg = tmp_path / "rec.yaml"
        cfg.write_text(config(sim, list(INSTRUMENTS)))
        out = tmp_path / "rec"
        r = run_cli("record", "-c", str(cfg), "--out", str(out), "--duration", "20", "--rotate", "4s",
                    "--json", timeout=120)
        assert r.returncode == 0, r.stderr
        assert sim.played.is_set()
        rec = json.loads(r.stdout)
    finally:
        sim.stop()
    paths = sorted(out.glob("*.gz"))
    assert [p for p in out.iterdir() if p.suffix == ".part"] == []  # every file closed
    assert len(paths) >= 4 and {p.name.split("-")[0] for p in paths} == {"usdm_ethusdt", "spot_ethusdt"}
    r = run_cli("data", "inspect", *map(str, paths), "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)["instruments"]
    sent = sim.stream_counts()
    kinds = {"bookTicker": "book_ticker", "depth": "depth", "trade": "trade"}
    for iid in INSTRUMENTS:
        row = got[iid]
        assert row["snapshot"] >= 2  # every file asks for its own snapshot
        assert row["malformed"] == 0 and row["resyncs"] == 0, row
        sym = iid.split(":")[1].lower()
        venue_streams = {k: n for k, n in sent.items() if k.startswith(sym + "@")}
        # both instruments are ETHUSDT: the simulator counts per stream name, summed over venues
        del venue_streams
    for stream_kind, field in kinds.items():
        assert sum(got[i][field] for i in INSTRUMENTS) == sum(
            n for k, n in sent.items() if k.endswith("@" + stream_kind)), stream_kind
    # every frame the recorder took is in a kept file, but for the snapshots of files that had no
    # stream message once the simulator was done (such a file is not kept)
    assert 0 <= rec["frames"] - sum(sent.values()) - sum(got[i]["snapshot"] for i in INSTRUMENTS) <= 2 * 2


def test_run_on_the_live_feed_quotes_every_instrument_and_a_stall_pulls_the_quotes(
        real_recordings, tmp_path, instance_name):
    sim = Simulator(real_recordings, speed=1, loop_forever=True).start()
    try:
        yaml = sim.feed_yaml() + "workers: {busy_poll: false}\nguards: {stale_ms: 1000}\n"
        with Daemon(tmp_path, instance_name, yaml, duration=120) as d:
            d.wait_ready()
            assert wait_for(lambda: all(r["intents"] > 0 for r in d.status()["instruments"].values()), 90), \
                d.status()["instruments"]
            md = d.status()["market_data"]
            assert md["ws_connects"] == 3 and md["malformed"] == 0, md
            assert d.status()["feed"]["recv_to_publish"]["count"] > 0
            stale_before = d.status()["workers"]["reason_stale"]
            sim.stall(4.0)
            assert wait_for(lambda: d.status()["workers"]["reason_stale"] > stale_before, 30)
            time.sleep(4.5)
            intents = {i: r["intents"] for i, r in d.status()["instruments"].items()}
            rows = lambda: d.status()["instruments"].items()  # noqa: E731
            assert wait_for(lambda: all(r["intents"] > intents[i] for i, r in rows()), 60)  # quoting resumed
            sim.drop("binance-usdm")
            assert wait_for(lambda: d.status()["market_data"]["ws_reconnects"] >= 1, 60)
            d.signal(signal.SIGTERM)
            assert d.wait(90) == 0, d.log()
    finally:
        sim.stop()
    assert set(LIVE_FEED_COUNTERS) <= set(d.summary()["market_data"])


def test_a_connection_is_replaced_before_the_venues_age_limit(paced):
    """The venue cuts a connection at 24 h; the feed leaves first (here after 2 s) and resyncs."""
    import msgspec

    sim, feed, books = paced
    cfg = feed.cfg
    short = msgspec.structs.replace(cfg, feed=msgspec.structs.replace(
        cfg.feed, binance=msgspec.structs.replace(cfg.feed.binance, max_connection_s=2.0)))
    feed = LiveFeed(short, books)
    book = books.books[0]
    consume(feed, books, lambda: feed.counts["ws_planned_reconnects"] >= 1 and feed.counts["ws_connects"] >= 2
            and book.state is BOOK_VALID and book.applied > 40)
    assert feed.counts["ws_planned_reconnects"] >= 1 and feed.counts["ws_reconnects"] >= 1
    assert book.state is BOOK_VALID


def test_a_killed_recorder_keeps_every_closed_file_and_the_open_ones_up_to_the_last_flush(
        real_recordings, tmp_path):
    import os
    import subprocess
    import sys

    files = [cut(real_recordings, tmp_path, "usdm_ethusdt.gz", 60_000)]
    sim = Simulator(files, speed=4, wait_clients=1).start()
    out = tmp_path / "rec"
    try:
        cfg = tmp_path / "rec.yaml"
        cfg.write_text(config(sim, ["binance-usdm:ETHUSDT"]))
        p = subprocess.Popen([sys.executable, "-m", "quotepipe", "record", "-c", str(cfg), "--out", str(out),
                              "--rotate", "3s"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert wait_for(lambda: len(list(out.glob("*.gz"))) >= 2, 60)  # two periods closed
        time.sleep(2.5)  # the open file has flushed at least once
        os.kill(p.pid, signal.SIGKILL)
        p.wait(30)
    finally:
        sim.stop()
    closed = sorted(out.glob("*.gz"))
    parts = sorted(out.glob("*.gz.part"))
    assert len(parts) == 1
    r = run_cli("data", "inspect", *map(str, closed), "--json")
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)["instruments"]["binance-usdm:ETHUSDT"]
    assert row["malformed"] == 0 and row["resyncs"] == 0 and row["snapshot"] >= len(closed)
    r = run_cli("data", "inspect", str(parts[0]), "--json")  # cut mid-stream: read up to the cut
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)["instruments"]["binance-usdm:ETHUSDT"]
    assert row["book_ticker"] > 0 and row["malformed"] <= 1  # at most the one cut line
