"""``quotepipe bench``: wall-time replicates of the stage chain, with budgets and a fingerprint.

Each replicate is one fresh process, pinned to a core of ``--cores`` (taken in
turn), warmed up, timing every tick per stage and the whole tick. A figure's
value is the median over replicates, its spread the range and the CV. A stage
whose median p95 is over its budget (``stage_budgets``: ``<stage>_us``,
``tick_total_us``) fails, naming the budget, whatever any comparison says.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from quotepipe.config import Config
from quotepipe.gate import host
from quotepipe.gate.runner import COUNTED, Tree, current_tree, time_replicate, write_workload
from quotepipe.gate.stats import cv, median

KIND = "quotepipe-bench"
#: the figures a wall-time gate judges; per-stage p99 is reported, not gated
GATED = (*(f"{s}.{q}" for s in COUNTED[:-1] for q in ("p50_us", "p95_us")), "tick_total.p95_us",
         "tick_total.p99_us")


def budgets_us(cfg: Config) -> dict[str, float]:
    b = cfg.stage_budgets
    return {**{s: getattr(b, f"{s}_us") for s in COUNTED[:-1]}, "tick_total": b.tick_total_us}


def over_budget(figures: dict[str, dict[str, Any]], budgets: dict[str, float]) -> list[dict[str, Any]]:
    """Stages whose median p95 is over budget, each named with its budget."""
    out = []
    for stage, budget in budgets.items():
        p95 = figures.get(f"{stage}.p95_us", {}).get("median", math.nan)
        if p95 > budget:
            key = "tick_total_us" if stage == "tick_total" else f"{stage}_us"
            out.append({"stage": stage, "p95_us": p95, "budget_us": budget,
                        "budget": f"stage_budgets.{key}"})
    return out


def summarise(samples: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    return {name: {"median": median(v), "min": min(v), "max": max(v), "cv": cv(v), "values": v}
            for name, v in samples.items() if v}


def collect(replicates: Sequence[dict[str, Any]]) -> dict[str, list[float]]:
    """Per figure (``stage.p50_us``, ...), one value per replicate."""
    samples: dict[str, list[float]] = {}
    for rep in replicates:
        for stage, fig in rep["figures"].items():
            for q in ("p50_us", "p95_us", "p99_us"):
                samples.setdefault(f"{stage}.{q}", []).append(fig[q])
    return samples


def run_bench(cfg: Config, paths: Sequence[str], replicates: int, ticks: int, cores: Sequence[int | None],
              events: int | None = None, tree: Tree | None = None,
              progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    tree = tree or current_tree()
    load_before = host.load_now()
    with tempfile.TemporaryDirectory(prefix="quotepipe-bench-") as tmp:
        wl = Path(tmp) / "workload.msgpack"
        n_ticks = write_workload(cfg, paths, events, wl)
        reps = []
        t0 = time.monotonic()
        for k in range(replicates):
            if progress:
                progress(f"replicate {k + 1}/{replicates} on cpu {cores[k % len(cores)]} "
                         f"({time.monotonic() - t0:.0f} s)")
            reps.append(time_replicate(tree, wl, ticks, cores[k % len(cores)]))
    figures = summarise(collect(reps))
    budgets = budgets_us(cfg)
    return {
        "kind": KIND, "version": 1, "commit": tree.commit,
        "fingerprint": msgspec.to_builtins(host.fingerprint()),
        "load": {"before": load_before, "after": host.load_now()},
        "workload": {"paths": list(paths), "events": events, "ticks": min(ticks, n_ticks) if ticks
                     else n_ticks},
        "replicates": replicates, "cores": list(cores), "figures": figures,
        "deadline_misses": [r["deadline_misses"] for r in reps],
        "budgets_us": budgets, "over_budget": over_budget(figures, budgets),
    }
