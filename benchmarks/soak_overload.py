"""Overload soak: 120 instruments, a 100 kHz synthetic feed, shadow mode, for minutes.

Far more updates than the workers can tick on this host. What must hold:
no process is killed or restarted, no shard halts, and the overload shows in
the metrics (coalesced updates, ring overruns, stalls) rather than as deaths.
It runs ``quotepipe run`` as a user would, scrapes ``/metrics`` over HTTP at
the end, and reports the figures with the exit summary.

    python benchmarks/soak_overload.py [--seconds 300] [--instruments 120] [--rate-hz 100000]
                                       [--workers 2] [--json PATH]
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from _common import emit, parser


def soak_config(instance: str, instruments: int, rate_hz: float, workers: int, port: int) -> str:
    lines = [f"instance: {{name: {instance}}}", f"metrics: {{port: {port}}}",
             f"feed: {{kind: synthetic, speed: 1, synthetic: {{rate_hz: {rate_hz}}}}}",
             f"workers: {{count: {workers}}}", "pipeline: {mode: shadow}", "instruments:"]
    for k in range(instruments):
        venue = ("binance-spot", "binance-usdm", "binance-coinm")[k % 3]
        if venue == "binance-coinm":
            lines.append(f"  - {{id: '{venue}:S{k}USD_PERP', tick_size: 0.1, lot_size: 1, base_qty: 2, "
                         f"inverse: true, contract_multiplier: 10, ref_price: {100 + k}}}")
        else:
            lines.append(f"  - {{id: '{venue}:S{k}USDT', tick_size: 0.01, lot_size: 0.001, base_qty: 0.1, "
                         f"ref_price: {100 + k}}}")
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int) -> dict[str, float]:
    """Every sample of /metrics without labels, and the labelled ones summed per name."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = re.match(r"^([a-z_]+)(\{[^}]*\})? ([-0-9.e+naif]+)$", line)
        if m and not line.startswith("#"):
            out[m.group(1)] = out.get(m.group(1), 0.0) + float(m.group(3))
    return out


def run(seconds: float, instruments: int, rate_hz: float, workers: int) -> dict[str, Any]:
    instance = f"soak{uuid.uuid4().hex[:8]}"
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "soak.yaml"
        cfg.write_text(soak_config(instance, instruments, rate_hz, workers, port))
        summary_path = Path(tmp) / "summary.json"
        err_path = Path(tmp) / "err.log"
        with open(err_path, "w") as err:
            proc = subprocess.Popen([sys.executable, "-m", "quotepipe", "run", "-c", str(cfg),
                                     "--summary-json", str(summary_path)],
                                    stdout=subprocess.DEVNULL, stderr=err)
            t0 = time.monotonic()
            while time.monotonic() - t0 < seconds and proc.poll() is None:
                time.sleep(1.0)
            metrics = scrape(port) if proc.poll() is None else {}
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=120)
        log = err_path.read_text()
        s = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    procs = s.get("processes", [])
    return {
        "seconds": seconds, "instruments": instruments, "rate_hz": rate_hz, "workers": workers,
        "exit_code": code, "restarts": s.get("restarts"),
        # while it ran (the stop itself halts every shard on purpose)
        "halted_shards": int(metrics.get("quotepipe_shard_halted", -1)) + log.count("HALTED"),
        "silent_kills": s.get("supervisor", {}).get("silent_kills"),
        "killed_in_log": log.count("killing it"),
        "log_problems": [line for line in log.splitlines() if " ERROR " in line or "killing" in line][:20],
        "md_updates": s.get("events"),
        "worker_ticks": s.get("workers", {}).get("ticks"),
        "coalesced": s.get("workers", {}).get("coalesced"),
        "ring_overruns": s.get("ring_overruns"),
        "shadow_mismatches": s.get("shadow_mismatches"),
        "stalls": {f"{p['role']}{p['index'] if p['role'] == 'worker' else ''}": p["stalls"] for p in procs},
        "loop_gap_max_ms": {f"{p['role']}{p['index'] if p['role'] == 'worker' else ''}": p["loop_gap_max_ms"]
                            for p in procs},
        "metrics": {k: metrics.get(k) for k in (
            "quotepipe_worker_coalesced_total", "quotepipe_ring_overruns_total", "quotepipe_restarts_total",
            "quotepipe_process_stalls_total", "quotepipe_supervisor_silent_kills_total",
            "quotepipe_shard_halted")},
    }


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--seconds", type=float, default=300.0)
    p.add_argument("--instruments", type=int, default=120)
    p.add_argument("--rate-hz", type=float, default=100_000.0)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    r = run(args.seconds, args.instruments, args.rate_hz, args.workers)
    ok = r["exit_code"] == 0 and r["restarts"] == 0 and r["halted_shards"] == 0 and not r["killed_in_log"]
    text = (f"{r['instruments']} instruments, {r['rate_hz']:,.0f} Hz synthetic, shadow, "
            f"{r['workers']} workers, {r['seconds']:g} s: exit {r['exit_code']}, restarts {r['restarts']}, "
            "halted shards "
            f"{r['halted_shards']}, silent kills {r['silent_kills']}\n"
            f"md updates {r['md_updates']:,}, worker ticks {r['worker_ticks']:,}, "
            f"coalesced {r['coalesced']:,}, "
            f"ring overruns {r['ring_overruns']:,}, shadow mismatches {r['shadow_mismatches']}\n"
            f"stalls {r['stalls']}\nloop gap max ms {r['loop_gap_max_ms']}\n"
            f"/metrics: {r['metrics']}\n" + "".join(f"log: {x}\n" for x in r["log_problems"])
            + ("PASS" if ok else "FAIL"))
    emit(r, args.json, text.splitlines())
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
