"""Reading Binance recordings: ``<receive timestamp> <raw JSON>`` per line, gzip or plain.

A bad line is counted and skipped with its file and line number in a
rate-limited warning; nothing in a line can make the reader raise. Several
files merge into one stream ordered by receive time, ties broken by file order
then line number, so the merged order is the same on every run.
"""

from __future__ import annotations

import heapq
import logging
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec

from quotepipe.marketdata.messages import (
    BookTickerEvent,
    BookTickerLine,
    DepthEvent,
    DepthLine,
    Envelope,
    Event,
    SnapshotEvent,
    TradeEvent,
    TradeLine,
)

log = logging.getLogger(__name__)

SPOT, USDM, COINM = "binance-spot", "binance-usdm", "binance-coinm"
WARN_FIRST = 10        # warnings per file before rate limiting
WARN_EVERY = 10_000    # then one per this many bad lines

_envelope = msgspec.json.Decoder(Envelope, strict=False)
_book_ticker = msgspec.json.Decoder(BookTickerEvent, strict=False)
_depth = msgspec.json.Decoder(DepthEvent, strict=False)
_trade = msgspec.json.Decoder(TradeEvent, strict=False)
#: whole-line decoders for a stream already recognised: one decode per line
_LINE_DECODERS = {
    "book_ticker": msgspec.json.Decoder(BookTickerLine, strict=False),
    "depth": msgspec.json.Decoder(DepthLine, strict=False),
    "trade": msgspec.json.Decoder(TradeLine, strict=False),
}
_STREAM_PREFIX = b'{"stream":"'
CHUNK = 1 << 20


def receive_ns(stamp: int) -> int:
    """Receive timestamp in ns since the epoch from ns, µs or ms; ValueError otherwise.

    Epoch ns are ~1.7e18 today, µs ~1.7e15, ms ~1.7e12: the magnitudes never
    overlap between 1973 and 2286, which is the range accepted.
    """
    if stamp >= 10**17:
        return stamp
    if stamp >= 10**14:
        return stamp * 1000
    if stamp >= 10**11:
        return stamp * 1_000_000
    raise ValueError(f"receive timestamp {stamp} is not ns, µs or ms since the epoch")


def venue_of_book_ticker(m: BookTickerEvent) -> str:
    if m.pair or "_" in m.symbol:
        return COINM
    return USDM if (m.event or m.exch_ms or m.txn_ms) else SPOT


def venue_of_depth(m: DepthEvent) -> str:
    if m.pair or "_" in m.symbol:
        return COINM
    return USDM if m.prev_id != -1 else SPOT


def venue_of_trade(m: TradeEvent) -> str:
    if m.pair or "_" in m.symbol:
        return COINM
    return SPOT if m.spot_flag is not None else USDM


