"""A read-only view of a running instance, built from its shared memory alone.

One ``InstanceView.collect()`` serves ``quotepipe status`` (table or JSON), the
live table of ``quotepipe run``, its exit summary and the Prometheus
collector, so all four always agree. Attaching writes nothing.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from quotepipe.config import Config
from quotepipe.daemon.child import ROLES
from quotepipe.domain.clock import event_now, event_rate
from quotepipe.domain.guards import FLAG_BLACKLISTED, Guard, Reason
from quotepipe.domain.instrument import instrument_specs
from quotepipe.domain.orders import UNSEEN
from quotepipe.domain.risk import REASONS, STATES
from quotepipe.domain.snapshot import PUBLISH_NS, RECV_NS
from quotepipe.domain.stages import TIMED
from quotepipe.domain.valuation import pnl_usd
from quotepipe.scoreboard.arrival import fit_summary
from quotepipe.shm.catalog import (
    MD_STATS,
    SCOREBOARD_STATS,
    SLOT_SUPERVISOR,
    SUPERVISOR_STATS,
    VENUE_STATS,
    WORKER_STATS,
    Attached,
    worker_slot,
    worker_stats_name,
)
from quotepipe.shm.control import Role
from quotepipe.shm.stats import percentile_from_counts

ROLE_NAMES = {Role.SUPERVISOR: "supervisor", **{role: name for name, role in ROLES.items()}}


def _r(x: float, nd: int = 4) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, nd)


class InstanceView:
    def __init__(self, cfg: Config | None = None, instance: str | None = None) -> None:
        shm = Attached(cfg) if cfg is not None else Attached.from_config_block(str(instance))
        assert shm.cfg is not None
        self.cfg = cfg = shm.cfg
        self.control = shm.control(writable=False)
        self.snapshots = shm.snapshots()
        self.weights = shm.weights()
        self.venue = shm.venue_table()
        self.scores = shm.scores()
        self.fits = shm.fits()
        self.risk = shm.risk()
        self.counts = shm.counts()
        self.md_stats = shm.stats("stats.md", MD_STATS, writable=False)
        self.venue_stats = shm.stats("stats.venue", VENUE_STATS, writable=False)
        self.board_stats = shm.stats("stats.scoreboard", SCOREBOARD_STATS, writable=False)
        self.worker_stats = [shm.stats(worker_stats_name(s), WORKER_STATS, writable=False)
                             for s in range(cfg.workers.count)]
        self.supervisor_stats = shm.stats("stats.supervisor", SUPERVISOR_STATS, writable=False)
        #: each process's own block, by role (stalls and loop gaps are in every one)
        self.role_stats = {"md": self.md_stats, "venue": self.venue_stats, "scoreboard": self.board_stats,
                           "supervisor": self.supervisor_stats}
        self.specs = instrument_specs(cfg)
        self.ids = [i.id for i in cfg.instruments]
        self.shard_of = shm.shards.shard

    def collect(self) -> dict[str, Any]:
        """Everything ``status`` shows, with the keys of ``quotepipe replay``'s summary."""
        cfg = self.cfg
        control = self.control
        _, weights, flags = self.weights.snapshot()
        counts = self.counts.rows.copy()
        instruments: dict[str, dict[str, Any]] = {}
        total = 0.0
        op_all, op_shards, op_slots = control.operator_halts(cfg.workers.count, len(self.ids))
        mono = time.monotonic_ns()
        rate = event_rate(cfg.feed.speed)
        for i, iid in enumerate(self.ids):
            snap = self.snapshots.read_l1(i)
            mid = (snap[0] + snap[2]) * 0.5 if snap and snap[0] > 0 and snap[2] > 0 else float("nan")
            row = self.venue.read(i)
            sc = self.scores.read(i)
            fit = self.fits.read(i)
            pos = row.position if row else 0.0
            pnl = pnl_usd(self.specs[i], row.cash, pos, mid) if row and math.isfinite(mid) else 0.0
            total += pnl
            instruments[iid] = {
                "shard": self.shard_of[i],
                "md_updates": int(snap[13]) if snap else 0,
                "ticks": int(counts[i, 0]), "intents": int(counts[i, 1]),
                "fills": row.fills if row else 0, "volume": _r(row.volume if row else 0.0, 6),
                "position": _r(pos, 12), "pnl_usd": _r(pnl, 6),
                "net_bps": _r(sc.net_bps), "fill_rate": _r(sc.fill_rate),
                "slippage_bps": _r(sc.slippage_bps), "queue_edge": _r(sc.queue_edge),
                "adverse_penalty": _r(sc.adverse_penalty), "score": _r(sc.score),
                "weight": _r(float(weights[i])), "blacklisted": bool(int(flags[i]) & FLAG_BLACKLISTED),
                "mid": _r(mid, 8),
                "bid": _r(row.bid.price, 8) if row and row.bid else None,
                "ask": _r(row.ask.price, 8) if row and row.ask else None,
                "open_orders": row.open_orders if row else 0,
                "rejects": row.rejects if row else 0,
                "stop_cancels": row.stop_cancels if row else 0,
                "operator_halted": op_all or op_shards[self.shard_of[i]] or op_slots[i],
                **self._orders(i, row, snap, mono, rate, mid, pos, int(counts[i, 3]), int(counts[i, 4])),
                "arrival_fit": fit_summary(fit),
            }
        copies = [w.copy() for w in self.worker_stats]
        wsum, hists = self.worker_totals(copies)
        stages = {}
        for name in TIMED:
            merged = hists[name][0]
            if int(merged.sum()):
                stages[name] = {f"p{q}_us": _r(percentile_from_counts(merged, q) / 1000.0, 3)
                                for q in (50, 95, 99)}
        md2i = hists["md_to_intent"][0]
        md2i_n = int(md2i.sum())
        md2t = hists["md_to_tick"][0]
        processes = []
        restarts = 0
        now_mono = time.monotonic_ns()
        for slot, p in control.procs():
            age = (now_mono - p.heartbeat_ns) / 1e6 if p.heartbeat_ns else None
            role = ROLE_NAMES.get(p.role, str(p.role))
            block = self.worker_stats[p.index] if role == "worker" else self.role_stats.get(role)
            processes.append({"role": role, "index": p.index, "pid": p.pid,
                              "cpu": None if p.cpu < 0 else p.cpu, "restarts": p.restarts,
                              "heartbeat_age_ms": _r(age, 1) if age is not None and slot != SLOT_SUPERVISOR
                              else None,
                              "stalls": block.counter("stalls") if block else 0,
                              "loop_gap_max_ms": _r(block.gauge("loop_gap_max_ms"), 1) if block else None})
            restarts += p.restarts
        shards = [{"shard": s, "mode": control.mode(s), "halted": control.shard_halted(s),
                   "operator_halted": op_all or op_shards[s],
                   "instruments": [self.ids[i] for i in range(len(self.ids)) if self.shard_of[i] == s],
                   "restarts": control.proc(worker_slot(s)).restarts, **_shard_latency(copies[s])}
                  for s in range(cfg.workers.count)]
        vc = self.venue_stats.copy()["counters"]
        bc = self.board_stats.copy()["counters"]
        started = control.started_ns
        uptime = max(0.0, (time.time_ns() - started) / 1e9) if started else 0.0
        events = self.md_stats.counter("published")
        return {
            "instance": cfg.instance.name,
            "epoch": control.epoch,
            "uptime_s": round(uptime, 3),
            "halted": control.halt_all,
            "events": events,
            "wall_s": round(uptime, 3),
            "events_per_s": round(events / uptime, 1) if uptime else 0.0,
            "instruments": instruments,
            "stages": stages,
            "total_pnl_usd": round(total, 6),
            "md_to_intent": {"p50_us": _r(percentile_from_counts(md2i, 50) / 1000.0, 3),
                             "p99_us": _r(percentile_from_counts(md2i, 99) / 1000.0, 3),
                             "count": md2i_n},
            "md_to_tick": {"p50_us": _r(percentile_from_counts(md2t, 50) / 1000.0, 3),
                           "p99_us": _r(percentile_from_counts(md2t, 99) / 1000.0, 3),
                           "p999_us": _r(percentile_from_counts(md2t, 99.9) / 1000.0, 3),
                           "count": int(md2t.sum())},
            "restarts": restarts,
            "ring_overruns": wsum["ring_lost"] + vc["ring_lost"] + bc["ring_lost"],
            "ring_overruns_by_reader": [
                *((f"worker {k}", f"md.{k}", w.counter("ring_lost"))
                  for k, w in enumerate(self.worker_stats)),
                ("venue", "intents+md+trades", vc["ring_lost"]),
                ("scoreboard", "venue_events+trades", bc["ring_lost"])],
            "deadline_misses": wsum["deadline_misses"],
            "shadow_mismatches": wsum["shadow_mismatches"],
            "workers": {k: wsum[k] for k in ("ticks", "intents", "shadow_mismatches", "coalesced",
                                             "timer_ticks", "guard_pull", "reason_halted",
                                             "reason_stale", "action_cancel", "arrival_fits")},
            "feed": self._feed_latency(),
            "market_data": {**self.md_stats.copy()["counters"],
                            "feed_done": bool(self.md_stats.gauge("feed_done"))},
            "venue": {**vc, "open_orders": int(self.venue_stats.gauge("open_orders"))},
            "scoreboard": bc,
            "operator": {"halt_all": op_all, "commands": control.operator_commands,
                         "halted_instruments": [self.ids[i] for i in range(len(self.ids))
                                                if op_all or op_shards[self.shard_of[i]] or op_slots[i]]},
            "supervisor": {**self.supervisor_stats.copy()["counters"],
                           "loop_gap_max_ms": _r(self.supervisor_stats.gauge("loop_gap_max_ms"), 1)},
            "weights_version": self.weights.version,
            "book_risk": self._book_risk(),
            "shards": shards,
            "processes": processes,
        }

    def worker_blocks(self) -> list[tuple[int, str, dict[str, Any]]]:
        """(shard, mode in force, one copy of the shard worker's stats block) for every shard."""
        return [(k, self.control.mode(k), w.copy()) for k, w in enumerate(self.worker_stats)]

    def _feed_latency(self) -> dict[str, Any]:
        """The live feed's receive-to-publish (µs) and exchange-to-receive (ms) percentiles."""
        out: dict[str, Any] = {}
        for name, unit, div in (("recv_to_publish", "us", 1e3), ("exch_to_recv", "ms", 1e6)):
            h = self.md_stats.hist(name).counts()
            n = int(h.sum())
            out[name] = {f"p50_{unit}": _r(percentile_from_counts(h, 50) / div, 3) if n else None,
                         f"p99_{unit}": _r(percentile_from_counts(h, 99) / div, 3) if n else None, "count": n}
        return out

    def _book_risk(self) -> dict[str, Any]:
        r = self.risk.read_row()
        return {"state": STATES[r.state] if r.state < len(STATES) else "?",
                "reason": REASONS[r.reason] if r.reason < len(REASONS) else "?",
                "total_pnl_usd": _r(r.total_pnl_usd, 6), "peak_pnl_usd": _r(r.peak_pnl_usd, 6),
                "gross_usd": _r(r.gross_usd, 2)}

    def _orders(self, i: int, row: Any, snap: tuple | None, mono: int, rate: float, mid: float, pos: float,
                guard: int, reasons: int) -> dict[str, Any]:
        """What the live screen shows of an instrument beside its prices: our orders' sizes, ages
        (event time) and queue ahead, the position's USD value, the last tick's guard and reasons."""
        spec = self.specs[i]
        now = event_now(snap[RECV_NS], snap[PUBLISH_NS], mono, rate) if snap else 0
        value = _r(spec.notional_usd(mid, pos), 2) if math.isfinite(mid) else None
        out: dict[str, Any] = {"digits": spec.digits, "lot_digits": spec.lot_digits, "position_usd": value,
                               "guard": Guard(guard).name.lower() if guard < len(Guard) else "?",
                               "reasons": [n for k, n in enumerate(Reason.NAMES) if reasons >> k & 1]}
        for side in ("bid", "ask"):
            o = getattr(row, side) if row else None
            out[f"{side}_qty"] = o.qty if o else None
            # UNSEEN (-1): the venue cannot see the order's level (no depth behind the touch)
            out[f"{side}_queue"] = (None if o is None else UNSEEN if o.level_qty < 0
                                    else _r(o.queue_ahead, spec.lot_digits))
            out[f"{side}_age_s"] = _r(max(0, now - o.placed_ns) / 1e9, 1) if o and now else None
        return out

    def worker_totals(self, copies: list[dict] | None = None
                      ) -> tuple[dict[str, int], dict[str, tuple[np.ndarray, int]]]:
        """Every worker counter, and every histogram as (bucket counts, sum of ns), summed over
        the workers from one copy of each block."""
        copies = copies if copies is not None else [w.copy() for w in self.worker_stats]
        counters = {k: sum(c["counters"][k] for c in copies) for k in WORKER_STATS.counters}
        hists = {k: (sum(c["histograms"][k]["counts"] for c in copies),
                     sum(c["histograms"][k]["sum_ns"] for c in copies)) for k in WORKER_STATS.histograms}
        return counters, hists


