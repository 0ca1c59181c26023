"""A local Binance exchange simulator: WebSocket combined streams and REST depth snapshots on 127.0.0.1.

It plays recordings (the shared format: ``<receive ns> <message>`` per line)
at their recorded pace times ``speed`` (0: as fast as the clients read), and
speaks the protocol the live feed speaks (``marketdata.binance``), with one
path prefix per venue, so a config points at it with::

    feed: {kind: binance, binance: {spot_ws: ws://127.0.0.1:PORT/spot,
           spot_rest: http://127.0.0.1:PORT/spot, usdm_ws: ..., coinm_ws: ...}}

(``Simulator.feed_yaml()`` prints exactly that). A stream message goes to
every connection that subscribed to its stream; a REST snapshot is the
simulator's own book of that instrument at the moment it is asked for, built
from the same recording with the same books (503 while that book is not valid).
Faults on demand, for tests and demos: drop every connection of a venue,
stall the stream, skip one depth diff (a sequence gap), send malformed frames.
It counts what it sent per stream, so a recorder can be checked against it.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from quotepipe.domain.snapshot import BOOK_VALID
from quotepipe.marketdata.binance import DEPTH_PATH, VENUES
from quotepipe.marketdata.book import OrderBook
from quotepipe.marketdata.messages import DepthEvent, SnapshotEvent
from quotepipe.marketdata.recording import RecordingReader, read_blocks

PREFIX = {"binance-spot": "spot", "binance-usdm": "usdm", "binance-coinm": "coinm"}
VENUE_OF_PREFIX = {v: k for k, v in PREFIX.items()}


def stream_key(name: bytes) -> bytes:
    """A stream's name without its update speed (``btcusdt@depth@100ms`` -> ``btcusdt@depth``): a
    recording made at one depth speed serves a client that asks for another."""
    sym, _, kind = name.partition(b"@")
    return sym + b"@" + kind.partition(b"@")[0]


def _lines(path: Path, index: int) -> Iterator[tuple[int, int, bytes]]:
    """(receive ns, file index, raw line) of one recording."""
    for data, start, end in read_blocks(path):
        for line in data[start:end].split(b"\n"):
            sp = line.find(b" ")
            if sp > 0 and line[:sp].isdigit():
                yield int(line[:sp]), index, line


def venue_of_file(path: Path) -> str | None:
    """The venue of a recording's instrument, from its first lines that decode."""
    reader = RecordingReader(path)
    for _, _, line in _lines(path, 0):
        for ev in reader.decode_lines([line]):
            return ev.inst.partition(":")[0]
    return None


