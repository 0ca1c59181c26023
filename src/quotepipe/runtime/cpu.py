"""CPU affinity: the cores this host gives us, and pinning a process to one of them.

A pin that the kernel refuses (a core outside the cgroup's set, a process that
is gone) is logged with the reason and the process runs on unpinned: a pinning
failure is never silent.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def host_cpus() -> list[int]:
    """Cores this process may run on (its affinity at the time of the call)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))  # pragma: no cover - non-Linux


def pin(cpu: int | None, pid: int = 0) -> bool:
    """Pin process ``pid`` (0: this one) to ``cpu``; a no-op for None. False (logged) when the
    host refused."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return cpu is None
    return _set_affinity(pid, {cpu}, f"pin to core {cpu}")


def restrict(cpus: set[int] | None, pid: int = 0) -> bool:
    """Let process ``pid`` (0: this one) run only on ``cpus``; a no-op for None or empty. False
    (logged) when the host refused."""
    if not cpus or not hasattr(os, "sched_setaffinity"):
        return True
    return _set_affinity(pid, cpus, f"restrict to cores {sorted(cpus)}")


def _set_affinity(pid: int, cpus: set[int], what: str) -> bool:
    try:
        os.sched_setaffinity(pid, cpus)
    except OSError as exc:
        log.warning("cannot %s (pid %s): %s; it runs unpinned", what, pid or os.getpid(),
                    exc.strerror or exc)
        return False
    return True
