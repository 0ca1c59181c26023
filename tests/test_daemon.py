"""``quotepipe run`` and ``quotepipe status`` as real processes: start, restart, reload, stop.

Every test starts a real supervisor with real children over real shared memory
and asserts behaviour (counts, exit codes, what is left in /dev/shm), with
generous time-outs: this host is small and shared.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request

import pytest

from quotepipe.config import default_config
from quotepipe.domain.shards import shard_of
from tests.conftest import run_cli
from tests.daemon_helpers import Daemon, free_port, pid_alive, wait_for

#: a test-sized scoreboard: markouts land fast and scores move, so weights get published
FAST_ALLOCATOR = ("symbol_scoreboard: {prior_fills: 0, markout_horizon_s: 0.5}\n"
                  "dynamic_allocator: {interval_ms: 100, hysteresis: 0.0}\n")
LIGHT = "workers: {busy_poll: false}\n"  # tests that do not measure latency leave the cores alone


def test_default_config_quotes_fills_publishes_and_exits_clean(tmp_path, instance_name):
    port = free_port()
    with Daemon(tmp_path, instance_name, FAST_ALLOCATOR, duration=6, metrics_port=port) as d:
        d.wait_ready()
        assert wait_for(lambda: d.status()["venue"]["fills"] > 0, 60)
        assert wait_for(lambda: d.status()["md_to_intent"]["count"] > 0, 60)
        # the status command, as a user runs it, and the Prometheus endpoint, scraped for real
        out = run_cli("status", "--instance", instance_name, "--json")
        assert out.returncode == 0, out.stderr
        status = json.loads(out.stdout)
        roles = {p["role"] for p in status["processes"]}
        assert roles == {"supervisor", "md", "worker", "venue", "scoreboard"}
        table = run_cli("status", "--instance", instance_name)
        assert "binance-spot:BTCUSDT" in table.stdout and "md->intent" in table.stdout
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
        assert 'quotepipe_stage_seconds_bucket{le="+Inf",mode="pipeline",shard="0",stage="tick_total"}' \
            in body, body[:3000]
        assert 'quotepipe_instrument_weight{instrument="binance-usdm:ETHUSDT"}' in body
        assert "quotepipe_md_to_intent_seconds_count" in body
        assert "quotepipe_md_to_tick_seconds_count" in body
        assert d.wait(90) == 0, d.log()
        s = d.summary()
        assert d.segments() == []
    for iid, row in s["instruments"].items():
        assert row["md_updates"] > 0 and row["intents"] > 0 and row["ticks"] > 0, iid
    assert sum(r["fills"] for r in s["instruments"].values()) > 0
    assert s["scoreboard"]["weight_publications"] > 0 and s["weights_version"] >= 2
    assert any(r["weight"] != 1.0 for r in s["instruments"].values())
    assert s["md_to_intent"]["count"] > 0 and s["md_to_intent"]["p50_us"] > 0
    # every tick an update ran is measured, the acting ones among them
    assert s["md_to_tick"]["count"] >= s["md_to_intent"]["count"] and s["md_to_tick"]["p50_us"] > 0
    for key in ("events", "wall_s", "events_per_s", "stages", "total_pnl_usd", "restarts", "ring_overruns",
                "deadline_misses"):
        assert key in s
    assert "tick_total" in s["stages"] and s["restarts"] == 0 and s["open_orders_at_exit"] == 0


@pytest.mark.realdata
def test_replay_of_the_recordings_at_speed_10(tmp_path, instance_name, real_recordings):
    paths = [str(p) for p in real_recordings]
    with Daemon(tmp_path, instance_name, f"feed: {{kind: replay, speed: 10, paths: {paths}}}\n" + LIGHT,
                duration=8) as d:
        assert d.wait(120) == 0, d.log()
        s = d.summary()
        assert d.segments() == []
    for iid, row in s["instruments"].items():
        assert row["md_updates"] > 0 and row["intents"] > 0, iid
    assert sum(r["fills"] for r in s["instruments"].values()) > 0
    assert s["market_data"]["malformed"] == 0 and s["open_orders_at_exit"] == 0


def test_killed_worker_restarts_then_a_crash_loop_halts_its_shard(tmp_path, instance_name):
    cfg = default_config()
    shard0 = [i.id for i in cfg.instruments if shard_of(i, 2) == 0]
    shard1 = [i.id for i in cfg.instruments if shard_of(i, 2) == 1]
    assert shard0 and shard1
    yaml = ("workers: {count: 2, busy_poll: false}\n"
            "supervisor: {max_restarts: 1, restart_window_s: 600}\n")
    with Daemon(tmp_path, instance_name, yaml) as d:
        d.wait_ready()

        def intents(ids: list[str]) -> int:
            return sum(d.status()["instruments"][i]["intents"] for i in ids)

        assert wait_for(lambda: intents(shard0) > 0, 60)
        worker0 = next(p for p in d.status()["processes"] if p["role"] == "worker" and p["index"] == 0)
        os.kill(worker0["pid"], signal.SIGKILL)

        def restarted() -> bool:
            w = next(p for p in d.status()["processes"] if p["role"] == "worker" and p["index"] == 0)
            return w["restarts"] == 1 and w["pid"] != worker0["pid"] and w["heartbeat_age_ms"] is not None \
                and w["heartbeat_age_ms"] < 1000

        assert wait_for(restarted, 60), d.log()
        assert f"worker 0 (pid {worker0['pid']}) died: killed by SIGKILL; restarting" in d.log()
        after = intents(shard0)
        assert wait_for(lambda: intents(shard0) > after, 60), "the restarted worker quotes again"
        assert d.status()["restarts"] == 1
        # a second death inside the window is one more than max_restarts=1: the shard halts
        again = next(p for p in d.status()["processes"] if p["role"] == "worker" and p["index"] == 0)
        os.kill(again["pid"], signal.SIGKILL)
        assert wait_for(lambda: d.status()["shards"][0]["halted"], 60), d.log()
        assert "shard 0 HALTED" in d.log()
        assert wait_for(lambda: all(d.status()["instruments"][i]["open_orders"] == 0 for i in shard0), 30)
        other = intents(shard1)
        assert wait_for(lambda: intents(shard1) > other, 60), "the other shard keeps quoting"
        d.signal(signal.SIGTERM)
        assert d.wait(60) == 0, d.log()
        assert d.summary()["restarts"] == 1


def test_sigterm_cancels_every_order_then_exits_zero(tmp_path, instance_name):
    with Daemon(tmp_path, instance_name, LIGHT) as d:
        d.wait_ready()
        assert wait_for(lambda: d.status()["venue"]["open_orders"] > 0, 60)
        children = [p["pid"] for p in d.status()["processes"] if p["role"] != "supervisor"]
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        assert d.wait(60) == 0, d.log()
        took = time.monotonic() - t0
        s = d.summary()
        assert d.segments() == []
        assert not any(pid_alive(p) for p in children)
    assert took < 5.0 + 10.0  # shutdown_timeout_s plus a shared host's slack
    assert s["open_orders_at_exit"] == 0
    assert s["workers"]["reason_halted"] > 0, "the workers pulled their quotes on the halt"
    assert "venue confirmed: every order cancelled" in d.log()
    assert "stopped in" in d.log() and "exit 0" in d.log()


def test_second_instance_is_refused_and_a_bad_config_starts_nothing(tmp_path, instance_name):
    with Daemon(tmp_path, instance_name, LIGHT) as d:
        d.wait_ready()
        second = run_cli("run", "-c", str(d.config), "--duration", "1", timeout=120)
        assert second.returncode == 1
        assert f'instance "{instance_name}" is already running as pid {d.proc.pid}' in second.stderr
        assert d.proc.poll() is None and d.status()["processes"]
        d.signal(signal.SIGINT)
        assert d.wait(60) == 0, d.log()
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"instance: {{name: {instance_name}}}\nworkers: {{count: 0}}\n")
    r = run_cli("run", "-c", str(bad), "--duration", "1")
    assert r.returncode == 2
    assert "workers.count" in r.stderr
    assert d.segments() == [] and d._child_pids() == []
    missing = tmp_path / "missing.yaml"
    missing.write_text(f"instance: {{name: {instance_name}}}\nfeed: {{kind: replay, paths: [/nope.gz]}}\n")
    r = run_cli("run", "-c", str(missing), "--duration", "1")
    assert r.returncode == 2 and "/nope.gz" in r.stderr
    assert d.segments() == []


def test_children_die_with_the_supervisor_and_the_next_start_cleans_up(tmp_path, instance_name):
    with Daemon(tmp_path, instance_name, LIGHT) as d:
        d.wait_ready()
        children = [p["pid"] for p in d.status()["processes"] if p["role"] != "supervisor"]
        assert len(children) == 4
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(30)
        assert wait_for(lambda: not any(pid_alive(p) for p in children), 10)
        assert d.segments(), "a killed supervisor leaves its segments behind"
        r = run_cli("status", "--instance", instance_name)
        assert r.returncode == 1 and "not running" in r.stderr
        again = run_cli("run", "-c", str(d.config), "--duration", "1", timeout=120)
        assert again.returncode == 0, again.stderr
        assert "stale shared-memory segments" in again.stderr
        assert d.segments() == []


def test_sighup_reloads_a_good_config_and_refuses_a_bad_one(tmp_path, instance_name):
    with Daemon(tmp_path, instance_name, LIGHT) as d:
        d.wait_ready()
        assert d.status()["epoch"] == 1
        d.write_config(LIGHT + "pipeline: {mode: shadow}\nguards: {max_actions_per_s: 10}\n")
        d.signal(signal.SIGHUP)
        assert wait_for(lambda: d.status()["epoch"] == 2, 30), d.log()
        assert d.status()["shards"][0]["mode"] == "shadow"
        assert wait_for(lambda: d.status()["workers"]["ticks"] > 0, 30)
        assert "reload: config epoch 2: guards.max_actions_per_s, pipeline.mode" in d.log()
        d.config.write_text("instance: {name: [oops\n")
        d.signal(signal.SIGHUP)
        assert wait_for(lambda: "reload refused, config epoch 2 keeps running: " in d.log(), 30)
        assert "YAML syntax error" in d.log()
        d.write_config("workers: {count: 2, busy_poll: false}\n")
        d.signal(signal.SIGHUP)
        assert wait_for(lambda: "need a restart: workers.count" in d.log(), 30), d.log()
        assert d.status()["epoch"] == 2 and d.proc.poll() is None
        d.signal(signal.SIGTERM)
        assert d.wait(60) == 0, d.log()


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to pin md and a worker apart")
def test_a_reload_with_explicit_worker_cores_is_accepted(tmp_path, instance_name):
    """The supervisor narrows its own affinity to the helper cores; a reload is still validated
    against the host's CPU set as taken at start, so pinned production configs reload."""
    md, worker = sorted(os.sched_getaffinity(0))[:2]
    pinned = f"md: {{cpu: {md}}}\nworkers: {{count: 1, cpus: [{worker}], busy_poll: false}}\n"
    with Daemon(tmp_path, instance_name, pinned) as d:
        d.wait_ready()
        workers = [p for p in d.status()["processes"] if p["role"] == "worker"]
        assert [p["cpu"] for p in workers] == [worker]
        d.write_config(pinned + "guards: {max_actions_per_s: 10}\n")
        d.signal(signal.SIGHUP)
        assert wait_for(lambda: d.status()["epoch"] == 2, 30), d.log()
        assert "reload: config epoch 2: guards.max_actions_per_s" in d.log()
        assert "reload refused" not in d.log()
        d.signal(signal.SIGTERM)
        assert d.wait(60) == 0, d.log()


