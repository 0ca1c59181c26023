"""Entry point of every child process the supervisor starts.

``python -m quotepipe.daemon.child ROLE INSTANCE PROC_SLOT INDEX CPU RESTARTS PARENT_PID``

A child is a fresh interpreter (``subprocess``, nothing pickled): it ties
itself to the supervisor (killed with it), ignores the terminal's SIGINT and
SIGHUP (the supervisor alone decides how a stop or a reload goes), pins
itself, reads the config in force from the instance's config block, and runs
its role until the control block says shutdown or the supervisor is gone.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Sequence

from quotepipe.runtime.cpu import pin
from quotepipe.runtime.lifeline import watch_parent
from quotepipe.shm.catalog import Attached
from quotepipe.shm.control import Role

ROLES = {"md": Role.MARKET_DATA, "worker": Role.WORKER, "venue": Role.VENUE, "scoreboard": Role.SCOREBOARD}

#: the log level the children inherit from `quotepipe --log-level`
LOG_LEVEL_ENV = "QUOTEPIPE_LOG_LEVEL"


def child_argv(role: str, instance: str, proc_slot: int, index: int, cpu: int | None, restarts: int,
               parent_pid: int) -> list[str]:
    return [sys.executable, "-m", "quotepipe.daemon.child", role, instance, str(proc_slot), str(index),
            "-1" if cpu is None else str(cpu), str(restarts), str(parent_pid)]


def main(argv: Sequence[str]) -> int:
    role, instance, proc_slot, index, cpu, restarts, parent = argv
    slot, idx, core, n_restarts = int(proc_slot), int(index), int(cpu), int(restarts)
    if not watch_parent(int(parent)):
        return 0
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    name = f"worker {idx}" if role == "worker" else role
    logging.basicConfig(level=os.environ.get(LOG_LEVEL_ENV, "INFO"), stream=sys.stderr,
                        format=f"%(asctime)s quotepipe[{name} pid {os.getpid()}] %(levelname)s %(message)s")
    pin(None if core < 0 else core)
    cfg = Attached.from_config_block(instance).cfg
    assert cfg is not None
    if role == "md":
        from quotepipe.marketdata.process import run_market_data

        return run_market_data(cfg, slot, None if core < 0 else core)
    if role == "worker":
        from quotepipe.workers.worker import run_worker

        return run_worker(cfg, idx, slot)
    if role == "venue":
        from quotepipe.venue.process import run_venue

        return run_venue(cfg, slot)
    if role == "scoreboard":
        from quotepipe.scoreboard.process import run_scoreboard

        return run_scoreboard(cfg, slot, restarted=n_restarts > 0)
    print(f"quotepipe child: unknown role {role!r}; expected one of {', '.join(ROLES)}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
