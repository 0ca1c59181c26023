"""``quotepipe bench`` and ``quotepipe gate`` as a user runs them: reports, budgets, exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from quotepipe.config import Config
from quotepipe.gate.probe import REGIONS, count_run, load
from quotepipe.gate.runner import COUNTED, STAGES, count_regions, current_tree, marks_library, write_workload
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


class RecordingMarks:
    """The probe's region marks, natively: which stage calls fell inside which counted region."""

    def __init__(self, calls: dict[str, int]) -> None:
        self.calls, self.at_begin = calls, {}
        self.order: list[str] = []
        self.inside: dict[str, dict[str, int]] = {}

    def instrument(self) -> None:
        self.order.append("instrument")

    def begin(self) -> None:
        assert len(self.order) % 2 == 1, "a region began inside another"
        self.order.append("begin")
        self.at_begin = dict(self.calls)

    def end(self, name: str) -> None:
        self.order.append(name)
        self.inside[name] = {k: v - self.at_begin.get(k, 0) for k, v in self.calls.items()
                             if v != self.at_begin.get(k, 0)}


def test_the_count_probe_counts_each_stage_alone_over_captured_inputs(tmp_path, monkeypatch):
    """What runs under callgrind, run natively: each counted region is one pass of exactly one
    stage over the runner's inputs (the whole tick for ``tick_total``, no stage for the empty loop),
    warmed by an uncounted pass, and every region comes after instrumentation starts. The
    compiled runner calls its stages' C entries: the probe takes their inputs from its
    ``trace``, they must be the inputs of every tick, and it counts each stage through the
    runner's own C loop (``stage_calls``), as the runner calls it."""
    wl = tmp_path / "wl.msgpack"
    wl.write_bytes(msgspec.msgpack.encode(build_workload(Config(), limit=2000)))
    ticks = load(str(wl), 300)
    assert len(ticks) == 300
    from quotepipe.workers import pipeline

    calls: dict[str, int] = {}
    in_c = pipeline.stage_calls

    def counted(name, inputs):
        calls[name] = calls.get(name, 0) + len(inputs)
        return in_c(name, inputs)
    monkeypatch.setattr(pipeline, "stage_calls", counted)

    class CountedRunner(pipeline.PipelineRunner):
        def tick(self, *args):
            calls["tick"] = calls.get("tick", 0) + 1
            return super().tick(*args)
    monkeypatch.setattr(pipeline, "PipelineRunner", CountedRunner)
    marks = RecordingMarks(calls)
    count_run(ticks, marks)
    assert marks.order[0] == "instrument"
    assert marks.order[1:] == [x for name in REGIONS for x in ("begin", name)]
    assert marks.inside == {**{name: {name: 300} for name in REGIONS if name != "tick_total"},
                            "tick_total": {"tick": 300}}
    # the capture pass (traced, no stage call by name), then a warm and a counted pass of the
    # loop and of each stage over its 300 captured inputs, and of the whole tick
    assert calls == {**{name: 600 for name in REGIONS if name != "tick_total"}, "tick": 900}


def test_the_runner_traces_every_stage_input_of_every_tick():
    """``PipelineRunner.trace`` holds what each stage was given: called again on those arguments,
    each stage gives what the next one was given, and Emit the tick's intent."""
    from quotepipe.workers import pipeline

    ticks = build_workload(Config(), limit=2000)[:200]
    runner = pipeline.PipelineRunner(Config(), lambda intent: None)
    runner.trace = {name: [] for name in STAGES}
    intents = [runner.tick(slot, snap, ctx) for slot, snap, ctx in ticks]
    trace = runner.trace
    assert all(len(trace[name]) == len(ticks) for name in STAGES)
    after: dict[int, object] = {}  # each slot's state after its last tick
    for k, (slot, snap, ctx) in enumerate(ticks):
        assert trace["fetch_md"][k] == (snap, ctx.now_ns)
        if slot in after:
            assert trace["spread"][k][1] == after[slot]
        view = pipeline.fetch_md(*trace["fetch_md"][k])
        assert trace["spread"][k][0] == view and trace["guards"][k][0] == view
        sd = pipeline.spread(*trace["spread"][k])
        assert trace["guards"][k][1] == sd and trace["inventory"][k][0] == sd
        gd = pipeline.guards(*trace["guards"][k])
        assert trace["inventory"][k][1] == gd and trace["emit"][k][1] == gd
        inv = pipeline.inventory(*trace["inventory"][k])
        assert trace["queue_aware"][k][2] == inv
        qd = pipeline.queue_aware(*trace["queue_aware"][k])
        assert trace["emit"][k][0] == qd
        intent, state = pipeline.emit(*trace["emit"][k][:-1], lambda i: None)
        assert intent == intents[k]
        after[slot] = state
    assert len(after) > 1 and runner.states[slot] == after[slot]