class Simulator:
    def __init__(self, paths: list[str | Path], speed: float = 1.0, host: str = "127.0.0.1",
                 port: int = 0, loop_forever: bool = False, wait_clients: int = 0) -> None:
        """``wait_clients``: play only once that many connections have subscribed (nothing sent
        before a client is there to count it); ``loop_forever``: play the recordings again and
        again (a demo, a long test)."""
        self.paths = [Path(p) for p in paths]
        self.speed = speed
        self.host = host
        self.port = port
        self.loop_forever = loop_forever
        self.wait_clients = wait_clients
        self.readers = [RecordingReader(p, k) for k, p in enumerate(self.paths)]
        self.books: dict[str, OrderBook] = {}
        #: connection -> (venue, {stream key: the stream name it asked for})
        self.clients: dict[Any, tuple[str, dict[bytes, bytes]]] = {}
        self.sent: Counter[str] = Counter()  #: frames sent per stream name (once, however many clients)
        self.sent_total = 0
        self.done = threading.Event()
        self.played = threading.Event()  #: every line played (not set while looping)
        self.ready = threading.Event()
        self._stall_until = 0.0
        self._gaps: Counter[str] = Counter()      # instrument -> depth diffs to skip
        self._malformed: list[tuple[str, int]] = []
        self._drop: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- control (any thread)
    def start(self) -> Simulator:
        """Serve in a thread of its own; returns once the port is bound."""
        self._thread = threading.Thread(target=lambda: asyncio.run(self.serve()), name="qp-sim", daemon=True)
        self._thread.start()
        if not self.ready.wait(30):
            raise RuntimeError("simulator did not start")
        return self

    def stop(self) -> None:
        self.done.set()
        if self._thread is not None:
            self._thread.join(10)

    def drop(self, venue: str) -> None:
        """Close every connection of ``venue`` (the client must reconnect)."""
        self._drop.append(venue)

    def stall(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (the stream stays open)."""
        self._stall_until = time.monotonic() + seconds

    def gap(self, iid: str, diffs: int = 1) -> None:
        """Skip the next ``diffs`` depth diffs of ``iid``: a sequence gap for the client."""
        self._gaps[iid] += diffs

    def malformed(self, venue: str, frames: int = 1) -> None:
        """Send ``frames`` frames that are not Binance messages to every client of ``venue``."""
        self._malformed.append((venue, frames))

    def feed_yaml(self) -> str:
        base = f"{self.host}:{self.port}"
        urls = ", ".join(f"{PREFIX[v]}_ws: ws://{base}/{PREFIX[v]}, {PREFIX[v]}_rest: http://{base}/{PREFIX[v]}"
                         for v in VENUES)
        return f"feed: {{kind: binance, binance: {{{urls}}}}}\n"

    # ---------------------------------------------------------------- the server
    async def serve(self) -> None:
        from websockets.asyncio.server import serve

        self._loop = asyncio.get_running_loop()
        async with serve(self._session, self.host, self.port, process_request=self._http, compression=None,
                         max_size=1 << 20) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            self.ready.set()
            player = asyncio.create_task(self._play())
            while not self.done.is_set():
                await asyncio.sleep(0.05)
                await self._faults()
            player.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await player

    def _http(self, connection: Any, request: Any) -> Any:
        """REST snapshots (and a 404 for anything else); a WebSocket upgrade goes on."""
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        url = urlsplit(request.path)
        prefix, _, rest = url.path.lstrip("/").partition("/")
        venue = VENUE_OF_PREFIX.get(prefix)
        if venue is None or "/" + rest != DEPTH_PATH[venue]:
            return connection.respond(HTTPStatus.NOT_FOUND, f"no such endpoint {url.path}\n")
        symbol = parse_qs(url.query).get("symbol", [""])[0]
        limit = int(parse_qs(url.query).get("limit", ["1000"])[0])
        iid = f"{venue}:{symbol}"
        book = self.books.get(iid)
        if book is None or book.state is not BOOK_VALID:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, f"{iid}: no valid book yet\n")
        bids = [[repr(p), repr(q)] for p, q in book.bids.best_levels(limit)]
        asks = [[repr(p), repr(q)] for p, q in book.asks.best_levels(limit)]
        now_ms = time.time_ns() // 1_000_000
        body: dict[str, Any] = {"lastUpdateId": book.last_id, "bids": bids, "asks": asks}
        if venue != "binance-spot":
            body = {"lastUpdateId": book.last_id, "E": now_ms, "T": now_ms, **(
                {"symbol": symbol, "pair": symbol.split("_")[0]} if venue == "binance-coinm" else {}),
                "bids": bids, "asks": asks}
        resp = connection.respond(HTTPStatus.OK, json.dumps(body, separators=(",", ":")))
        resp.headers["Content-Type"] = "application/json"
        return resp

    async def _session(self, ws: Any) -> None:
        url = urlsplit(ws.request.path)
        prefix = url.path.lstrip("/").partition("/")[0]
        venue = VENUE_OF_PREFIX.get(prefix)
        if venue is None or not url.path.endswith("/stream"):
            await ws.close(1008, "expected /<spot|usdm|coinm>/stream?streams=...")
            return
        streams = {stream_key(s.encode()): s.encode()
                   for s in parse_qs(url.query).get("streams", [""])[0].split("/") if s}
        self.clients[ws] = (venue, streams)
        try:
            await ws.wait_closed()
        finally:
            self.clients.pop(ws, None)

    async def _faults(self) -> None:
        while self._drop:
            venue = self._drop.pop()
            for ws, (v, _) in list(self.clients.items()):
                if v == venue:
                    ws.transport.abort()  # a dropped connection, not a polite close
        while self._malformed:
            venue, n = self._malformed.pop()
            for ws, (v, streams) in list(self.clients.items()):
                if v != venue:
                    continue
                name = next(iter(streams.values()), b"x@bookTicker")
                bad = (b"not json at all", b'{"stream":', b'{"stream":"' + name + b'","data":{"u":"x"}}')
                for k in range(n):  # garbage, a cut frame, and a known stream with a bad payload
                    with contextlib.suppress(Exception):
                        await ws.send(bad[k % 3].decode())

    async def _play(self) -> None:
        while True:
            await self._play_once()
            if not self.loop_forever:
                self.played.set()
                return
            self.readers = [RecordingReader(p, k) for k, p in enumerate(self.paths)]

    async def _play_once(self) -> None:
        while len(self.clients) < self.wait_clients and not self.done.is_set():
            await asyncio.sleep(0.01)
        merged = heapq.merge(*(_lines(p, k) for k, p in enumerate(self.paths)))
        file_venue = {k: venue_of_file(p) for k, p in enumerate(self.paths)}
        t0_wall = time.monotonic()
        t0_rec = None
        for ns, k, line in merged:
            if self.done.is_set():
                return
            if t0_rec is None:
                t0_rec = ns
            if self.speed > 0:
                wait = t0_wall + (ns - t0_rec) / 1e9 / self.speed - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            while time.monotonic() < self._stall_until:
                await asyncio.sleep(0.01)
            raw = line[line.find(b" ") + 1:]
            skip = False
            for ev in self.readers[k].decode_lines([line]):
                iid = ev.inst
                book = self.books.get(iid)
                if book is None:
                    book = self.books[iid] = OrderBook(iid, not iid.startswith("binance-spot"))
                if type(ev) is SnapshotEvent:
                    book.on_snapshot(ev)
                    skip = True  # the recorded REST answer: the simulator serves its own
                elif type(ev) is DepthEvent:
                    book.on_depth(ev)
                    if self._gaps[iid] > 0:
                        self._gaps[iid] -= 1
                        skip = True
            if skip or not raw.startswith(b'{"stream":"'):
                continue
            end = raw.find(b'"', 11)
            name = raw[11:end]
            key = stream_key(name)
            self.sent[key.decode()] += 1
            self.sent_total += 1
            venue = file_venue.get(k)
            for ws, (v, streams) in list(self.clients.items()):
                asked = streams.get(key) if v == venue else None
                if asked is not None:
                    frame = raw if asked == name else b'{"stream":"' + asked + raw[end:]
                    with contextlib.suppress(Exception):
                        await ws.send(frame.decode())
            if self.sent_total % 32 == 0:  # behind the pace (or at speed 0): let the REST and faults in
                await asyncio.sleep(0)

    def stream_counts(self) -> dict[str, int]:
        return dict(self.sent)

