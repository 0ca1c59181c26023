"""A child's tie to its supervisor: it must not outlive it.

``watch_parent`` asks the kernel to SIGKILL this process when the parent dies
(Linux ``PR_SET_PDEATHSIG``) and remembers the parent's pid; every child loop
also checks ``parent_alive`` at its heartbeat (reparenting changes ``getppid``),
which covers hosts without prctl and the race before the prctl call.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal

PR_SET_PDEATHSIG = 1
_parent: int | None = None


def watch_parent(parent_pid: int) -> bool:
    """Tie this process to ``parent_pid``; False when that parent is already gone."""
    global _parent
    _parent = parent_pid
    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    return parent_alive()


def parent_alive() -> bool:
    """True unless this process was tied to a parent that has since died."""
    return _parent is None or os.getppid() == _parent


PR_SET_NAME = 15


def set_process_name(name: str, title: str | None = None) -> None:
    """Name this process as ``top``, ``ps -o comm`` and ``/proc/PID/comm`` show it (``name``, 15
    bytes at most, Linux ``PR_SET_NAME``; a no-op where the host has no prctl) and, with
    ``title``, its whole command line as ``ps aux`` and ``top -c`` show it (``setproctitle``)."""
    if title is not None:
        import setproctitle

        setproctitle.setproctitle(title)
    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)
