"""The A/B gate: a base commit against the working tree, on wall time or on instructions.

Wall time (``--counter wall``): the host is checked first (``host.host_check``);
A/A replicates of the base measure this host's noise, which sizes the replicate
count for the threshold; then base and current replicates run interleaved in a
random order on the same cores, and each gated figure is compared
(``decide.compare``). A failure is confirmed by an automatic re-run: only a
figure that fails both times fails the gate. On a host that cannot resolve the
threshold every verdict is *inconclusive*.

Instructions (``--counter instructions``): both trees' stages are counted under
callgrind on the same workload, one counted region a stage
(``runner.count_layouts``, the median over layouts), and compared on the ratio
(``decide.compare_counts``). Deterministic, so
it gates at 1-2% on a shared CI machine.
"""

from __future__ import annotations

import math
import random
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from quotepipe.config import Config
from quotepipe.gate import host
from quotepipe.gate.bench import GATED, budgets_us, collect, over_budget, summarise
from quotepipe.gate.decide import (
    FAIL,
    INCONCLUSIVE,
    MIN_REPLICATES,
    Finding,
    compare,
    compare_counts,
    overall,
)
from quotepipe.gate.runner import (
    COUNTED,
    Tree,
    copied,
    count_layouts,
    current_tree,
    median_counts,
    time_replicate,
    worktree,
)
from quotepipe.gate.runner import write_workload as _write_workload
from quotepipe.gate.stats import cv

Progress = Callable[[str], None] | None
Z_ALPHA, Z_POWER = 2.326, 1.645  # one-sided 1% significance, 95% power


def replicates_for(noise_cv: float, threshold_pct: float, max_replicates: int) -> int:
    """Replicates per side to see ``threshold_pct`` over noise of ``noise_cv`` (normal
    approximation, two samples), at least ``MIN_REPLICATES``."""
    t = threshold_pct / 100.0
    n = math.ceil(2 * (Z_ALPHA + Z_POWER) ** 2 * noise_cv ** 2 / t ** 2) if t > 0 else max_replicates
    return max(MIN_REPLICATES, min(max_replicates, n))


def _interleaved(trees: Sequence[Tree], n: int, wl: Path, ticks: int, cores: Sequence[int | None],
                 rng: random.Random, progress: Progress) -> dict[str, list[dict[str, Any]]]:
    order = [t for t in trees for _ in range(n)]
    rng.shuffle(order)
    out: dict[str, list[dict[str, Any]]] = {t.label: [] for t in trees}
    for k, tree in enumerate(order):
        if progress:
            progress(f"replicate {k + 1}/{len(order)}: {tree.label}")
        out[tree.label].append(time_replicate(tree, wl, ticks, cores[k % len(cores)]))
    return out


def _findings(base: dict[str, list[float]], cur: dict[str, list[float]], threshold: float) -> list[Finding]:
    return [compare(name, base.get(name, []), cur.get(name, []), threshold) for name in GATED]


