"""``--json`` on every command that prints a result, and user errors: exit 2, a message, no traceback."""

from __future__ import annotations

import json
import signal

import pytest

from tests.conftest import run_cli
from tests.daemon_helpers import Daemon


def test_offline_commands_print_json(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("workers: {count: 2}\n")
    r = run_cli("check-config", str(cfg), "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["ok"] and len(got["shards"]) == 2 and len(got["instruments"]) == 6
    r = run_cli("replay", "--events", "20000", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["events"] == 20_000
    r = run_cli("config", "schema")
    assert "$defs" in json.loads(r.stdout) or "properties" in json.loads(r.stdout)


def test_daemon_commands_print_json(tmp_path, instance_name):
    with Daemon(tmp_path, instance_name, "workers: {busy_poll: false}\n", duration=60) as d:
        d.wait_ready()
        for args, check in (
                (["halt", "--instrument", "binance-usdm:BTCUSDT"],
                 lambda j: j["action"] == "halt" and j["instruments"] == ["binance-usdm:BTCUSDT"]),
                (["resume", "--all"], lambda j: j["action"] == "resume" and len(j["instruments"]) == 6),
                (["reload"], lambda j: j["result"] == "unchanged" and j["epoch"] == 1)):
            r = run_cli(*args, "--instance", instance_name, "--json")
            assert r.returncode == 0, r.stderr
            assert check(json.loads(r.stdout)), r.stdout
        d.signal(signal.SIGTERM)
        assert d.wait(90) == 0


def test_run_prints_its_summary_as_json(tmp_path, instance_name):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"instance: {{name: {instance_name}}}\nworkers: {{busy_poll: false}}\n"
                   "metrics: {port: 0}\n")
    r = run_cli("run", "-c", str(cfg), "--duration", "3", "--json", timeout=120)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert set(s["instruments"]) and "md_to_intent" in s


@pytest.mark.parametrize("args", [
    ["report"],
    ["report", "/nonexistent/run"],
    ["replay", "--events", "10", "--interval", "-1", "--out", "/tmp/qp-x"],
    ["replay", "--events", "10", "--out", "/nonexistent/parent/run"],
    ["status", "--instance", "nosuchinstance", "--watch", "--json"],
    ["replay", "/nonexistent.gz"],
    ["check-config", "/nonexistent.yaml", "--json"],
])
def test_user_errors_exit_2_with_a_message_and_no_traceback(args):
    r = run_cli(*args)
    assert r.returncode in (1, 2) and r.stderr.strip(), (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    if args[0] != "status":  # status of an instance that is not running: exit 1 (runtime)
        assert r.returncode == 2, r.stderr


def test_a_plan_that_shares_cores_is_warned_about():
    from quotepipe.runtime.cpu import pinning_warning

    assert pinning_warning(0, [1], [0, 1]) is None
    assert pinning_warning(0, [1, 2, 3], list(range(8))) is None
    w = pinning_warning(0, [1, None, None], [0, 1])
    assert w is not None and "4 busy processes" in w and "2 workers unpinned" in w
    w = pinning_warning(0, [1, 1], [0, 1, 2, 3])
    assert w is not None and "cores [1] pinned twice" in w
