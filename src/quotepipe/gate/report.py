"""The gate's and the bench's reports as a table for a terminal (``--json`` writes the dict)."""

from __future__ import annotations

import math
from typing import Any


def _num(x: Any, fmt: str) -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)


def format_gate(r: dict[str, Any]) -> str:
    counts = r["counter"] == "instructions"
    lines = [f"quotepipe gate ({r['counter']}): base {str(r.get('base'))[:12]} "
             f"({r.get('against', 'baseline file')}) vs current {str(r.get('current'))[:18]}, "
             f"threshold +{r['threshold_pct']:g}%", ""]
    if counts:
        lines.append(f"{'figure':<26}{'base':>12}{'current':>12}{'ratio':>9}  verdict")
    else:
        lines.append(f"{'figure':<26}{'base':>9}{'current':>9}{'ratio':>8}{'95% CI':>15}{'p':>8}"
                     f"{'n':>7}  verdict")
    last_reason = ""
    for f in r["findings"]:
        if counts:
            lines.append(f"{f['figure']:<26}{_num(f['base'], ',.0f'):>12}{_num(f['current'], ',.0f'):>12}"
                         f"{_num(f['ratio'], '.4f'):>9}  {f['verdict']}")
        else:
            ci = f"{_num(f['ci_low'], '.3f')}-{_num(f['ci_high'], '.3f')}"
            lines.append(f"{f['figure']:<26}{_num(f['base'], '.3f'):>9}{_num(f['current'], '.3f'):>9}"
                         f"{_num(f['ratio'], '.3f'):>8}{ci:>15}{_num(f['p'], '.3g'):>8}"
                         f"{f['n_base']:>3}/{f['n_current']:<3}  {f['verdict']}")
        if f["verdict"] != "pass" and f["reason"] and f["reason"] != last_reason:
            lines.append(f"    {f['reason']}")  # once, for the figures below that share it
            last_reason = f["reason"]
    for b in r.get("over_budget", []):
        lines.append(f"OVER BUDGET: {b['stage']} p95 {b['p95_us']:.3f} us > {b['budget']} = "
                     f"{b['budget_us']:g} us")
    for c in r.get("host_check", []):
        if not c["ok"]:
            lines.append(f"host: {c['name']}: {c['detail']} (to fix: {c['advice']})")
    lines += ["", f"verdict: {r['verdict'].upper()}"]
    return "\n".join(lines)


def format_bench(r: dict[str, Any]) -> str:
    lines = [f"quotepipe bench: commit {str(r['commit'])[:18]}, {r['replicates']} replicates of "
             f"{r['workload']['ticks']:,} ticks, cores {r['cores']}, load {r['load']['before']:.2f} -> "
             f"{r['load']['after']:.2f}", "",
             f"{'stage':<13}{'p50 us':>9}{'p95 us':>9}{'p99 us':>9}{'p50 CV':>8}{'p95 CV':>8}  budget"]
    fig = r["figures"]
    for stage in (*r["budgets_us"].keys(),):
        p50, p95, p99 = (fig.get(f"{stage}.{q}", {}) for q in ("p50_us", "p95_us", "p99_us"))
        lines.append(f"{stage:<13}{_num(p50.get('median'), '.3f'):>9}{_num(p95.get('median'), '.3f'):>9}"
                     f"{_num(p99.get('median'), '.3f'):>9}{_num(p50.get('cv', math.nan) * 100, '.1f'):>7}%"
                     f"{_num(p95.get('cv', math.nan) * 100, '.1f'):>7}%  {r['budgets_us'][stage]:g} us")
    for b in r["over_budget"]:
        lines.append(f"OVER BUDGET: {b['stage']} p95 {b['p95_us']:.3f} us > {b['budget']} = "
                     f"{b['budget_us']:g} us")
    lines.append(f"deadline misses per replicate: {r['deadline_misses']}")
    return "\n".join(lines)
