"""The daemon on the shared recordings: market-data-to-intent latency, worker CPU, overruns.

Runs ``quotepipe run`` (real supervisor, pinned market data and worker, venue,
scoreboard) on all six recordings at each speed for ``--seconds``, samples the
worker's CPU time with psutil, and reads the exit summary. The reference in
the same run is the chain alone (``tick_total``), the part of md-to-intent
that is quoting work rather than hand-off.

    python benchmarks/bench_daemon.py [--json PATH] [--seconds S] [--speeds 1 0]

Two latencies from the same clock: ``md_to_tick``, snapshot publish to the chain's intent on
every tick an update ran (thousands a second: the 45 s default gives well over 10,000), and
``md_to_intent``, the same for the ticks whose intent acted (a few dozen a second, so its p99
rests on fewer samples; the count is printed). Speed 0 runs as fast as the daemon goes until
the whole recording is published.

Targets on the 2-core dev host at speed 1: md_to_tick p50 <= 15 us, p99 <= 60 us over at least
10,000 ticks, no ring overruns.
"""

from __future__ import annotations

import json
import signal
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

MAX_SPEED_LIMIT_S = 600.0  # a full-speed run that has not published the whole recording by then stops


def run_once(paths: list[str], speed: float, seconds: float, extra: str) -> dict[str, Any]:
    instance = f"bench{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "bench.yaml"
        cfg.write_text(f"instance: {{name: {instance}}}\nmetrics: {{port: 0}}\n"
                       f"feed: {{kind: replay, speed: {speed}, paths: {json.dumps(paths)}}}\n{extra}")
        out = Path(tmp) / "summary.json"
        limit = MAX_SPEED_LIMIT_S + 60 if speed == 0 else seconds + 60  # stopped by SIGINT before
        proc = subprocess.Popen([sys.executable, "-m", "quotepipe", "run", "-c", str(cfg), "--duration",
                                 str(limit), "--summary-json", str(out)],
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
        e0 = view.collect()["events"]
        c0 = {k: sum(p.cpu_times()[:2]) for k, p in procs.items()}
        # at full speed (0) until the whole recording is published; otherwise for ``seconds``
        end = t0 + (MAX_SPEED_LIMIT_S if speed == 0 else max(0.5, seconds - 3.0))
        while time.monotonic() < end and not (speed == 0 and view.collect()["market_data"]["feed_done"]):
            time.sleep(0.25)
        wall = time.monotonic() - t0
        cpu = {k: (sum(p.cpu_times()[:2]) - c0[k]) / wall for k, p in procs.items()}
        rate = (view.collect()["events"] - e0) / wall
        proc.send_signal(signal.SIGINT)  # a graceful stop: the exit summary is written
        _, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            sys.exit(f"quotepipe run exited {proc.returncode}:\n{err}")
        s = json.loads(out.read_text())
    return {"speed": speed, "seconds": round(wall, 1), "events": s["events"], "events_per_s": round(rate, 1),
            "md_to_intent": s["md_to_intent"], "md_to_tick": s["md_to_tick"],
            "tick_total": s["stages"].get("tick_total"),
            "worker_cpu": {str(k): round(v, 3) for k, v in cpu.items()},
            "ring_overruns": s["ring_overruns"], "deadline_misses": s["deadline_misses"],
            "intents": s["workers"]["intents"], "fills": s["venue"]["fills"]}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=45.0, help="run time per speed")
    p.add_argument("--speeds", type=float, nargs="+", default=[1.0, 0.0],
                   help="replay speeds; 0: as fast as it goes, until the whole recording is published")
    p.add_argument("--config-extra", default="", help="YAML appended to the benchmark config")
    args = p.parse_args()
    paths = [str(f) for f in data_files()]
    runs = [run_once(paths, speed, args.seconds, args.config_extra) for speed in args.speeds]
    lines = []
    for r in runs:
        m, k, t = r["md_to_intent"], r["md_to_tick"], r["tick_total"] or {}
        lines.append(
            f"speed {r['speed']:g}{' (full speed, whole recording)' if r['speed'] == 0 else ''}: "
            f"{r['events']:,} md updates, {r['events_per_s']:,.0f}/s over {r['seconds']:g} s; "
            f"md_to_tick p50 {k['p50_us']} us, p99 {k['p99_us']} us, p99.9 {k['p999_us']} us over "
            f"{k['count']:,} ticks; md_to_intent p50 {m['p50_us']} us, p99 {m['p99_us']} us over "
            f"{m['count']:,} acting intents; chain tick_total p50 {t.get('p50_us')} us, p99 "
            f"{t.get('p99_us')} us; worker CPU {', '.join(f'{v:.0%}' for v in r['worker_cpu'].values())}; "
            f"ring overruns {r['ring_overruns']}; deadline misses {r['deadline_misses']}")
    first = runs[0]
    k = first["md_to_tick"]
    lines.append(f"targets at speed 1: md_to_tick p50 <= 15 us, p99 <= 60 us over >= 10,000 ticks "
                 f"(speed {first['speed']:g}: p50 {k['p50_us']}, p99 {k['p99_us']} over {k['count']:,}), "
                 f"no overruns ({first['ring_overruns']})")
    emit({"runs": runs, "md_to_tick_p50_us": k["p50_us"], "md_to_tick_p99_us": k["p99_us"],
          "targets": {"p50_us": 15, "p99_us": 60, "samples": 10_000, "ring_overruns": 0}}, args.json, lines)


if __name__ == "__main__":
    main()
