"""One allocation round of the dynamic allocator, on a real scoreboard's state.

A replay of the shared recordings (one instrument, then all six) runs to
``--events`` to fill the scoreboard with fills and markouts; then
``Allocator.allocate`` is timed over ``--rounds`` rounds, the weights and flags
reset before each so every round does the same work. Reported per set of
instruments: µs a round, median and spread over ``--repeat`` passes.

    python benchmarks/bench_allocator.py [--json PATH] [--repeat 5] [--events 200000]

For an A/B of two commits: ``ab_commits.py --base REF --figure one_instrument_us --
bench_allocator.py --repeat 3`` (or ``six_instruments_us``).
"""

from __future__ import annotations

import time

import msgspec

from quotepipe.config import Config
from quotepipe.replay import Replay

from _common import data_files, emit, parser, show, spread


def round_us(cfg: Config, paths: list[str], events: int, rounds: int, repeat: int) -> dict[str, float]:
    replay = Replay(cfg, paths, limit=events)
    replay.run()
    alloc, board, live = replay.allocator, replay.board, replay.books.md_seq
    weights, flags = alloc.weights.copy(), alloc.flags.copy()
    passes = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        for _ in range(rounds):
            alloc.weights[:] = weights
            alloc.flags[:] = flags
            alloc.allocate(alloc.next_ns, board, live)
        passes.append((time.perf_counter_ns() - t0) / rounds / 1e3)
    return spread(passes)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5, help="timed passes of --rounds rounds")
    p.add_argument("--rounds", type=int, default=2000)
    p.add_argument("--events", type=int, default=200_000, help="replayed before timing")
    args = p.parse_args()
    paths = [str(f) for f in data_files()]
    base = Config()
    usdm = [i for i in base.instruments if i.id == "binance-usdm:BTCUSDT"]
    one = msgspec.structs.replace(base, instruments=usdm)
    figures = {
        "one_instrument_us": round_us(one, [x for x in paths if x.endswith("usdm_btcusdt.gz")], args.events,
                                      args.rounds, args.repeat),
        "six_instruments_us": round_us(base, paths, args.events, args.rounds, args.repeat),
    }
    emit(figures, args.json, [
        f"allocation round after {args.events:,} replayed events, {args.rounds:,} rounds a pass:",
        f"one instrument : {show(figures['one_instrument_us'], 1.0, ' us')}",
        f"six instruments: {show(figures['six_instruments_us'], 1.0, ' us')}",
    ])


if __name__ == "__main__":
    main()
