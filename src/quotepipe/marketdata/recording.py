"""Reading Binance recordings: ``<receive timestamp> <raw JSON>`` per line, gzip or plain.

A bad line is counted and skipped with its file and line number in a
rate-limited warning; nothing in a line can make the reader raise. Several
files merge into one stream ordered by receive time, ties broken by file order
then line number, so the merged order is the same on every run; each file keeps
its own line order.

Three decode paths, fastest first. A line of a stream already recognised, in
Binance's canonical form, is decoded in compiled code (``lines.KnownStreams``).
A line it does not take (another form, a bad line) is decoded by ``msgspec``: a
known stream's in one call, anything else (a new stream, a snapshot) through the
envelope. Every path gives the same events, and only msgspec refuses a line.

What a line holds is checked by the decoders (``messages``: required fields,
finite positive prices). Its receive time is checked here: outside 2010-2100
it is malformed, and so is a short run of lines far (``MAX_JUMP_NS``) from the
lines on both sides of it while those agree with each other. A jump that the
following lines confirm (``JUMP_CONFIRM`` of them) is a real gap in the
recording and is kept; so are the first lines of a file once they agree.
"""

from __future__ import annotations

import logging
import zlib
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any

import msgspec

try:  # ISA-L inflate: the same API as zlib, about 4x faster on these files (bench_md)
    from isal import isal_zlib as _inflate
except ImportError:  # pragma: no cover - a platform without an isal wheel
    _inflate = zlib  # type: ignore[misc]

from quotepipe.marketdata.lines import KnownStreams, Stream
from quotepipe.marketdata.messages import (
    BookTickerEvent,
    BookTickerId,
    BookTickerLine,
    DepthEvent,
    DepthId,
    DepthLine,
    Envelope,
    Event,
    SnapshotEvent,
    TradeEvent,
    TradeId,
    TradeLine,
)

log = logging.getLogger(__name__)

SPOT, USDM, COINM = "binance-spot", "binance-usdm", "binance-coinm"
WARN_FIRST = 10        # warnings per file before rate limiting
WARN_EVERY = 10_000    # then one per this many bad lines

_envelope = msgspec.json.Decoder(Envelope, strict=False)
_timestamp = msgspec.json.Decoder(int, strict=False)
_book_ticker = msgspec.json.Decoder(BookTickerEvent, strict=False)
_depth = msgspec.json.Decoder(DepthEvent, strict=False)
_trade = msgspec.json.Decoder(TradeEvent, strict=False)
_book_ticker_id = msgspec.json.Decoder(BookTickerId, strict=False)
_depth_id = msgspec.json.Decoder(DepthId, strict=False)
_trade_id = msgspec.json.Decoder(TradeId, strict=False)
#: whole-line decoders for a stream already recognised: one decode per line
_LINE_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    "book_ticker": msgspec.json.Decoder(BookTickerLine, strict=False),
    "depth": msgspec.json.Decoder(DepthLine, strict=False),
    "trade": msgspec.json.Decoder(TradeLine, strict=False),
}
_STREAM_PREFIX = b'{"stream":"'
_first = itemgetter(0)
READ_BYTES = 1 << 16   # bytes read (and inflated) at a time: few switches between files' inflaters
BLOCK_BYTES = 1 << 14  # text per block, about 60 lines: the events of a block stay in cache
INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error, _inflate.error)  # type: ignore[assignment]
READ_ERRORS: tuple[type[Exception], ...] = (OSError, EOFError, *INFLATE_ERRORS)
NS_SINCE_EPOCH_MIN = 10**17
RECV_NS_MIN = 1_262_304_000 * 10**9   #: 2010-01-01: a receive time before is not one
RECV_NS_MAX = 4_102_444_800 * 10**9   #: 2100-01-01
MAX_JUMP_NS = 3600 * 10**9   #: a receive time this far from the line before is held for confirmation
JUMP_CONFIRM = 3             #: lines that agree after a jump make it a real gap


