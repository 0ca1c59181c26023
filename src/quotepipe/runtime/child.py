"""The one skeleton of every supervised child: market data, workers, venue, scoreboard.

In the manner of gunicorn's ``workers/base.py``: the base owns the plumbing that
is the same for every role, a subclass keeps only its own work. ``housekeeping``
is called by the subclass's loop whenever ``next_house`` has passed (from a
busy loop too, so a loaded process still beats). One turn:

- beats the heartbeat in the control block;
- accounts for stalls: a turn later than ``STALL_NS`` after the previous one
  is counted (``stalls``) and the longest gap is kept (``loop_gap_max_ms``),
  so a starved process shows as such rather than only as a late heartbeat;
- exits (returns False) on the control block's shutdown or when the
  supervisor is gone, after ``on_stop`` and a last ``publish_counters``;
- follows a new config epoch: reads the config block, calls ``reconfigure``,
  acknowledges the epoch it applied;
- runs the role's own ``on_turn`` (halt flags, cancel requests);
- publishes the role's counters (``publish_counters``) as deltas.

The process name (``qp-md``, ``qp-worker-3``, ...) and title (``quotepipe:
worker 3 [instance]``) are set at ``start`` so ``top`` and ``ps`` tell the
processes apart.
"""

from __future__ import annotations

import time

from quotepipe.config import Config
from quotepipe.runtime.lifeline import parent_alive, set_process_name
from quotepipe.runtime.silence import STALL_NS
from quotepipe.shm.catalog import Attached
from quotepipe.shm.stats import CounterTotals, StatsBlock

HOUSEKEEPING_NS = 50_000_000   #: heartbeat and control-block follow-up period
#: ring records a child takes in one go before its loop turns again (and can beat): a ring that
#: never empties, or a starved low-priority process with a backlog, still reaches housekeeping
DRAIN_MAX = 4096


class ChildProcess:
    """Base of the four child roles. ``name`` is the role as logs and titles show it."""

    name = "child"

    def __init__(self, shm: Attached, proc_slot: int, stats: StatsBlock) -> None:
        self.shm = shm
        self.cfg: Config = shm.cfg
        self.shards = shm.shards
        self.proc_slot = proc_slot
        self.control = shm.control()
        self.config_block = shm.config_block()
        self.stats = stats
        self.totals = CounterTotals(stats)
        self.epoch = self.control.epoch
        self.next_house = 0
        self._last_house = 0
        self.stalls = 0
        self.loop_gap_max_ns = 0

    # ---------------------------------------------------------------- hooks
    def reconfigure(self, cfg: Config, epoch: int) -> None:
        """A new config epoch was accepted by the supervisor (only reloadable sections change)."""
        self.cfg = cfg

    def on_turn(self) -> None:
        """The role's own follow-up of the control block, once per housekeeping turn."""

    def publish_counters(self) -> None:
        """Publish the role's totals into its stats block (``self.totals.publish*``)."""

    def on_stop(self) -> None:
        """Last work before the final ``publish_counters`` (flush buffers)."""

    # ---------------------------------------------------------------- skeleton
    def start(self) -> None:
        """Before the loop: the process title, the epoch in force, a first beat."""
        set_process_name(f"qp-{self.name.replace(' ', '-')}",
                         f"quotepipe: {self.name} [{self.cfg.instance.name}]")
        self.control.set_applied_epoch(self.proc_slot, self.epoch)
        now = time.monotonic_ns()
        self.control.beat(self.proc_slot, now)
        self._last_house = now
        self.next_house = now + HOUSEKEEPING_NS

    def housekeeping(self, now: int) -> bool:
        """One turn (see the module docstring). False: time to exit."""
        control = self.control
        control.beat(self.proc_slot, now)
        gap = now - self._last_house
        if gap > STALL_NS:
            self.stalls += 1
        if gap > self.loop_gap_max_ns:
            self.loop_gap_max_ns = gap
        self._last_house = now
        self.next_house = now + HOUSEKEEPING_NS
        if control.shutdown or not parent_alive():
            self.on_stop()
            self._publish_totals()
            return False
        if control.epoch != self.epoch:
            epoch, cfg, _ = self.config_block.read()
            self.reconfigure(cfg, epoch)
            self.epoch = epoch
            control.set_applied_epoch(self.proc_slot, epoch)
        self.on_turn()
        self._publish_totals()
        return True

    def _publish_totals(self) -> None:
        self.publish_counters()
        self.totals.publish("stalls", self.stalls)
        self.stats.set_gauge("loop_gap_max_ms", self.loop_gap_max_ns / 1e6)
