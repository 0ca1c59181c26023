"""Reading recordings, order books, the synthetic feed and ``quotepipe data inspect``."""

from __future__ import annotations

import bisect
import gzip
import heapq
import json
import logging
from collections import Counter
from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from quotepipe.config import default_config, parse_config
from quotepipe.domain.snapshot import LEVELS, BookState
from quotepipe.marketdata import recording
from quotepipe.marketdata.book import BookSet, OrderBook
from quotepipe.marketdata.feed import Feed, UnknownInstrument
from quotepipe.marketdata.inspect import inspect_recordings
from quotepipe.marketdata.messages import BookTickerEvent, DepthEvent, SnapshotEvent, TradeEvent
from quotepipe.marketdata.recording import RecordingReader, merge, open_recordings, receive_ns
from quotepipe.marketdata.synthetic import synthetic_events
from tests.conftest import run_cli

EXPECTED_IDS = {"binance-spot:BTCUSDT", "binance-spot:ETHUSDT", "binance-usdm:BTCUSDT",
                "binance-usdm:ETHUSDT", "binance-coinm:BTCUSD_PERP", "binance-coinm:ETHUSD_PERP"}


def independent_counts(path) -> Counter:
    """Count kinds with the json module and plain string handling."""
    c: Counter = Counter()
    with gzip.open(path, "rt") as f:
        for line in f:
            obj = json.loads(line.split(" ", 1)[1])
            if "lastUpdateId" in obj:
                c["snapshot"] += 1
                continue
            kind = obj["stream"].split("@")[1]
            c["depth" if kind.startswith("depth") else
              "book_ticker" if kind == "bookTicker" else kind] += 1
    return c


# ------------------------------------------------------------------ real data

@pytest.mark.realdata
def test_counts_match_an_independent_count_and_ids_are_right(real_recordings):
    seen_ids = set()
    for path in real_recordings:
        reader = RecordingReader(path)
        events = list(reader)
        assert reader.malformed == 0
        assert len(reader.instruments) == 1
        inst = reader.instruments[0]
        seen_ids.add(inst)
        ours = {kind: n for (i, kind), n in reader.counts.items() if i == inst}
        assert ours == dict(independent_counts(path)), path.name
        assert len(events) == sum(ours.values())
        year = datetime.fromtimestamp(events[0][0] / 1e9, tz=UTC).year
        assert year == 2024
    assert seen_ids == EXPECTED_IDS


@pytest.mark.realdata
def test_l2_book_agrees_with_book_ticker(real_recordings):
    rates = {}
    for path in real_recordings:
        events = [e[3] for e in RecordingReader(path)]
        tickers = sorted((e.update_id, e.bid_px, e.ask_px) for e in events
                         if type(e) is BookTickerEvent)
        ids = [t[0] for t in tickers]
        inst = events[0].inst
        book = OrderBook(inst, futures=not inst.startswith("binance-spot:"))
        agree = total = 0
        for e in events:
            if type(e) is DepthEvent:
                if book.on_depth(e):
                    k = bisect.bisect_right(ids, book.last_id) - 1
                    if k >= 0:
                        total += 1
                        _, bid, ask = tickers[k]
                        agree += book.bids.best() == bid and book.asks.best() == ask
            elif type(e) is SnapshotEvent:
                book.on_snapshot(e)
        assert book.state is BookState.VALID and book.mode == "l2"
        assert total > 1000
        rates[inst] = agree / total
    print("best-level agreement with bookTicker:", {k: round(v, 4) for k, v in rates.items()})
    assert min(rates.values()) >= 0.99


@pytest.mark.realdata
def test_merged_stream_is_ordered_and_deterministic(real_recordings):
    def keys():
        return [(ns, idx, ln) for ns, idx, ln, _ in merge(open_recordings(real_recordings[:3]))]
    first = keys()
    assert first == sorted(first)
    assert first == keys()


@pytest.mark.realdata
def test_data_inspect_json(real_recordings):
    out = run_cli("data", "inspect", "--json", *map(str, real_recordings))
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["files"] == len(real_recordings) and report["lines"] > 300_000
    assert set(report["instruments"]) == EXPECTED_IDS
    for entry in report["instruments"].values():
        assert entry["mode"] == "l2" and entry["snapshot"] == 1 and entry["malformed"] == 0
        assert entry["first"].startswith("2024-08-08T23:5") and entry["last"].startswith("2024-08-")
        assert set(entry) == {"book_ticker", "depth", "trade", "snapshot", "malformed", "other",
                              "first", "last", "resyncs", "crossed", "mode"}


@pytest.mark.realdata
def test_file_without_snapshot_runs_l1_only_with_a_warning(real_recordings, tmp_path, caplog):
    source = next(p for p in real_recordings if p.name.startswith("cm_btc"))
    with gzip.open(source, "rb") as f:
        lines = [ln for _, ln in zip(range(4000), f, strict=False) if b"lastUpdateId" not in ln]
    path = tmp_path / "nosnap.gz"
    with gzip.open(path, "wb") as f:
        f.writelines(lines)
    cfg = default_config()
    books = BookSet([i.id for i in cfg.instruments])
    with caplog.at_level(logging.WARNING):
        for ev in Feed(cfg, [str(path)]).events():
            books.apply(ev)
    i = books.index["binance-coinm:BTCUSD_PERP"]
    warnings = [r.getMessage() for r in caplog.records if "L1-only" in r.getMessage()]
    assert len(warnings) == 1 and "binance-coinm:BTCUSD_PERP" in warnings[0]
    record = books.l1_record(i, 0)
    assert record[11] == BookState.L1_ONLY and record[0] > 0 and record[2] > record[0]
    assert inspect_recordings([str(path)])["instruments"]["binance-coinm:BTCUSD_PERP"]["mode"] == "l1-only"


