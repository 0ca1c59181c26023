"""The live screen of ``quotepipe run`` (on a terminal) and ``quotepipe status --watch``.

In the way of Hummingbot's ``status``: one row per instrument (mid; our bid
and ask with their distance from the mid in bps, sizes, order age and queue
ahead; position in the instrument's units and in USD; PnL; weight; the guard
and its reasons), totals, per shard the stage p95s and market-data-to-intent
p50/p99, then warnings. Everything comes from one ``InstanceView.collect()``
dict, so the screen, ``status --json`` and /metrics agree.

It fits the terminal: at 80 columns it shows the core columns, from 120 the
order details, from 150 the guard reasons too; instruments that do not fit
the height are folded into a "k more" line. Prices are rounded to the
instrument's tick, sizes to its lot. rich draws it (``rich.live``); log lines
are printed above the live region, never under it, so a redraw wipes none.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

GUARD_STYLE = {"quote": "green", "reduce_only": "yellow", "pull": "red", "hold": "magenta", "?": "dim"}
WIDE, WIDER = 120, 150


def short_id(iid: str) -> str:
    """``binance-usdm:BTCUSDT`` -> ``usdm:BTCUSDT``: the venue prefix every row shares."""
    return iid.removeprefix("binance-")


def _num(v: float | None, digits: int = 2, sign: bool = False) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:+,.{digits}f}" if sign else f"{v:,.{digits}f}"


def _queue(v: float | None, digits: int) -> str:
    return "?" if v is not None and v < 0 else _num(v, digits)  # < 0: UNSEEN, no depth to see it


def _side(row: dict[str, Any], side: str) -> tuple[str, str]:
    """Our order on a side: its price and its distance from the mid in bps (negative: below)."""
    px, mid = row.get(side), row.get("mid")
    if px is None or not mid:
        return "-", "-"
    return _num(px, row["digits"]), _num((px - mid) / mid * 1e4, 1, sign=True)


def warnings(s: dict[str, Any]) -> list[str]:
    """What an operator should look at now, most serious first."""
    out = []
    if s.get("halted"):
        out.append("instance HALTED by the supervisor")
    risk = s.get("book_risk") or {}
    if risk.get("state", "ok") != "ok":
        out.append(f"book risk {risk['state']} ({risk.get('reason', '')})")
    for sh in s.get("shards", []):
        if sh.get("halted"):
            out.append(f"shard {sh['shard']} halted")
        elif sh.get("operator_halted"):
            out.append(f"shard {sh['shard']} halted by the operator")
    halted = s.get("operator", {}).get("halted_instruments", [])
    if halted and not s.get("operator", {}).get("halt_all"):
        out.append("operator halt: " + ", ".join(short_id(i) for i in halted))
    stale = [short_id(i) for i, r in s["instruments"].items() if "stale" in r.get("reasons", [])]
    if stale:
        out.append("stale market data: " + ", ".join(stale))
    if not any(r["md_updates"] for r in s["instruments"].values()):
        out.append("no market data yet")
    for key, what in (("restarts", "process restarts"), ("ring_overruns", "ring overruns"),
                      ("deadline_misses", "ticks over deadline"), ("shadow_mismatches", "shadow mismatches")):
        if s.get(key):
            out.append(f"{what}: {s[key]:,}")
    if s.get("market_data", {}).get("malformed"):
        out.append(f"malformed market-data lines skipped: {s['market_data']['malformed']:,}")
    return out


def instruments_table(s: dict[str, Any], width: int, rows: int) -> Table:
    wide, wider = width >= WIDE, width >= WIDER
    t = Table(box=None, pad_edge=False, padding=(0, 1), expand=False, header_style="bold underline")
    def col(name: str, **kw: Any) -> None:
        t.add_column(name, justify=kw.pop("justify", "right"), no_wrap=True, **kw)
    col("instrument" if wide else "inst", justify="left", max_width=20 if wide else 14, overflow="ellipsis")
    col("mid")
    if wide:
        col("bid")
    col("bid bps" if wide else "bid")
    if wide:
        col("ask")
    col("ask bps" if wide else "ask")
    if wide:
        col("size b/a")
        col("age s")
        col("queue b/a")
    col("position" if wide else "pos")
    if wide:
        col("pos USD")
    col("PnL USD" if wide else "PnL")
    col("w")
    col("guard", justify="left", overflow="ellipsis")
    items = list(s["instruments"].items())
    shown = items if len(items) <= rows else items[:max(1, rows - 1)]
    for iid, r in shown:
        bid, bid_bps = _side(r, "bid")
        ask, ask_bps = _side(r, "ask")
        lots = r.get("lot_digits", 4)
        guard = r.get("guard", "?")
        reason = ",".join(r.get("reasons", []))
        gtext = Text(guard + (f" {reason}" if wider and reason else ""), style=GUARD_STYLE.get(guard, ""))
        pnl = r.get("pnl_usd")
        cells: list[Any] = [short_id(iid), _num(r.get("mid"), r.get("digits", 2) + 1)]
        if wide:
            cells.append(bid)
        cells.append(bid_bps)
        if wide:
            cells.append(ask)
        cells.append(ask_bps)
        if wide:
            cells += [f"{_num(r.get('bid_qty'), lots)}/{_num(r.get('ask_qty'), lots)}",
                      f"{_num(r.get('bid_age_s'), 0)}/{_num(r.get('ask_age_s'), 0)}",
                      f"{_queue(r.get('bid_queue'), lots)}/{_queue(r.get('ask_queue'), lots)}"]
        cells.append(_num(r.get("position"), lots, sign=True))
        if wide:
            cells.append(_num(r.get("position_usd"), 0, sign=True))
        cells += [Text(_num(pnl, 2, sign=True), style="green" if (pnl or 0) > 0 else "red" if (pnl or 0) < 0
                       else ""), _num(r.get("weight"), 2), gtext]
        t.add_row(*cells)
    if len(shown) < len(items):
        t.add_row(Text(f"... {len(items) - len(shown)} more", style="dim"))
    return t


def shards_table(s: dict[str, Any], width: int) -> Table:
    t = Table(box=None, pad_edge=False, padding=(0, 1), show_header=True, header_style="bold")
    t.add_column("shard", justify="right")
    t.add_column("mode")
    t.add_column("tick p95", justify="right")
    wide = width >= WIDE
    if wide:
        for name in ("spread", "guards", "queue_aware", "emit"):
            t.add_column(f"{name} p95", justify="right")
    t.add_column("md->intent p50/p99 µs", justify="right")
    for sh in s.get("shards", []):
        p95 = sh.get("stage_p95_us", {})
        md = sh.get("md_to_intent", {})
        cells = [str(sh["shard"]), sh["mode"], _num(p95.get("tick_total"), 1)]
        if wide:
            cells += [_num(p95.get(n), 2) for n in ("spread", "guards", "queue_aware", "emit")]
        cells.append(f"{_num(md.get('p50_us'), 1)}/{_num(md.get('p99_us'), 1)} ({md.get('count', 0):,})")
        t.add_row(*cells)
    return t


def header(s: dict[str, Any], width: int) -> list[Text]:
    """One line from ``WIDE`` columns, two below (the totals on the second)."""
    gross = sum(abs(r.get("position_usd") or 0.0) for r in s["instruments"].values())
    fills = sum(r["fills"] for r in s["instruments"].values())
    pnl = s["total_pnl_usd"]
    first = Text(no_wrap=True, overflow="ellipsis")
    first.append(f"quotepipe {s['instance']}", style="bold")
    first.append(f"  up {s['uptime_s']:,.0f}s  epoch {s['epoch']}  md {s['events_per_s']:,.0f}/s  ")
    totals = Text(no_wrap=True, overflow="ellipsis")
    totals.append(f"PnL {pnl:+,.2f}", style="bold green" if pnl > 0 else "bold red" if pnl < 0 else "bold")
    totals.append(f"  gross {gross:,.0f}  fills {fills:,}  orders {s['venue'].get('open_orders', 0)}")
    totals.append("  (USD; bid/ask: bps from mid)" if width < WIDE else "  (USD)", style="dim")
    if width >= WIDE:
        return [first.append_text(totals)]
    return [first, totals]


def processes_line(s: dict[str, Any]) -> Text:
    parts = []
    for p in s.get("processes", []):
        name = f"w{p['index']}" if p["role"] == "worker" else p["role"][:5]
        cpu = "" if p["cpu"] is None else f"@{p['cpu']}"
        parts.append(f"{name} {p['pid']}{cpu}" + (f" r{p['restarts']}" if p["restarts"] else ""))
    return Text("procs: " + "  ".join(parts), style="dim", no_wrap=True, overflow="ellipsis")


def render(s: dict[str, Any], width: int, height: int, logs: Iterable[str] = ()) -> RenderableType:
    """The whole screen for a terminal of ``width`` x ``height``."""
    warn = warnings(s)
    n_shards = len(s.get("shards", []))
    head = header(s, width)
    # header, instrument table head, shards head + rows, warnings 1 at least
    fixed = len(head) + 1 + 1 + n_shards + 1
    rows = max(2, height - fixed - min(len(warn), 3))
    parts: list[RenderableType] = [*head, instruments_table(s, width, rows), shards_table(s, width)]
    room = height - fixed + 1 - min(len(s["instruments"]), rows)
    lines = [Text("! " + w, style="yellow", no_wrap=True, overflow="ellipsis") for w in warn] or [
        Text("no warnings", style="dim")]
    if s.get("processes"):
        lines.append(processes_line(s))
    room = max(1, room)
    logs = list(logs)[-max(0, room - len(lines)):] if room > len(lines) else []
    lines += [Text(line, style="dim", overflow="ellipsis", no_wrap=True) for line in logs]
    parts += lines[:room]
    return Group(*parts)


class Screen:
    """The live region: ``update`` redraws it, ``log`` prints a line above it (kept in the
    terminal's scrollback)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self.live = Live(console=self.console, auto_refresh=False, transient=False, redirect_stdout=False,
                         redirect_stderr=False)
        self.started = False

    def update(self, s: dict[str, Any]) -> None:
        w, h = self.console.size
        self.live.update(render(s, w, h - 1), refresh=True)
        if not self.started:
            self.live.start(refresh=True)
            self.started = True

    def log(self, line: str) -> None:
        self.console.print(Text(line, no_wrap=False), soft_wrap=True, highlight=False, markup=False)

    def stop(self) -> None:
        if self.started:
            self.live.stop()
            self.started = False
