"""The live Binance feed (``feed.kind: binance``): WebSocket combined streams plus REST snapshots.

One combined-stream connection per venue (``marketdata.binance``) runs in an
I/O thread of the market-data process (asyncio and ``picows``: it took half the
CPU per message of ``websockets`` on a local server, ``benchmarks/bench_ws.py``). The thread
does as little as it can: it stamps each frame with the wall-clock receive
time (the recordings' clock) and a monotonic one, routes it by its stream name
to its instrument and appends it to an inbox. The market-data loop drains the
inbox and decodes every frame through the same msgspec decoders, checks and
counts as a recording line (``RecordingReader.decode_lines``, one reader per
instrument, so a snapshot without a symbol belongs to it), then the same books.

Book sync follows Binance's rules: the stream is opened first, its diffs
buffer in the book, then the REST snapshot is fetched and applied
(``marketdata.book``: stale diffs dropped, the first must bridge it). A gap puts
the book in RESYNCING and asks for one fresh snapshot. The client answers
pings (picows does), reconnects with jittered exponential backoff after a
drop, and reconnects on its own before the venue's 24 h cut. While a venue is
down no update comes, so the workers' stale guard pulls its quotes; quoting
resumes when the data does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import random
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator

from picows import WSError, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from quotepipe.config import Config
from quotepipe.domain.snapshot import BOOK_RESYNCING
from quotepipe.marketdata.binance import combined_url, snapshot_url, split_id, stream_names
from quotepipe.marketdata.book import BookSet
from quotepipe.marketdata.messages import DepthEvent, Event, SnapshotEvent
from quotepipe.marketdata.recording import RecordingReader
from quotepipe.shm.catalog import LIVE_FEED_COUNTERS as COUNTERS

log = logging.getLogger(__name__)

DRAIN = 256             #: frames decoded per turn of the market-data loop
WAIT_S = 0.02           #: longest block on an empty inbox before the caller's housekeeping
SNAPSHOT_TIMEOUT_S = 10.0
STABLE_S = 10.0         #: a connection that lasted this long resets the backoff
CLEANUP_ROUNDS = 3      #: passes of cancelling the I/O loop's tasks at close


class LiveFeed:
    kind = "binance"

    def __init__(self, cfg: Config, books: BookSet) -> None:
        self.cfg = cfg
        self.bc = cfg.feed.binance
        self.books = books
        self.ids = [i.id for i in cfg.instruments]
        self.venues: dict[str, list[tuple[str, str]]] = {}
        for iid in self.ids:
            venue, symbol = split_id(iid)
            self.venues.setdefault(venue, []).append((iid, symbol))
        self.readers = {iid: RecordingReader(f"live:{iid}", k, split_id(iid)[0])
                        for k, iid in enumerate(self.ids)}
        #: per venue, stream name (bytes, as in the frame) -> instrument id (spot and USD-M both
        #: have an ``ethusdt@trade``)
        self.route: dict[str, dict[bytes, str]] = {}
        self.l2 = "depth" in self.bc.streams
        for venue, pairs in self.venues.items():
            self.route[venue] = {name.encode(): iid for iid, symbol in pairs
                                 for name in stream_names(symbol, self.bc)}
        #: (wall ns, mono ns, instrument, raw frame): a C queue, so the market-data side blocks on it
        #: without the GIL and wakes as soon as the I/O thread puts a frame
        self.inbox: queue.SimpleQueue[tuple[int, int, str, bytes]] = queue.SimpleQueue()
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.pending: set[str] = set()     #: instruments with a snapshot on its way
        self.asked: set[str] = set()       #: instruments that had their first snapshot request
        self.recv_mono = 0                 #: monotonic receive time of the event last yielded
        #: called with (wall ns, instrument, raw frame) for every frame taken off the inbox, decoded
        #: or not (``quotepipe record`` writes them)
        self.on_frame: Callable[[int, str, bytes], object] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="qp-md-io", daemon=True)

    @property
    def malformed(self) -> int:
        return sum(r.malformed for r in self.readers.values()) + self.counts["ws_unknown_frames"]

    # ---------------------------------------------------------------- the market-data side
    def events(self, limit: int | None = None) -> Iterator[Event | None]:
        """Every decoded event, in arrival order; None when the inbox is empty (the caller
        does its housekeeping and waits a little). Runs until the caller stops."""
        self._thread.start()
        inbox, readers, slot = self.inbox, self.readers, {iid: k for k, iid in enumerate(self.ids)}
        get, get_nowait = inbox.get, inbox.get_nowait
        try:
            while True:
                item: tuple[int, int, str, bytes] | None
                try:
                    item = get(timeout=WAIT_S)
                except queue.Empty:
                    yield None  # nothing for a while: the caller's housekeeping
                    continue
                on_frame = self.on_frame
                for _ in range(DRAIN):
                    if item is None:
                        try:
                            item = get_nowait()
                        except queue.Empty:
                            break
                    wall, mono, iid, raw = item
                    item = None
                    if not raw:  # the I/O thread connected: the first sync (or a reconnect's)
                        if iid not in self.pending:
                            self.request_snapshot(iid)
                        continue
                    self.recv_mono = mono
                    if on_frame is not None:
                        on_frame(wall, iid, raw)
                    for ev in readers[iid].decode_lines([b"%d %s" % (wall, raw)]):
                        yield ev
                        if type(ev) is SnapshotEvent:
                            self.pending.discard(iid)
                        elif type(ev) is DepthEvent and self.l2:
                            book = self.books.books[slot[iid]]
                            # a gap (last_id < 0), not a snapshot waiting for its bridging diff
                            if book.state is BOOK_RESYNCING and book.last_id < 0 \
                                    and iid not in self.pending:
                                self.request_snapshot(iid)
        finally:
            self.close()

    def request_snapshot(self, iid: str) -> None:
        """Ask the I/O thread for ``iid``'s REST depth snapshot (a gap, or a first sync)."""
        self.pending.add(iid)
        self.counts["snapshot_requests"] += 1
        if iid in self.asked:  # not the first sync: a gap, a reconnect or a new file's snapshot
            self.counts["ws_resyncs"] += 1
        self.asked.add(iid)
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(lambda: loop.create_task(self._snapshot(iid)))

    def close(self) -> None:
        """Stop the I/O thread, once: a second stop reaching the loop while it cancels its
        tasks would leave them pending, to be finalised later on another thread. The stop is
        queued whether or not the loop runs yet (``_run`` checks ``_stop`` after publishing
        its loop, so one of the two sees the other)."""
        if self._stop.is_set():
            return
        self._stop.set()
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(loop.stop)

    def join(self, timeout: float) -> bool:
        """Wait for the I/O thread after ``close``; whether it ended."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    # ---------------------------------------------------------------- the I/O thread
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            for venue, pairs in self.venues.items():
                loop.create_task(self._venue(venue, pairs))
            if self._stop.is_set():  # closed before the loop was published
                loop.call_soon(loop.stop)
            loop.run_forever()
        finally:
            for _ in range(CLEANUP_ROUNDS):  # a task the cancelling started is cancelled too
                tasks = asyncio.all_tasks(loop)
                if not tasks:
                    break
                for task in tasks:
                    task.cancel()
                with contextlib.suppress(Exception):  # a stop that came during the cleanup
                    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

    async def _venue(self, venue: str, pairs: list[tuple[str, str]]) -> None:
        """One venue's connection, for ever: connect, read, reconnect with backoff."""
        streams = [n for _, symbol in pairs for n in stream_names(symbol, self.bc)]
        url = combined_url(venue, streams, self.bc)
        attempt = 0
        first = True
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                transport, _ = await ws_connect(
                    lambda: _Listener(self, venue), url, websocket_handshake_timeout=10,
                    enable_auto_ping=True, auto_ping_idle_timeout=20, auto_ping_reply_timeout=20,
                    max_frame_size=1 << 24)  # pongs to the venue's pings: picows answers them
            except (OSError, TimeoutError, WSError) as exc:
                if attempt == 0:
                    log.warning("%s: cannot connect (%s): retrying", venue, _why(exc))
            else:
                self.counts["ws_connects"] += 1
                if not first:
                    self.counts["ws_reconnects"] += 1
                first = False
                log.info("%s: connected (%d streams)", venue, len(streams))
                if self.l2:  # the stream is open and buffering: now the snapshots
                    for iid, _ in pairs:
                        self._loop_request(iid)
                try:
                    await asyncio.wait_for(transport.wait_disconnected(), timeout=self.bc.max_connection_s)
                    if not self._stop.is_set():
                        log.warning("%s: connection lost: reconnecting", venue)
                except TimeoutError:  # the venue cuts at 24 h: leave first, on our terms
                    self.counts["ws_planned_reconnects"] += 1
                    log.info("%s: reconnecting before the venue's connection limit (%g s)", venue,
                             self.bc.max_connection_s)
                    transport.disconnect()
                    await transport.wait_disconnected()
                    attempt = 0
                    continue
                finally:
                    if self._stop.is_set():
                        transport.disconnect()
            if time.monotonic() - started > STABLE_S:
                attempt = 0
            delay = min(self.bc.reconnect_max_s, self.bc.reconnect_min_s * 2 ** attempt)
            attempt += 1
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # jittered: venues hate herds

    def _loop_request(self, iid: str) -> None:
        """From the I/O thread: the market-data side takes the request (``pending`` is its own)."""
        self.inbox.put((0, 0, iid, b""))  # an empty frame: "ask for a snapshot"

    def _frame(self, route: dict[bytes, str], frame: bytes) -> None:
        """One whole frame, stamped and routed by its stream name into the inbox."""
        w, m = time.time_ns(), time.monotonic_ns()
        self.counts["ws_frames"] += 1
        # {"stream":"<name>","data":...}: the name sits at a fixed offset
        iid = route.get(frame[11:frame.find(b'"', 11)]) if frame.startswith(b'{"stream":"') else None
        if iid is None:
            self.counts["ws_unknown_frames"] += 1
            return
        self.inbox.put((w, m, iid, frame))

    async def _snapshot(self, iid: str) -> None:
        venue, symbol = split_id(iid)
        url = snapshot_url(venue, symbol, self.bc)
        loop = asyncio.get_running_loop()
        try:
            body = await loop.run_in_executor(None, _get, url)
        except (OSError, ValueError) as exc:
            self.counts["snapshot_errors"] += 1
            log.warning("%s: depth snapshot failed (%s): retrying", iid, exc)
            await asyncio.sleep(self.bc.reconnect_min_s)
            if not self._stop.is_set():
                loop.create_task(self._snapshot(iid))
            return
        self.inbox.put((time.time_ns(), time.monotonic_ns(), iid, body))


class _Listener(WSListener):
    """picows's callback object of one venue connection: whole frames to the feed."""

    def __init__(self, feed: LiveFeed, venue: str) -> None:
        super().__init__()
        self.feed = feed
        self.route = feed.route[venue]
        self.parts: list[bytes] = []

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        t = frame.msg_type
        if t == WSMsgType.TEXT or t == WSMsgType.BINARY:
            data = frame.get_payload_as_bytes()
            if not frame.fin:  # a fragmented message: the rest follows
                self.parts = [data]
                return
            self.feed._frame(self.route, data)
        elif t == WSMsgType.CONTINUATION:
            self.parts.append(frame.get_payload_as_bytes())
            if frame.fin:
                self.feed._frame(self.route, b"".join(self.parts))
                self.parts = []
        elif t == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()


def _why(exc: BaseException) -> str:
    return exc.__class__.__name__ + (f": {exc}" if str(exc) else "")


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=SNAPSHOT_TIMEOUT_S) as r:  # noqa: S310 - configured URL
        return bytes(r.read()).replace(b"\n", b"")
