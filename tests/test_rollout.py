"""A rollout you can watch: per-shard modes, SIGHUP moves, labelled metrics, the shadow report."""

from __future__ import annotations

import json
import re
import signal
import socket
import urllib.request

import msgspec

from quotepipe.config import DEFAULT_INSTRUMENTS
from tests.conftest import run_cli
from tests.daemon_helpers import Daemon, free_port, wait_for


def scrape(port: int) -> dict[str, float]:
    """``name{labels}`` -> value, labels sorted, for every sample of a real /metrics scrape."""
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
    out: dict[str, float] = {}
    for line in body.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$", line)
        if m and not line.startswith("#"):
            labels = ",".join(sorted(re.findall(r'[a-z_]+="[^"]*"', m.group(2) or "")))
            out[f"{m.group(1)}{{{labels}}}"] = float(m.group(3))
    return out


#: the default instruments, shards 0-3 given explicitly so that every shard has some
INSTRUMENTS = "instruments: " + json.dumps(
    [{**msgspec.to_builtins(i), "shard": k % 4} for k, i in enumerate(DEFAULT_INSTRUMENTS)]) + "\n"


def rollout(report: str, shard_modes: str) -> str:
    return (INSTRUMENTS + "workers: {count: 4, busy_poll: false}\n"
            f"pipeline: {{mode: pipeline, shard_modes: {shard_modes}, shadow_log_first: 5, "
            f"shadow_report: '{report}', candidate: {{spread: {{min_half_spread_bps: 3.0}}}}}}\n"
            "rollout: {min_ticks: 100}\n")


def test_four_shards_in_three_modes_move_by_sighup_with_the_same_pids(tmp_path, instance_name):
    report = tmp_path / "shadow.jsonl"
    port = free_port()
    with Daemon(tmp_path, instance_name, rollout(str(report), "{0: legacy, 1: shadow}"),
                metrics_port=port) as d:
        d.wait_ready()
        assert [sh["mode"] for sh in d.status()["shards"]] == ["legacy", "shadow", "pipeline", "pipeline"]
        # the shadow shard runs the candidate setting beside legacy: its differences are reported
        assert wait_for(lambda: report.exists() and len(report.read_text().splitlines()) >= 1, 60), d.log()
        lines = [json.loads(x) for x in report.read_text().splitlines()]
        assert {x["shard"] for x in lines} == {1} and len(lines) <= 5
        assert all(x["fields"] and x["legacy"] != x["pipeline"] for x in lines)
        assert {"snapshot", "context", "instrument"} <= set(lines[0])
        assert "shadow mismatch, shard 1" in d.log()
        m = scrape(port)
        assert m['quotepipe_shadow_mismatches_total{mode="shadow",shard="1"}'] > 0
        assert m['quotepipe_shadow_mismatches_total{mode="pipeline",shard="2"}'] == 0
        assert any(k.startswith("quotepipe_shadow_mismatch_fields_total{field=") and 'shard="1"' in k
                   and v > 0 for k, v in m.items())
        for shard, mode in enumerate(["legacy", "shadow", "pipeline", "pipeline"]):
            assert f'quotepipe_stage_seconds_count{{mode="{mode}",shard="{shard}",stage="tick_total"}}' in m
            assert f'quotepipe_deadline_misses_total{{mode="{mode}",shard="{shard}"}}' in m
            assert f'quotepipe_intents_total{{mode="{mode}",shard="{shard}"}}' in m
        assert m['quotepipe_reloads_total{result="ok"}'] == 0
        assert any(k.startswith("quotepipe_build_info{") for k in m)
        assert m['quotepipe_process_resident_memory_bytes{index="1",role="worker"}'] > 0
        assert 'quotepipe_ring_overruns_total{reader="worker 0",ring="md.0"}' in m
        pids = sorted(d.pids("worker"))
        # the canary view: the groups side by side; shadow is not identical to legacy here
        r = run_cli("canary", "--instance", instance_name, "--json")
        assert r.returncode == 1, (r.stdout, r.stderr)  # not healthy: the shadow shard differs
        rep = json.loads(r.stdout)
        assert rep["phase"] == "canary" and not rep["healthy"]
        assert {m: g["shards"] for m, g in rep["groups"].items()} == {
            "legacy": [0], "shadow": [1], "pipeline": [2, 3]}
        shadow_gate = next(x for x in rep["gates"] if x["gate"] == "shadow identical to legacy")
        assert shadow_gate["result"] == "FAIL" and rep["groups"]["shadow"]["shadow_mismatches"] > 0
        table = run_cli("canary", "--instance", instance_name).stdout
        assert "legacy (control)" in table and "tick_total p95 us" in table
        assert "verdict: NOT healthy" in table

        # shadow -> pipeline on shard 1, by SIGHUP: no process restarts
        d.write_config(rollout(str(report), "{0: legacy}"), port)
        d.signal(signal.SIGHUP)
        assert wait_for(lambda: d.status()["epoch"] == 2, 30), d.log()
        assert [sh["mode"] for sh in d.status()["shards"]] == ["legacy", "pipeline", "pipeline", "pipeline"]
        assert sorted(d.pids("worker")) == pids and d.status()["restarts"] == 0
        assert wait_for(lambda: scrape(port)['quotepipe_reloads_total{result="ok"}'] == 1, 30)
        assert wait_for(lambda: 'quotepipe_intents_total{mode="pipeline",shard="1"}' in scrape(port), 30)
        r = run_cli("canary", "--instance", instance_name, "--json")
        rep = json.loads(r.stdout)
        assert r.returncode == (0 if rep["healthy"] else 1)
        assert {m: g["shards"] for m, g in rep["groups"].items()} == {"legacy": [0], "pipeline": [1, 2, 3]}
        assert {x["gate"].split(" ")[0] for x in rep["gates"]} >= {"tick_total", "pipeline", "no"}

        # `quotepipe reload`: a reload that needs a restart is refused with its reason, exit 1,
        # counted, and the old config runs on; an unchanged file is not an error
        d.write_config(rollout(str(report), "{0: legacy}").replace("count: 4", "count: 3"), port)
        r = run_cli("reload", "--instance", instance_name)
        assert r.returncode == 1, (r.stdout, r.stderr)
        assert "reload refused, config epoch 2 runs on: " in r.stderr and "workers.count" in r.stderr
        assert scrape(port)['quotepipe_reloads_total{result="refused"}'] == 1
        assert d.status()["epoch"] == 2 and "reload refused" in d.log()
        d.write_config(rollout(str(report), "{0: legacy}"), port)
        r = run_cli("reload", "-c", str(d.config))
        assert r.returncode == 0 and "reload unchanged: config epoch 2" in r.stdout, (r.stdout, r.stderr)
        d.signal(signal.SIGTERM)
        assert d.wait(60) == 0, d.log()


