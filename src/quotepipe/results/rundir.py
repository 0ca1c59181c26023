"""The run directory of ``quotepipe replay --out DIR``: what a backtest leaves for people and plots.

Files (every CSV has a header row; times are event-time ns and UTC):

- ``summary.json``: the replay summary plus ``figures`` (``FIGURES`` below) and
  ``run`` (inputs, config, sampling interval);
- ``fills.csv``: every fill (``FILL_COLUMNS``): markouts in bps at 1, 5 and 30 s
  of event time (``side * (mid_H - price) / price``, empty when the run ended first),
  the fee in bps and USD, the quantity ahead of the order when it joined its level;
- ``quotes.jsonl``: every intent that acted (the lines of ``--quotes-out``);
- ``timeseries.csv``: per instrument with market data, every ``interval_s`` of
  event time (``SERIES_COLUMNS``): mid, position, inventory value, PnL, weight,
  score, and whether it was quoting;
- ``equity.csv``: the book at the same instants (``EQUITY_COLUMNS``);
- ``latency.json``: each stage's latency histogram (bucket bounds in ns, counts).

Nothing here runs unless ``--out`` is given; the replay loop calls it only at
due markouts, at sample instants and per fill and acting intent.
"""

from __future__ import annotations

import csv
import json
import time
from collections import deque
from pathlib import Path
from typing import IO, Any

import numpy as np

from quotepipe.config import Config
from quotepipe.domain.guards import Guard, Reason
from quotepipe.domain.instrument import instrument_specs
from quotepipe.domain.orders import Fill, OrderEnd
from quotepipe.domain.stages import TIMED
from quotepipe.results import figures
from quotepipe.shm.stats import StatsBlock, bucket_bounds

MARKOUT_S = (1, 5, 30)
FILL_COLUMNS = ("t_ns", "time_utc", "instrument", "side", "price", "qty", "notional_usd", "fee_bps",
                "fee_usd", "mid", *(f"markout_{h}s_bps" for h in MARKOUT_S), "queue_ahead", "queue_edge",
                "order_id")
SERIES_COLUMNS = ("t_ns", "instrument", "mid", "position", "inventory_usd", "pnl_usd", "weight", "score",
                  "quoting")
EQUITY_COLUMNS = ("t_ns", "equity_usd", "gross_usd", "fees_usd")
FIGURES = ("pnl_net_usd", "fees_usd", "turnover_usd", "max_drawdown_usd", "sharpe", "sortino", "fills",
           "fill_rate", *(f"markout_{h}s_bps" for h in MARKOUT_S), "quoting_share", "pulled_share",
           "guard_trips", "guard_ticks", "deadline_misses", "shadow_mismatches")
_QUOTING, _PULLED = 1, 2
_MARK = FILL_COLUMNS.index("markout_1s_bps")


def utc(t_ns: int) -> str:
    ms = t_ns % 1_000_000_000 // 1_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t_ns / 1e9)) + f".{ms:03d}Z"