@pytest.mark.realdata
def test_unknown_instrument_names_the_config_key(real_recordings):
    cfg = parse_config("instruments: [{id: 'binance-spot:BTCUSDT', tick_size: 0.01, "
                       "lot_size: 0.00001, base_qty: 0.001}]")
    eth = next(p for p in real_recordings if p.name == "spot_ethusdt.gz")
    with pytest.raises(UnknownInstrument, match=r"'binance-spot:ETHUSDT' is not in the config: "
                                                r"add it under `instruments:`"):
        list(Feed(cfg, [str(eth)]).events(limit=10))


# ----------------------------------------------------------------- fixtures

BT_SPOT = ('{"stream":"btcusdt@bookTicker","data":{"u":%d,"s":"BTCUSDT","b":"100.0","B":"1",'
           '"a":"100.1","A":"2"}}')
DEPTH_FUT = ('{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT",'
             '"U":%d,"u":%d,"pu":%d,"b":[["100.0","%s"]],"a":[["100.2","1"]]}}')


def test_microsecond_timestamps_read_as_the_right_year(tmp_path):
    us = 1723161254087891  # 2024-08-08 in µs
    path = tmp_path / "us.txt"
    path.write_text("".join(f"{us + k} {BT_SPOT % (k + 1)}\n" for k in range(5)))
    events = list(RecordingReader(path))
    assert len(events) == 5
    assert datetime.fromtimestamp(events[0][0] / 1e9, tz=UTC).year == 2024
    assert events[0][0] == us * 1000
    assert events[0][3].inst == "binance-spot:BTCUSDT"
    assert receive_ns(1723161254087) == 1723161254087 * 10**6  # ms too
    with pytest.raises(ValueError):
        receive_ns(12345)


def test_venue_recognition_and_bare_payloads(tmp_path):
    lines = [
        '1 {"stream":"btcusd_perp@bookTicker","data":{"u":1,"e":"bookTicker","s":"BTCUSD_PERP",'
        '"ps":"BTCUSD","b":"1","B":"1","a":"2","A":"1","T":1,"E":1}}',
        '2 {"stream":"ethusdt@trade","data":{"e":"trade","E":1,"T":1723161254087,"s":"ETHUSDT","t":5,'
        '"p":"2","q":"1","X":"MARKET","m":false}}',
        '3 {"e":"trade","E":1,"T":1723161254087,"s":"ETHUSDT","t":6,"p":"2","q":"1","m":true,"M":true}',
        '4 {"stream":"ethusdt@kline_1m","data":{"e":"kline","s":"ETHUSDT"}}',
    ]
    path = tmp_path / "mixed.txt"
    path.write_text("\n".join(f"{1723161254087891000 + int(x[0])}{x[1:]}" for x in lines) + "\n")
    reader = RecordingReader(path)
    events = [e[3] for e in reader]
    assert [e.inst for e in events] == ["binance-coinm:BTCUSD_PERP", "binance-usdm:ETHUSDT",
                                       "binance-spot:ETHUSDT"]
    assert events[1].side == 1 and events[2].side == -1  # m: buyer is maker -> seller aggressor
    assert reader.counts["binance-usdm:ETHUSDT", "other"] == 1 and reader.malformed == 0
    forced = [e[3].inst for e in RecordingReader(path, venue="binance-usdm")]
    assert set(forced) == {"binance-usdm:BTCUSD_PERP", "binance-usdm:ETHUSDT"}


