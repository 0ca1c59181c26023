"""The control block: config epoch, per-shard mode and halt flags, shutdown, processes.

The supervisor writes the first lines (epoch, shutdown, halt, shard modes and
halts, cancel requests, the process table); the venue writes only the cancel
acknowledgements; each child writes only its own line (heartbeat, the config
epoch it applied, whether it has acted on the halt), 128 bytes away from any
other writer's words; the operator's ``quotepipe halt`` and ``resume`` write only
the last region (halt all, per shard, per instrument). Every word is one
aligned 8-byte store.
"""

from __future__ import annotations

import time
from enum import IntEnum
from typing import NamedTuple

from quotepipe.shm.segment import LINE, Segment, SegmentSet

MAX_SHARDS = 256
MAX_PROCS = MAX_SHARDS + 8
MAX_INSTRUMENTS = 4096
LAYOUT = f"control:v3:{MAX_SHARDS}:{MAX_PROCS}:{MAX_INSTRUMENTS}"

MODES = ("legacy", "shadow", "pipeline")


class Role(IntEnum):
    NONE = 0
    SUPERVISOR = 1
    MARKET_DATA = 2
    WORKER = 3
    VENUE = 4
    SCOREBOARD = 5


class ProcInfo(NamedTuple):
    role: Role
    index: int  # type: ignore[assignment]  # shard id for a worker, 0 otherwise (shadows tuple.index)
    pid: int
    cpu: int        #: pinned core, -1 when unpinned
    restarts: int
    heartbeat_ns: int