class RunRecorder:
    def __init__(self, out: Path, cfg: Config, interval_s: float) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.out = out
        self.cfg = cfg
        self.specs = instrument_specs(cfg)
        self.ids = [i.id for i in cfg.instruments]
        n = len(self.ids)
        self.interval_s = interval_s
        self.interval_ns = int(interval_s * 1e9)
        self.quotes: IO[bytes] = open(out / "quotes.jsonl", "wb")  # noqa: SIM115 - closed in finish()
        self.fills: list[list[Any]] = []
        self.fill_slot: list[int] = []
        #: per slot: (due event time, fill row, horizon index), in due order per horizon
        self.pending: list[deque[tuple[int, int, int]]] = [deque() for _ in range(n)]
        self.due = [0] * n  #: per slot, the earliest markout due (0: none): the caller checks it
        self.next_sample = 0
        self.series: list[tuple] = []
        self.equity: list[tuple[int, float, float, float]] = []
        self.fees_usd = [0.0] * n
        self.turnover_usd = [0.0] * n
        self.quoted = [0.0] * n
        self.filled = [0.0] * n
        self.state = [0] * n          #: per slot: 0 not started, _QUOTING or _PULLED
        self.since = [0] * n
        self.state_ns = [[0, 0, 0] for _ in range(n)]
        self.reasons = [0] * n        #: reasons of each slot's last acting intent
        self.trips = [0] * len(Reason.NAMES)
        self.first_ns = 0
        self.last_ns = 0

    # ---------------------------------------------------------------- inputs
    def on_fill(self, f: Fill) -> None:
        spec = self.specs[f.slot]
        notional = spec.notional_usd(f.price, f.qty)
        fee = notional * f.fee_bps * 1e-4
        self.fees_usd[f.slot] += fee
        self.turnover_usd[f.slot] += notional
        row = self.fills_row(f, notional, fee)
        k = len(self.fills)
        self.fills.append(row)
        self.fill_slot.append(f.slot)
        pending = self.pending[f.slot]
        for h, s in enumerate(MARKOUT_S):
            pending.append((f.t_ns + s * 1_000_000_000, k, h))
        self.due[f.slot] = min(p[0] for p in pending)

    def fills_row(self, f: Fill, notional: float, fee: float) -> list[Any]:
        return [f.t_ns, utc(f.t_ns), self.ids[f.slot], "buy" if f.side > 0 else "sell", f.price, f.qty,
                round(notional, 6), f.fee_bps, round(fee, 8), round(f.mid, self.specs[f.slot].digits + 1),
                *([None] * len(MARKOUT_S)),
                f.queue_ahead, round(f.queue_edge, 6), f.order_id]

    def on_order_end(self, e: OrderEnd) -> None:
        self.quoted[e.slot] += e.quoted
        self.filled[e.slot] += e.filled

    def on_mid(self, slot: int, now: int, mid: float) -> None:
        """A mid at ``now``: lands the markouts due by then."""
        pending = self.pending[slot]
        keep: deque[tuple[int, int, int]] = deque()
        for due, k, h in pending:
            if due <= now:
                row = self.fills[k]
                side = 1 if row[3] == "buy" else -1
                row[_MARK + h] = round(side * (mid - row[4]) / row[4] * 1e4, 6)
            else:
                keep.append((due, k, h))
        self.pending[slot] = keep
        self.due[slot] = min(p[0] for p in keep) if keep else 0

    def on_intent(self, slot: int, now: int, guard: int, reasons: int, quoting: bool) -> None:
        """An intent that acted: the slot's quoting/pulled clock, and guard reasons newly set."""
        new = reasons & ~self.reasons[slot]
        if new:
            for k in range(len(self.trips)):
                if new >> k & 1:
                    self.trips[k] += 1
        self.reasons[slot] = reasons
        state = _PULLED if guard == Guard.PULL or not quoting else _QUOTING
        if guard == Guard.HOLD:
            return
        self._clock(slot, now)
        self.state[slot] = state

    def _clock(self, slot: int, now: int) -> None:
        if self.state[slot]:
            self.state_ns[slot][self.state[slot]] += now - self.since[slot]
        self.since[slot] = now

    def sample(self, now: int, mids: list[float], positions: list[float], pnls: list[float],
               weights: list[float], scores: list[float], live: list[int]) -> None:
        """The book at event time ``now`` (the caller calls it at ``next_sample``)."""
        if not self.first_ns:
            self.first_ns = now
        self.last_ns = now
        self.next_sample = now + self.interval_ns
        gross = 0.0
        for s, spec in enumerate(self.specs):
            if not live[s]:
                continue
            inventory = spec.notional_usd(mids[s], positions[s]) if mids[s] > 0.0 else 0.0
            gross += abs(inventory)
            self.series.append((now, self.ids[s], round(mids[s], spec.digits + 1), positions[s],
                                round(inventory, 6), round(pnls[s], 6), round(weights[s], 6),
                                round(scores[s], 6), int(self.state[s] == _QUOTING)))
        self.equity.append((now, round(sum(pnls), 6), round(gross, 6), round(sum(self.fees_usd), 6)))

    # ---------------------------------------------------------------- output
    def finish(self, summary: dict[str, Any], end_ns: int, reason_ticks: list[int], stats: StatsBlock,
               inputs: list[str]) -> dict[str, Any]:
        """Write every file; return the summary with its ``figures`` and ``run`` added."""
        self.quotes.close()
        for s in range(len(self.ids)):
            self._clock(s, end_ns)
        self._write_csv("fills.csv", FILL_COLUMNS, self.fills)
        self._write_csv("timeseries.csv", SERIES_COLUMNS, self.series)
        self._write_csv("equity.csv", EQUITY_COLUMNS, self.equity)
        self._write_latency(stats)
        summary = dict(summary)
        summary["figures"] = self.figures(summary, reason_ticks)
        for s, iid in enumerate(self.ids):
            summary["instruments"][iid]["figures"] = self._instrument_figures(s)
        summary["run"] = {"inputs": inputs, "interval_s": self.interval_s, "first_ns": self.first_ns,
                          "last_ns": end_ns, "instance": self.cfg.instance.name,
                          "files": sorted(p.name for p in self.out.iterdir()) + ["summary.json"]}
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n")
        return summary

    def _write_csv(self, name: str, columns: tuple[str, ...], rows: list) -> None:
        with open(self.out / name, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(columns)
            w.writerows(rows)

    def _write_latency(self, stats: StatsBlock) -> None:
        lower, upper = bucket_bounds()
        out = {}
        for name in TIMED:
            counts = stats.hist(name).counts()
            nz = np.nonzero(counts)[0]
            out[name] = {"lower_ns": lower[nz].tolist(), "upper_ns": upper[nz].tolist(),
                         "counts": counts[nz].tolist()}
        (self.out / "latency.json").write_text(json.dumps(out) + "\n")

    def _markouts(self, rows: list[list[Any]]) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for h, s in enumerate(MARKOUT_S):
            got = [r[_MARK + h] for r in rows if r[_MARK + h] is not None]
            out[f"markout_{s}s_bps"] = round(sum(got) / len(got), 4) if got else None
        return out

    def _shares(self, slots: list[int]) -> tuple[float | None, float | None]:
        q = sum(self.state_ns[s][_QUOTING] for s in slots)
        p = sum(self.state_ns[s][_PULLED] for s in slots)
        return (round(q / (q + p), 4), round(p / (q + p), 4)) if q + p else (None, None)

    def figures(self, summary: dict[str, Any], reason_ticks: list[int]) -> dict[str, Any]:
        eq = [e[1] for e in self.equity]
        diffs = figures.changes(eq)
        per_day = figures.periods_per_day(self.interval_s)
        quoting, pulled = self._shares([s for s in range(len(self.ids)) if self.state_ns[s] != [0, 0, 0]])
        quoted = sum(self.quoted)
        out: dict[str, Any] = {
            "pnl_net_usd": summary["total_pnl_usd"],
            "fees_usd": round(sum(self.fees_usd), 6),  # negative: maker rebates earned
            "turnover_usd": round(sum(self.turnover_usd), 2),
            "max_drawdown_usd": round(figures.max_drawdown(eq), 6),
            "sharpe": _round(figures.sharpe(diffs, per_day)),
            "sortino": _round(figures.sortino(diffs, per_day)),
            "sharpe_basis": f"equity (USD PnL) changes per {self.interval_s:g} s of event time, "
                            f"mean/std scaled by sqrt({per_day:g}) to one day",
            "fills": len(self.fills),
            "fill_rate": round(sum(self.filled) / quoted, 4) if quoted else None,
            **self._markouts(self.fills),
            "quoting_share": quoting, "pulled_share": pulled,
            "guard_trips": {n: k for n, k in zip(Reason.NAMES, self.trips, strict=True) if k},
            "guard_ticks": {n: k for n, k in zip(Reason.NAMES, reason_ticks, strict=True) if k},
            "deadline_misses": summary.get("deadline_misses", 0),
            "shadow_mismatches": summary["shadow"]["mismatches"],
        }
        return out

    def _instrument_figures(self, s: int) -> dict[str, Any]:
        rows = [r for r, slot in zip(self.fills, self.fill_slot, strict=True) if slot == s]
        quoting, pulled = self._shares([s])
        return {"fees_usd": round(self.fees_usd[s], 6), "turnover_usd": round(self.turnover_usd[s], 2),
                "fill_rate": round(self.filled[s] / self.quoted[s], 4) if self.quoted[s] else None,
                **self._markouts(rows), "quoting_share": quoting, "pulled_share": pulled}


def _round(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(x, nd)
