"""The live screen (``daemon.screen``): fits the terminal, rounds to the tick, folds what does not
fit; ``status --watch`` and ``run`` draw it on a real terminal; process titles."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import pytest
from rich.console import Console

from quotepipe.daemon.screen import render
from tests.daemon_helpers import Daemon, wait_for


def instrument(k: int, **kw) -> dict:
    row = {"shard": 0, "md_updates": 10, "ticks": 5, "intents": 3, "fills": 1, "volume": 1.0,
           "position": 0.012, "pnl_usd": -1.234567, "net_bps": 0.0, "fill_rate": 0.1, "slippage_bps": 0.0,
           "queue_edge": 0.5, "adverse_penalty": 0.0, "score": 0.5, "weight": 1.0, "blacklisted": False,
           "mid": 60_000.05, "bid": 59_990.1, "ask": 60_010.3, "open_orders": 2, "rejects": 0,
           "stop_cancels": 0, "operator_halted": False, "digits": 1, "lot_digits": 3, "position_usd": 720.0,
           "guard": "quote", "reasons": [], "bid_qty": 0.002, "ask_qty": 0.003, "bid_queue": 1.5,
           "ask_queue": -1.0, "bid_age_s": 2.0, "ask_age_s": 0.5}
    row.update(kw)
    return row


def status(n: int = 6, **kw) -> dict:
    s = {"instance": "demo", "epoch": 1, "uptime_s": 12.0, "halted": False, "events": 100,
         "events_per_s": 1500.0, "total_pnl_usd": 3.5, "instruments": {
             f"binance-usdm:SYM{k}USDT": instrument(k) for k in range(n)},
         "venue": {"open_orders": 4}, "restarts": 0, "ring_overruns": 0, "deadline_misses": 0,
         "shadow_mismatches": 0, "market_data": {"malformed": 0}, "book_risk": {"state": "ok"},
         "operator": {"halt_all": False, "halted_instruments": []},
         "shards": [{"shard": 0, "mode": "pipeline", "halted": False, "operator_halted": False,
                     "stage_p95_us": {"tick_total": 9.5}, "md_to_intent": {"p50_us": 20.0, "p99_us": 80.0,
                                                                           "count": 12_000}}],
         "processes": [{"role": "md", "index": 0, "pid": 10, "cpu": 0, "restarts": 0}]}
    s.update(kw)
    return s


def draw(s: dict, width: int, height: int, logs=()) -> list[str]:
    c = Console(width=width, height=height, color_system=None)
    with c.capture() as cap:
        c.print(render(s, width, height, logs))
    return cap.get().rstrip("\n").split("\n")


@pytest.mark.parametrize(("width", "height"), [(80, 24), (160, 50), (100, 12)])
def test_the_screen_fits_the_terminal(width, height):
    lines = draw(status(60, deadline_misses=3), width, height, [f"log line {k}" for k in range(30)])
    assert len(lines) <= height
    assert all(len(line) <= width for line in lines), max(lines, key=len)
    assert any("more" in line for line in lines)  # 60 instruments do not fit: folded
    assert any("ticks over deadline: 3" in line for line in lines)


def test_the_screen_rounds_to_the_tick_and_shows_distance_in_bps():
    wide = "\n".join(draw(status(1), 160, 30))
    assert "59,990.1" in wide and "60,010.3" in wide and "60,000.05" in wide  # tick 0.1, mid to 0.05
    assert "-1.7" in wide and "+1.7" in wide                                   # bps from the mid
    assert "+0.012" in wide and "+720" in wide and "-1.23" in wide             # lots, USD, PnL
    assert "1.500/?" in wide                                                   # an unseen queue: "?"
    assert "20.0/80.0 (12,000)" in wide
    narrow = "\n".join(draw(status(1), 80, 24))
    assert "59,990.1" not in narrow and "-1.7" in narrow                       # 80 columns: bps only


def test_warnings_name_what_is_wrong():
    s = status(2, halted=True, restarts=2, book_risk={"state": "flatten", "reason": "max_loss_usd"})
    s["instruments"]["binance-usdm:SYM0USDT"].update(guard="pull", reasons=["stale"])
    text = "\n".join(draw(s, 120, 30))
    assert "HALTED" in text and "book risk flatten (max_loss_usd)" in text
    assert "stale market data: usdm:SYM0USDT" in text and "process restarts: 2" in text


def read_pty(fd: int, seconds: float, until: bytes | None = None) -> bytes:
    out = b""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            if until is not None and until in out:
                break
    return out


def test_status_watch_draws_the_screen_on_a_terminal_and_ctrl_c_exits_0(tmp_path, instance_name):
    with Daemon(tmp_path, instance_name, "workers: {busy_poll: false}\n", duration=60) as d:
        d.wait_ready()
        master, slave = os.openpty()
        env = {**os.environ, "COLUMNS": "80", "LINES": "24"}
        p = subprocess.Popen([sys.executable, "-m", "quotepipe", "status", "--watch", "--instance",
                              instance_name, "--interval", "0.3"], stdin=slave, stdout=slave, stderr=slave,
                             env=env)
        os.close(slave)
        out = read_pty(master, 60, until=b"md->intent")
        time.sleep(1)
        out += read_pty(master, 1)
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=30) == 0
        os.close(master)
        text = out.decode(errors="replace")
        assert "usdm:BTCUSDT" in text and "md->intent" in text and "Traceback" not in text, text[-2000:]
        d.signal(signal.SIGTERM)
        assert d.wait(90) == 0


def test_run_on_a_terminal_prints_log_lines_above_the_screen(tmp_path, instance_name):
    """Every log line (the supervisor's and the children's) reaches the terminal whole, and the
    screen is drawn after them: none is written under a redraw."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"instance: {{name: {instance_name}}}\nworkers: {{busy_poll: false}}\n")
    master, slave = os.openpty()
    env = {**os.environ, "COLUMNS": "100", "LINES": "30"}
    p = subprocess.Popen([sys.executable, "-m", "quotepipe", "run", "-c", str(cfg), "--duration", "6"],
                         stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = read_pty(master, 120)
    assert p.wait(timeout=60) == 0
    os.close(master)
    text = out.decode(errors="replace")
    for line in ("ready: every process beats", "shard 0: 6 instruments, mode pipeline", "venue confirmed"):
        assert line in text, text[-3000:]
    assert text.index("ready: every process beats") < text.rindex("md->intent")
    assert "Traceback" not in text


def test_every_process_has_a_title_ps_shows(tmp_path, instance_name):
    with Daemon(tmp_path, instance_name, "workers: {busy_poll: false}\n", duration=30) as d:
        s = d.wait_ready()
        assert wait_for(lambda: len(d.status()["processes"]) == 5, 30)
        titles = {}
        for p in d.status()["processes"]:
            with open(f"/proc/{p['pid']}/cmdline", "rb") as f:
                titles[p["role"], p["index"]] = f.read().replace(b"\0", b" ").decode().strip()
        assert titles[("worker", 0)] == f"quotepipe: worker 0 [{instance_name}]", titles
        assert titles[("md", 0)] == f"quotepipe: md [{instance_name}]"
        assert titles[("supervisor", 0)] == f"quotepipe: supervisor [{instance_name}]"
        with open(f"/proc/{s['processes'][0]['pid']}/comm") as f:
            assert f.read().startswith("qp-")
        d.signal(signal.SIGTERM)
        assert d.wait(90) == 0