def test_ties_break_by_file_then_line(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    ts = 1723161254087891000
    a.write_text(f"{ts} {BT_SPOT % 1}\n{ts} {BT_SPOT % 2}\n")
    b.write_text(f"{ts} {BT_SPOT % 3}\n{ts - 1} {BT_SPOT % 4}\n".replace("btcusdt", "ethusdt")
                 .replace("BTCUSDT", "ETHUSDT"))
    order = [(i, ln) for _, i, ln, _ in merge(open_recordings([a, b]))]
    assert order == [(0, 1), (0, 2), (1, 1), (1, 2)]  # b's line 2 is older but b is read in order


def _depth(u0, u1, pu, qty="1", ns=0):
    return DepthEvent(recv_ns=ns, inst="binance-usdm:X", first_id=u0, last_id=u1, prev_id=pu,
                      bids=[(100.0, float(qty))], asks=[(100.2, 1.0)])


def test_gap_marks_the_book_resyncing_until_a_new_snapshot():
    book = OrderBook("binance-usdm:X", futures=True)
    book.on_depth(_depth(5, 9, 4))  # before the snapshot: buffered, bridges it
    book.on_snapshot(SnapshotEvent(0, "binance-usdm:X", 7, [(99.0, 1.0)], [(101.0, 1.0)], 0))
    assert book.state is BookState.VALID and book.last_id == 9
    assert book.on_depth(_depth(10, 12, 9))
    assert not book.on_depth(_depth(20, 22, 19))  # pu != previous u: a gap
    assert book.state is BookState.RESYNCING and book.resyncs == 1
    assert book.qty_at(1, 100.0) is None
    book.on_book_ticker(BookTickerEvent(
        recv_ns=0, inst="binance-usdm:X", update_id=30, bid_px=99.5, bid_qty=1.0, ask_px=99.7, ask_qty=1.0))
    assert book.l1()[0] == 99.5  # L1 stays current
    assert not book.on_depth(_depth(23, 25, 22))
    book.on_snapshot(SnapshotEvent(0, "binance-usdm:X", 24, [(98.0, 1.0)], [(102.0, 1.0)], 0))
    assert book.state is BookState.VALID and book.last_id == 25
    assert book.levels()[0] == 100.0


def test_spot_rules_and_stale_diffs():
    book = OrderBook("binance-spot:X", futures=False)
    book.on_snapshot(SnapshotEvent(0, "binance-spot:X", 10, [(99.0, 1.0)], [(101.0, 1.0)], 0))
    assert not book.on_depth(_depth(5, 10, -1))  # u <= lastUpdateId: stale
    assert book.on_depth(_depth(9, 12, -1))      # U <= 11 <= u
    assert not book.on_depth(_depth(14, 15, -1))  # U != 13
    assert book.resyncs == 1 and book.stale_dropped == 1


def test_crossed_books_are_counted():
    book = OrderBook("binance-spot:X", futures=False)
    book.on_book_ticker(BookTickerEvent(
        recv_ns=0, inst="binance-spot:X", update_id=1, bid_px=100.0, bid_qty=1.0, ask_px=100.0, ask_qty=1.0))
    book.on_book_ticker(BookTickerEvent(
        recv_ns=0, inst="binance-spot:X", update_id=2, bid_px=100.1, bid_qty=1.0, ask_px=100.0, ask_qty=1.0))
    assert book.crossed == 2


# ---------------------------------------------------------------------- fuzz

GOOD = [
    b"1723161254087891000 " + (BT_SPOT % 7).encode(),
    b"1723161254087891000 " + (DEPTH_FUT % (1, 2, 0, "1")).encode(),
    b'1723161254087891000 {"lastUpdateId":5,"bids":[["1","2"]],"asks":[["3","4"]]}',
    b'1723161254087891000 {"stream":"x@trade","data":{"e":"trade","s":"X","p":"1","q":"1","m":true,'
    b'"T":1723161254087}}',
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(
    st.binary(max_size=200),
    st.sampled_from(GOOD).flatmap(lambda g: st.integers(0, len(g)).map(lambda k: g[:k])),
    st.sampled_from(GOOD).flatmap(lambda g: st.tuples(st.integers(0, len(g) - 1), st.binary(
        min_size=1, max_size=4)).map(lambda t: g[:t[0]] + t[1] + g[t[0] + 1:])),
    st.sampled_from([b'"1"', b"null", b"[]", b"{}", b"-1", b"1e400", b'"abc"', b"true"]).map(
        lambda v: b'1723161254087891000 {"stream":"btcusdt@bookTicker","data":{"u":' + v
        + b',"s":"BTCUSDT","b":' + v + b',"B":"1","a":"2","A":"1"}}'),
), max_size=20))
def test_fuzzed_lines_never_raise(tmp_path, lines):
    path = tmp_path / "fuzz.bin"
    path.write_bytes(b"\n".join(lines) + b"\n")
    reader = RecordingReader(path)
    try:
        events = list(reader)  # never raises, whatever the bytes, but to say no line was usable
    except recording.UnusableRecording:
        assert reader.events == 0
        return
    assert 0 < len(events) <= reader.lines + 1
    cfg = default_config()
    books = BookSet(sorted({e[3].inst for e in events}) or [i.id for i in cfg.instruments])
    for _, _, _, ev in events:
        books.apply(ev)


class MsgspecOnly:
    """A ``KnownStreams`` that decodes no line itself: every line goes to msgspec."""

    def __init__(self):
        self.streams = {}

    def add(self, name, stream):
        self.streams[name] = stream

    def decode_rows(self, block, pos, stop, lo, hi, index, lineno, out, whole=False):
        if pos > stop:
            return pos, lineno, None
        end = stop if whole else block.find(b"\n", pos, stop)
        end = stop if end < 0 else end
        return end + 1, lineno + 1, block[pos:end]


def _read_both_ways(path, monkeypatch):
    """The reader's output with the compiled decoder, then with msgspec's alone (floats
    compared by their JSON text, which tells every bit apart)."""
    def read():
        reader = RecordingReader(path)
        events = [(ns, ln, type(ev).__name__, msgspec.json.encode(ev, enc_hook=list))  # Levels: a list
                  for ns, _, ln, ev in reader]
        return events, reader.counts, reader.malformed, reader.lines, reader.first_ns, reader.last_ns
    fast = read()
    with monkeypatch.context() as m:
        m.setattr(recording, "KnownStreams", MsgspecOnly)
        slow = read()
    return fast, slow


