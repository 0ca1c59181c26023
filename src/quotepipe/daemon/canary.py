"""``quotepipe canary``: a running instance's shards side by side, by mode, and the phase's verdict.

The shards are grouped by the mode they run now (legacy, shadow, pipeline).
Legacy is the control; shadow and pipeline are the canary of their phase. The
gates are the rollout plan's, with ``rollout`` in the config holding the
thresholds:

- shadow: the pipeline's intents are identical to legacy's (0 mismatches);
- pipeline against legacy: tick_total p95 at most ``max_p95_regression_pct``
  above legacy's, once both groups have ``min_ticks`` ticks;
- every canary group: deadline misses under ``max_deadline_miss_pct`` of ticks;
- no allocator death spiral: the canary instruments' mean weight at least
  ``min_weight_ratio`` times the control's, and none of them blacklisted.

A gate without the groups or the ticks it needs is ``n/a`` (not run), and says
so; the verdict is healthy when no gate fails and at least one ran.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from quotepipe.config import Config
from quotepipe.daemon.view import InstanceView
from quotepipe.shm.stats import percentile_from_counts

MODES = ("legacy", "shadow", "pipeline")
GUARD_TRIPS = ("guard_pull", "guard_reduce_only", "guard_hold")


def _us(counts: np.ndarray, q: float) -> float | None:
    v = percentile_from_counts(counts, q)
    return None if math.isnan(v) else round(v / 1000.0, 3)


def groups(view: InstanceView, status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per mode in use: its shards and the figures that compare a canary with its control."""
    blocks: dict[str, list[dict[str, Any]]] = {}
    shards: dict[str, list[int]] = {}
    for shard, mode, block in view.worker_blocks():
        blocks.setdefault(mode, []).append(block)
        shards.setdefault(mode, []).append(shard)
    out: dict[str, dict[str, Any]] = {}
    for mode in MODES:
        if mode not in blocks:
            continue
        bs = blocks[mode]
        tick = sum(b["histograms"]["tick_total"]["counts"] for b in bs)
        md2i = sum(b["histograms"]["md_to_intent"]["counts"] for b in bs)
        ticks = sum(b["counters"]["ticks"] for b in bs)
        misses = sum(b["counters"]["deadline_misses"] for b in bs)
        rows = [r for r in status["instruments"].values() if r["shard"] in shards[mode]]
        fills = sum(r["fills"] for r in rows)
        weights = [r["weight"] for r in rows if r["weight"] is not None]
        out[mode] = {
            "shards": shards[mode],
            "instruments": len(rows),
            "ticks": ticks,
            "timed_ticks": int(tick.sum()),
            "tick_total_p95_us": _us(tick, 95), "tick_total_p99_us": _us(tick, 99),
            "md_to_intent_p99_us": _us(md2i, 99),
            "deadline_miss_pct": round(100.0 * misses / ticks, 4) if ticks else None,
            "shadow_mismatches": sum(b["counters"]["shadow_mismatches"] for b in bs),
            "guard_trips": sum(b["counters"][g] for b in bs for g in GUARD_TRIPS),
            "fills": fills,
            "net_bps": round(sum((r["net_bps"] or 0.0) * r["fills"] for r in rows) / fills, 4)
            if fills else None,
            "weight_min": round(min(weights), 4) if weights else None,
            "weight_mean": round(sum(weights) / len(weights), 4) if weights else None,
            "weight_max": round(max(weights), 4) if weights else None,
            "blacklisted": sum(1 for r in rows if r["blacklisted"]),
        }
    return out


def _gate(name: str, ok: bool | None, detail: str) -> dict[str, Any]:
    return {"gate": name, "result": "n/a" if ok is None else ("pass" if ok else "FAIL"), "detail": detail}


