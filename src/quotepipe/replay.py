"""``quotepipe replay``: the whole loop in one process on event time.

Feed -> books -> venue (fills against the recorded trades and depth) ->
scoreboard and allocator -> the stage chain (in each shard's configured mode)
-> venue, with the same code the daemon runs (the worker's ``TickEngine`` for
every tick), no clock and no sleeping. Two runs on the same input and config
write byte-identical ``--quotes-out`` files.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import msgspec

from quotepipe.config import Config, shard_modes
from quotepipe.domain.guards import FLAG_BLACKLISTED
from quotepipe.domain.orders import CANCEL, NONE, Fill, OrderEnd
from quotepipe.domain.risk import REASONS, STATES, BookRisk
from quotepipe.domain.shards import ShardMap
from quotepipe.domain.stages import TIMED
from quotepipe.marketdata.book import BookSet
from quotepipe.marketdata.feed import Feed
from quotepipe.replay_loop import play
from quotepipe.results.rundir import RunRecorder
from quotepipe.scoreboard.allocator import Allocator
from quotepipe.scoreboard.arrival import ArrivalFits, fit_summary
from quotepipe.scoreboard.metrics import Scoreboard
from quotepipe.shm.catalog import WORKER_STATS
from quotepipe.shm.stats import StatsBlock
from quotepipe.venue.paper import PaperVenue
from quotepipe.workers.dto import QuoteIntent
from quotepipe.workers.engine import TickEngine
from quotepipe.workers.shadow import append_report

#: events of the embedded synthetic scenario when no PATH and no --events is given
SYNTHETIC_EVENTS = 1_000_000
RISK_NS = 100_000_000  #: event time between two looks at the book-wide limits


class QuoteLine(msgspec.Struct, frozen=True):
    """One line of ``--quotes-out``: an intent that asks the venue to do something."""

    t: int
    inst: str
    bid: tuple[str, float, float]
    ask: tuple[str, float, float]
    weight: float
    guard: str


class Replay:
    def __init__(self, cfg: Config, paths: Sequence[str | Path] | None = None,
                 allocator: bool = True, quotes_out: IO[bytes] | None = None,
                 limit: int | None = None, progress: bool = False, out: Path | None = None,
                 interval_s: float = 1.0) -> None:
        """``out``: write a run directory there (``results.rundir``), the book sampled every
        ``interval_s`` of event time."""
        self.cfg = cfg
        self.inputs = [str(p) for p in paths] if paths else []
        self.feed = Feed(cfg, self.inputs or None)
        synthetic = self.feed.kind != "replay"
        self.limit = limit if limit is not None else (SYNTHETIC_EVENTS if synthetic else None)
        self.ids = [i.id for i in cfg.instruments]
        n = len(self.ids)
        self.books = BookSet.of(cfg)
        self.stats = StatsBlock.local(WORKER_STATS)
        self.board = Scoreboard(cfg.symbol_scoreboard, n)
        self.allocator = Allocator(cfg.dynamic_allocator, cfg.symbol_scoreboard, n)
        self.use_allocator = allocator and cfg.dynamic_allocator.enabled
        self.recorder = RunRecorder(out, cfg, interval_s) if out is not None else None
        if self.recorder is None:
            self.venue = PaperVenue(cfg, self.board.on_fill, self.board.on_order_end)
        else:
            self.venue = PaperVenue(cfg, self._on_fill, self._on_order_end)
        #: where the acting intents' lines go: --quotes-out, and the run directory's quotes.jsonl
        self.quote_files = [f for f in (quotes_out, self.recorder.quotes if self.recorder else None) if f]
        self._encoder = msgspec.json.Encoder()
        self.progress = progress
        self.engine = TickEngine(cfg, ShardMap.of(cfg), shard_modes(cfg), self.venue, self._submit,
                                 self.stats)
        self.events = 0
        self.wall_s = 0.0
        self.risk = BookRisk(cfg.risk)
        #: the scoreboard's order-arrival fit, when the spread model takes A and k from it
        self.fits = ArrivalFits(cfg.spread, [i.tick_size for i in cfg.instruments]) \
            if cfg.spread.fitted_arrival() else None
        self.risk_log: list[tuple[int, str]] = []  #: (event time, what the book risk became)
        modes = shard_modes(cfg)
        shard = self.engine.shards.shard
        #: per slot: the frozen legacy chain knows no reduce-only flatten, a book limit pulls it
        self.legacy_slot = [modes[shard[i]] == "legacy" for i in range(n)]

    def _on_fill(self, fill: Fill) -> None:
        self.board.on_fill(fill)
        self.recorder.on_fill(fill)  # type: ignore[union-attr]

    def _on_order_end(self, end: OrderEnd) -> None:
        self.board.on_order_end(end)
        self.recorder.on_order_end(end)  # type: ignore[union-attr]

    def _submit(self, intent: QuoteIntent) -> None:
        """An intent that acts: to the venue, to ``--quotes-out`` and the run directory."""
        self.venue.submit(intent)
        if self.quote_files:
            line = self._encoder.encode(QuoteLine(
                intent.t_ns, self.ids[intent.slot], (intent.bid_action.name, intent.bid_px, intent.bid_qty),
                (intent.ask_action.name, intent.ask_px, intent.ask_qty), intent.weight,
                intent.guard.name)) + b"\n"
            for f in self.quote_files:
                f.write(line)
        if self.recorder is not None:
            quoting = (intent.bid_action != NONE and intent.bid_action != CANCEL
                       or intent.ask_action != NONE and intent.ask_action != CANCEL)
            self.recorder.on_intent(intent.slot, intent.t_ns, intent.guard, intent.reasons, quoting)

    def run(self) -> dict[str, Any]:
        """Every event through the books, the venue, the scoreboard and allocator and the tick
        engine (``replay_loop.play``, compiled), then the summary."""
        t0 = time.perf_counter()
        self.events, now = play(self, RISK_NS, t0)
        self.wall_s = time.perf_counter() - t0
        self.engine.flush()
        if self.cfg.pipeline.shadow_report:
            append_report(self.cfg.pipeline.shadow_report, self.engine.shadow.unreported())
        if self.progress:
            sys.stderr.write("\n")
        summary = self.summary()
        rec = self.recorder
        if rec is not None:
            self._sample(now)
            summary = rec.finish(summary, now, self.engine.reason_counts(), self.stats, self.inputs)
        return summary

    def _sample(self, now: int) -> None:
        """The book into the run directory's time series."""
        venue, books = self.venue, self.books
        mids = [(venue.bid[s] + venue.ask[s]) * 0.5 for s in range(len(self.ids))]
        self.recorder.sample(  # type: ignore[union-attr]
            now, mids, venue.position, [venue.pnl_usd(s) for s in range(len(self.ids))],
            self.allocator.weights.tolist(), [self.board.score(s) for s in range(len(self.ids))],
            books.md_seq)

    def _show_progress(self, events: int, elapsed: float, now_ns: int) -> None:
        """One line on stderr (a TTY): percent done and ETA, from the recordings' bytes read or
        from ``--events`` (whichever ends first), the rate, and the event time reached."""
        done = self.feed.done()
        if self.limit:
            done = max(done or 0.0, events / self.limit)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now_ns / 1e9))
        head = "    ..."
        if done:
            eta = elapsed * (1.0 - min(done, 1.0)) / done
            head = f"{100 * min(done, 1.0):5.1f}% ETA {int(eta) // 60:d}:{int(eta) % 60:02d}"
        sys.stderr.write(f"\rreplay: {head}  {events:,} events, {events / elapsed:,.0f}/s, at {stamp} UTC ")
        sys.stderr.flush()

    def summary(self) -> dict[str, Any]:
        venue, board, alloc = self.venue, self.board, self.allocator
        instruments: dict[str, dict[str, Any]] = {}
        total = 0.0
        for i, iid in enumerate(self.ids):
            pnl = venue.pnl_usd(i)
            total += pnl
            m = board.symbols[i]
            instruments[iid] = {
                "md_updates": self.books.md_seq[i], "ticks": self.engine.ticks[i],
                "intents": self.engine.intents[i],
                "fills": venue.fills[i], "volume": round(venue.volume[i], 6),
                "position": round(venue.position[i], 12), "pnl_usd": round(pnl, 6),
                "net_bps": round(m.ema["net_bps"], 4), "fill_rate": round(m.ema["fill_rate"], 4),
                "slippage_bps": round(m.ema["slippage_bps"], 4), "queue_edge": round(m.ema["queue_edge"], 4),
                "adverse_penalty": round(m.ema["adverse_penalty"], 4), "score": round(board.score(i), 4),
                "weight": round(float(alloc.weights[i]), 4),
                "blacklisted": bool(int(alloc.flags[i]) & FLAG_BLACKLISTED),
                "rejects": venue.rejects[i], "blacklists": alloc.blacklists[i],
            }
            if self.fits is not None:
                instruments[iid]["arrival_fit"] = fit_summary(self.fits.fits[i].fit)
        summary = self.stats.summary((50, 95, 99))
        stages = {name: {k: round(v, 3) for k, v in summary[name].items() if k != "count"}
                  for name in TIMED if summary[name]["count"]}
        tally = self.engine.shadow
        shadow = {"mismatches": tally.total,
                  "by_shard": {str(k): n for k, n in enumerate(tally.by_shard(self.cfg.workers.count))},
                  "fields": {f: n for f, n in tally.fields.items() if n}}
        risk = self.risk
        book = {"state": STATES[risk.state], "reason": REASONS[risk.reason],
                "peak_pnl_usd": round(risk.peak_pnl, 6), "changes": [
                    {"t": t, "what": what} for t, what in self.risk_log]} if risk.enabled else None
        return {"events": self.events, "malformed_lines": self.feed.malformed, "shadow": shadow,
                "deadline_misses": self.stats.counter("deadline_misses"),
                "book_risk": book,
                "wall_s": round(self.wall_s, 3),
                "events_per_s": round(self.events / self.wall_s, 1) if self.wall_s else 0.0,
                "instruments": instruments, "stages": stages, "total_pnl_usd": round(total, 6)}