@pytest.mark.realdata
def test_a_feed_that_stops_trips_the_stale_guard_and_pulls_every_quote(tmp_path, instance_name,
                                                                       real_recordings):
    import gzip

    src = next(p for p in real_recordings if p.name.startswith("spot_btc"))
    short = tmp_path / "short.gz"
    with gzip.open(src, "rb") as fin, gzip.open(short, "wb") as fout:
        for n, line in enumerate(fin):
            if n >= 4000:
                break
            fout.write(line)
    yaml = (f"feed: {{kind: replay, speed: 4, paths: ['{short}']}}\n"
            "guards: {stale_ms: 500}\n" + LIGHT)
    with Daemon(tmp_path, instance_name, yaml) as d:
        d.wait_ready()
        assert wait_for(lambda: d.status()["market_data"]["feed_done"], 120), d.log()
        s = d.status()
        assert wait_for(lambda: d.status()["workers"]["reason_stale"] > 0, 30)
        assert wait_for(lambda: d.status()["venue"]["open_orders"] == 0, 30)
        s = d.status()
        assert s["instruments"]["binance-spot:BTCUSDT"]["intents"] > 0
        d.signal(signal.SIGTERM)
        assert d.wait(60) == 0, d.log()


def test_a_silent_worker_is_killed_and_replaced_the_scoreboard_restarts_a_dead_venue_stops(
        tmp_path, instance_name):
    yaml = LIGHT + "supervisor: {heartbeat_timeout_ms: 1000}\n"
    with Daemon(tmp_path, instance_name, yaml) as d:
        d.wait_ready()

        def proc(role: str) -> dict:
            return next(p for p in d.status()["processes"] if p["role"] == role)

        worker = proc("worker")
        os.kill(worker["pid"], signal.SIGSTOP)  # alive but silent: no heartbeat
        assert wait_for(lambda: proc("worker")["restarts"] == 1, 60), d.log()
        assert f"worker 0 (pid {worker['pid']}) silent for" in d.log()
        assert wait_for(lambda: not pid_alive(worker["pid"]), 30)
        board = proc("scoreboard")
        os.kill(board["pid"], signal.SIGKILL)
        assert wait_for(lambda: proc("scoreboard")["restarts"] == 1, 60), d.log()
        assert wait_for(lambda: proc("scoreboard")["heartbeat_age_ms"] is not None
                        and proc("scoreboard")["heartbeat_age_ms"] < 1000, 60)
        os.kill(proc("venue")["pid"], signal.SIGKILL)
        assert d.wait(60) == 1, d.log()
        assert "venue" in d.log() and "cannot be restarted without losing its state: stopping" in d.log()
        assert d.segments() == []
        assert d.summary()["restarts"] == 2


