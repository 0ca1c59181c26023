"""``quotepipe bench`` and ``quotepipe gate`` as a user runs them: reports, budgets, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import msgspec

from quotepipe.config import Config
from quotepipe.gate.probe import count_run, load
from quotepipe.gate.workload import build_workload
from tests.conftest import REPO, run_cli


def bench(tmp_path, name: str, *extra: str) -> dict:
    out = tmp_path / f"{name}.json"
    r = run_cli("bench", "--replicates", "2", "--events", "3000", "--json", str(out), *extra, timeout=300)
    assert r.returncode in (0, 1), r.stderr
    report = json.loads(out.read_text())
    assert report["kind"] == "quotepipe-bench" and report["replicates"] == 2
    return report


def test_bench_reports_every_stage_per_replicate_with_a_fingerprint(tmp_path):
    report = bench(tmp_path, "a")
    for stage in ("fetch_md", "spread", "guards", "inventory", "queue_aware", "emit", "tick_total"):
        for q in ("p50_us", "p95_us", "p99_us"):
            fig = report["figures"][f"{stage}.{q}"]
            assert len(fig["values"]) == 2 and fig["min"] <= fig["median"] <= fig["max"]
    fp = report["fingerprint"]
    assert fp["cores"] >= 1 and fp["python"] and "numpy" in fp["packages"]
    assert report["budgets_us"]["tick_total"] == Config().stage_budgets.tick_total_us


def test_a_stage_over_its_budget_fails_the_gate_naming_the_budget(tmp_path):
    report = bench(tmp_path, "b")
    path = str(tmp_path / "b.json")
    tight = tmp_path / "tight.yaml"
    tight.write_text("stage_budgets: {guards_us: 0.001}\n")
    r = run_cli("gate", "--baseline", path, "--current", path, "-c", str(tight))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "OVER BUDGET: guards" in r.stdout and "stage_budgets.guards_us" in r.stdout
    # the same report against itself, default budgets: no regression; few replicates: inconclusive
    r = run_cli("gate", "--baseline", path, "--current", path)
    assert r.returncode == 3 and "at least 5" in r.stdout, r.stdout
    assert report["over_budget"] == []


def test_reports_from_different_hosts_are_inconclusive(tmp_path):
    report = bench(tmp_path, "c")
    other = json.loads(json.dumps(report))
    other["fingerprint"]["cpu_model"] = "another CPU"
    for fig in other["figures"].values():
        fig["values"] = fig["values"] * 4  # enough replicates: only the fingerprint stands in the way
    (tmp_path / "other.json").write_text(json.dumps(other))
    base = dict(other, fingerprint=report["fingerprint"])
    (tmp_path / "base.json").write_text(json.dumps(base))
    r = run_cli("gate", "--baseline", str(tmp_path / "base.json"), "--current", str(tmp_path / "other.json"),
                "--json", str(tmp_path / "g.json"))
    assert r.returncode == 3, r.stdout
    assert json.loads((tmp_path / "g.json").read_text())["fingerprints_differ"] == ["cpu_model"]


def test_bad_input_exits_2_without_a_traceback(tmp_path):
    (tmp_path / "x.json").write_text("{}")
    cases = [
        ("gate",),
        ("gate", "--baseline", str(tmp_path / "missing.json"), "--current", str(tmp_path / "x.json")),
        ("gate", "--baseline", str(tmp_path / "x.json"), "--current", str(tmp_path / "x.json")),
        ("gate", "--against", "no-such-ref-anywhere", "--counter", "instructions"),
        ("gate", "--host-check", "--cores", "9999"),
        ("bench", "--cores", "a,b"),
        ("gate", "--against", "HEAD", "--threshold", "-1"),
    ]
    for args in cases:
        r = run_cli(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr and r.stderr.startswith("quotepipe"), (args, r.stderr)


def test_host_check_says_what_to_change(tmp_path):
    r = run_cli("gate", "--host-check", "--json", str(tmp_path / "h.json"))
    assert r.returncode in (0, 3)
    checks = json.loads((tmp_path / "h.json").read_text())["checks"]
    assert {c["name"] for c in checks} == {"isolated cores", "fixed frequency", "no busy SMT sibling",
                                            "low load"}
    assert all(c["advice"] for c in checks)


def test_the_count_probe_runs_every_stage_over_captured_inputs(tmp_path, monkeypatch):
    """What runs under cachegrind, run natively: each stage sees exactly the runner's inputs."""
    wl = tmp_path / "wl.msgpack"
    wl.write_bytes(msgspec.msgpack.encode(build_workload(Config(), limit=2000)))
    ticks = load(str(wl), 300)
    assert len(ticks) == 300
    from quotepipe.workers import pipeline

    calls: dict[str, int] = {}
    for name in ("guards", "emit"):
        fn = getattr(pipeline, name)

        def counted(*args, _fn=fn, _name=name):
            calls[_name] = calls.get(_name, 0) + 1
            return _fn(*args)
        monkeypatch.setattr(pipeline, name, counted)
    count_run(ticks, "none")
    # once in the capture pass, once in the fresh whole-tick pass, once in the stage's own loop
    assert calls == {"guards": 900, "emit": 900}
    calls.clear()
    count_run(ticks, "guards")  # the extra pass repeats one stage's loop only
    assert calls == {"guards": 1200, "emit": 900}


def test_the_probe_times_an_older_tree_layout_too():
    """The probe is run by path against any tree: it must not import the gate itself."""
    src = (REPO / "src" / "quotepipe" / "gate" / "probe.py").read_text()
    assert "quotepipe.gate" not in src
    r = subprocess.run([sys.executable, str(REPO / "src/quotepipe/gate/probe.py"), "--help"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "time" in r.stdout


def test_the_committed_baseline_holds_the_config_budgets_and_a_fingerprinted_measurement():
    """``artifacts/baseline/stage_budgets.json`` is a bench report: the budgets in force (the
    config's ``stage_budgets`` defaults are their one source) and the baseline measured with them."""
    data = json.loads((REPO / "artifacts" / "baseline" / "stage_budgets.json").read_text())
    b = Config().stage_budgets
    expected = {s: getattr(b, f"{s}_us") for s in ("fetch_md", "spread", "guards", "inventory",
                                                     "queue_aware", "emit")}
    assert data["budgets_us"] == {**expected, "tick_total": b.tick_total_us}
    assert data["kind"] == "quotepipe-bench" and data["fingerprint"]["cpu_model"]
    assert data["over_budget"] == [] and data["replicates"] >= 5


def test_the_wall_time_gate_on_an_untuned_host_is_inconclusive(tmp_path):
    """A/A on wall time: a base commit in a worktree against this tree, interleaved; this shared
    host cannot resolve 3%, so the answer is inconclusive (never a failure), with the reasons."""
    out = tmp_path / "wall.json"
    r = run_cli("gate", "--against", "HEAD", "--ticks", "1000", "--max-replicates", "5", "--seed", "3",
                "--json", str(out), timeout=600)
    report = json.loads(out.read_text())
    can = all(c["ok"] for c in report["host_check"])
    assert r.returncode == (3 if not can else r.returncode) and r.returncode in (0, 3), r.stdout + r.stderr
    assert report["counter"] == "wall" and len(report["findings"]) == 14
    assert report["runs"][0]["replicates"] >= 5
    if not can:
        assert all(f["verdict"] == "inconclusive" for f in report["findings"])
        assert "cannot resolve wall time" in r.stdout
