"""CPU affinity: the cores this host gives us, and pinning a process to one of them."""

from __future__ import annotations

import contextlib
import os


def host_cpus() -> list[int]:
    """Cores this process may run on (its affinity at the time of the call)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))  # pragma: no cover - non-Linux


def pin(cpu: int | None, pid: int = 0) -> None:
    """Pin process ``pid`` (0: this one) to ``cpu``; a no-op for None or where the host cannot."""
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, {cpu})


def restrict(cpus: set[int] | None, pid: int = 0) -> None:
    """Let process ``pid`` (0: this one) run only on ``cpus``; a no-op for None or empty."""
    if cpus and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, cpus)