def format_summary(s: dict[str, Any]) -> str:
    cols = ("md_updates", "intents", "fills", "position", "pnl_usd", "net_bps", "fill_rate", "score",
            "weight")
    lines = [f"{'instrument':<28}" + "".join(f"{c:>12}" for c in cols) + "  blacklisted"]
    for iid, row in s["instruments"].items():
        cells = "".join(f"{row[c]:>12,.4g}" if isinstance(row[c], float) else f"{row[c]:>12,}" for c in cols)
        lines.append(f"{iid:<28}{cells}  {'yes' if row['blacklisted'] else 'no'}")
    lines.append("")
    lines.append(f"{'stage':<14}{'p50 us':>9}{'p95 us':>9}{'p99 us':>9}")
    for name, row in s["stages"].items():
        lines.append(f"{name:<14}{row['p50_us']:>9.2f}{row['p95_us']:>9.2f}{row['p99_us']:>9.2f}")
    lines.append("")
    shadow = s.get("shadow", {})
    if shadow.get("mismatches"):
        lines.append("shadow mismatches by shard: " + ", ".join(
            f"{k}: {n:,}" for k, n in shadow["by_shard"].items()) + "; by field: " + ", ".join(
            f"{f} {n:,}" for f, n in shadow["fields"].items()))
        lines.append("")
    skipped = f", {s['malformed_lines']:,} malformed lines skipped" if s.get("malformed_lines") else ""
    lines.append(f"events {s['events']:,} in {s['wall_s']:.2f} s ({s['events_per_s']:,.0f}/s){skipped}; "
                 f"total PnL {s['total_pnl_usd']:,.2f} USD")
    return "\n".join(lines)