KNOWN = [b"1723161254087891000 " + (BT_SPOT % 1).encode(),
         b"1723161254087891000 " + (DEPTH_FUT % (1, 2, 0, "1")).encode(),
         b'1723161254087891000 {"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT","t":1,'
         b'"p":"100.0","q":"1","T":1,"m":true,"M":true}}']


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(
    st.sampled_from(KNOWN),
    st.sampled_from(KNOWN).map(lambda g: g.replace(b"1723161254087891000", b"1723161254087891")),  # µs
    st.sampled_from(KNOWN).map(lambda g: g + b"\r"),
    st.sampled_from(KNOWN).flatmap(lambda g: st.integers(0, len(g)).map(lambda k: g[:k])),
    st.sampled_from([b"", b" ", b"12 {}", b"-5 " + KNOWN[0][20:], b'"1723161254087891000" ' + KNOWN[0][20:],
                     b"1723161254087.0 " + KNOWN[0][20:], b"1.7e18 " + KNOWN[0][20:],
                     b"1_723_161_254_087 " + KNOWN[0][20:], KNOWN[0] + b"],[" + KNOWN[0],
                     KNOWN[0].replace(b'"s":"BTCUSDT"', b'"s":"BTC USDT"'),
                     b"1723161254087891000 " + KNOWN[0][20:].replace(b":", b": "),
                     b'1723161254087891000 {"stream":"ethusdt@bookTicker","data":{"u":1,"s":"ETHUSDT"}}',
                     b'1723161254087891000 {"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","s":"BTCUSDT",'
                     b'"a":9,"p":"1","q":"1","T":1,"m":false}}']),
    st.binary(max_size=60),
), max_size=60))
@example(lines=[b'0 {"stream":"', b'\x80"'])  # a tag string across two lines, not UTF-8
def test_compiled_decoding_gives_what_msgspec_gives(tmp_path, monkeypatch, lines):
    """Known streams' lines decode in compiled code; anything odd among them (a new stream, a
    bad or blank line, spaces in the JSON, a bad timestamp) must end as msgspec alone ends it."""
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"\n".join(KNOWN + lines + KNOWN * 3) + b"\n")
    monkeypatch.setattr(recording, "READ_BYTES", 97)  # many small blocks
    monkeypatch.setattr(recording, "BLOCK_BYTES", 50)
    fast, slow = _read_both_ways(path, monkeypatch)
    assert fast == slow


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), min_size=1, max_size=40),
       read=st.integers(1, 90), block=st.integers(1, 60), members=st.integers(1, 3), gz=st.booleans())
def test_read_blocks_hands_over_every_line_once_whatever_the_reads_cut(tmp_path, monkeypatch, lines, read,
                                                                        block, members, gz):
    """A block is a span of the inflated text (no copy); a line that two reads cut is joined on
    its own. Every line comes out once, whole and in order: plain text, or gzip of one member
    or several."""
    text = b"\n".join(lines) + b"\n"
    path = tmp_path / "r.gz"
    if gz:
        cut = [len(text) * k // members for k in range(members + 1)]
        path.write_bytes(b"".join(gzip.compress(text[a:b]) for a, b in zip(cut, cut[1:], strict=False)))
    else:
        path.write_bytes(text)
    monkeypatch.setattr(recording, "READ_BYTES", read)
    monkeypatch.setattr(recording, "BLOCK_BYTES", block)
    got = []
    for data, start, end in recording.read_blocks(path):
        assert 0 <= start <= end <= len(data) and data[end:end + 1] in (b"", b"\n")
        got.extend(data[start:end].split(b"\n"))
    assert got == lines


# values that sit on the edges of what the compiled decoder takes: forms it leaves to msgspec
# (signs, exponents, leading zeros, spaces, escapes, too many digits) and bounds (0, 1e15, 1e18)
EDGE_NUMBERS = ["0", "0.0", "00.1", "1.", ".5", "1e5", "1E-2", "-1", "+1", "-0.0", " 1", "1 ", "\\u0031",
                "NaN", "inf", "999999999999999.9", "1000000000000000", "999999999999999999",
                "1000000000000000000", "9007199254740993", "0.30000000000000004441",
                "123456789012345678901234.5", "1" * 41, "0." + "0" * 30 + "1", "1.5\\n", "\u00e9"]


def _number():
    digits = st.integers(0, 10**21).map(str)
    decimal = st.tuples(digits, st.text("0123456789", min_size=1, max_size=24)).map(".".join)
    plain = st.one_of(digits, decimal, st.sampled_from(EDGE_NUMBERS))
    return st.one_of(plain.map(lambda v: f'"{v}"'), st.one_of(digits, decimal))  # quoted or bare


def _integer():
    return st.one_of(st.integers(-2, 2**64).map(str), st.sampled_from(
        ["-0", "01", "1.0", "1e3", '"5"', "true", "null", "9223372036854775808", "1262304000000",
         "1262303999999", "4102444800000", "4102444799999"]))


# each kind's payload as Binance sends it: key -> value
PAYLOADS = {
    "btcusdt@bookTicker": {"e": '"bookTicker"', "u": "5", "s": '"BTCUSDT"', "b": '"100.5"', "B": '"1.25"',
                           "a": '"100.6"', "A": '"0.5"', "T": "1723161254086", "E": "1723161254087"},
    "btcusdt@depth@0ms": {"e": '"depthUpdate"', "E": "1723161254087", "s": '"BTCUSDT"', "U": "3", "u": "6",
                          "pu": "2", "b": '[["100.5","0.000"],["100.4","2"]]', "a": '[["100.6","1"]]'},
    "btcusdt@trade": {"e": '"trade"', "E": "1723161254087", "T": "1723161254087", "s": '"BTCUSDT"',
                      "t": "9", "p": '"100.5"', "q": '"0.01"', "X": '"MARKET"', "m": "true"},
}
# the values of keys the decoder reads, and of one it skips ("X", "s"): forms and bounds
FIELD_VALUES = {"u": "i", "U": "i", "pu": "i", "t": "i", "E": "ms", "T": "ms", "b": "n", "B": "n",
                "a": "n", "A": "n", "p": "n", "q": "n", "m": "bool", "X": "any", "s": "any", "e": "any"}


def _value(what, key):
    level = st.tuples(_number(), _number()).map(lambda t: f"[{t[0]},{t[1]}]")
    levels = st.lists(level, max_size=3).map(lambda ls: "[" + ",".join(ls) + "]")
    booleans = st.sampled_from(["true", "false", '"true"', "1", "null"])
    return {"i": _integer(), "ms": _integer(), "bool": booleans,
            "n": levels if key in ("b", "a") else _number(),
            "any": st.sampled_from(['"x"', '"a\tb"', '"\\u00e9"', '"\\""', "1", "1.5", "-3", "null", "true",
                                    "[1]", '{"y":1}', "tru", '""'])}[what]


@st.composite
def _payload_line(draw):
    stream = draw(st.sampled_from(sorted(PAYLOADS)))
    fields = dict(PAYLOADS[stream])
    for _ in range(draw(st.integers(1, 2))):
        key = draw(st.sampled_from(sorted(fields)))
        if draw(st.integers(0, 5)) == 0:
            del fields[key]  # a field missing
        else:
            fields[key] = draw(_value(FIELD_VALUES[key], key if "depth" in stream else ""))
    extra = draw(st.sampled_from(["", ',"x":1', ',"inst":"z"', ',"recv_ns":5', ',"u":7', ',"m":false',
                                  ',"b":"1"', ' ', ',"x":"\x01"', ',"\\u0075":1']))
    stamp = draw(st.sampled_from(["1723161254087891000", "1723161254087891", "1723161254087",
                                  "01723161254087891000", "1723161254087891000.0", "4099999999999999"]))
    data = "{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + extra + "}"
    return f'{stamp} {{"stream":"{stream}","data":{data}}}'.encode()


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=_payload_line())
@example(line=b'1723161254087891000 {"stream":"btcusdt@bookTicker","data":{"u":5,"b":"1","B":"1","a":"1",'
              b'"A":"1","E":4102444800000}}')  # E one past its bound
