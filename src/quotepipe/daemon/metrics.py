"""Prometheus /metrics, produced at scrape time from shared memory.

A custom collector (no ``prometheus_client`` call ever runs in a hot loop):
each scrape reads the instance through ``InstanceView`` and the workers'
log-linear histograms, re-bucketed to fixed microsecond bounds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import ThreadingWSGIServer, _SilentHandler, make_server, make_wsgi_app

from quotepipe.daemon.view import InstanceView
from quotepipe.domain.stages import TIMED
from quotepipe.shm.stats import _UPPER

#: Prometheus bucket bounds, seconds: 0.5 µs ... 100 ms
BOUNDS_S = (5e-7, 1e-6, 2e-6, 3e-6, 5e-6, 7.5e-6, 1e-5, 1.5e-5, 2e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4,
            1e-3, 1e-2, 1e-1)
PER_INSTRUMENT = ("position", "pnl_usd", "weight", "score", "net_bps", "fill_rate", "slippage_bps",
                  "queue_edge", "adverse_penalty", "mid")
PER_INSTRUMENT_COUNTERS = ("md_updates", "ticks", "intents", "fills", "rejects")


def prometheus_buckets(counts: np.ndarray, sum_ns: int) -> tuple[list[tuple[str, float]], float]:
    """Cumulative (le, count) pairs from log-linear bucket counts (a bucket counts toward every
    bound at or above its upper edge), and the sum in seconds."""
    cum = np.cumsum(counts)
    out = []
    for le in BOUNDS_S:
        k = int(np.searchsorted(_UPPER, le * 1e9, side="right"))  # buckets wholly below le
        out.append((repr(le), float(cum[k - 1]) if k else 0.0))
    out.append(("+Inf", float(cum[-1])))
    return out, sum_ns / 1e9


class QuotepipeCollector:
    def __init__(self, view: InstanceView) -> None:
        self.view = view
        self.lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        with self.lock:  # one scrape at a time reads the view
            s = self.view.collect()
            counters, hists = self.view.worker_totals()
        yield from self._instance(s, counters)
        yield from self._instruments(s)
        h = HistogramMetricFamily("quotepipe_stage_seconds", "Stage latency per tick, all workers",
                                  labels=["stage"])
        for name in TIMED:
            buckets, total = prometheus_buckets(*hists[name])
            h.add_metric([name], buckets, total)
        yield h
        buckets, total = prometheus_buckets(*hists["md_to_intent"])
        h = HistogramMetricFamily("quotepipe_md_to_intent_seconds",
                                  "Snapshot publish to intent written on the ring")
        h.add_metric([], buckets, total)
        yield h

    def _instance(self, s: dict[str, Any], counters: dict[str, int]) -> Iterator[Metric]:
        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"quotepipe_{name}", doc, value=value)

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            return CounterMetricFamily(f"quotepipe_{name}", doc, value=value)

        yield gauge("config_epoch", "Config epoch in force (1 at start, +1 per accepted reload)", s["epoch"])
        yield gauge("halted", "1 while the whole instance is halted", float(s["halted"]))
        yield counter("md_updates", "Snapshots published by market data", s["events"])
        yield counter("ring_overruns", "Ring records lost by lapped readers", s["ring_overruns"])
        yield counter("deadline_misses", "Ticks slower than stage_budgets.deadline_us",
                      s["deadline_misses"])
        yield counter("shadow_mismatches", "Shadow mode: pipeline != legacy", s["shadow_mismatches"])
        yield counter("worker_ticks", "Chain ticks, all workers", s["workers"]["ticks"])
        yield counter("intents", "Intents written to the intent rings", s["workers"]["intents"])
        yield counter("venue_fills", "Paper fills", s["venue"]["fills"])
        yield counter("venue_rejects", "Post-only rejects", s["venue"]["rejects"])
        yield gauge("venue_open_orders", "Orders in flight or resting", s["venue"]["open_orders"])
        yield gauge("total_pnl_usd", "Total PnL, USD at mid", s["total_pnl_usd"])
        md = CounterMetricFamily("quotepipe_md_messages", "Market-data messages by kind", labels=["kind"])
        for kind in ("book_ticker", "depth", "trade", "snapshot", "malformed", "resyncs", "crossed"):
            md.add_metric([kind], s["market_data"][kind])
        yield md
        restarts = CounterMetricFamily("quotepipe_restarts", "Process restarts", labels=["role", "index"])
        for p in s["processes"]:
            if p["role"] != "supervisor":
                restarts.add_metric([p["role"], str(p["index"])], p["restarts"])
        yield restarts
        stalls = CounterMetricFamily("quotepipe_process_stalls",
                                     "Loop turns over 250 ms apart: a starved, stopped or stalled process",
                                     labels=["role", "index"])
        gap = GaugeMetricFamily("quotepipe_process_loop_gap_max_seconds",
                                "Longest gap between two of a process's loop turns", labels=["role", "index"])
        for p in s["processes"]:
            stalls.add_metric([p["role"], str(p["index"])], p["stalls"])
            gap.add_metric([p["role"], str(p["index"])], (p["loop_gap_max_ms"] or 0.0) / 1e3)
        yield stalls
        yield gap
        yield counter("supervisor_silent_kills", "Children killed for no progress while the supervisor ran "
                      "(supervisor.heartbeat_timeout_ms)", s["supervisor"]["silent_kills"])
        yield counter("venue_silence_cancels", "Dead-man's switch: cancels of a silent worker's orders "
                      "(venue.cancel_on_silence_ms)", s["venue"]["silence_cancels"])
        yield counter("worker_coalesced", "Snapshot announcements folded into one tick (load shedding)",
                      s["workers"]["coalesced"])
        shard = GaugeMetricFamily("quotepipe_shard_halted", "1 when a shard is halted",
                                  labels=["shard", "mode"])
        for sh in s["shards"]:
            shard.add_metric([str(sh["shard"]), sh["mode"]], float(sh["halted"]))
        yield shard
        actions = CounterMetricFamily("quotepipe_worker_events", "Worker actions, guards and guard reasons",
                                      labels=["event"])
        for name, v in counters.items():
            if name.startswith(("action_", "guard_", "reason_")):
                actions.add_metric([name], v)
        yield actions

    def _instruments(self, s: dict[str, Any]) -> Iterator[Metric]:
        for field in PER_INSTRUMENT:
            g = GaugeMetricFamily(f"quotepipe_instrument_{field}", f"Per instrument: {field}",
                                  labels=["instrument"])
            for iid, row in s["instruments"].items():
                v = row[field]
                g.add_metric([iid], float("nan") if v is None else float(v))
            yield g
        blk = GaugeMetricFamily("quotepipe_instrument_blacklisted", "1 while blacklisted by the allocator",
                                labels=["instrument"])
        for iid, row in s["instruments"].items():
            blk.add_metric([iid], float(row["blacklisted"]))
        yield blk
        for field in PER_INSTRUMENT_COUNTERS:
            c = CounterMetricFamily(f"quotepipe_instrument_{field}", f"Per instrument: {field}",
                                    labels=["instrument"])
            for iid, row in s["instruments"].items():
                c.add_metric([iid], row[field])
            yield c


def start_metrics_server(listen: str, port: int, view: InstanceView) -> ThreadingWSGIServer:
    """Serve /metrics from a daemon thread; raises OSError when the port is taken."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(QuotepipeCollector(view))
    server = make_server(listen, port, make_wsgi_app(registry), ThreadingWSGIServer,
                         handler_class=_SilentHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