def test_a_second_sigint_forces_the_stop(tmp_path, instance_name):
    with Daemon(tmp_path, instance_name, LIGHT + "supervisor: {shutdown_timeout_s: 60}\n") as d:
        d.wait_ready()
        children = [p["pid"] for p in d.status()["processes"] if p["role"] != "supervisor"]
        venue = next(p["pid"] for p in d.status()["processes"] if p["role"] == "venue")
        os.kill(venue, signal.SIGSTOP)  # a stuck venue never confirms: the graceful stop waits
        d.signal(signal.SIGINT)
        assert wait_for(lambda: "stopping: SIGINT received" in d.log(), 30)
        time.sleep(0.5)
        d.signal(signal.SIGINT)
        assert d.wait(30) == 1, d.log()
        assert "SIGINT again: forcing the stop" in d.log()
        assert d.segments() == []
        assert wait_for(lambda: not any(pid_alive(p) for p in children), 10)


def test_the_scoreboard_fits_the_arrival_intensity_and_the_workers_take_it(tmp_path, instance_name):
    """GLFT on the synthetic feed: the scoreboard fits A and k from the trade ring, publishes them in
    the fits table (status, /metrics), and every worker hands them to its spread stage."""
    port = free_port()
    glft = ("spread: {model: glft, fit_min_steps: 20, fit_step_ms: 50}\n"
            "workers: {count: 2, busy_poll: false}\n")
    with Daemon(tmp_path, instance_name, glft, duration=60, metrics_port=port) as d:
        d.wait_ready()

        def fitted() -> bool:
            rows = d.status()["instruments"].values()
            return all(r["arrival_fit"]["fitted"] for r in rows if r["md_updates"])
        assert wait_for(fitted, 60), d.status()["instruments"]
        assert wait_for(lambda: d.status()["workers"]["arrival_fits"] >= 2, 30)
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
        assert 'quotepipe_arrival_fitted{instrument="binance-usdm:ETHUSDT"} 1.0' in body
        d.signal(signal.SIGTERM)
        assert d.wait(90) == 0, d.log()
    fits = [r["arrival_fit"] for r in d.summary()["instruments"].values()]
    assert all(f["k_per_bps"] > 0 and f["a"] > 0 and f["trade_steps"] >= 20 for f in fits), fits