@example(line=b'1723161254087891000 {"stream":"btcusdt@trade","data":{"p":"1","q":"1","m":true,'
              b'"T":1262303999999}}')  # T one before its bound
@example(line=b'1723161254087891000 {"stream":"btcusdt@depth@0ms","data":{"U":3,"u":6,"pu":-2,"b":[],'
              b'"a":[]}}')  # pu one below its bound
def test_compiled_decoding_of_field_values_gives_what_msgspec_gives(tmp_path, monkeypatch, line):
    """Each value the compiled decoder reads, missing, in forms and at bounds on either side
    of what it takes: it gives msgspec's event, bit for bit, or leaves the line to msgspec."""
    path = tmp_path / "values.txt"
    path.write_bytes(b"\n".join(FIRST_LINES + [line] * 2 + FIRST_LINES) + b"\n")
    monkeypatch.setattr(recording, "BLOCK_BYTES", 1)  # a block a line: the streams are known by then
    monkeypatch.setattr(recording, "READ_BYTES", 64)
    fast, slow = _read_both_ways(path, monkeypatch)
    assert fast == slow


BOUNDS = {"u": ("-1", "0", str(2**63 - 1), str(2**63)), "U": ("-1", "0", str(2**63 - 1), str(2**63)),
          "pu": ("-2", "-1", str(2**63 - 1), str(2**63)), "t": ("-2", "-1", str(2**63 - 1), str(2**63)),
          "E": ("-1", "0", "4102444799999", "4102444800000"),
          "T": ("1262303999999", "1262304000000", "4102444799999", "4102444800000"),
          "b": ('"0"', '"0.0000001"', '"999999999999999.9"', '"1000000000000000"'),
          "B": ('"0"', '"0.0000001"', '"999999999999999999"', '"1000000000000000000"')}
BOUNDS |= {"a": BOUNDS["b"], "p": BOUNDS["b"], "A": BOUNDS["B"], "q": BOUNDS["B"],
           "m": ("true", "false", '"true"', "0")}
LEVEL_BOUNDS = [f"[[{p},{q}]]" for p in BOUNDS["b"] for q in ('"0"', '"-0.0"', *BOUNDS["B"][2:])]


@pytest.mark.parametrize("stream,key", [(s, k) for s, fields in PAYLOADS.items() for k in fields])
def test_compiled_decoding_at_each_fields_bounds_and_without_it(tmp_path, monkeypatch, stream, key):
    """Each key of each kind left out, and its value on either side of each of its bounds:
    the compiled decoder gives msgspec's event or leaves the line to msgspec (which refuses)."""
    values = LEVEL_BOUNDS if ("depth" in stream and key in "ab") else BOUNDS.get(key, ('"x"', "1"))
    lines = []
    for value in (None, *values):
        fields = {k: v for k, v in PAYLOADS[stream].items() if k != key or value is not None}
        if value is not None:
            fields[key] = value
        data = "{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + "}"
        lines.append(f'1723161254087891000 {{"stream":"{stream}","data":{data}}}'.encode())
    path = tmp_path / "bounds.txt"
    path.write_bytes(b"\n".join(FIRST_LINES + lines) + b"\n")
    monkeypatch.setattr(recording, "BLOCK_BYTES", 1)
    monkeypatch.setattr(recording, "READ_BYTES", 64)
    fast, slow = _read_both_ways(path, monkeypatch)
    assert fast == slow


