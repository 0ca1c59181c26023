"""Backtest results: the run directory of ``replay --out``, its figures, ``quotepipe report``."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from quotepipe.results import figures
from quotepipe.results.rundir import EQUITY_COLUMNS, FIGURES, FILL_COLUMNS, MARKOUT_S, SERIES_COLUMNS
from tests.conftest import run_cli


def test_max_drawdown_is_the_largest_fall_from_a_running_peak():
    assert figures.max_drawdown([0, 5, 3, 8, 2, 4]) == 6          # 8 -> 2
    assert figures.max_drawdown([0, -3, 1]) == 3                  # the start is a peak
    assert figures.max_drawdown([1, 2, 3]) == 0
    assert figures.max_drawdown([]) == 0


def test_sharpe_and_sortino_on_a_known_series():
    d = [1.0, -1.0, 1.0, -1.0, 2.0]
    # mean 0.4; sample variance (0.36 + 1.96 + 0.36 + 1.96 + 2.56) / 4 = 1.8; 4 periods: x2
    assert figures.sharpe(d, 4) == pytest.approx(0.4 / math.sqrt(1.8) * 2)
    # downside deviation sqrt((1 + 1) / 5)
    assert figures.sortino(d, 4) == pytest.approx(0.4 / math.sqrt(0.4) * 2)
    assert figures.sharpe([1.0], 4) is None and figures.sharpe([1.0, 1.0], 4) is None
    assert figures.sortino([1.0, 2.0], 4) is None  # no downside
    assert figures.changes([1.0, 4.0, 2.0]) == [3.0, -2.0]


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as f:
        r = csv.DictReader(f)
        return list(r.fieldnames or []), list(r)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("runs")
    a, b = base / "allocator", base / "no-allocator"
    procs = [subprocess.Popen([sys.executable, "-m", "quotepipe", "replay", "--events", "200000", "--out",
                               str(d), "--interval", "0.5", *extra], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for d, extra in ((a, []), (b, ["--no-allocator"]))]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert "run directory:" in out
    return a, b


def test_the_run_directory_holds_every_file_with_its_columns(runs):
    run = runs[0]
    assert {p.name for p in run.iterdir()} == {"summary.json", "fills.csv", "quotes.jsonl", "timeseries.csv",
                                               "equity.csv", "latency.json"}
    s = json.loads((run / "summary.json").read_text())
    cols, fills = read_csv(run / "fills.csv")
    assert tuple(cols) == FILL_COLUMNS
    assert len(fills) == s["figures"]["fills"] == sum(r["fills"] for r in s["instruments"].values()) > 100
    end = s["run"]["last_ns"]
    for f in fills:
        assert float(f["qty"]) > 0 and f["side"] in ("buy", "sell") and f["time_utc"].endswith("Z")
        for h in MARKOUT_S:  # every markout whose horizon ended inside the run has landed
            if int(f["t_ns"]) + h * 1_000_000_000 < end - 1_000_000_000:
                assert f[f"markout_{h}s_bps"] != "", f
    quotes = (run / "quotes.jsonl").read_text().splitlines()
    assert len(quotes) == sum(r["intents"] for r in s["instruments"].values())
    cols, series = read_csv(run / "timeseries.csv")
    assert tuple(cols) == SERIES_COLUMNS
    cols, equity = read_csv(run / "equity.csv")
    assert tuple(cols) == EQUITY_COLUMNS
    steps = {int(b["t_ns"]) - int(a["t_ns"]) for a, b in zip(equity, equity[1:-1], strict=False)}
    assert min(steps) >= 500_000_000  # one sample per 0.5 s of event time at most
    assert float(equity[-1]["equity_usd"]) == pytest.approx(s["total_pnl_usd"], abs=1e-6)
    assert len(series) >= len(equity[:-1]) * 6  # six instruments with market data
    latency = json.loads((run / "latency.json").read_text())
    assert sum(latency["tick_total"]["counts"]) == sum(r["ticks"] for r in s["instruments"].values())


def test_the_summary_has_the_figures_users_expect(runs):
    s = json.loads((runs[0] / "summary.json").read_text())
    f = s["figures"]
    assert set(FIGURES) <= set(f)
    assert f["pnl_net_usd"] == s["total_pnl_usd"]
    _, equity = read_csv(runs[0] / "equity.csv")
    curve = [float(e["equity_usd"]) for e in equity]
    assert f["max_drawdown_usd"] == pytest.approx(figures.max_drawdown(curve), abs=1e-6)
    assert "per 0.5 s" in f["sharpe_basis"] and f["sharpe"] is not None
    assert 0 < f["fill_rate"] <= 1 and f["turnover_usd"] > 0
    assert f["quoting_share"] + f["pulled_share"] == pytest.approx(1.0)
    _, fills = read_csv(runs[0] / "fills.csv")
    got = [float(r["markout_1s_bps"]) for r in fills if r["markout_1s_bps"]]
    assert f["markout_1s_bps"] == pytest.approx(sum(got) / len(got), abs=1e-4)
    assert f["fees_usd"] == pytest.approx(sum(float(r["fee_usd"]) for r in fills), abs=1e-5)
    for row in s["instruments"].values():
        assert {"fill_rate", "markout_1s_bps", "quoting_share"} <= set(row["figures"])


def test_report_draws_two_runs_side_by_side(runs, tmp_path):
    out = tmp_path / "report"
    r = run_cli("report", str(runs[0]), str(runs[1]), "-o", str(out), "--json")
    assert r.returncode == 0, r.stderr
    files = [Path(p) for p in json.loads(r.stdout)["files"]]
    assert {p.name for p in files} == {"equity.png", "positions.png", "weights.png", "markouts.png",
                                       "latency.png", "report.html"}
    for p in files:
        if p.suffix == ".png":
            assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000
    page = (out / "report.html").read_text()
    assert "allocator" in page and "no-allocator" in page and page.count("data:image/png;base64,") == 5
    assert "max_drawdown_usd" in page and "src=\"http" not in page  # self-contained


@pytest.mark.parametrize("make", ["missing", "not_a_run", "a_file"])
def test_report_refuses_what_is_not_a_run_directory(tmp_path, make):
    path = tmp_path / make
    if make == "not_a_run":
        path.mkdir()
        (path / "summary.json").write_text("{}")
    elif make == "a_file":
        path.write_text("x")
    r = run_cli("report", str(path), "-o", str(tmp_path / "out"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert str(path) in r.stderr and ("run directory" in r.stderr or "not a folder" in r.stderr), r.stderr


def test_replay_out_refuses_a_file_and_a_missing_parent(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    for bad, why in ((f, "is not a folder"), (tmp_path / "no" / "such", "does not exist")):
        r = run_cli("replay", "--events", "10", "--out", str(bad))
        assert r.returncode == 2 and why in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = run_cli("replay", "--events", "10", "--out", str(tmp_path / "x"), "--interval", "0")
    assert r.returncode == 2 and "--interval" in r.stderr


def test_replay_shows_percent_done_and_eta_on_a_terminal(tmp_path):
    master, slave = os.openpty()
    p = subprocess.Popen([sys.executable, "-m", "quotepipe", "replay", "--events", "400000"],
                         stdout=subprocess.DEVNULL, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    assert p.wait(timeout=300) == 0
    os.close(master)
    text = seen.decode(errors="replace")
    assert "% ETA " in text and "events" in text, text[-500:]
