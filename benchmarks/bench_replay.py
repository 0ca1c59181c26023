"""End-to-end replay throughput over all the shared recordings, on one core.

Read (gzip + msgspec decode + merge), books, venue, scoreboard, allocator and
the stage chain, as ``quotepipe replay`` runs them. The reference measured in
the same run is the market-data part alone (read + books), the floor that
everything else adds to.

    python benchmarks/bench_replay.py [--json PATH] [--repeat N]

Target on the 2-core dev host: >= 100k events/s end to end.
"""

from __future__ import annotations

import time

from quotepipe.config import Config
from quotepipe.marketdata.feed import Feed
from quotepipe.replay import Replay
from quotepipe.runtime.cpu import host_cpus, pin

from _common import books_of, data_files, emit, parser, show, spread


def md_only(cfg: Config, paths: list[str]) -> float:
    feed = Feed(cfg, paths)
    books = books_of(cfg)
    n = 0
    t0 = time.perf_counter()
    for ev in feed.events():
        books.apply(ev)
        n += 1
    return n / (time.perf_counter() - t0)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5, help="runs of each, alternating")
    args = p.parse_args()
    pin(host_cpus()[-1])
    cfg = Config()
    paths = [str(f) for f in data_files()]
    runs, floors = [], []
    for _ in range(args.repeat):  # alternating, so both see the same drift of this shared host
        runs.append(Replay(cfg, paths).run())
        floors.append(md_only(cfg, paths))
    rates = spread([r["events_per_s"] for r in runs])
    floor = spread(floors)
    last = runs[-1]
    ticks = sum(r["ticks"] for r in last["instruments"].values())
    tick_p50 = spread([r["stages"]["tick_total"]["p50_us"] for r in runs])
    figures = {"events": last["events"], "ticks": ticks, "events_per_s": rates,
               "md_only_events_per_s": floor,
               "end_to_end_over_md_only": spread([r["events_per_s"] / f
                                                  for r, f in zip(runs, floors, strict=True)]),
               "tick_total_p50_us": tick_p50, "target_events_per_s": 100_000}
    emit(figures, args.json, [
        f"replay of {len(paths)} recordings: {last['events']:,} events, {ticks:,} chain ticks",
        f"end to end: {show(rates, 1e3, ' k events/s')} (target >= 100 k)",
        f"read + books only, same run: {show(floor, 1e3, ' k events/s')}",
        f"tick_total p50: {show(tick_p50, 1, ' us')}"])


if __name__ == "__main__":
    main()