@pytest.mark.parametrize("count", [1, 8, 9, 40])
def test_compiled_decoder_finds_each_known_stream(count):
    """A few streams are found by a scan of their names, many by a dict: either way each
    line goes to its own stream, and a stream not added is left to msgspec."""
    from quotepipe.marketdata.lines import KnownStreams, Stream

    known = KnownStreams()
    symbols = [f"sym{k}usdt" for k in range(count)]
    for sym in symbols:
        known.add(f"{sym}@bookTicker".encode(), Stream("book_ticker", sym.upper(), 0, None))
    lines = [b"1723161254087891000 " + BT_SPOT.replace("btcusdt", sym).encode() % k
             for k, sym in enumerate(symbols + ["other"])]
    out = []
    block = b"\n".join(lines)
    assert known.decode_rows(block, 0, len(block), 0, 2**62, 7, 0, out) == (
        sum(len(line) + 1 for line in lines), count + 1, lines[-1])
    assert [(ns, index, ln, ev.inst, ev.update_id) for ns, index, ln, ev in out] == [
        (T0, 7, k + 1, sym.upper(), k) for k, sym in enumerate(symbols)]
    late = known.decode_rows(lines[0], 0, len(lines[0]), T0 + 1, T0 + 2, 0, 0, out, True)
    assert late[2][1].inst == "SYM0USDT"


# a good line of each kind: the streams the compiled decoder then knows
FIRST_LINES = KNOWN[:2] + [KNOWN[2].replace(b'"T":1,', b'"T":1723161254087,')]


@pytest.mark.realdata
def test_compiled_decoding_gives_what_msgspec_gives_on_real_data(real_recordings, monkeypatch):
    for path in real_recordings:
        fast, slow = _read_both_ways(path, monkeypatch)
        assert fast == slow and len(fast[0]) > 10_000


@pytest.mark.realdata
def test_merge_matches_a_heap_merge_of_ordered_files(real_recordings):
    keys = [(ns, idx, ln) for ns, idx, ln, _ in merge(open_recordings(real_recordings))]
    assert keys == [(ns, idx, ln) for ns, idx, ln, _ in heapq.merge(*open_recordings(real_recordings))]


def test_gzip_members_and_long_lines_read_like_the_plain_file(tmp_path, monkeypatch):
    """Concatenated gzip members (``cat day1.gz day2.gz``), cut anywhere, and a snapshot
    line longer than a read give the events of the same text read plainly."""
    levels = ",".join(f'["{100 - k * 0.01:.2f}","1"]' for k in range(6000))
    lines = [b"1723161254087891000 " + (BT_SPOT % 1).encode(),
             f'1723161254087891001 {{"lastUpdateId":5,"bids":[{levels}],"asks":[["101","1"]]}}'.encode()]
    lines += [b"%d " % (1723161254087891002 + k) + (BT_SPOT % (k + 2)).encode() for k in range(3000)]
    text = b"\n".join(lines) + b"\n"
    plain, gz = tmp_path / "day.txt", tmp_path / "day.gz"
    plain.write_bytes(text)
    cut = len(text) // 3 + 17  # members split inside a line
    gz.write_bytes(gzip.compress(text[:cut]) + gzip.compress(text[cut:]))
    monkeypatch.setattr(recording, "READ_BYTES", 4096)
    monkeypatch.setattr(recording, "BLOCK_BYTES", 1000)
    read = {p: [(ns, ln, msgspec.to_builtins(ev)) for ns, _, ln, ev in RecordingReader(p)]
            for p in (plain, gz)}
    assert read[plain] == read[gz] and len(read[plain]) == 3002
    assert len(read[gz][1][2]["bids"]) == 6000


def test_truncated_gzip_is_counted_not_raised(tmp_path):
    path = tmp_path / "cut.gz"
    body = gzip.compress(b"".join(b"1723161254087891000 " + (BT_SPOT % k).encode() + b"\n"
                                  for k in range(1, 2000)))
    path.write_bytes(body[: len(body) // 2])
    reader = RecordingReader(path)
    events = list(reader)
    assert 0 < len(events) < 1999 and reader.malformed == 1


# ------------------------------------------------------------------ synthetic

def test_synthetic_feed_is_seeded_and_deterministic():
    cfg = default_config()
    a = list(synthetic_events(cfg, 5000))
    assert a == list(synthetic_events(cfg, 5000))
    other = parse_config("feed: {synthetic: {seed: 8}}")
    assert a != list(synthetic_events(other, 5000))
    insts = {e.inst for e in a}
    assert insts == {i.id for i in cfg.instruments}
    tick = {i.id: i.tick_size for i in cfg.instruments}
    for e in a:
        if type(e) is BookTickerEvent:
            assert e.ask_px > e.bid_px > 0
            assert abs(e.bid_px / tick[e.inst] - round(e.bid_px / tick[e.inst])) < 1e-6
    assert sum(type(e) is TradeEvent for e in a) > 50


def test_synthetic_toxic_instruments_move_with_their_trades():
    cfg = default_config()
    after: dict[str, list[int]] = {}
    last_trade: dict[str, int] = {}
    mid: dict[str, float] = {}
    for e in synthetic_events(cfg, 200_000):
        if type(e) is TradeEvent:
            last_trade[e.inst] = e.side
            continue
        m = (e.bid_px + e.ask_px) / 2
        if e.inst in last_trade and e.inst in mid and m != mid[e.inst]:
            after.setdefault(e.inst, []).append(last_trade.pop(e.inst) * (1 if m > mid[e.inst] else -1))
        mid[e.inst] = m
    follow = {k: sum(v) / len(v) for k, v in after.items()}
    toxic = set(cfg.feed.synthetic.toxic)
    assert len(toxic) == 2
    for inst, f in follow.items():
        if inst in toxic:
            assert f > 0.3, (inst, f)
        else:
            assert abs(f) < 0.15, (inst, f)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(1, 80), st.sampled_from([0.0, 1.0, 2.5])),
                         max_size=30), max_size=40), st.booleans(), st.sampled_from([0.5, 0.01, 1e-8]),
       st.sampled_from([1, 997, 20011]))