class UnusableRecording(ValueError):
    """A file that holds no market-data event: empty, not text, or no line of it decodes."""


def _span(ns: int) -> str:
    """A time difference for a message: ``3.2 h``, ``41 days``."""
    s = abs(ns) / 1e9
    return f"{s / 86400:.0f} days" if s >= 2 * 86400 else f"{s / 3600:.1f} h" if s >= 3600 else f"{s:.0f} s"


def receive_ns(stamp: int) -> int:
    """Receive timestamp in ns since the epoch from ns, µs or ms; ValueError otherwise.

    Epoch ns are ~1.7e18 today, µs ~1.7e15, ms ~1.7e12: the magnitudes never
    overlap between 1973 and 2286, which is the range accepted.
    """
    if stamp >= NS_SINCE_EPOCH_MIN:
        return stamp
    if stamp >= 10**14:
        return stamp * 1000
    if stamp >= 10**11:
        return stamp * 1_000_000
    raise ValueError(f"receive timestamp {stamp} is not ns, µs or ms since the epoch")


def venue_of_book_ticker(m: BookTickerId) -> str:
    if m.pair or "_" in m.symbol:
        return COINM
    return USDM if (m.event or m.exch_ms or m.txn_ms) else SPOT


def venue_of_depth(m: DepthId) -> str:
    if m.pair or "_" in m.symbol:
        return COINM
    return USDM if m.prev_id != -1 else SPOT


def venue_of_trade(m: TradeId) -> str:
    if m.pair or "_" in m.symbol:
        return COINM
    return SPOT if m.spot_flag is not None else USDM


