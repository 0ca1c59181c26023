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


def pinning_warning(md: int | None, workers: list[int | None], cpus: list[int]) -> str | None:
    """A warning when the plan pins more busy processes than the host has cores (or leaves
    workers unpinned beside pinned ones): they will share cores and latency will show it."""
    pinned = [c for c in (md, *workers) if c is not None]
    unpinned = sum(1 for c in workers if c is None)
    busy = len(pinned) + unpinned
    if busy <= len(cpus) and len(set(pinned)) == len(pinned):
        return None
    shared = sorted({c for c in pinned if pinned.count(c) > 1})
    return (f"{busy} busy processes (market data and {len(workers)} workers) on {len(cpus)} cores"
            + (f"; cores {shared} pinned twice" if shared else "")
            + (f"; {unpinned} workers unpinned" if unpinned else "")
            + ": they share cores, so market-data-to-intent latency rises (fewer workers, or more cores)")