def needs_valgrind() -> None:
    """Skipped where valgrind is absent (``make tools`` installs it), but never in CI."""
    if shutil.which("valgrind") is None or not Path("/usr/include/valgrind/callgrind.h").exists():
        reason = "needs valgrind and its callgrind.h (make tools installs them)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the instruction-count tests: {reason}")
        pytest.skip(reason)


def test_a_stage_count_does_not_move_with_the_environment(tmp_path, monkeypatch):
    """What once failed CI with no code changed: a stage's count must not depend on the process
    around it. Under callgrind, the same tree counted with an 8 KB larger environment, from
    another working folder, with a longer argv, gives every stage the same instructions a call,
    to one. (Whole-process marginals moved by hundreds to thousands a call with the heap's
    layout; counted regions under pymalloc still moved fetch_md by 15 a call:
    ``runner.COUNT_ENV``; and spread moved by 6 with argv's length while it compared strings
    with an ordering ``memcmp``: ``fields.is_choice``.)"""
    needs_valgrind()
    wl = tmp_path / "wl.msgpack"
    n = write_workload(Config(), [], 2000, wl)
    tree = current_tree()
    marks = marks_library(tmp_path)
    plain = count_regions(tree, wl, 0, marks, 0, tmp_path / "plain")
    monkeypatch.setenv("QUOTEPIPE_GATE_PAD", "x" * 8192)
    monkeypatch.chdir(tmp_path)
    longer = tmp_path / "a-longer-folder" / "wl.msgpack"  # argv moves the heap too
    longer.parent.mkdir()
    shutil.copy(wl, longer)
    padded = count_regions(tree, longer, 0, marks, 0, tmp_path / "padded")
    assert set(plain) == set(padded) >= {"loop", *COUNTED}
    for name in plain:  # the whole tick reads clocks, so its count may move by a few in 15,000
        tolerance = max(1.0, plain[name] / n * 0.001)
        assert abs(plain[name] - padded[name]) / n <= tolerance, (name, plain[name] / n, padded[name] / n)
    # and the regions measure the stages: each costs more than the empty loop around it
    assert all(plain[s] > plain["loop"] for s in STAGES)


def test_a_slower_stage_is_charged_to_that_stage_alone(tmp_path, monkeypatch):
    """The instruction gate end to end on two real trees: this one, and a copy whose spread
    stage pays one Python call more (in its compiled body, rebuilt in the copy: the runner calls
    the stages' C entries, which the probe counts). Spread fails the +2% rule; every other
    stage's count is unchanged."""
    from concurrent.futures import ThreadPoolExecutor

    from quotepipe.gate import runner
    from quotepipe.gate.decide import FAIL, PASS, compare_counts

    needs_valgrind()
    monkeypatch.setattr(runner, "LAYOUTS", (0,))  # one layout: the attribution, not the median
    wl = tmp_path / "wl.msgpack"
    write_workload(Config(), [], 2000, wl)
    with runner.copied(current_tree()) as same, runner.copied(current_tree()) as slower:
        spread = Path(slower.src) / "quotepipe" / "workers" / "stages" / "spread.pyx"
        text = spread.read_text()
        assert "    check(cfg, CONFIG)\n" in text
        text = text.replace("cpdef SpreadDecision spread(",  # the deliberate regression
                            "def _regression():\n    return None\n\n\ncpdef SpreadDecision spread(", 1)
        first = "    check(cfg, CONFIG)\n"
        spread.write_text(text.replace(first, "    _regression()\n" + first, 1))
        root = Path(slower.src).parent
        for build_file in ("setup.py", "pyproject.toml"):  # rebuilds what changed: spread alone
            shutil.copy(REPO / build_file, root)
        runner.build_extensions(root)
        with ThreadPoolExecutor(2) as pool:
            layouts = pool.map(lambda t: runner.count_layouts(t, wl, 0), (same, slower))
            base, cur = map(runner.median_counts, layouts)
    assert compare_counts("spread", base["spread"], cur["spread"], 2.0).verdict == FAIL
    for stage in STAGES:
        if stage != "spread":
            assert compare_counts(stage, base[stage], cur[stage], 2.0).verdict == PASS
            assert abs(cur[stage] - base[stage]) <= 1.0, (stage, base[stage], cur[stage])


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