# word offsets (units of 8 bytes) of each region
_EPOCH, _SHUTDOWN, _HALT_ALL, _N_SHARDS, _STARTED_NS = 0, 1, 2, 3, 4
_MODES = LINE // 8
_SHARD_HALT = _MODES + MAX_SHARDS
_CANCEL_REQ = _SHARD_HALT + MAX_SHARDS  # supervisor: "cancel every order of this shard", a counter
_CANCEL_ACK = _CANCEL_REQ + MAX_SHARDS  # venue: the last request it carried out
_PROCS = _CANCEL_ACK + MAX_SHARDS      # 4 words per process: role|index, pid, cpu+1, restarts
_HEARTBEATS = _PROCS + 4 * MAX_PROCS   # one 128-byte line per process
# operator halts (``quotepipe halt``/``resume``, the only writer): all, per shard, per instrument
_OP = _HEARTBEATS + MAX_PROCS * (LINE // 8)   # line: halt all, commands so far
_OP_SHARD = _OP + LINE // 8
_OP_INSTRUMENT = _OP_SHARD + MAX_SHARDS
_WORDS = _OP_INSTRUMENT + MAX_INSTRUMENTS


class ControlBlock:
    def __init__(self, segment: Segment) -> None:
        self.segment = segment
        self._q = segment.body.cast("Q")

    @classmethod
    def create(cls, segments: SegmentSet, n_shards: int) -> ControlBlock:
        if not 1 <= n_shards <= MAX_SHARDS:
            raise ValueError(f"shard count must be in [1, {MAX_SHARDS}], got {n_shards}")
        block = cls(segments.create("control", 8 * _WORDS, LAYOUT))
        block._q[_N_SHARDS] = n_shards
        block._q[_STARTED_NS] = time.time_ns()
        return block

    @classmethod
    def attach(cls, name: str, writable: bool = True) -> ControlBlock:
        return cls(Segment.attach(name, LAYOUT, writable))

    # -- supervisor-written
    @property
    def n_shards(self) -> int:
        return self._q[_N_SHARDS]

    @property
    def started_ns(self) -> int:
        """Wall-clock time (ns since the epoch) the instance was created."""
        return self._q[_STARTED_NS]

    @property
    def epoch(self) -> int:
        return self._q[_EPOCH]

    @epoch.setter
    def epoch(self, value: int) -> None:
        self._q[_EPOCH] = value

    @property
    def shutdown(self) -> bool:
        return bool(self._q[_SHUTDOWN])

    @shutdown.setter
    def shutdown(self, value: bool) -> None:
        self._q[_SHUTDOWN] = int(value)

    @property
    def halt_all(self) -> bool:
        return bool(self._q[_HALT_ALL])

    @halt_all.setter
    def halt_all(self, value: bool) -> None:
        self._q[_HALT_ALL] = int(value)

    def set_mode(self, shard: int, mode: str) -> None:
        self._q[_MODES + shard] = MODES.index(mode)

    def mode(self, shard: int) -> str:
        return MODES[self._q[_MODES + shard]]

    def mode_code(self, shard: int) -> int:
        return self._q[_MODES + shard]

    def set_shard_halted(self, shard: int, halted: bool) -> None:
        self._q[_SHARD_HALT + shard] = int(halted)

    def shard_halted(self, shard: int) -> bool:
        return bool(self._q[_SHARD_HALT + shard] or self._q[_HALT_ALL])

    # -- operator-written (quotepipe halt / resume)
    def set_operator_halt(self, scope: str, target: int, halted: bool) -> None:
        """``scope`` all (``target`` ignored), shard or instrument (a slot); counts the command."""
        index = {"all": _OP, "shard": _OP_SHARD + target, "instrument": _OP_INSTRUMENT + target}[scope]
        self._q[index] = int(halted)
        self._q[_OP + 1] += 1

    @property
    def operator_commands(self) -> int:
        return self._q[_OP + 1]

    def operator_halted(self, shard: int, slot: int) -> bool:
        """The operator has halted this instrument, its shard, or everything."""
        q = self._q
        return bool(q[_OP] or q[_OP_SHARD + shard] or q[_OP_INSTRUMENT + slot])

    def operator_halts(self, n_shards: int, n_instruments: int) -> tuple[bool, list[bool], list[bool]]:
        q = self._q
        return (bool(q[_OP]), [bool(q[_OP_SHARD + k]) for k in range(n_shards)],
                [bool(q[_OP_INSTRUMENT + k]) for k in range(n_instruments)])

    def set_proc(self, slot: int, role: Role, index: int, pid: int, cpu: int | None,
                 restarts: int = 0) -> None:
        base = _PROCS + 4 * slot
        q = self._q
        q[base] = (int(role) << 32) | index
        q[base + 1] = pid
        q[base + 2] = 0 if cpu is None else cpu + 1
        q[base + 3] = restarts

    def proc(self, slot: int) -> ProcInfo:
        base = _PROCS + 4 * slot
        q = self._q
        packed = q[base]
        return ProcInfo(Role(packed >> 32), packed & 0xFFFFFFFF, q[base + 1], q[base + 2] - 1,
                        q[base + 3], self.heartbeat(slot))

    def procs(self) -> list[tuple[int, ProcInfo]]:
        out = []
        for slot in range(MAX_PROCS):
            if self._q[_PROCS + 4 * slot] >> 32:
                out.append((slot, self.proc(slot)))
        return out

    def request_cancel(self, shard: int) -> int:
        """Ask the venue to cancel every order of ``shard``; returns the request number."""
        self._q[_CANCEL_REQ + shard] += 1
        return self._q[_CANCEL_REQ + shard]

    def cancel_request(self, shard: int) -> int:
        return self._q[_CANCEL_REQ + shard]

    # -- venue-written
    def ack_cancel(self, shard: int, request: int) -> None:
        self._q[_CANCEL_ACK + shard] = request

    def cancel_ack(self, shard: int) -> int:
        return self._q[_CANCEL_ACK + shard]

    # -- child-written: one line per process slot
    def beat(self, slot: int, now_ns: int | None = None) -> None:
        self._q[_HEARTBEATS + slot * (LINE // 8)] = time.monotonic_ns() if now_ns is None else now_ns

    def heartbeat(self, slot: int) -> int:
        return self._q[_HEARTBEATS + slot * (LINE // 8)]

    def clear_line(self, slot: int) -> None:
        """Supervisor, before (re)starting the child of ``slot``: no beat, nothing acknowledged."""
        base = _HEARTBEATS + slot * (LINE // 8)
        for k in range(3):
            self._q[base + k] = 0

    def set_applied_epoch(self, slot: int, epoch: int) -> None:
        self._q[_HEARTBEATS + slot * (LINE // 8) + 1] = epoch

    def applied_epoch(self, slot: int) -> int:
        return self._q[_HEARTBEATS + slot * (LINE // 8) + 1]

    def set_halt_seen(self, slot: int, seen: bool) -> None:
        """A child has acted on ``halt_all`` (a worker: pulled its quotes)."""
        self._q[_HEARTBEATS + slot * (LINE // 8) + 2] = int(seen)

    def halt_seen(self, slot: int) -> bool:
        return bool(self._q[_HEARTBEATS + slot * (LINE // 8) + 2])
