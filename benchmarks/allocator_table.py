"""Allocator on against ``--no-allocator`` on the shared recordings, whole and cut into windows.

    python benchmarks/allocator_table.py [--window 3600] [--json out/allocator.json] [PATH ...]

Replays the recordings twice (one run directory each, ``replay --out``) and
cuts both runs' equity and fills into windows of ``--window`` seconds of event
time (the state carries over from one window to the next, as in a live run).
Per window and in total: PnL net of fees, turnover, net bps (PnL over turnover),
fills. It also checks every fill and every sampled position for whole lots
(no dust) and prints the table in Markdown.
"""

from __future__ import annotations

import csv
import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

from quotepipe.config import default_config
from quotepipe.replay import Replay

from _common import data_files, parser


def run(paths: list[Path], out: Path, allocator: bool) -> dict[str, Any]:
    return Replay(default_config(), paths, allocator=allocator, out=out, interval_s=1.0).run()


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def windows(out: Path, window_s: float) -> list[dict[str, float]]:
    equity = rows(out / "equity.csv")
    fills = rows(out / "fills.csv")
    t0 = int(equity[0]["t_ns"])
    span = int(window_s * 1e9)
    result: dict[int, dict[str, float]] = {}
    last = 0.0
    for e in equity:
        k = (int(e["t_ns"]) - t0) // span
        w = result.setdefault(k, {"start_pnl": last, "pnl": 0.0, "turnover": 0.0, "fills": 0})
        w["pnl"] = float(e["equity_usd"]) - w["start_pnl"]
        last = float(e["equity_usd"])
    for f in fills:
        k = max(0, (int(f["t_ns"]) - t0) // span)
        w = result.setdefault(k, {"start_pnl": last, "pnl": 0.0, "turnover": 0.0, "fills": 0})
        w["turnover"] += float(f["notional_usd"])
        w["fills"] += 1
    return [result[k] for k in sorted(result)]


def dust(out: Path, lots: dict[str, float]) -> int:
    """Fills and sampled positions that are not a whole number of lots."""
    bad = 0
    for f in rows(out / "fills.csv"):
        q = float(f["qty"]) / lots[f["instrument"]]
        bad += abs(q - round(q)) > 1e-6 or round(q) == 0
    for r in rows(out / "timeseries.csv"):
        q = float(r["position"]) / lots[r["instrument"]]
        bad += abs(q - round(q)) > 1e-6
    return bad


def bps(pnl: float, turnover: float) -> float:
    return pnl / turnover * 1e4 if turnover else math.nan


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--window", type=float, default=3600.0, help="window, seconds of event time")
    p.add_argument("paths", nargs="*", type=Path, help="recordings (default: $QUOTEPIPE_DATA)")
    args = p.parse_args()
    paths = args.paths or data_files()
    lots = {i.id: i.lot_size for i in default_config().instruments}
    with tempfile.TemporaryDirectory() as tmp:
        on, off = Path(tmp) / "allocator", Path(tmp) / "no-allocator"
        s_on, s_off = run(paths, on, True), run(paths, off, False)
        w_on, w_off = windows(on, args.window), windows(off, args.window)
        dust_on, dust_off = dust(on, lots), dust(off, lots)
    print(f"recordings: {', '.join(p.name for p in paths)}; window {args.window:g} s")
    print()
    print("| window | PnL on (USD) | PnL off (USD) | net bps on | net bps off | fills on | fills off |")
    print("|---|---|---|---|---|---|---|")
    table = []
    for k, (a, b) in enumerate(zip(w_on, w_off, strict=False)):
        row = {"window": k, "pnl_on": a["pnl"], "pnl_off": b["pnl"], "bps_on": bps(a["pnl"], a["turnover"]),
               "bps_off": bps(b["pnl"], b["turnover"]), "fills_on": a["fills"], "fills_off": b["fills"]}
        table.append(row)
        print(f"| {k} | {a['pnl']:.2f} | {b['pnl']:.2f} | {row['bps_on']:.2f} | {row['bps_off']:.2f} "
              f"| {a['fills']:.0f} | {b['fills']:.0f} |")
    f_on, f_off = s_on["figures"], s_off["figures"]
    total = {"pnl_on": f_on["pnl_net_usd"], "pnl_off": f_off["pnl_net_usd"],
             "bps_on": bps(f_on["pnl_net_usd"], f_on["turnover_usd"]),
             "bps_off": bps(f_off["pnl_net_usd"], f_off["turnover_usd"]),
             "fills_on": f_on["fills"], "fills_off": f_off["fills"]}
    print(f"| **whole** | {total['pnl_on']:.2f} | {total['pnl_off']:.2f} | {total['bps_on']:.2f} "
          f"| {total['bps_off']:.2f} | {total['fills_on']} | {total['fills_off']} |")
    print()
    print(f"fills or positions not a whole number of lots: {dust_on} (allocator), {dust_off} (no allocator)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"windows": table, "whole": total, "dust": [dust_on, dust_off]},
                                              indent=2))
    return 1 if dust_on or dust_off else 0


if __name__ == "__main__":
    sys.exit(main())
