"""Prometheus /metrics, produced at scrape time from shared memory.

A custom collector (no ``prometheus_client`` call ever runs in a hot loop):
each scrape reads the instance through ``InstanceView`` and the workers'
log-linear histograms, re-bucketed to fixed microsecond bounds.
"""

from __future__ import annotations

import platform
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import psutil
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)

from quotepipe import __version__
from quotepipe.daemon.view import InstanceView
from quotepipe.domain.stages import TIMED
from quotepipe.shm.catalog import LIVE_FEED_COUNTERS
from quotepipe.shm.stats import _UPPER

#: Prometheus bucket bounds, seconds: 0.5 µs ... 100 ms
BOUNDS_S = (5e-7, 1e-6, 2e-6, 3e-6, 5e-6, 7.5e-6, 1e-5, 1.5e-5, 2e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4,
            1e-3, 1e-2, 1e-1)
PER_INSTRUMENT = ("position", "pnl_usd", "weight", "score", "net_bps", "fill_rate", "slippage_bps",
                  "queue_edge", "adverse_penalty", "mid")
PER_INSTRUMENT_COUNTERS = ("md_updates", "ticks", "intents", "fills", "rejects")
#: per-shard counters: (worker stats counter, metric name, help)
SHARD_COUNTERS = (
    ("ticks", "worker_ticks", "Chain ticks"),
    ("intents", "intents", "Intents written to the intent ring"),
    ("deadline_misses", "deadline_misses", "Ticks slower than stage_budgets.deadline_us"),
    ("shadow_mismatches", "shadow_mismatches", "Shadow mode: pipeline intent != legacy intent"),
    ("coalesced", "worker_coalesced", "Snapshot announcements folded into one tick (load shedding)"),
    ("seqlock_give_ups", "worker_seqlock_give_ups", "Reads that gave up on a record mid-write"),
)
RELOAD_RESULTS = ("ok", "refused", "unchanged")


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
    """Every family at scrape time. Per-worker figures carry ``shard`` and ``mode`` labels, so a
    canary and its control can be compared (``sum()`` over them gives the instance)."""

    def __init__(self, view: InstanceView) -> None:
        self.view = view
        self.lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        with self.lock:  # one scrape at a time reads the view
            s = self.view.collect()
            shards = self.view.worker_blocks()
            md_block = self.view.md_stats.copy()
        yield from self._feed(md_block)
        yield from self._instance(s)
        yield from self._shards(shards)
        yield from self._processes(s)
        yield from self._instruments(s)

    def _shards(self, shards: list[tuple[int, str, dict[str, Any]]]) -> Iterator[Metric]:
        labels = ["shard", "mode"]
        stage = HistogramMetricFamily("quotepipe_stage_seconds", "Stage latency per tick",
                                      labels=["stage", *labels])
        md2i = HistogramMetricFamily("quotepipe_md_to_intent_seconds",
                                     "Snapshot publish to intent written on the ring", labels=labels)
        md2t = HistogramMetricFamily("quotepipe_md_to_tick_seconds",
                                     "Snapshot publish to the chain's intent, every tick an update ran",
                                     labels=labels)
        counters = {name: CounterMetricFamily(f"quotepipe_{metric}", doc, labels=labels)
                    for name, metric, doc in SHARD_COUNTERS}
        events = CounterMetricFamily("quotepipe_worker_events", "Worker actions, guards and guard reasons",
                                     labels=["event", *labels])
        fields = CounterMetricFamily("quotepipe_shadow_mismatch_fields",
                                     "Shadow mismatches by the intent field that differs",
                                     labels=["field", *labels])
        for shard, mode, block in shards:
            lv = [str(shard), mode]
            for name in TIMED:
                h = block["histograms"][name]
                buckets, total = prometheus_buckets(h["counts"], h["sum_ns"])
                stage.add_metric([name, *lv], buckets, total)
            for latency, name in ((md2i, "md_to_intent"), (md2t, "md_to_tick")):
                h = block["histograms"][name]
                buckets, total = prometheus_buckets(h["counts"], h["sum_ns"])
                latency.add_metric(lv, buckets, total)
            c = block["counters"]
            for name, family in counters.items():
                family.add_metric(lv, c[name])
            for name, v in c.items():
                if name.startswith(("action_", "guard_", "reason_")):
                    events.add_metric([name, *lv], v)
                elif name.startswith("shadow_") and name != "shadow_mismatches":
                    fields.add_metric([name.removeprefix("shadow_"), *lv], v)
        yield stage
        yield md2i
        yield md2t
        yield from counters.values()
        yield events
        yield fields

    def _feed(self, block: dict[str, Any]) -> Iterator[Metric]:
        """The live feed (feed.kind: binance): its two latencies and its connection counters."""
        for name, metric, doc in (
                ("recv_to_publish", "quotepipe_feed_receive_to_publish_seconds",
                 "Live feed: frame received to snapshot published (decode, book, publish)"),
                ("exch_to_recv", "quotepipe_feed_exchange_to_receive_seconds",
                 "Live feed: the venue's event time to our receive time (includes clock offset)")):
            h = block["histograms"][name]
            buckets, total = prometheus_buckets(h["counts"], h["sum_ns"])
            fam = HistogramMetricFamily(metric, doc)
            fam.add_metric([], buckets, total)
            yield fam
        events = CounterMetricFamily("quotepipe_feed_events", "Live feed: connections, reconnects, frames, "
                                     "snapshots, resyncs", labels=["event"])
        for name in LIVE_FEED_COUNTERS:
            events.add_metric([name], block["counters"][name])
        yield events

    def _instance(self, s: dict[str, Any]) -> Iterator[Metric]:
        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"quotepipe_{name}", doc, value=value)

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            return CounterMetricFamily(f"quotepipe_{name}", doc, value=value)

        info = InfoMetricFamily("quotepipe_build", "The quotepipe build serving these metrics")
        info.add_metric([], {"version": __version__, "python": platform.python_version(),
                             "instance_name": s["instance"]})  # "instance" is Prometheus's own label
        yield info
        yield gauge("config_epoch", "Config epoch in force (1 at start, +1 per accepted reload)", s["epoch"])
        reloads = CounterMetricFamily("quotepipe_reloads", "SIGHUP reloads by result", labels=["result"])
        for result in RELOAD_RESULTS:
            reloads.add_metric([result], s["supervisor"][f"reloads_{result}"])
        yield reloads
        yield gauge("halted", "1 while the whole instance is halted", float(s["halted"]))
        yield counter("md_updates", "Snapshots published by market data", s["events"])
        overruns = CounterMetricFamily("quotepipe_ring_overruns", "Ring records lost by a lapped reader",
                                       labels=["reader", "ring"])
        for reader, ring, n in s["ring_overruns_by_reader"]:
            overruns.add_metric([reader, ring], n)
        yield overruns
        yield counter("venue_fills", "Paper fills", s["venue"]["fills"])
        yield counter("venue_rejects", "Post-only rejects", s["venue"]["rejects"])
        yield gauge("venue_open_orders", "Orders in flight or resting", s["venue"]["open_orders"])
        yield gauge("total_pnl_usd", "Total PnL, USD at mid", s["total_pnl_usd"])
        md = CounterMetricFamily("quotepipe_md_messages", "Market-data messages by kind", labels=["kind"])
        for kind in ("book_ticker", "depth", "trade", "snapshot", "malformed", "resyncs", "crossed",
                     "off_tick"):
            md.add_metric([kind], s["market_data"][kind])
        yield md
        shard = GaugeMetricFamily("quotepipe_shard_halted", "1 when a shard is halted",
                                  labels=["shard", "mode"])
        for sh in s["shards"]:
            shard.add_metric([str(sh["shard"]), sh["mode"]], float(sh["halted"]))
        yield shard
        yield counter("supervisor_silent_kills", "Children killed for no progress while the supervisor ran "
                      "(supervisor.heartbeat_timeout_ms)", s["supervisor"]["silent_kills"])
        yield counter("venue_silence_cancels", "Dead-man's switch: cancels of a silent worker's orders "
                      "(venue.cancel_on_silence_ms)", s["venue"]["silence_cancels"])
        yield counter("operator_commands", "quotepipe halt / resume commands applied",
                      s["operator"]["commands"])

    def _processes(self, s: dict[str, Any]) -> Iterator[Metric]:
        labels = ["role", "index"]
        restarts = CounterMetricFamily("quotepipe_restarts", "Process restarts", labels=labels)
        stalls = CounterMetricFamily("quotepipe_process_stalls",
                                     "Loop turns over 250 ms apart: a starved, stopped or stalled process",
                                     labels=labels)
        gap = GaugeMetricFamily("quotepipe_process_loop_gap_max_seconds",
                                "Longest gap between two of a process's loop turns", labels=labels)
        age = GaugeMetricFamily("quotepipe_process_heartbeat_age_seconds", "Time since the last heartbeat",
                                labels=labels)
        cpu = CounterMetricFamily("quotepipe_process_cpu_seconds", "CPU time (user + system)",
                                  labels=labels)
        rss = GaugeMetricFamily("quotepipe_process_resident_memory_bytes", "Resident memory",
                                labels=labels)
        for p in s["processes"]:
            lv = [p["role"], str(p["index"])]
            if p["role"] != "supervisor":
                restarts.add_metric(lv, p["restarts"])
                if p["heartbeat_age_ms"] is not None:
                    age.add_metric(lv, p["heartbeat_age_ms"] / 1e3)
            stalls.add_metric(lv, p["stalls"])
            gap.add_metric(lv, (p["loop_gap_max_ms"] or 0.0) / 1e3)
            try:
                proc = psutil.Process(p["pid"])
                with proc.oneshot():
                    t = proc.cpu_times()
                    cpu.add_metric(lv, t.user + t.system)
                    rss.add_metric(lv, float(proc.memory_info().rss))
            except (psutil.Error, ValueError):  # gone between the table and the look: skipped
                continue
        yield from (restarts, stalls, gap, age, cpu, rss)

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
        halted = GaugeMetricFamily("quotepipe_instrument_operator_halted",
                                   "1 while the operator has it halted (quotepipe halt)",
                                   labels=["instrument"])
        for iid, row in s["instruments"].items():
            blk.add_metric([iid], float(row["blacklisted"]))
            halted.add_metric([iid], float(row["operator_halted"]))
        yield blk
        yield halted
        fits = [GaugeMetricFamily(f"quotepipe_arrival_{name}", doc, labels=["instrument"]) for name, doc in (
            ("a", "Fitted order-arrival intensity A at the mid, per spread.vol_interval_ms"),
            ("k_per_bps", "Fitted decay of the order-arrival intensity per bps from the mid"),
            ("sigma_bps", "Scoreboard's sigma of mid returns per spread.vol_interval_ms, bps"),
            ("fitted", "1 once the arrival fit is ready (and used by glft/avellaneda_stoikov)"))]
        for iid, row in s["instruments"].items():
            f = row["arrival_fit"]
            for g, v in zip(fits, (f["a"], f["k_per_bps"], f["sigma_bps"], f["fitted"]), strict=True):
                g.add_metric([iid], float("nan") if v is None else float(v))
        yield from fits
        for field in PER_INSTRUMENT_COUNTERS:
            c = CounterMetricFamily(f"quotepipe_instrument_{field}", f"Per instrument: {field}",
                                    labels=["instrument"])
            for iid, row in s["instruments"].items():
                c.add_metric([iid], row[field])
            yield c


def start_metrics_server(listen: str, port: int, view: InstanceView) -> Any:
    """Serve /metrics from a daemon thread (``prometheus_client.start_http_server``: IPv4 or
    IPv6, ``::1`` included); raises OSError when the address cannot be bound."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(QuotepipeCollector(view))
    server, _thread = start_http_server(port, addr=listen, registry=registry)
    return server