def test_reload_of_an_instance_that_is_not_running_exits_1():
    r = run_cli("reload", "--instance", "nosuchinstance")
    assert r.returncode == 1 and "is not running" in r.stderr and "Traceback" not in r.stderr


def test_a_metrics_port_in_use_refuses_to_start(tmp_path, instance_name):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with Daemon(tmp_path, instance_name, "workers: {busy_poll: false}\n", metrics_port=port) as d:
            assert d.wait(60) == 2, d.log()
            assert f"cannot listen on 127.0.0.1 port {port}" in d.log() and "metrics.port" in d.log()
            assert d.segments() == []


def test_metrics_listen_on_ipv6_loopback(tmp_path, instance_name):
    """``start_http_server`` serves IPv6 too: ``metrics.listen: '::1'`` is scraped over [::1]."""
    if not socket.has_ipv6:
        return
    port = free_port()
    with Daemon(tmp_path, instance_name, "workers: {busy_poll: false}\n", metrics_port=port,
                metrics_listen="::1") as d:
        d.wait_ready()
        body = urllib.request.urlopen(f"http://[::1]:{port}/metrics", timeout=30).read().decode()
        assert "quotepipe_config_epoch" in body
        d.signal(signal.SIGTERM)
        assert d.wait(60) == 0, d.log()


def test_an_operator_halts_and_resumes_one_instrument_a_shard_and_everything(tmp_path, instance_name):
    port = free_port()
    with Daemon(tmp_path, instance_name, "workers: {count: 2, busy_poll: false}\n", metrics_port=port) as d:
        d.wait_ready()
        target = "binance-usdm:BTCUSDT"

        def orders(iid: str) -> int:
            return d.status()["instruments"][iid]["open_orders"]

        assert wait_for(lambda: orders(target) > 0, 60), d.log()
        r = run_cli("halt", "--instance", instance_name, "--instrument", target)
        assert r.returncode == 0 and "no open order left" in r.stdout, (r.stdout, r.stderr)
        s = d.status()
        assert s["instruments"][target]["operator_halted"] and s["operator"]["halted_instruments"] == [target]
        others = [i for i in s["instruments"] if i != target]
        assert wait_for(lambda: any(orders(i) > 0 for i in others), 30)  # the rest quote on
        assert scrape(port)[f'quotepipe_instrument_operator_halted{{instrument="{target}"}}'] == 1
        assert "halted by the operator: " + target in run_cli("status", "--instance", instance_name).stdout
        assert run_cli("resume", "--instance", instance_name, "--instrument", target).returncode == 0
        assert wait_for(lambda: orders(target) > 0, 60), "quotes return after a resume"
        # a shard, then everything
        assert run_cli("halt", "--instance", instance_name, "--shard", "1").returncode == 0
        shard1 = [i for i, row in d.status()["instruments"].items() if row["shard"] == 1]
        assert shard1 and all(orders(i) == 0 for i in shard1)
        assert run_cli("halt", "--instance", instance_name, "--all").returncode == 0
        assert all(orders(i) == 0 for i in d.status()["instruments"])
        assert d.status()["restarts"] == 0
        assert scrape(port)["quotepipe_operator_commands_total{}"] == 4
        r = run_cli("halt", "--instance", instance_name, "--instrument", "binance-spot:NOPE")
        assert r.returncode == 2 and "is not an instrument" in r.stderr
        d.signal(signal.SIGTERM)
        assert d.wait(60) == 0, d.log()