def _shard_latency(copy: dict) -> dict[str, Any]:
    """One shard's stage p95s and market-data-to-intent p50/p99, µs, from its block's copy."""
    h = copy["histograms"]
    stages = {name: _r(percentile_from_counts(h[name]["counts"], 95) / 1000.0, 3)
              for name in TIMED if int(h[name]["counts"].sum())}
    md = h["md_to_intent"]["counts"]
    n = int(md.sum())
    return {"stage_p95_us": stages, "md_to_intent": {
        "p50_us": _r(percentile_from_counts(md, 50) / 1000.0, 3) if n else None,
        "p99_us": _r(percentile_from_counts(md, 99) / 1000.0, 3) if n else None, "count": n}}


def format_status(s: dict[str, Any]) -> str:
    """The live table: per instrument, then stage p95 and md-to-intent, then processes."""
    head = (f"quotepipe {s['instance']}: up {s['uptime_s']:.1f} s, epoch {s['epoch']}, "
            f"{s['events']:,} md updates ({s['events_per_s']:,.0f}/s), restarts {s['restarts']}, "
            f"ring overruns {s['ring_overruns']}, deadline misses {s['deadline_misses']}"
            + (", HALTED" if s["halted"] else ""))
    lines = [head, ""]
    lines.append(f"{'instrument':<28}{'mid':>14}{'bid quoted':>14}{'ask quoted':>14}{'position':>12}"
                 f"{'weight':>8}{'fills':>8}{'intents':>9}{'pnl usd':>11}")

    def px(v: float | None) -> str:
        return "-" if v is None else f"{v:,.6g}"

    for iid, r in s["instruments"].items():
        w = "blk" if r["blacklisted"] else f"{r['weight']:.2f}"
        lines.append(f"{iid:<28}{px(r['mid']):>14}{px(r['bid']):>14}{px(r['ask']):>14}"
                     f"{r['position']:>12.6g}{w:>8}{r['fills']:>8,}{r['intents']:>9,}{r['pnl_usd']:>11,.2f}")
    lines.append("")
    if s["stages"]:
        lines.append("stage p95 us  " + "  ".join(f"{k} {v['p95_us']:.2f}" for k, v in s["stages"].items()))
    m = s["md_to_intent"]
    if m["count"]:
        lines.append(f"md->intent    p50 {m['p50_us']:.1f} us  p99 {m['p99_us']:.1f} us  "
                     f"({m['count']:,} intents)")
    procs = []
    for p in s["processes"]:
        name = f"{p['role']} {p['index']}" if p["role"] == "worker" else p["role"]
        cpu = "-" if p["cpu"] is None else p["cpu"]
        procs.append(f"{name} pid {p['pid']} cpu {cpu}" + (f" restarts {p['restarts']}" if p["restarts"]
                                                           else ""))
    lines.append("processes     " + " | ".join(procs))
    halted = [str(sh["shard"]) for sh in s["shards"] if sh["halted"]]
    modes = ", ".join(f"{sh['shard']}:{sh['mode']}" for sh in s["shards"])
    lines.append(f"shards        {modes}" + (f"  halted: {', '.join(halted)}" if halted else ""))
    stopped = s["operator"]["halted_instruments"]
    if stopped:
        lines.append("halted by the operator: " + ("every instrument" if s["operator"]["halt_all"]
                                                   else ", ".join(stopped)))
    return "\n".join(lines)

