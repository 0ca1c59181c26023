"""Market-data decode + book update throughput over the shared recordings, on one core,
against the same pipeline decoding with the standard ``json`` module.

    python benchmarks/bench_md.py [--json PATH] [--repeat 5]

Both pipelines read, gunzip, decode, merge and apply to the same ``BookSet``.
Their passes alternate, so both see the same drift of this shared host (up to 2x over
minutes); reported: the median and spread of each, and of the ratio per pair of passes.
"""

from __future__ import annotations

import gzip
import json
import os
import time
from pathlib import Path

from quotepipe.marketdata.book import BookSet
from quotepipe.marketdata.messages import BookTickerEvent, DepthEvent, SnapshotEvent, TradeEvent
from quotepipe.marketdata.recording import merge_batches, open_recordings

from _common import data_files, emit, parser, show, spread


def quotepipe_pass(paths: list[Path]) -> tuple[int, float]:
    readers = open_recordings(paths)
    books = _books(paths)
    apply = books.apply
    n = 0
    t0 = time.perf_counter()
    for batch in merge_batches(readers):
        for _, _, _, ev in batch:
            apply(ev)
        n += len(batch)
    return n, time.perf_counter() - t0


_IDS: list[str] = []


def _books(paths: list[Path]) -> BookSet:
    """The recordings' books, keyed by the configured ticks where the instrument is configured."""
    from quotepipe.config import Config

    ticks = {i.id: i.tick_size for i in Config().instruments}
    ids = _ids(paths)
    try:
        return BookSet(ids, [ticks.get(i, 1e-8) for i in ids])
    except TypeError:  # a tree from before ticks
        return BookSet(ids)


def _ids(paths: list[Path]) -> list[str]:
    if not _IDS:
        for r in open_recordings(paths):
            for _ in r:
                break
            _IDS.extend(r.instruments)
    return _IDS


def _json_events(path: Path, index: int):
    """The reference decoder: ``json.loads`` and Python conversions, same events."""
    venue = None
    inst_of_file = None
    with gzip.open(path, "rb") as f:  # the standard library's reader, as a user would write it
        for lineno, line in enumerate(f, 1):
            sp = line.find(b" ")
            ns = int(line[:sp])
            obj = json.loads(line[sp + 1:])
            stream = obj.get("stream")
            if stream is None:
                yield ns, index, lineno, SnapshotEvent(
                    ns, inst_of_file, obj["lastUpdateId"],
                    [(float(p), float(q)) for p, q in obj["bids"]],
                    [(float(p), float(q)) for p, q in obj["asks"]], obj.get("E", 0) * 1_000_000)
                continue
            d = obj["data"]
            kind = stream.split("@", 1)[1]
            if venue is None:
                venue = ("binance-coinm" if "ps" in d else
                         "binance-usdm" if ("pu" in d or "E" in d and kind == "bookTicker"
                                            or "X" in d) else "binance-spot")
            inst = inst_of_file = f"{venue}:{d['s']}"
            if kind == "bookTicker":
                ev = BookTickerEvent(recv_ns=ns, inst=inst, update_id=d["u"], bid_px=float(d["b"]),
                                     bid_qty=float(d["B"]), ask_px=float(d["a"]), ask_qty=float(d["A"]),
                                     exch_ms=d.get("E", 0))
            elif kind.startswith("depth"):
                ev = DepthEvent(recv_ns=ns, inst=inst, first_id=d["U"], last_id=d["u"],
                                prev_id=d.get("pu", -1),
                                bids=[(float(p), float(q)) for p, q in d["b"]],
                                asks=[(float(p), float(q)) for p, q in d["a"]], exch_ms=d["E"])
            else:
                ev = TradeEvent(recv_ns=ns, inst=inst, price=float(d["p"]), qty=float(d["q"]),
                                buyer_maker=d["m"], trade_ms=d["T"], trade_id=d["t"])
            yield ns, index, lineno, ev


def json_pass(paths: list[Path]) -> tuple[int, float]:
    import heapq
    books = _books(paths)
    n = 0
    t0 = time.perf_counter()
    for _, _, _, ev in heapq.merge(*[_json_events(p, i) for i, p in enumerate(paths)]):
        books.apply(ev)
        n += 1
    return n, time.perf_counter() - t0


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5, help="passes of each, alternating")
    args = p.parse_args()
    paths = data_files()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    _ids(paths)
    ours, ref = [], []
    for _ in range(args.repeat):
        ours.append(quotepipe_pass(paths))
        ref.append(json_pass(paths))
    n, n_ref = ours[0][0], ref[0][0]
    assert n == n_ref, (n, n_ref)
    figures = {"messages": n, "msgs_per_s": spread([n / t for _, t in ours]),
               "json_module_msgs_per_s": spread([n / t for _, t in ref]),
               "ratio_vs_json": spread([tr / to for (_, to), (_, tr) in zip(ours, ref, strict=True)])}
    emit(figures, args.json, [
        f"{n} messages from {len(paths)} recordings (read, gunzip, decode, merge, book update)",
        f"quotepipe          : {show(figures['msgs_per_s'], 1e3, ' k msgs/s')}",
        f"json module        : {show(figures['json_module_msgs_per_s'], 1e3, ' k msgs/s')}",
        f"ratio, per pair    : {show(figures['ratio_vs_json'])}",
    ])


if __name__ == "__main__":
    main()
