"""``quotepipe data inspect``: what a set of recordings holds, per instrument."""

from __future__ import annotations

from datetime import UTC, datetime

from quotepipe.marketdata.book import OrderBook
from quotepipe.marketdata.messages import BookTickerEvent, DepthEvent, SnapshotEvent
from quotepipe.marketdata.recording import merge, open_recordings

KINDS = ("book_ticker", "depth", "trade", "snapshot", "malformed", "other")


def iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def inspect_recordings(paths: list[str], venue: str = "auto") -> dict:
    readers = open_recordings(paths, venue)
    books: dict[str, OrderBook] = {}
    for _, _, _, ev in merge(readers):
        book = books.get(ev.inst)
        if book is None:
            book = books[ev.inst] = OrderBook(ev.inst, futures=not ev.inst.startswith("binance-spot:"))
        t = type(ev)
        if t is BookTickerEvent:
            book.on_book_ticker(ev)  # type: ignore[arg-type]  # narrowed by type(ev) above
        elif t is DepthEvent:
            book.on_depth(ev)  # type: ignore[arg-type]
        elif t is SnapshotEvent:
            book.on_snapshot(ev)  # type: ignore[arg-type]
    instruments: dict[str, dict] = {}
    unattributed = {"malformed": 0, "other": 0}
    for r in readers:
        for (inst, kind), n in r.counts.items():
            if not inst:
                unattributed[kind] += n
                continue
            entry = instruments.setdefault(inst, {k: 0 for k in KINDS})
            entry[kind] += n
        # malformed lines cannot name their instrument: charge them to the file's one instrument
        target = r.instruments[0] if len(r.instruments) == 1 else ""
        if target:
            instruments.setdefault(target, {k: 0 for k in KINDS})["malformed"] += r.malformed
        else:
            unattributed["malformed"] += r.malformed
        for inst in r.instruments:
            e = instruments[inst]
            e["first"] = min(e.get("first", r.first_ns[inst]), r.first_ns[inst])
            e["last"] = max(e.get("last", r.last_ns[inst]), r.last_ns[inst])
    for inst, e in instruments.items():
        book = books.get(inst)
        e["first"] = iso(e["first"]) if "first" in e else None
        e["last"] = iso(e["last"]) if "last" in e else None
        e["resyncs"] = book.resyncs if book else 0
        e["crossed"] = book.crossed if book else 0
        e["mode"] = book.mode if book else "l1-only"
    out = {"files": len(readers), "lines": sum(r.lines for r in readers),
           "instruments": dict(sorted(instruments.items()))}
    if any(unattributed.values()):
        out["unattributed"] = unattributed
    return out


def format_table(report: dict) -> str:
    head = (f"{'instrument':<28}{'bookTicker':>11}{'depth':>8}{'trade':>8}{'snap':>5}{'bad':>5}"
            f"{'other':>6}{'resync':>7}{'crossed':>8}  mode     first -> last")
    lines = [f"{report['files']} files, {report['lines']} lines", head]
    for inst, e in report["instruments"].items():
        lines.append(f"{inst:<28}{e['book_ticker']:>11}{e['depth']:>8}{e['trade']:>8}"
                     f"{e['snapshot']:>5}{e['malformed']:>5}{e['other']:>6}{e['resyncs']:>7}"
                     f"{e['crossed']:>8}  {e['mode']:<8} {e['first']} -> {e['last']}")
    if "unattributed" in report:
        lines.append(f"lines naming no instrument: {report['unattributed']}")
    return "\n".join(lines)