def read_blocks(path: Path, done: list[int] | None = None) -> Iterator[tuple[bytes, int, int]]:
    """Whole lines of a plain or gzip (also multi-member) file, a block of them at a time.

    A block is ``(data, start, end)``: the lines ``data[start:end]``, joined by ``\\n``
    with none at the end. ``data`` is the text inflated (or read) at once, so a block is
    handed over without a copy; only a line cut between two reads is joined into a
    bytes object of its own. Raises ``EOFError`` or one of ``INFLATE_ERRORS`` at the
    point a gzip stream is cut or corrupt. ``done[0]``, when given, follows the bytes of
    the file read so far (progress).
    """
    with path.open("rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
        f.seek(0)
        d = _inflate.decompressobj(wbits=31) if gz else None
        rest = b""
        while chunk := f.read(READ_BYTES):
            if done is not None:
                done[0] += len(chunk)
            if d is not None:
                data = d.decompress(chunk)
                while d.eof and d.unused_data:  # another gzip member follows
                    tail = d.unused_data
                    d = _inflate.decompressobj(wbits=31)
                    data += d.decompress(tail)
                chunk = data
            start = 0
            if rest:  # the line the last read cut: it ends at this text's first newline
                end = chunk.find(b"\n")
                if end < 0:
                    rest += chunk
                    continue
                line = rest + chunk[:end]
                yield line, 0, len(line)
                start = end + 1
            while (end := chunk.find(b"\n", start + BLOCK_BYTES)) >= 0:
                yield chunk, start, end
                start = end + 1
            end = chunk.rfind(b"\n", start)
            if end >= 0:
                yield chunk, start, end
                start = end + 1
            rest = chunk[start:]
        if d is not None and not d.eof:  # cut short: the partial last line is not a line
            raise EOFError("compressed file ended before the end-of-stream marker was reached")
        if rest:
            yield rest, 0, len(rest)


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
        self.first_line: dict[str, int] = {}  #: line number of each instrument's first line
        self._last_ns: dict[str, int] = {}
        self.instruments: list[str] = []
        self._pending_snapshots: list[tuple[int, int, Envelope]] = []
        self._known = KnownStreams()  # the known streams, by name, and their lines' compiled decoder
        self.events = 0           #: events read so far
        self.bytes_read = [0]     #: bytes of the file read so far (``[0]``), for progress
        # the receive-time check: times within [lo, hi] are taken without a look; others go to
        # _odd_time. While lines are held (a jump to confirm, or a file's first lines) lo > hi.
        self._anchor: int | None = None   #: receive time of the last line taken
        self._held: list[tuple[int, int, Event | None, Any]] = []  # (ns, line, event, stream or raw line)
        self._lo, self._hi = 1, 0

    @property
    def counts(self) -> Counter[tuple[str, str]]:
        """(instrument, kind) -> lines, over both decode paths."""
        out = Counter(self._counts)
        for st in self._known.streams.values():
            out[st.inst, st.kind] += st.count
        return out

    @property
    def last_ns(self) -> dict[str, int]:
        out = dict(self._last_ns)
        for st in self._known.streams.values():
            if st.count and st.last_ns > out.get(st.inst, 0):
                out[st.inst] = st.last_ns
        return out

    # -- bookkeeping
    def _bad(self, lineno: int, why: str) -> None:
        self.malformed += 1
        n = self.malformed
        if n <= WARN_FIRST or n % WARN_EVERY == 0:
            more = "" if n < WARN_FIRST else f" ({n} malformed lines so far; warning every {WARN_EVERY})"
            log.warning("%s:%d: skipped malformed line: %s%s", self.path, lineno, why, more)

    def _seen(self, inst: str, kind: str, ns: int, lineno: int) -> None:
        self._counts[inst, kind] += 1
        if inst not in self.first_ns:
            self.first_ns[inst] = ns
            self.first_line[inst] = lineno
            self.instruments.append(inst)
        self._last_ns[inst] = ns

    def _inst(self, venue: str, symbol: str) -> str:
        return f"{venue if self.venue == 'auto' else self.venue}:{symbol.upper()}"

    # -- decoding
    def __iter__(self) -> Iterator[tuple[int, int, int, Event]]:
        """(receive ns, file index, line number, event) in file order."""
        for batch in self.batches():
            yield from batch

    def batches(self) -> Iterator[list[tuple[int, int, int, Event]]]:
        """The events of each block read, as lists of (receive ns, file index, line number, event)."""
        if not self.path.is_file():
            raise FileNotFoundError(f"cannot read recording {self.path}: no such file")
        lineno = 0
        try:
            for data, start, end in read_blocks(self.path, self.bytes_read):
                out: list[tuple[int, int, int, Event]] = []
                lineno = self._decode_into(out, data, start, end, lineno)
                if out:
                    self._moved(out[-1][0])
                    self.events += len(out)
                    yield out
        except READ_ERRORS as exc:  # truncated or corrupt gzip
            self._bad(lineno + 1, f"unreadable data ({exc}); rest of file skipped")
        self.lines = lineno
        tail = self._end_of_file()
        if tail:
            self.events += len(tail)
            yield tail
        for _ns, ln, _env in self._pending_snapshots:
            self._bad(ln, "depth snapshot without a symbol in a file naming no instrument")
        if not self.events:
            what = ("is empty" if not self.malformed and not self._counts else
                    f"holds no market-data event in {lineno} lines ({self.malformed} malformed)")
            raise UnusableRecording(f"recording {self.path} {what}: expected lines of "
                                    "'<receive timestamp> <Binance JSON message>', plain or gzip")

    def decode_lines(self, lines: list[bytes]) -> list[Event]:
        """Lines as a recording holds them (``<receive ns> <message>``), not read from the file: the
        live feed's path through the same decoders, checks and counts (``malformed``)."""
        out: list[tuple[int, int, int, Event]] = []
        for line in lines:
            self.lines = self._decode_into(out, line, 0, len(line), self.lines, whole=True)
        if out:
            self._moved(out[-1][0])
        self.events += len(out)
        return [ev for _, _, _, ev in out]

    def _decode_into(self, out: list[tuple[int, int, int, Event]], data: bytes, pos: int, end: int,
                     lineno: int, whole: bool = False) -> int:
        """The events of the lines ``data[pos:end]`` (``whole``: one line) appended to ``out``: known
        streams' in compiled code, the lines it leaves through msgspec (``_decode_line``) or
        the receive-time check (``_odd_time``). Returns the number of the last line."""
        index = self.index
        known = self._known
        while True:
            pos, lineno, row = known.decode_rows(data, pos, end, self._lo, self._hi, index, lineno, out,
                                                 whole)
            if row is None:
                break
            if type(row) is tuple:  # decoded; its receive time is for the check
                ev, st = row
                for t, ln, e in self._odd_time(ev.recv_ns, lineno, ev, st):
                    out.append((t, index, ln, e))
            else:
                self._decode_line(row, lineno, out)
        return lineno

    def _decode_line(self, line: bytes, lineno: int, out: list[tuple[int, int, int, Event]]) -> None:
        """One line through msgspec, its events appended to ``out``."""
        index = self.index
        sp = line.find(b" ")
        if sp > 0 and line.startswith(_STREAM_PREFIX, sp + 1):
            st = self._known.streams.get(line[sp + 12:line.find(b'"', sp + 12)])
            if st is not None:
                try:
                    ns = _timestamp.decode(line[:sp])
                    if ns < NS_SINCE_EPOCH_MIN:
                        ns = receive_ns(ns)
                    ev = st.line_decoder.decode(line[sp + 1:]).data
                except (ValueError, msgspec.DecodeError) as exc:
                    self._bad(lineno, str(exc)[:200])
                    return
                if not self._lo <= ns <= self._hi:
                    for t, ln, e in self._odd_time(ns, lineno, ev, st):
                        out.append((t, index, ln, e))
                    return
                ev.recv_ns = ns
                ev.inst = st.inst
                st.count += 1
                st.last_ns = ns
                out.append((ns, index, lineno, ev))
                return
        for ns, ln, ev in self._decode(line, lineno):
            out.append((ns, index, ln, ev))

    # -- receive times
    def _moved(self, ns: int) -> None:
        """The last line taken is at ``ns``: times near it are taken without a look."""
        self._anchor = ns
        if not self._held:
            self._lo, self._hi = ns - MAX_JUMP_NS, ns + MAX_JUMP_NS

    def _odd_time(self, ns: int, lineno: int, ev: Event | None, src: Any) -> list[tuple[int, int, Event]]:
        """A line whose receive time is not near the last one taken, or that comes while lines
        are held: the events it lets through, its own or held ones (usually none or one)."""
        if not RECV_NS_MIN <= ns < RECV_NS_MAX:
            self._bad(lineno, f"receive time {ns} is not between 2010 and 2100")
            return []
        held, anchor = self._held, self._anchor
        out: list[tuple[int, int, Event]] = []
        if anchor is not None and abs(ns - anchor) <= MAX_JUMP_NS:
            for t, ln, _, _ in held:  # lines far from both sides, which agree: not real times
                self._bad(ln, f"receive time is {_span(t - anchor)} away from the lines around it")
            held.clear()
            out += self._take(ns, lineno, ev, src)
        elif not held or abs(ns - held[0][0]) <= MAX_JUMP_NS:
            held.append((ns, lineno, ev, src))
            if len(held) < JUMP_CONFIRM:
                self._lo, self._hi = 1, 0  # every line comes here until the held ones are settled
                return out
            out += self._release()
        elif anchor is None:  # a file's first lines that the next do not confirm
            for t, ln, _, _ in held:
                self._bad(ln, f"receive time is {_span(t - ns)} away from the lines after it")
            held.clear()
            return self._odd_time(ns, lineno, ev, src)
        else:  # the held lines are not a run between two agreeing sides: a real gap
            out += self._release()
            out += self._odd_time(ns, lineno, ev, src)
            return out
        if self._anchor is not None:
            self._moved(self._anchor)
        return out

    def _release(self) -> list[tuple[int, int, Event]]:
        """Take every held line: they are real times."""
        out: list[tuple[int, int, Event]] = []
        held, self._held = self._held, []
        for t, ln, ev, src in held:
            out += self._take(t, ln, ev, src)
        if held:
            self._moved(held[-1][0])
        return out

    def _take(self, ns: int, lineno: int, ev: Event | None, src: Any) -> list[tuple[int, int, Event]]:
        """A line whose receive time is accepted: its decoded event, or its raw line decoded now."""
        self._anchor = ns
        if ev is None:
            return self._decode_body(ns, src, lineno)
        st: Stream = src
        ev.recv_ns = ns
        ev.inst = st.inst
        st.count += 1
        st.last_ns = ns
        return [(ns, lineno, ev)]

    def _end_of_file(self) -> list[tuple[int, int, int, Event]]:
        """Lines still held at the end: a file's first lines are taken (they agree); lines after
        a jump that nothing confirms are malformed."""
        if not self._held:
            return []
        if self._anchor is None:
            return [(t, self.index, ln, ev) for t, ln, ev in self._release()]
        for t, ln, _, _ in self._held:
            self._bad(ln, f"receive time is {_span(t - self._anchor)} away from the line before "
                          "it, and the file ends")
        self._held.clear()
        return []

    def _decode(self, line: bytes, lineno: int) -> list[tuple[int, int, Event]]:
        sp = line.find(b" ")
        if sp <= 0:
            if line.strip():
                self._bad(lineno, "expected '<timestamp> <json>'")
            return []
        try:
            ns = receive_ns(_timestamp.decode(line[:sp]))
        except (msgspec.DecodeError, ValueError) as exc:
            self._bad(lineno, str(exc)[:200])
            return []
        if not self._lo <= ns <= self._hi:
            return self._odd_time(ns, lineno, None, line[sp + 1:])
        return self._decode_body(ns, line[sp + 1:], lineno)

    def _decode_body(self, ns: int, body: bytes, lineno: int) -> list[tuple[int, int, Event]]:
        try:
            return self._dispatch(ns, _envelope.decode(body), body, lineno)
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
        symbol: str
        if kind == "bookTicker":
            ev, bt_id = _book_ticker.decode(data), _book_ticker_id.decode(data)
            symbol = bt_id.symbol
            inst, name = self._inst(venue_of_book_ticker(bt_id), symbol), "book_ticker"
        elif kind.startswith("depth"):
            ev, depth_id = _depth.decode(data), _depth_id.decode(data)
            symbol = depth_id.symbol
            inst, name = self._inst(venue_of_depth(depth_id), symbol), "depth"
        elif kind in ("trade", "aggTrade"):
            trade, trade_id = _trade.decode(data), _trade_id.decode(data)
            if trade.trade_id < 0:
                trade.trade_id = trade_id.agg_id
            ev, symbol = trade, trade_id.symbol
            inst, name = self._inst(venue_of_trade(trade_id), symbol), "trade"
        else:  # a stream quotepipe does not use (kline, markPrice, ...): counted, skipped
            symbol = env.stream.partition("@")[0].upper()
            known = [i for i in self.instruments if i.endswith(":" + symbol)]
            self._counts[known[0] if known else "", "other"] += 1
            return []
        if not symbol:
            raise ValueError(f"{kind} message without a symbol")
        ev.recv_ns = ns
        ev.inst = inst
        self._seen(inst, name, ns, lineno)
        if env.stream and kind != "aggTrade" and env.stream.encode() not in self._known.streams:
            self._known_stream(env.stream, name, inst, ns)
        out: list[tuple[int, int, Event]] = [(ns, lineno, ev)]
        if self._pending_snapshots:
            out = self._flush_pending(inst) + out
        return out

    def _known_stream(self, name: str, kind: str, inst: str, ns: int) -> None:
        """Later lines of stream ``name`` take the one-decode paths."""
        self._known.add(name.encode(), Stream(kind, inst, ns, _LINE_DECODERS[kind]))

    def _snapshot(self, ns: int, env: Envelope, lineno: int) -> list[tuple[int, int, Event]]:
        if env.symbol:
            venue = COINM if (env.pair or "_" in env.symbol) else (USDM if env.E else SPOT)
            return [(ns, lineno, self._snapshot_event(ns, lineno, self._inst(venue, env.symbol), env))]
        if len(self.instruments) == 1:
            return [(ns, lineno, self._snapshot_event(ns, lineno, self.instruments[0], env))]
        if not self.instruments:
            self._pending_snapshots.append((ns, lineno, env))  # symbol comes with the next line
            return []
        raise ValueError("depth snapshot without a symbol in a file of several instruments")

    def _snapshot_event(self, ns: int, lineno: int, inst: str, env: Envelope) -> SnapshotEvent:
        self._seen(inst, "snapshot", ns, lineno)
        return SnapshotEvent(ns, inst, env.lastUpdateId, env.bids, env.asks, env.E * 1_000_000)

    def _flush_pending(self, inst: str) -> list[tuple[int, int, Event]]:
        out: list[tuple[int, int, Event]] = [(ns, ln, self._snapshot_event(ns, ln, inst, env))
                                             for ns, ln, env in self._pending_snapshots]
        self._pending_snapshots = []
        return out


def merge_batches(readers: list[RecordingReader]) -> Iterator[list[tuple[int, int, int, Event]]]:
    """All readers' events by receive time, ties by file index then line number, in lists.

    Each reader keeps a buffer of its blocks. Every event before the earliest
    buffer end (the horizon) can be emitted, since no reader will produce an
    earlier one: those events are concatenated in reader order and sorted
    stably on their time (C-level Timsort over a few sorted runs), which keeps
    the tie order. A reader whose buffer holds only events at the horizon reads
    its next block first. A file keeps its own line order: a line whose
    receive time goes backwards is merged at the latest time before it in its
    file (the first element of its tuple says so; the event keeps its own).
    """
    first = _first
    feeds = [r.batches() for r in readers]
    bufs: list[list[tuple[int, int, int, Event]]] = [[] for _ in readers]
    floors = [0] * len(readers)  # merge time of each reader's last event read
    live = list(range(len(readers)))
    while True:
        for i in live[:]:  # every live reader holds events past the horizon's ties
            buf = bufs[i]
            while not buf or buf[0][0] == buf[-1][0]:
                nxt = next(feeds[i], None)
                if nxt is None:
                    live.remove(i)
                    break
                nxt = _in_file_order(nxt, floors[i])
                floors[i] = nxt[-1][0]
                buf += nxt
        horizon = min(bufs[i][-1][0] for i in live) if live else None
        out: list[tuple[int, int, int, Event]] = []
        for i, buf in enumerate(bufs):
            if buf:
                cut = len(buf) if horizon is None else bisect_left(buf, horizon, key=first)
                if cut == len(buf):
                    out += buf
                    bufs[i] = []
                elif cut:
                    out += buf[:cut]
                    bufs[i] = buf[cut:]
        if out:
            out.sort(key=first)
            yield out
        if horizon is None:
            return


def _in_file_order(batch: list[tuple[int, int, int, Event]], floor: int
                   ) -> list[tuple[int, int, int, Event]]:
    """``batch`` with each time raised to the latest one before it in the file (usually as is)."""
    times = list(map(_first, batch))
    if times[0] >= floor and times == sorted(times):
        return batch
    out = []
    hi = floor
    for t, index, lineno, ev in batch:
        if t > hi:
            hi = t
        out.append((hi, index, lineno, ev))
    return out


def merge(readers: list[RecordingReader]) -> Iterator[tuple[int, int, int, Event]]:
    """All readers' events by receive time; ties by file index, then line number."""
    for batch in merge_batches(readers):
        yield from batch


def open_recordings(paths: Iterable[str | Path], venue: str = "auto") -> list[RecordingReader]:
    out = []
    for i, p in enumerate(paths):
        path = Path(p)
        if path.is_dir():
            raise UnusableRecording(f"recording {path} is a folder: expected a recording file")
        if not path.is_file():
            raise FileNotFoundError(f"recording not found: {path}")
        out.append(RecordingReader(path, i, venue))
    return out
