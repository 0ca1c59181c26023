"""The memory-ordering assumption of quotepipe's seqlocks and rings, checked at start.

A reader trusts a record once it sees its sequence word; that is sound only if
the writer's payload stores become visible before the sequence store, which
x86-64's total store order guarantees and CPython, issuing no fences, does not
otherwise. On weakly ordered machines (ARM, POWER, RISC-V) a reader could take a
record whose payload is older than its sequence word, so the daemon refuses to
start there until the shared-memory writes carry fences.
"""

from __future__ import annotations

import platform

#: machines with total store order (as ``platform.machine()`` names them)
TSO_MACHINES = frozenset({"x86_64", "amd64", "x86", "i386", "i486", "i586", "i686"})


def store_order_problem(machine: str | None = None) -> str | None:
    """Why this machine cannot run the daemon's shared memory safely, or None."""
    name = platform.machine() if machine is None else machine
    if name.lower() in TSO_MACHINES:
        return None
    return (f"this machine ({name or 'unknown'}) does not order stores like x86-64; quotepipe's "
            "shared-memory seqlocks and rings rely on that and carry no fences yet, so the daemon "
            "refuses to start here (replay and the other one-process commands run)")
