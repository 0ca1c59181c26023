"""Per-stage latency of the quote chain against the legacy QuoteLoop, in one run.

The workload is every book update of the shared recordings as a tick input
(``quotepipe.gate.workload``: snapshots plus resting orders and positions from
an instant-ack venue). Each runner first runs the whole workload once to warm
up, then a fresh runner is timed on it; stage times are ``perf_counter_ns``
deltas recorded into the shm histogram type, as the workers record them.

    python benchmarks/bench_pipeline.py [--json PATH] [--limit N]

Targets on the 2-core dev host: the compiled pipeline's tick_total p50 <= 1.5 us (issue 19),
p99 <= 20 us, and faster than the legacy loop in the same run (p50 ratio < 1).
"""

from __future__ import annotations

import time

from quotepipe.config import Config
from quotepipe.domain.stages import TIMED
from quotepipe.gate.workload import build_workload
from quotepipe.runtime.cpu import host_cpus, pin
from quotepipe.shm.catalog import WORKER_STATS
from quotepipe.shm.stats import StatsBlock
from quotepipe.workers.shadow import make_runner

from _common import data_files, emit, parser, show, spread

QS = (50, 95, 99)


def timed(mode: str, cfg: Config, workload: list) -> dict[str, dict[str, float]]:
    warm = make_runner(mode, cfg, lambda i: None)
    for slot, snap, ctx in workload:
        warm.tick(slot, snap, ctx)
    stats = StatsBlock.local(WORKER_STATS)
    runner = make_runner(mode, cfg, lambda i: None, stats)
    for slot, snap, ctx in workload:
        runner.tick(slot, snap, ctx)
    runner.times.flush()
    summary = stats.summary(QS)
    names = TIMED if mode == "pipeline" else ("tick_total",)
    return {n: {k: round(v, 3) for k, v in summary[n].items()} for n in names}


def _median(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per stage and percentile, the median over the repeats."""
    return {n: {k: spread([r[n][k] for r in runs])["median"] for k in runs[0][n]} for n in runs[0]}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=None, help="use only the first N events")
    p.add_argument("--repeat", type=int, default=3, help="passes of each chain, alternating")
    args = p.parse_args()
    cpus = host_cpus()
    pin(cpus[-1])  # off core 0, where the OS and the md process would be
    cfg = Config()
    t0 = time.perf_counter()
    workload = build_workload(cfg, data_files(), args.limit)
    build_s = time.perf_counter() - t0
    p_runs, l_runs = [], []
    for _ in range(args.repeat):  # alternating, so both see the same drift of this shared host
        p_runs.append(timed("pipeline", cfg, workload))
        l_runs.append(timed("legacy", cfg, workload))
    pipeline, legacy = _median(p_runs), _median(l_runs)
    ratios = spread([a["tick_total"]["p50_us"] / b["tick_total"]["p50_us"]
                     for a, b in zip(p_runs, l_runs, strict=True)])
    figures = {"ticks": len(workload), "repeats": args.repeat, "pipeline": pipeline, "legacy": legacy,
               "pipeline_tick_p50_us": spread([r["tick_total"]["p50_us"] for r in p_runs]),
               "legacy_tick_p50_us": spread([r["tick_total"]["p50_us"] for r in l_runs]),
               "pipeline_over_legacy_p50": ratios,
               "targets": {"tick_total_p50_us": 1.5, "tick_total_p99_us": 20.0, "ratio_p50": 1.0}}
    lines = [f"workload: {len(workload)} ticks from the shared recordings (built in {build_s:.1f} s), "
             f"pinned to cpu {cpus[-1]}; medians over {args.repeat} passes of each; the stages are "
             f"timed on a sample (stage_budgets.sample_every), the samples counted",
             f"{'stage':<12} {'p50 us':>8} {'p95 us':>8} {'p99 us':>8} {'samples':>9}"]
    for name, row in pipeline.items():
        lines.append(f"{name:<12} {row['p50_us']:>8.2f} {row['p95_us']:>8.2f} {row['p99_us']:>8.2f} "
                     f"{int(row['count']):>9,}")
    lt = legacy["tick_total"]
    lines.append(f"{'legacy tick':<12} {lt['p50_us']:>8.2f} {lt['p95_us']:>8.2f} {lt['p99_us']:>8.2f}")
    tt = pipeline["tick_total"]
    lines.append(f"tick_total p50 over the passes: pipeline "
                 f"{show(figures['pipeline_tick_p50_us'], 1, ' us')}, "
                 f"legacy {show(figures['legacy_tick_p50_us'], 1, ' us')}")
    lines.append(f"pipeline/legacy p50 per pair: {show(ratios)} (target < 1); tick_total p50 "
                 f"{tt['p50_us']:.2f} us (<= 1.5), p99 {tt['p99_us']:.2f} us (<= 20)")
    emit(figures, args.json, lines)


if __name__ == "__main__":
    main()
