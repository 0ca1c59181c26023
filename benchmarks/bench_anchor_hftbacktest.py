"""An outside anchor: hftbacktest and ``quotepipe replay`` on the same shared recording, in
one run, each re-quoting on every event with a queue model and latency.

    python benchmarks/bench_anchor_hftbacktest.py [--json PATH] [--repeat 3] [--file usdm_btcusdt.gz]

Installs nothing: it runs where ``hftbacktest`` (and its numba) can be imported and exits 0
with the reason otherwise. hftbacktest converts the recording with its own converter
(``hftbacktest.data.utils.binancefutures.convert``; timed and reported apart), then runs a
numba-compiled loop on its hash-map depth: after every market-data event it cancels and
re-posts a one-lot GTX bid and ask one tick off the touch when the touch moved, under its
risk-averse queue model, a constant 1 ms order latency each way and maker/taker fees. The
JIT compile is done on a first, short run and not counted. quotepipe replays the same file
with its default chain, paper venue (queue model, latency) and scoreboard.

Each side runs in its own fresh process, alternating, so that each one's peak resident
memory (``ru_maxrss``) is its own; reported: events/s, wall seconds and peak RSS, median and
spread over the repeats, and the ratio per pair. Events/s is the recording's stream messages
over the run's wall time, on both sides (hftbacktest's own rows are one per price level).
"""

from __future__ import annotations

import importlib.util
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from _common import data_files, emit, parser, show, spread

INSTRUMENT = {"usdm_btcusdt.gz": ("binance-usdm:BTCUSDT", 0.1, 0.001)}
LATENCY_NS = 1_000_000


def hftbacktest_side(path: Path) -> dict[str, float]:
    import numpy as np
    from hftbacktest import GTX, LIMIT, BacktestAsset, HashMapMarketDepthBacktest
    from hftbacktest.data.utils import binancefutures
    from numba import njit

    _, tick, lot = INSTRUMENT[path.name]
    t0 = time.perf_counter()
    data = binancefutures.convert(str(path), combined_stream=True)
    convert_s = time.perf_counter() - t0

    @njit
    def requote_every_event(hbt, tick, lot):  # noqa: ANN001, ANN202 - numba
        events = 0
        bid_t = 0
        ask_t = 0
        while hbt.wait_next_feed(False, 1_000_000_000_000) != 1:
            events += 1
            depth = hbt.depth(0)
            best_bid, best_ask = depth.best_bid, depth.best_ask
            if not (best_bid > 0 and best_ask > best_bid):
                continue
            hbt.clear_inactive_orders(0)
            nb = int(round(best_bid / tick)) - 1
            na = int(round(best_ask / tick)) + 1
            if nb != bid_t:
                if bid_t:
                    hbt.cancel(0, 1, False)
                bid_t = nb
            if na != ask_t:
                if ask_t:
                    hbt.cancel(0, 2, False)
                ask_t = na
            orders = hbt.orders(0)
            if not orders.__contains__(1):
                hbt.submit_buy_order(0, 1, bid_t * tick, lot, GTX, LIMIT, False)
            if not orders.__contains__(2):
                hbt.submit_sell_order(0, 2, ask_t * tick, lot, GTX, LIMIT, False)
        return events

    def backtest(rows: np.ndarray) -> object:
        asset = (BacktestAsset().data([rows]).linear_asset(1.0)
                 .constant_order_latency(LATENCY_NS, LATENCY_NS).risk_adverse_queue_model()
                 .no_partial_fill_exchange().trading_value_fee_model(-0.00005, 0.0007)
                 .tick_size(tick).lot_size(lot))
        return HashMapMarketDepthBacktest([asset])

    warm_rows = data[:20_000].copy()  # kept referenced: the backtest reads the array in place
    warm = backtest(warm_rows)
    requote_every_event(warm, tick, lot)  # the JIT compile, not counted
    warm.close()
    hbt = backtest(data)
    t0 = time.perf_counter()
    events = requote_every_event(hbt, tick, lot)
    wall = time.perf_counter() - t0
    hbt.close()
    return {"feed_steps": float(events), "rows": float(len(data)), "wall_s": wall, "convert_s": convert_s}


