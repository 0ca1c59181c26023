"""The daemon on the shared recordings: market-data-to-intent latency, worker CPU, overruns.

Runs ``quotepipe run`` (real supervisor, pinned market data and worker, venue,
scoreboard) on all six recordings at each speed for ``--seconds``, samples the
worker's CPU time with psutil, and reads the exit summary. The reference in
the same run is the chain alone (``tick_total``), the part of md-to-intent
that is quoting work rather than hand-off.

    python benchmarks/bench_daemon.py [--json PATH] [--seconds S] [--speeds 1 20]

At speed 1 a recording gives about 25 acting intents a second: the default 45 s keeps
the p99 from resting on a handful of samples.

Targets on the 2-core dev host at speed 1: md_to_intent p50 <= 25 us,
p99 <= 100 us, no ring overruns.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psutil

from quotepipe.daemon.view import InstanceView

from _common import data_files, emit, parser


def run_once(paths: list[str], speed: float, seconds: float, extra: str) -> dict[str, Any]:
    instance = f"bench{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "bench.yaml"
        cfg.write_text(f"instance: {{name: {instance}}}\nmetrics: {{port: 0}}\n"
                       f"feed: {{kind: replay, speed: {speed}, paths: {json.dumps(paths)}}}\n{extra}")
        out = Path(tmp) / "summary.json"
        proc = subprocess.Popen([sys.executable, "-m", "quotepipe", "run", "-c", str(cfg), "--duration",
                                 str(seconds), "--summary-json", str(out)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        view = None
        deadline = time.monotonic() + 120
        while view is None and time.monotonic() < deadline:
            try:
                view = InstanceView(instance=instance)
                workers = [p for p in view.collect()["processes"] if p["role"] == "worker"]
                if not workers:
                    view = None
            except Exception:  # noqa: BLE001 - not up yet
                view = None
            time.sleep(0.2)
        assert view is not None, "the daemon did not come up"
        procs = {p["index"]: psutil.Process(p["pid"]) for p in view.collect()["processes"]
                 if p["role"] == "worker"}
        time.sleep(1.0)  # past start-up
        t0 = time.monotonic()
        c0 = {k: sum(p.cpu_times()[:2]) for k, p in procs.items()}
        time.sleep(max(0.5, seconds - 3.0))
        cpu = {k: (sum(p.cpu_times()[:2]) - c0[k]) / (time.monotonic() - t0) for k, p in procs.items()}
        _, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            sys.exit(f"quotepipe run exited {proc.returncode}:\n{err}")
        s = json.loads(out.read_text())
    return {"speed": speed, "seconds": seconds, "events": s["events"], "md_to_intent": s["md_to_intent"],
            "tick_total": s["stages"].get("tick_total"),
            "worker_cpu": {str(k): round(v, 3) for k, v in cpu.items()},
            "ring_overruns": s["ring_overruns"], "deadline_misses": s["deadline_misses"],
            "intents": s["workers"]["intents"], "fills": s["venue"]["fills"]}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=45.0, help="run time per speed")
    p.add_argument("--speeds", type=float, nargs="+", default=[1.0, 20.0])
    p.add_argument("--config-extra", default="", help="YAML appended to the benchmark config")
    args = p.parse_args()
    paths = [str(f) for f in data_files()]
    runs = [run_once(paths, speed, args.seconds, args.config_extra) for speed in args.speeds]
    lines = []
    for r in runs:
        m, t = r["md_to_intent"], r["tick_total"] or {}
        lines.append(
            f"speed {r['speed']:g}: {r['events']:,} md updates in {r['seconds']:g} s, {m['count']:,} intents "
            f"measured; md_to_intent p50 {m['p50_us']} us, p99 {m['p99_us']} us "
            f"(chain tick_total p50 {t.get('p50_us')} us, p99 {t.get('p99_us')} us); worker CPU "
            f"{', '.join(f'{v:.0%}' for v in r['worker_cpu'].values())}; ring overruns {r['ring_overruns']}; "
            f"deadline misses {r['deadline_misses']}")
    first = runs[0]
    lines.append(f"targets at speed 1: p50 <= 25 us, p99 <= 100 us, no overruns "
                 f"(speed {first['speed']:g}: p50 {first['md_to_intent']['p50_us']}, "
                 f"p99 {first['md_to_intent']['p99_us']}, overruns {first['ring_overruns']})")
    emit({"runs": runs, "targets": {"p50_us": 25, "p99_us": 100, "ring_overruns": 0}}, args.json, lines)


if __name__ == "__main__":
    main()