def test_book_side_matches_a_sorted_dict(updates, bid, tick, spacing):
    """The compiled side against a plain dict: the best levels, every size, and ``apply``'s
    answer to "did the best LEVELS change": True exactly when they did, for a diff that names
    each price once, as the venue's do. ``spacing`` (ticks between the prices drawn) spreads
    the book over its dense window and beyond, so levels live in both stores and the window
    moves."""
    from quotepipe.marketdata.book import BookSide

    def top(book: dict[float, float]) -> list[tuple[float, float]]:
        return [(p, book[p]) for p in sorted(book, reverse=bid)[:LEVELS]]

    side = BookSide(bid, tick)
    naive = {p * spacing * tick: 1.0 for p in range(20, 60)}
    side.seed([(p, q) for p, q in naive.items()])
    for levels in updates:
        levels = [(p * spacing * tick, q) for p, q in dict(levels).items()]
        before = top(naive)
        changed = side.apply(levels)
        for p, q in levels:
            if q > 0:
                naive[p] = q
            else:
                naive.pop(p, None)
        assert side.best_levels(LEVELS) == top(naive)
        assert changed == (top(naive) != before)
        assert len(side) == len(naive)
        assert all(side.qty_at(p) == q for p, q in naive.items())
        assert side.best() == (top(naive)[0][0] if naive else None)
    assert side.off_tick == 0


def test_book_side_counts_prices_off_the_tick_grid_and_refuses_what_does_not_fit():
    from quotepipe.marketdata.book import BookSide

    side = BookSide(False, 0.1)
    side.apply([(100.0, 1.0), (100.05, 2.0), (100.1, 3.0)])
    assert side.off_tick == 1
    assert len(side) == 2  # booked at its nearest tick, over the level that was there
    with pytest.raises(OverflowError, match="does not fit"):
        side.apply([(1e18, 1.0)])
    with pytest.raises(ValueError, match="tick must be positive"):
        BookSide(True, 0.0)


@pytest.mark.parametrize("limit", [None, 0, 1, 37, 5000])
def test_feed_batches_hold_the_events_in_order(real_recordings, limit):
    """Replay's batch-at-a-time feed gives exactly the events, in order, that ``events`` gives."""
    cfg = default_config()
    paths = [str(p) for p in real_recordings[:2]]
    if limit is None:
        paths = paths[:1]
    want = [msgspec.structs.astuple(e) for e in Feed(cfg, paths).events(limit)]
    batches = list(Feed(cfg, paths).batches(limit))
    assert all(batches)
    assert [msgspec.structs.astuple(e) for b in batches for e in b] == want
    assert len(want) == limit if limit is not None else want
    synthetic = Feed(cfg)
    assert ([msgspec.structs.astuple(e) for b in synthetic.batches(600) for e in b]
            == [msgspec.structs.astuple(e) for e in Feed(cfg).events(600)])


# ----------------------------------------------------------------- bad data

T0 = 1723161254087891000  # 2024-08-08 in ns
TRADE_SPOT = ('{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161254087,"s":"BTCUSDT","t":%d,'
              '"p":"100.05","q":"0.5","T":1723161254087,"m":true,"M":true}}')


def _read(path):
    reader = RecordingReader(path)
    return reader, [(ln, ev) for _, _, ln, ev in reader]


TRADE_7, BT_7, DEPTH_7 = TRADE_SPOT % 7, BT_SPOT % 7, DEPTH_FUT % (7, 7, 6, "1")


@pytest.mark.parametrize("bad, why", [
    (TRADE_7.replace('"p":"100.05",', ""), "missing required field `p`"),
    (TRADE_7.replace('"q":"0.5"', '"q":"0"'), "> 0.0"),
    (TRADE_7.replace('"p":"100.05"', '"p":"-1"'), "> 0.0"),
    (TRADE_7.replace('"p":"100.05"', '"p":"nan"'), "> 0.0"),
    (TRADE_7.replace('"p":"100.05"', '"p":"inf"'), "< 1000000000000000.0"),
    (TRADE_7.replace('"T":1723161254087', '"T":1e23'), "$.data.T"),
    (TRADE_7.replace('"T":1723161254087', '"T":9000000000000'), "$.data.T"),  # year 2255
    (TRADE_7.replace('"m":true,', ""), "missing required field `m`"),
    (BT_7.replace('"b":"100.0",', ""), "missing required field `b`"),
    (BT_7.replace('"A":"2"', '"A":"-2"'), "> 0.0"),
    (DEPTH_7.replace('[["100.2","1"]]', '[["nan","1"]]'), "$.data.a[0][0]"),
    (DEPTH_7.replace('"U":7,', ""), "missing required field `U`"),
])
def test_a_line_that_lacks_or_mangles_what_its_event_needs_is_skipped(tmp_path, caplog, bad, why):
    """Not zeros: a trade without a price used to become a sell at 0 that filled every bid."""
    def line(k):
        if "depth" in bad:
            return DEPTH_FUT % (k, k, k - 1, "1")
        return BT_SPOT % k if k % 2 else TRADE_SPOT % k
    good = [f"{T0 + k * 1000} {line(k)}" for k in range(1, 40)]
    lines = good[:20] + [f"{T0 + 20_500} {bad}"] + good[20:]
    path = tmp_path / "rec.txt"
    path.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING):
        reader, events = _read(path)
    assert reader.malformed == 1 and len(events) == 39
    assert 21 not in [ln for ln, _ in events]
    assert f"{path}:21: skipped malformed line" in caplog.text and why in caplog.text, caplog.text
    for _, ev in events:
        if isinstance(ev, TradeEvent):
            assert ev.price > 0 and ev.qty > 0 and ev.trade_ms > 0