def verdict(cfg: Config, g: dict[str, dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """The phase (what the modes say) and each gate's result."""
    r = cfg.rollout
    control = g.get("legacy")
    canaries = [m for m in ("shadow", "pipeline") if m in g]
    phase = ("rollback (all legacy)" if not canaries else "shadow" if "shadow" in g and "pipeline" not in g
             else "full pipeline" if control is None and "shadow" not in g else "canary")
    gates = []
    if "shadow" in g:
        n = g["shadow"]["shadow_mismatches"]
        gates.append(_gate("shadow identical to legacy", n == 0, f"{n:,} mismatches"))
    pipe = g.get("pipeline")
    if pipe and control:
        a, b = pipe["tick_total_p95_us"], control["tick_total_p95_us"]
        enough = min(pipe["timed_ticks"], control["timed_ticks"]) >= r.min_ticks and a and b
        limit = (b or 0.0) * (1 + r.max_p95_regression_pct / 100)
        gates.append(_gate(f"tick_total p95 within +{r.max_p95_regression_pct:g}% of legacy",
                           (a <= limit) if enough else None,
                           f"pipeline {a} us, legacy {b} us, limit {limit:.3f} us" if enough else
                           f"needs {r.min_ticks:,} timed ticks a group (pipeline {pipe['timed_ticks']:,}, "
                           f"legacy {control['timed_ticks']:,})"))
    for mode in canaries:
        pct = g[mode]["deadline_miss_pct"]
        gates.append(_gate(f"{mode} deadline misses under {r.max_deadline_miss_pct:g}%",
                           None if pct is None else pct < r.max_deadline_miss_pct,
                           "no ticks yet" if pct is None else f"{pct:g}% of {g[mode]['ticks']:,} ticks"))
    if pipe and control:
        cw, lw = pipe["weight_mean"], control["weight_mean"]
        ok = None if cw is None or lw is None else (cw >= r.min_weight_ratio * lw and not pipe["blacklisted"])
        gates.append(_gate("no allocator death spiral", ok,
                           f"mean weight pipeline {cw}, legacy {lw} (at least x{r.min_weight_ratio:g}); "
                           f"{pipe['blacklisted']} pipeline instruments blacklisted"))
    return phase, gates


def report(view: InstanceView) -> dict[str, Any]:
    status = view.collect()
    g = groups(view, status)
    phase, gates = verdict(view.cfg, g)
    ran = [x for x in gates if x["result"] != "n/a"]
    healthy = bool(ran) and all(x["result"] == "pass" for x in ran)
    return {"instance": status["instance"], "epoch": status["epoch"], "phase": phase, "groups": g,
            "gates": gates, "healthy": healthy}


ROWS = (("shards", "shards"), ("instruments", "instruments"), ("ticks", "ticks"),
        ("tick_total_p95_us", "tick_total p95 us"), ("tick_total_p99_us", "tick_total p99 us"),
        ("md_to_intent_p99_us", "md->intent p99 us"), ("deadline_miss_pct", "deadline miss %"),
        ("shadow_mismatches", "shadow mismatches"), ("guard_trips", "guard trips"), ("fills", "fills"),
        ("net_bps", "net bps"), ("weight_min", "weight min"), ("weight_mean", "weight mean"),
        ("weight_max", "weight max"), ("blacklisted", "blacklisted"))


def format_report(rep: dict[str, Any]) -> str:
    modes = list(rep["groups"])
    head = [f"quotepipe {rep['instance']}: config epoch {rep['epoch']}, phase: {rep['phase']}", "",
            f"{'':<20}" + "".join(f"{m + (' (control)' if m == 'legacy' else ''):>20}" for m in modes)]
    for key, label in ROWS:
        cells = []
        for m in modes:
            v = rep["groups"][m][key]
            text = ",".join(map(str, v)) if isinstance(v, list) else "-" if v is None else (
                f"{v:,}" if isinstance(v, int) else f"{v:g}")
            cells.append(f"{text:>20}")
        head.append(f"{label:<20}" + "".join(cells))
    head.append("")
    for x in rep["gates"]:
        head.append(f"  {x['result']:<5} {x['gate']}: {x['detail']}")
    head.append("")
    head.append("verdict: " + ("healthy" if rep["healthy"] else "NOT healthy"))
    return "\n".join(head)