def wall_gate(cfg: Config, ref: str, paths: Sequence[str], events: int | None, ticks: int,
              cores: Sequence[int | None], threshold: float, max_replicates: int, seed: int | None,
              progress: Progress = None) -> dict[str, Any]:
    checks = host.host_check([c for c in cores if c is not None])
    resolvable = host.can_resolve_wall_time(checks)
    rng = random.Random(seed)
    current = current_tree()
    with worktree(ref) as base, tempfile.TemporaryDirectory(prefix="quotepipe-gate-") as tmp:
        wl = Path(tmp) / "workload.msgpack"
        _write_workload(cfg, paths, events, wl)
        aa_base = Tree("aa", base.src, base.commit)
        aa = _interleaved([base, aa_base], 4, wl, ticks, cores, rng, progress)
        noise = {name: cv(v) for name, v in collect(aa["base"] + aa["aa"]).items()}
        worst = max((noise.get(name, 0.0) for name in GATED), default=0.0)
        n = replicates_for(worst, threshold, max_replicates)
        runs: list[dict[str, Any]] = []
        findings: list[Finding] = []
        for attempt in (1, 2):
            reps = _interleaved([base, current], n, wl, ticks, cores, rng, progress)
            b, c = collect(reps["base"]), collect(reps["current"])
            findings = _findings(b, c, threshold)
            runs.append({"replicates": n, "base": summarise(b), "current": summarise(c),
                         "findings": findings})
            if overall(findings) != FAIL or attempt == 2:
                break
            if progress:
                progress("a figure failed: confirming with a re-run")
        if len(runs) == 2:  # only what failed both times fails
            failed_first = {f.figure for f in runs[0]["findings"] if f.verdict == FAIL}
            findings = [f if f.verdict != FAIL or f.figure in failed_first else
                        _as(f, INCONCLUSIVE, "failed once, not confirmed by the re-run")
                        for f in runs[1]["findings"]]
        cur_summary: dict[str, dict[str, Any]] = runs[-1]["current"]
    if not resolvable:
        why = "; ".join(f"{c.name}: {c.detail}" for c in checks if not c.ok)
        findings = [_as(f, INCONCLUSIVE, f"this host cannot resolve wall time ({why})") for f in findings]
    budget_failures = over_budget(cur_summary, budgets_us(cfg))
    return _report("wall", ref, base, current, threshold, findings, budget_failures,
                   {"host_check": msgspec.to_builtins(checks), "aa_noise_cv": noise,
                    "runs": msgspec.to_builtins(runs)})


def instruction_gate(cfg: Config, ref: str, paths: Sequence[str], events: int | None, ticks: int,
                     threshold: float, progress: Progress = None) -> dict[str, Any]:
    with worktree(ref) as base, copied(current_tree()) as current, \
            tempfile.TemporaryDirectory(prefix="quotepipe-gate-") as tmp:
        wl = Path(tmp) / "workload.msgpack"
        _write_workload(cfg, paths, events, wl)
        layouts = {t.label: count_layouts(t, wl, ticks, progress) for t in (base, current)}
    counts = {label: median_counts(by) for label, by in layouts.items()}
    findings = [compare_counts(f"{name}.instructions", counts["base"][name], counts["current"][name],
                               threshold) for name in COUNTED]
    return _report("instructions", ref, base, current, threshold, findings, [],
                   {"instructions_per_call": counts, "ticks": ticks,
                    "instructions_per_layout": {label: {str(k): v for k, v in by.items()}
                                                for label, by in layouts.items()}})


def _as(f: Finding, verdict: str, reason: str) -> Finding:
    return msgspec.structs.replace(f, verdict=verdict, reason=reason)


def _report(counter: str, ref: str, base: Tree, current: Tree, threshold: float, findings: list[Finding],
            budget_failures: list[dict[str, Any]], extra: dict[str, Any]) -> dict[str, Any]:
    verdict = FAIL if budget_failures else overall(findings)
    return {"kind": "quotepipe-gate", "counter": counter, "against": ref, "base": base.commit,
            "current": current.commit, "threshold_pct": threshold, "verdict": verdict,
            "findings": msgspec.to_builtins(findings), "over_budget": budget_failures,
            "fingerprint": msgspec.to_builtins(host.fingerprint()), **extra}


def compare_files(baseline: dict[str, Any], current: dict[str, Any], threshold: float,
                  cfg: Config) -> dict[str, Any]:
    """``--baseline FILE --current FILE``: two bench reports from the same host."""
    fb = host.Fingerprint(**baseline["fingerprint"])
    fc = host.Fingerprint(**current["fingerprint"])
    differ = fb.comparable(fc)
    b = {k: v["values"] for k, v in baseline["figures"].items()}
    c = {k: v["values"] for k, v in current["figures"].items()}
    findings = _findings(b, c, threshold)
    if differ:
        findings = [_as(f, INCONCLUSIVE, f"the hosts' fingerprints differ in {', '.join(differ)}")
                    for f in findings]
    budget_failures = over_budget(current["figures"], budgets_us(cfg))
    verdict = FAIL if budget_failures else overall(findings)
    return {"kind": "quotepipe-gate", "counter": "wall", "base": baseline.get("commit"),
            "current": current.get("commit"), "threshold_pct": threshold, "verdict": verdict,
            "findings": msgspec.to_builtins(findings), "over_budget": budget_failures,
            "fingerprints_differ": differ}
