"""``quotepipe replay`` as a user runs it: summary, determinism, modes, the allocator's effect."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli

KEYS = {"md_updates", "ticks", "intents", "fills", "volume", "position", "pnl_usd", "net_bps", "fill_rate",
        "slippage_bps", "queue_edge", "adverse_penalty", "score", "weight", "blacklisted"}
STAGE_KEYS = {"fetch_md", "spread", "guards", "inventory", "queue_aware", "emit", "tick_total"}
TOXIC = {"binance-usdm:ETHUSDT", "binance-coinm:ETHUSD_PERP"}

#: sha256 of ``--quotes-out`` for fixed inputs. They hold quoting behaviour still across changes
#: meant to leave it alone (the structural step of issue 15 kept all three). A change that is
#: meant to alter quotes updates them in the same commit and says why in its message.
QUOTES_SHA256 = {
    # issue 20: the venue fills whole lots; the allocator keeps the mean weight at 1 and leaves
    # instruments without market data out of the normalisation; queue_edge measures how far up
    # its queue an order came (it was 0 or 1); the score is calibrated so that break-even is 0.5
    # then: an order behind the touch of a book without visible depth (before the depth snapshot,
    # L1-only, resyncing) shows its level as unseen and is kept instead of requeued (L1 churn)
    "recordings": "afe7190dac2e463dc977f7c98bd687ae5a8f542ab1668bc7de709428fa705140",
    # issue 20: the allocator's mean-one rescale; the new queue_edge; the calibrated score; then
    # the unseen level behind the touch (the synthetic feed sends no depth: all of it is L1-only);
    # then the allocator's softmax in the C library's exp, not numpy's: numpy's AVX-512 kernel
    # (the host this was first taken on) rounds some values otherwise than its AVX2 path and the C
    # library, so on an AVX2 host this test failed with the code unchanged. The hash is now the
    # AVX2 host's, and the same on any host.
    "synthetic": "7b749e453fa1bba7cefe6786d1e56822b074e57fc6c785408f0c5db8407bd785",
    # the allocator's exp, as above
    "synthetic_shadow_300k": "55ec110e2b9e9ed1b94852efa59359a6ea6bf03d21588ad6749ff7d707f9fbc3",
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def replay_procs(*runs: list[str]) -> list[subprocess.CompletedProcess]:
    """Start several replays at once (they are independent) and wait for all."""
    procs = [subprocess.Popen([sys.executable, "-m", "quotepipe", "replay", *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for args in runs]
    out = []
    for p, args in zip(procs, runs, strict=True):
        stdout, stderr = p.communicate(timeout=600)
        out.append(subprocess.CompletedProcess(args, p.returncode, stdout, stderr))
    return out


def test_synthetic_scenario_finds_the_toxic_instruments(tmp_path):
    shadow_cfg = tmp_path / "shadow.yaml"
    shadow_cfg.write_text("pipeline: {mode: shadow}\n")
    with_alloc, without, shadow = replay_procs(
        ["--summary-json", str(tmp_path / "a.json"), "--quotes-out", str(tmp_path / "a.jsonl")],
        ["--summary-json", str(tmp_path / "b.json"), "--no-allocator"],
        ["-c", str(shadow_cfg), "--events", "300000", "--quotes-out", str(tmp_path / "shadow.jsonl")])
    assert with_alloc.returncode == 0, with_alloc.stderr
    assert without.returncode == 0, without.stderr
    a = json.loads((tmp_path / "a.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    assert a["events"] == 1_000_000 and set(a["stages"]) == STAGE_KEYS
    for iid, row in a["instruments"].items():
        assert set(row) >= KEYS
        assert row["fills"] > 100, (iid, row)
        if iid in TOXIC:
            assert row["weight"] < 0.7, (iid, row)
        else:
            assert row["weight"] > 1.1, (iid, row)
    assert all(row["weight"] == 1.0 for row in b["instruments"].values())
    assert a["total_pnl_usd"] > b["total_pnl_usd"]
    assert "total PnL" in with_alloc.stdout
    assert shadow.returncode == 0, shadow.stderr
    assert sha256(tmp_path / "a.jsonl") == QUOTES_SHA256["synthetic"]
    assert sha256(tmp_path / "shadow.jsonl") == QUOTES_SHA256["synthetic_shadow_300k"]


@pytest.mark.realdata
def test_replays_of_the_recordings_are_byte_identical_and_modes_agree(real_recordings, tmp_path):
    legacy_cfg = tmp_path / "legacy.yaml"
    legacy_cfg.write_text("pipeline: {enabled: false}\n")
    files = [str(p) for p in real_recordings]
    runs = replay_procs(*[[*files, "--quotes-out", str(tmp_path / f"q{k}.jsonl"),
                           "--summary-json", str(tmp_path / f"s{k}.json")] for k in range(3)],
                        [*files, "-c", str(legacy_cfg), "--quotes-out", str(tmp_path / "legacy.jsonl")])
    for r in runs:
        assert r.returncode == 0, r.stderr
    q = [(tmp_path / f"q{k}.jsonl").read_bytes() for k in range(3)]
    assert len(q[0]) > 100_000
    assert q[0] == q[1] == q[2]
    assert sha256(tmp_path / "q0.jsonl") == QUOTES_SHA256["recordings"]
    assert (tmp_path / "legacy.jsonl").read_bytes() == q[0]  # legacy and pipeline quote alike
    s = json.loads((tmp_path / "s0.json").read_text())
    assert s["events"] == 332_200
    assert set(s["instruments"]) == {
        "binance-spot:BTCUSDT", "binance-spot:ETHUSDT", "binance-usdm:BTCUSDT", "binance-usdm:ETHUSDT",
        "binance-coinm:BTCUSD_PERP", "binance-coinm:ETHUSD_PERP"}
    line = json.loads(q[0].splitlines()[0])
    assert set(line) == {"t", "inst", "bid", "ask", "weight", "guard"}


def test_replay_refuses_an_instrument_missing_from_the_config(tmp_path):
    rec = tmp_path / "x.gz"
    with gzip.open(rec, "wt") as f:
        f.write('1723075200000000000 {"stream":"solusdt@bookTicker","data":{"u":1,"s":"SOLUSDT",'
                '"b":"150.0","B":"1","a":"150.1","A":"1"}}\n')
    r = run_cli("replay", str(rec))
    assert r.returncode == 2
    assert "SOLUSDT" in r.stderr and "instruments" in r.stderr


def test_replay_skips_malformed_lines_and_bad_paths(tmp_path):
    rec = tmp_path / "btc.txt"
    good = ('{"stream":"btcusdt@bookTicker","data":{"u":%d,"s":"BTCUSDT","b":"60000.00","B":"1",'
            '"a":"60000.01","A":"1"}}')
    lines = [f"{1723075200000000000 + k * 1000} {good % (k + 1)}" for k in range(50)]
    lines.insert(10, "garbage line")
    lines.insert(20, '1723075200000020000 {"stream": "btcusdt@bookTicker", "data": {')
    Path(rec).write_text("\n".join(lines) + "\n")
    r = run_cli("replay", str(rec), "--summary-json", str(tmp_path / "s.json"))
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["instruments"]["binance-spot:BTCUSDT"]["md_updates"] == 50
    assert run_cli("replay", str(tmp_path / "missing.gz")).returncode == 2
    bad_cfg = tmp_path / "bad.yaml"
    bad_cfg.write_text("spread: {model: magic}\n")
    r = run_cli("replay", "-c", str(bad_cfg), str(rec))
    assert r.returncode == 2 and "spread.model" in r.stderr


def test_replay_refuses_bad_options_before_any_work(tmp_path):
    for args, message in (
            (["--events", "-5"], "--events: expected a count >= 0, got -5"),
            (["--quotes-out", str(tmp_path / "no" / "q.jsonl")], "--quotes-out: folder"),
            (["--summary-json", str(tmp_path)], "is a folder, expected a file")):
        r = run_cli("replay", *args)
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_trades_without_a_price_change_no_fill(real_recordings, tmp_path):
    """41 price-less trades used to be sells at 0 that filled every resting bid (22 fills -> 73)."""
    src = next(p for p in real_recordings if p.name == "spot_btcusdt.gz")
    lines = gzip.decompress(src.read_bytes()).decode().splitlines()
    trades = [k for k, line in enumerate(lines) if "@trade" in line]
    step = len(trades) // 41
    dirty = list(lines)
    for k in reversed(trades[::step][:41]):  # after each chosen trade, its copy without a price
        broken = lines[k].replace('"m":false', '"m":true')
        broken = broken[:broken.index('"p":')] + broken[broken.index('"q":'):]
        dirty.insert(k + 1, broken)
    bad = tmp_path / "spot_btcusdt_dirty.gz"
    bad.write_bytes(gzip.compress(("\n".join(dirty) + "\n").encode()))
    clean_run, dirty_run = replay_procs(
        [str(src), "--summary-json", str(tmp_path / "clean.json"), "--quotes-out", str(tmp_path / "c.jsonl")],
        [str(bad), "--summary-json", str(tmp_path / "dirty.json"), "--quotes-out", str(tmp_path / "d.jsonl")])
    assert clean_run.returncode == 0 and dirty_run.returncode == 0, dirty_run.stderr
    clean = json.loads((tmp_path / "clean.json").read_text())
    dirty_s = json.loads((tmp_path / "dirty.json").read_text())
    inst = "binance-spot:BTCUSDT"
    assert dirty_s["malformed_lines"] == 41 and clean["malformed_lines"] == 0
    assert dirty_s["instruments"][inst]["fills"] == clean["instruments"][inst]["fills"] > 0
    assert sha256(tmp_path / "d.jsonl") == sha256(tmp_path / "c.jsonl")
    assert f"{bad}:" in dirty_run.stderr and "missing required field `p`" in dirty_run.stderr
    assert "41 malformed lines skipped" in dirty_run.stdout


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["usdm_btcusdt.gz", "spot_ethusdt.gz"])
def test_an_l1_only_book_does_not_churn(real_recordings, tmp_path, name):
    """The same recording without its depth lines and snapshot: its intents used to be 2.9x
    those with L2 (an order behind the touch requeued on every move of the target)."""
    src = next(p for p in real_recordings if p.name == name)
    lines = gzip.decompress(src.read_bytes()).decode().splitlines()
    l1 = [line for line in lines if "@depth" not in line and "lastUpdateId" not in line]
    assert len(l1) < len(lines)
    l1_path = tmp_path / f"l1_{name}"
    l1_path.write_bytes(gzip.compress(("\n".join(l1) + "\n").encode()))
    runs = replay_procs([str(src), "--summary-json", str(tmp_path / "l2.json")],
                        [str(l1_path), "--summary-json", str(tmp_path / "l1.json")])
    assert all(r.returncode == 0 for r in runs), runs[1].stderr
    l2_row, l1_row = (next(r for r in json.loads((tmp_path / f"{k}.json").read_text())["instruments"].values()
                           if r["md_updates"]) for k in ("l2", "l1"))
    assert l1_row["intents"] <= 1.25 * l2_row["intents"], (l1_row, l2_row)
    assert l1_row["fills"] > 0