def read_lines(path: Path) -> Iterator[bytes]:
    """Lines of a plain or gzip (also multi-member) file, read in large chunks.

    Raises ``EOFError`` or ``zlib.error`` at the point a gzip stream is cut or corrupt.
    """
    with path.open("rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
        f.seek(0)
        d = zlib.decompressobj(wbits=31) if gz else None
        rest = b""
        while chunk := f.read(CHUNK):
            if d is not None:
                data = d.decompress(chunk)
                while d.eof and d.unused_data:  # another gzip member follows
                    tail = d.unused_data
                    d = zlib.decompressobj(wbits=31)
                    data += d.decompress(tail)
                chunk = data
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            yield from lines
        if d is not None and not d.eof:  # cut short: the partial last line is not a line
            raise EOFError("compressed file ended before the end-of-stream marker was reached")
        if rest:
            yield rest


class RecordingReader:
    """Events of one file, in file order, with per-kind and per-instrument counts.

    ``venue`` forces the venue of every instrument; ``"auto"`` recognises it from
    the message fields. A REST snapshot without a symbol belongs to the file's
    instrument (the one its stream lines name).
    """

    def __init__(self, path: str | Path, index: int = 0, venue: str = "auto") -> None:
        self.path = Path(path)
        self.index = index
        self.venue = venue
        self.lines = 0
        self.malformed = 0
        self._counts: Counter[tuple[str, str]] = Counter()  # slow path: (instrument, kind) -> n
        self.first_ns: dict[str, int] = {}
        self._last_ns: dict[str, int] = {}
        self.instruments: list[str] = []
        self._pending_snapshots: list[tuple[int, int, Envelope]] = []
        # fast path: stream name -> [line decoder, kind, instrument, count, last ns]
        self._streams: dict[bytes, list] = {}

    @property
    def counts(self) -> Counter[tuple[str, str]]:
        """(instrument, kind) -> lines, over both decode paths."""
        out = Counter(self._counts)
        for _, kind, inst, n, _ in self._streams.values():
            out[inst, kind] += n
        return out

    @property
    def last_ns(self) -> dict[str, int]:
        out = dict(self._last_ns)
        for _, _, inst, n, ns in self._streams.values():
            if n and ns > out.get(inst, 0):
                out[inst] = ns
        return out

    # -- bookkeeping
    def _bad(self, lineno: int, why: str) -> None:
        self.malformed += 1
        n = self.malformed
        if n <= WARN_FIRST or n % WARN_EVERY == 0:
            more = "" if n < WARN_FIRST else f" ({n} malformed lines so far; warning every {WARN_EVERY})"
            log.warning("%s:%d: skipped malformed line: %s%s", self.path, lineno, why, more)

    def _seen(self, inst: str, kind: str, ns: int) -> None:
        self._counts[inst, kind] += 1
        if inst not in self.first_ns:
            self.first_ns[inst] = ns
            self.instruments.append(inst)
        self._last_ns[inst] = ns

    def _inst(self, venue: str, symbol: str) -> str:
        return f"{venue if self.venue == 'auto' else self.venue}:{symbol.upper()}"

    # -- decoding
    def __iter__(self) -> Iterator[tuple[int, int, int, Event]]:
        """(receive ns, file index, line number, event) in file order."""
        if not self.path.is_file():
            raise FileNotFoundError(f"cannot read recording {self.path}: no such file")
        index = self.index
        streams = self._streams
        prefix = _STREAM_PREFIX
        lineno = 0
        try:
            for line in read_lines(self.path):
                lineno += 1
                sp = line.find(b" ")
                # fast path: a stream already recognised, decoded in one pass
                if sp > 0 and line.startswith(prefix, sp + 1):
                    end = line.find(b'"', sp + 12)
                    entry = streams.get(line[sp + 12:end])
                    if entry is not None:
                        try:
                            ns = receive_ns(int(line[:sp]))
                            ev = entry[0].decode(line[sp + 1:]).data
                        except (ValueError, msgspec.DecodeError) as exc:
                            self._bad(lineno, str(exc)[:200])
                            continue
                        ev.recv_ns = ns
                        ev.inst = entry[2]
                        entry[3] += 1
                        entry[4] = ns
                        yield ns, index, lineno, ev
                        continue
                for ns, ln, ev in self._decode(line, lineno):
                    yield ns, index, ln, ev
        except (OSError, EOFError, zlib.error) as exc:  # truncated or corrupt gzip
            self._bad(lineno + 1, f"unreadable data ({exc}); rest of file skipped")
        self.lines = lineno
        for _ns, ln, _env in self._pending_snapshots:
            self._bad(ln, "depth snapshot without a symbol in a file naming no instrument")

    def _decode(self, line: bytes, lineno: int) -> list[tuple[int, int, Event]]:
        sp = line.find(b" ")
        if sp <= 0:
            if line.strip():
                self._bad(lineno, "expected '<timestamp> <json>'")
            return []
        body = line[sp + 1:]
        try:
            ns = receive_ns(int(line[:sp]))
            env = _envelope.decode(body)
            return self._dispatch(ns, env, body, lineno)
        except (msgspec.DecodeError, ValueError, IndexError) as exc:
            self._bad(lineno, str(exc)[:200])
            return []

    def _dispatch(self, ns: int, env: Envelope, body: bytes, lineno: int
                  ) -> list[tuple[int, int, Event]]:
        if env.stream:
            kind = env.stream.partition("@")[2]
            data: bytes | msgspec.Raw = env.data
            if not data:
                raise ValueError("combined-stream envelope without data")
        elif env.lastUpdateId >= 0:
            return self._snapshot(ns, env, lineno)
        elif env.e:
            kind, data = env.e, body  # a bare stream payload
        else:
            raise ValueError("neither a stream message nor a depth snapshot")
        ev: Event
        if kind == "bookTicker":
            ev = _book_ticker.decode(data)
            inst, name = self._inst(venue_of_book_ticker(ev), ev.symbol), "book_ticker"
        elif kind.startswith("depth"):
            ev = _depth.decode(data)
            inst, name = self._inst(venue_of_depth(ev), ev.symbol), "depth"
        elif kind in ("trade", "aggTrade"):
            ev = _trade.decode(data)
            if ev.trade_id < 0:
                ev.trade_id = ev.agg_id
            inst, name = self._inst(venue_of_trade(ev), ev.symbol), "trade"
        else:  # a stream quotepipe does not use (kline, markPrice, ...): counted, skipped
            symbol = env.stream.partition("@")[0].upper()
            known = [i for i in self.instruments if i.endswith(":" + symbol)]
            self._counts[known[0] if known else "", "other"] += 1
            return []
        if not ev.symbol:
            raise ValueError(f"{kind} message without a symbol")
        ev.recv_ns = ns
        ev.inst = inst
        self._seen(inst, name, ns)
        if env.stream and kind != "aggTrade":  # later lines of this stream take the fast path
            self._streams.setdefault(env.stream.encode(), [_LINE_DECODERS[name], name, inst, 0, ns])
        out: list[tuple[int, int, Event]] = [(ns, lineno, ev)]
        if self._pending_snapshots:
            out = self._flush_pending(inst) + out
        return out

    def _snapshot(self, ns: int, env: Envelope, lineno: int) -> list[tuple[int, int, Event]]:
        if env.symbol:
            venue = COINM if (env.pair or "_" in env.symbol) else (USDM if env.E else SPOT)
            return [(ns, lineno, self._snapshot_event(ns, self._inst(venue, env.symbol), env))]
        if len(self.instruments) == 1:
            return [(ns, lineno, self._snapshot_event(ns, self.instruments[0], env))]
        if not self.instruments:
            self._pending_snapshots.append((ns, lineno, env))  # symbol comes with the next line
            return []
        raise ValueError("depth snapshot without a symbol in a file of several instruments")

    def _snapshot_event(self, ns: int, inst: str, env: Envelope) -> SnapshotEvent:
        self._seen(inst, "snapshot", ns)
        return SnapshotEvent(ns, inst, env.lastUpdateId, env.bids, env.asks, env.E * 1_000_000)

    def _flush_pending(self, inst: str) -> list[tuple[int, int, Event]]:
        out = [(ns, ln, self._snapshot_event(ns, inst, env))
               for ns, ln, env in self._pending_snapshots]
        self._pending_snapshots = []
        return out


def merge(readers: list[RecordingReader]) -> Iterator[tuple[int, int, int, Event]]:
    """All readers' events by receive time; ties by file index, then line number."""
    return heapq.merge(*readers)


def open_recordings(paths: Iterable[str | Path], venue: str = "auto") -> list[RecordingReader]:
    out = []
    for i, p in enumerate(paths):
        path = Path(p)
        if not path.is_file():
            raise FileNotFoundError(f"recording not found: {path}")
        out.append(RecordingReader(path, i, venue))
    return out
