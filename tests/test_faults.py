"""Faults on purpose, on real processes: stopped processes, a stalled host, a killed scoreboard.

Each test starts a real instance (``quotepipe run``) and asserts what a user
sees: who was killed and restarted (counts), what the venue cancelled, what the
weights are, and what the log and the metrics say. Durations are generous and
every wait is bounded by a count or a state, not by a timing assumption.
"""

from __future__ import annotations

import os
import signal
import time

from quotepipe.config import default_config
from quotepipe.domain.shards import shard_of
from tests.daemon_helpers import Daemon, wait_for

LIGHT = "workers: {busy_poll: false}\n"


def _intents(d: Daemon) -> int:
    return d.status()["workers"]["intents"]


def _quotes_on(d: Daemon, more: int = 50, timeout: float = 60) -> bool:
    before = _intents(d)
    return wait_for(lambda: _intents(d) >= before + more, timeout)


def test_stopping_the_whole_instance_for_3_s_kills_nothing(tmp_path, instance_name):
    """Like Ctrl-Z on the terminal, or a VM paused: every process is stopped, then continued."""
    with Daemon(tmp_path, instance_name, LIGHT, own_group=True) as d:
        d.wait_ready()
        assert _quotes_on(d)
        os.killpg(d.proc.pid, signal.SIGSTOP)
        time.sleep(3.0)
        os.killpg(d.proc.pid, signal.SIGCONT)
        assert _quotes_on(d), d.log()
        s = d.status()
        assert s["restarts"] == 0 and s["supervisor"]["silent_kills"] == 0, d.log()
        assert s["venue"]["silence_cancels"] == 0
        assert "silent for" not in d.log() and d.proc.poll() is None
        assert s["supervisor"]["stalls"] >= 1 and s["supervisor"]["loop_gap_max_ms"] >= 2500
        d.signal(signal.SIGTERM)
        assert d.wait(60) == 0, d.log()


def test_a_host_stall_that_wakes_the_supervisor_first_kills_nothing(tmp_path, instance_name):
    """A stall longer than the heartbeat time-out, after which the supervisor runs before the
    children do: every beat it reads is seconds old, but the children were not silent while
    it ran, so none is killed (it used to kill md, venue and scoreboard and exit 1)."""
    with Daemon(tmp_path, instance_name, LIGHT) as d:
        d.wait_ready()
        assert _quotes_on(d)
        children = [p["pid"] for p in d.status()["processes"] if p["role"] != "supervisor"]
        for pid in children:
            os.kill(pid, signal.SIGSTOP)
        os.kill(d.proc.pid, signal.SIGSTOP)
        time.sleep(3.0)  # > heartbeat_timeout_ms (2000)
        os.kill(d.proc.pid, signal.SIGCONT)
        time.sleep(0.3)  # the supervisor looks at 3.3 s old beats for a few turns
        for pid in children:
            os.kill(pid, signal.SIGCONT)
        assert _quotes_on(d), d.log()
        s = d.status()
        assert s["restarts"] == 0 and s["supervisor"]["silent_kills"] == 0, d.log()
        assert "supervisor: this process did not run for" in d.log()
        assert d.proc.poll() is None
        d.signal(signal.SIGTERM)
        assert d.wait(60) == 0, d.log()


def test_a_stopped_workers_orders_are_cancelled_before_it_is_killed_and_restarted(tmp_path, instance_name):
    """The venue's dead-man's switch: a stopped worker's quotes do not rest until the time-out."""
    cfg = default_config()
    shard0 = [i.id for i in cfg.instruments if shard_of(i, 2) == 0]
    yaml = ("workers: {count: 2, busy_poll: false}\nvenue: {cancel_on_silence_ms: 300}\n"
            "supervisor: {heartbeat_timeout_ms: 4000}\n")
    with Daemon(tmp_path, instance_name, yaml) as d:
        d.wait_ready()

        def open_orders() -> int:
            return sum(d.status()["instruments"][i]["open_orders"] for i in shard0)

        assert wait_for(lambda: open_orders() > 0, 60), d.log()
        worker = d.process("worker", 0)
        os.kill(worker["pid"], signal.SIGSTOP)
        assert wait_for(lambda: d.status()["venue"]["silence_cancels"] >= 1, 30), d.log()
        assert open_orders() == 0
        assert d.process("worker", 0)["restarts"] == 0  # cancelled first, while it is still stopped
        assert wait_for(lambda: d.process("worker", 0)["restarts"] == 1, 60), d.log()
        log = d.log()
        cancelled = log.index("venue: worker 0 silent for")
        killed = log.index(f"worker 0 (pid {worker['pid']}) silent for")
        assert cancelled < killed, log
        silent_ms = float(log[cancelled:].split("silent for ")[1].split(" ms")[0])
        assert 300 <= silent_ms < 4000
        assert d.status()["venue"]["silence_cancels"] == 1  # once per silence
        assert wait_for(lambda: open_orders() > 0, 60), "the restarted worker quotes again"
        d.signal(signal.SIGTERM)
        assert d.wait(60) == 0, d.log()


def test_a_killed_scoreboard_comes_back_with_what_it_had_learned(tmp_path, instance_name):
    """kill -9 of the scoreboard used to reset every score to 0.5, and the allocator then walked
    the toxic instruments' weights (0.72, 0.68) back to 1 within half a second."""
    # a feed that ends: once its last markouts have landed, scores and weights stand still, so
    # "the same weights after the restart" is a measurement, not a race with the market
    yaml = (LIGHT + "feed: {speed: 10, synthetic: {events: 60000}}\n"
            "symbol_scoreboard: {prior_fills: 0, markout_horizon_s: 0.5}\n"
            "dynamic_allocator: {interval_ms: 100}\n")
    with Daemon(tmp_path, instance_name, yaml) as d:
        d.wait_ready()

        def weights() -> dict[str, float]:
            return {k: v["weight"] for k, v in d.status()["instruments"].items()}

        assert wait_for(lambda: d.status()["market_data"]["feed_done"], 120), d.log()
        seen = {"version": -1, "at": 0}

        def settled() -> bool:  # no publication over the last 30 allocation rounds
            s = d.status()
            if s["weights_version"] != seen["version"]:
                seen.update(version=s["weights_version"], at=s["scoreboard"]["allocations"])
            return s["scoreboard"]["allocations"] - seen["at"] >= 30

        assert wait_for(settled, 180, every=0.2), weights()
        assert min(weights().values()) < 0.85, weights()  # it had learned something
        before = weights()
        fills_before = sum(v["fills"] for v in d.status()["instruments"].values())
        board = d.process("scoreboard")
        os.kill(board["pid"], signal.SIGKILL)
        assert wait_for(lambda: d.process("scoreboard")["restarts"] == 1, 60), d.log()
        assert wait_for(lambda: "scoreboard: restarted from its checkpoint" in d.log(), 60), d.log()
        allocations = d.status()["scoreboard"]["allocations"]
        assert wait_for(lambda: d.status()["scoreboard"]["allocations"] >= allocations + 20, 60)
        after = weights()
        for iid, w in before.items():
            assert abs(after[iid] - w) <= 0.05 * w, (iid, before, after)
        scores = {k: v["score"] for k, v in d.status()["instruments"].items()}
        assert min(scores.values()) < 0.5 - 1e-3, scores  # not the blank prior
        assert sum(v["fills"] for v in d.status()["instruments"].values()) >= fills_before
        d.signal(signal.SIGTERM)
        assert d.wait(60) == 0, d.log()