def quotepipe_side(path: Path) -> dict[str, float]:
    import msgspec

    from quotepipe.config import Config
    from quotepipe.replay import Replay

    iid = INSTRUMENT[path.name][0]
    base = Config()
    cfg = msgspec.structs.replace(base, instruments=[i for i in base.instruments if i.id == iid])
    t0 = time.perf_counter()
    s = Replay(cfg, [str(path)]).run()
    return {"events": float(s["events"]), "wall_s": time.perf_counter() - t0}


def messages(path: Path) -> int:
    import gzip

    with gzip.open(path, "rb") as f:
        return sum(1 for line in f if b'"stream"' in line)


def child(side: str, path: Path) -> None:
    figures = (hftbacktest_side if side == "hftbacktest" else quotepipe_side)(path)
    figures["messages"] = float(messages(path))
    figures["events_per_s"] = figures["messages"] / figures["wall_s"]  # one measure for both: messages
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(figures))


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--file", default="usdm_btcusdt.gz", choices=sorted(INSTRUMENT))
    p.add_argument("--side", choices=("hftbacktest", "quotepipe"), help=argparse_hidden())
    args = p.parse_args()
    path = next((f for f in data_files() if f.name == args.file), None)
    if path is None:
        sys.exit(f"no {args.file} among the recordings")
    if args.side:
        child(args.side, path)
        return
    missing = [m for m in ("hftbacktest", "numba") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"skipped: {' and '.join(missing)} cannot be imported here (this script installs nothing; "
              f"`pip install hftbacktest` in a scratch environment to run it)")
        return
    runs: dict[str, list[dict[str, float]]] = {"hftbacktest": [], "quotepipe": []}
    for k in range(args.repeat):
        for side in (("hftbacktest", "quotepipe") if k % 2 == 0 else ("quotepipe", "hftbacktest")):
            out = subprocess.run([sys.executable, __file__, "--side", side, "--file", args.file],
                                 check=True, capture_output=True, text=True).stdout
            runs[side].append(json.loads(out.strip().splitlines()[-1]))
    figures: dict = {"file": args.file}
    for side, rs in runs.items():
        figures[side] = {k: spread([r[k] for r in rs]) for k in rs[0]}
    ratio = spread([h["events_per_s"] / q["events_per_s"]
                    for h, q in zip(runs["hftbacktest"], runs["quotepipe"], strict=True)])
    per_run = spread([q["wall_s"] / h["wall_s"]
                      for h, q in zip(runs["hftbacktest"], runs["quotepipe"], strict=True)])
    figures["hftbacktest_over_quotepipe_events_per_s"] = ratio
    figures["quotepipe_over_hftbacktest_wall"] = per_run
    h, q = figures["hftbacktest"], figures["quotepipe"]
    emit(figures, args.json, [
        f"{args.file}: {int(q['messages']['median']):,} stream messages; quotepipe's events "
        f"{int(q['events']['median']):,}; hftbacktest's rows {int(h['rows']['median']):,}, "
        f"feed steps {int(h['feed_steps']['median']):,}",
        f"hftbacktest: {show(h['events_per_s'], 1e3, ' k events/s')}, run {show(h['wall_s'], 1, ' s')}, "
        f"convert {show(h['convert_s'], 1, ' s')}, peak RSS {show(h['peak_rss_mb'], 1, ' MB')}",
        f"quotepipe  : {show(q['events_per_s'], 1e3, ' k events/s')}, run {show(q['wall_s'], 1, ' s')}, "
        f"peak RSS {show(q['peak_rss_mb'], 1, ' MB')}",
        f"per run, quotepipe wall / hftbacktest wall: {show(per_run)}",
    ])


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