@pytest.fixture(params=["blocks", "a block a line"])
def block_bytes(request, monkeypatch):
    """Blocks of the default size, or one line each, so that the lines after a stream's first
    go through the compiled decoder's receive-time window even in a short file."""
    if request.param != "blocks":
        monkeypatch.setattr(recording, "BLOCK_BYTES", 1)
        monkeypatch.setattr(recording, "READ_BYTES", 256)


@pytest.mark.parametrize("stamp", ["8999999999000000000", "1e23", "99999999999999999999999", "-5",
                                   "1723161254087891000.5", "0"])
def test_a_receive_time_outside_the_sane_window_is_malformed(tmp_path, stamp, block_bytes):
    """Year 2255 made the md process sleep toward it; 1e23 crashed it; both changed replays."""
    lines = [f"{T0 + k * 1000} {BT_SPOT % k}" for k in range(1, 30)]
    lines.insert(10, f"{stamp} {BT_SPOT % 100}")
    path = tmp_path / "rec.txt"
    path.write_text("\n".join(lines) + "\n")
    reader, events = _read(path)
    assert reader.malformed == 1 and len(events) == 29
    assert all(T0 <= ev.recv_ns < T0 + 10**9 for _, ev in events)


def test_a_receive_time_far_from_both_neighbours_is_malformed_but_a_real_gap_is_kept(tmp_path, block_bytes):
    day, hour = 86_400 * 10**9, 3600 * 10**9
    times = [T0 + k * 1000 for k in range(10)]
    times += [T0 + 2 * day]                                   # line 11: a lone outlier ahead
    times += [T0 + 20_000 + k for k in range(5)]
    times += [T0 - 3 * day, T0 - 3 * day + 1]                 # lines 17-18: a short run behind
    times += [T0 + 30_000 + k for k in range(5)]
    times += [T0 + 5 * hour + k * 1000 for k in range(10)]    # line 24 on: the recorder was off 5 h
    path = tmp_path / "rec.txt"
    path.write_text("".join(f"{t} {BT_SPOT % (i + 1)}\n" for i, t in enumerate(times)))
    reader, events = _read(path)
    assert reader.malformed == 3
    assert [ln for ln, _ in events] == [ln for ln in range(1, len(times) + 1) if ln not in (11, 17, 18)]
    assert events[-1][1].recv_ns == T0 + 5 * hour + 9000  # the gap's lines are all there
    # a file whose first line is the odd one: the lines after it decide
    path.write_text("".join(f"{t} {BT_SPOT % (i + 1)}\n" for i, t in enumerate([T0 + 9 * day] + times[:9])))
    reader, events = _read(path)
    assert reader.malformed == 1 and [ln for ln, _ in events] == list(range(2, 11))
    # a short file whose lines agree is read whole
    path.write_text("".join(f"{t} {BT_SPOT % (i + 1)}\n" for i, t in enumerate(times[:2])))
    assert len(_read(path)[1]) == 2


def test_compiled_and_msgspec_decoding_agree_on_bad_times(tmp_path, monkeypatch, block_bytes):
    times = [T0 + k * 1000 for k in range(200)]
    times[50] = T0 + 400 * 86_400 * 10**9
    times[120:] = [t + 7200 * 10**9 for t in times[120:]]
    path = tmp_path / "rec.txt"
    path.write_text("".join(f"{t} {BT_SPOT % (i + 1)}\n" for i, t in enumerate(times)))
    block, line = _read_both_ways(path, monkeypatch)
    assert block == line and len(block[0]) == 199


@pytest.mark.parametrize("content", [b"", b"\n\n", b"not a recording\n", bytes(range(256)) * 40,
                                     gzip.compress(bytes(range(256)) * 40), "gzip-truncated", "folder"])
def test_unusable_input_is_refused_with_exit_2_by_replay_and_inspect(tmp_path, content):
    path = tmp_path / "input.gz"
    if content == "folder":
        path.mkdir()
    elif content == "gzip-truncated":
        path.write_bytes(gzip.compress(f"{T0} {BT_SPOT % 1}\n".encode() * 1000)[:30])
    else:
        path.write_bytes(content)
    for command in (["replay", str(path)], ["data", "inspect", str(path)]):
        r = run_cli(*command)
        assert r.returncode == 2, (command, r.stdout, r.stderr)
        assert str(path) in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert ("is a folder" if content == "folder" else "is empty" if not content.strip()
                else "no market-data event") in r.stderr, r.stderr
