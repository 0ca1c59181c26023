"""The Grafana dashboard asks only for metrics a real scrape has, and the scrape lints clean."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import urllib.request

import pytest

from tests.conftest import REPO
from tests.daemon_helpers import Daemon, free_port, wait_for

DASHBOARD = REPO / "dashboards" / "quotepipe.json"


def expressions() -> list[tuple[str, str]]:
    d = json.loads(DASHBOARD.read_text())
    return [(p["title"], t["expr"]) for p in d["panels"] for t in p.get("targets", [])]


def test_the_dashboard_is_a_grafana_model_with_every_panel_wanted():
    d = json.loads(DASHBOARD.read_text())
    assert d["uid"] == "quotepipe" and d["schemaVersion"] >= 30
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    assert all({"h", "w", "x", "y"} <= set(p["gridPos"]) for p in d["panels"])
    assert {v["name"] for v in d["templating"]["list"]} == {"datasource", "instance"}
    titles = " | ".join(p["title"] for p in d["panels"]).lower()
    for wanted in ("stage p95 by shard and mode", "tick_total", "md-to-intent", "deadline misses",
                   "shadow mismatches", "guard trips", "score", "weight", "net markout", "fill rate",
                   "position", "blacklisted", "ring overruns", "restarts", "reloads"):
        assert wanted in titles, wanted
    for title, expr in expressions():
        assert 'instance=~"$instance"' in expr, title


def test_every_dashboard_query_names_metrics_a_real_scrape_has(tmp_path, instance_name):
    port = free_port()
    yaml = "workers: {count: 2, busy_poll: false}\npipeline: {shard_modes: {1: shadow}}\n"
    with Daemon(tmp_path, instance_name, yaml, metrics_port=port) as d:
        d.wait_ready()
        assert wait_for(lambda: d.status()["workers"]["ticks"] > 100, 60)
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
        d.signal(signal.SIGTERM)
        assert d.wait(60) == 0, d.log()
    scraped = {m.group(1) for m in re.finditer(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", body, re.M)}
    for title, expr in expressions():
        names = set(re.findall(r"\bquotepipe_[a-z0-9_]+", expr))
        assert names, (title, expr)
        missing = names - scraped
        assert not missing, f"panel {title!r} asks for {missing}, not in a real scrape"
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("CI must lint the scrape: promtool is not installed (make tools installs it)")
        pytest.skip("promtool is not installed")
    r = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
