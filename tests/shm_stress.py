"""Concurrency checks of the shared-memory primitives across real processes.

Used by the test suite (short runs) and ``benchmarks/bench_shm.py`` (long runs
and timings). Every function starts real processes over real segments.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
import uuid
from typing import Any

import numpy as np

from quotepipe.runtime.cpu import host_cpus, pin
from quotepipe.shm.ring import RingLayout, RingReader, RingWriter
from quotepipe.shm.segment import SegmentSet, segment_name
from quotepipe.shm.snapshots import SnapshotTable
from quotepipe.shm.weights import WeightsArray

_ctx = mp.get_context("spawn")
PING = RingLayout("ping", [("n", "q"), ("t0", "q"), ("x", "d")])


_HOST_CPUS = host_cpus()  # as seen at import, before any pinning here


def two_cores() -> tuple[int | None, int | None]:
    """Two distinct cores of this host (as seen at import), or (None, None)."""
    return (_HOST_CPUS[0], _HOST_CPUS[1]) if len(_HOST_CPUS) >= 2 else (None, None)


def _instance() -> str:
    return f"stress{uuid.uuid4().hex[:10]}"


# ----------------------------------------------------------- torn-read stress

def _snapshot_fields(c: int) -> tuple[tuple, tuple]:
    f = float(c)
    l1 = (f, f + 1, f + 2, f + 3, f + 4, f + 5, c, c + 1, c + 2, c + 3, c + 4, c & 3, c + 5, c + 6)
    levels = tuple(f + 10 + k for k in range(20))
    return l1, levels


def _consistent(rec: tuple) -> bool:
    """Write ``c`` is whole on odd ``c`` and L1 alone on even ``c`` (as the md process writes a
    snapshot whose levels did not change): the levels are then those of write ``c - 1``."""
    c = rec[6]
    l1, _ = _snapshot_fields(c)
    _, levels = _snapshot_fields(c if c % 2 else c - 1)
    return rec == l1 + levels


def _torn_writer(name: str, n_slots: int, writes: int, started: Any, done: Any, cpu: int | None,
                 out: Any) -> None:
    pin(cpu)
    table = SnapshotTable.attach(name, n_slots, writable=True)
    fields = _snapshot_fields
    started.wait(60)  # the readers are reading before the first write
    for c in range(1, writes + 1):
        l1, levels = fields(c)
        if c % 2:
            table.write(0, l1, levels)
        else:
            table.write_l1(0, *l1)
    done.set()
    out.put(writes)


def _torn_reader(name: str, n_slots: int, started: Any, done: Any, cpu: int | None, out: Any) -> None:
    pin(cpu)
    table = SnapshotTable.attach(name, n_slots)
    accepted = bad = gave_up = distinct = 0
    last = 0
    backwards = 0
    started.release()
    while not done.is_set():
        for _ in range(200):
            rec = table.table.read(0)
            if rec is None:
                gave_up += 1
                continue
            accepted += 1
            if not _consistent(rec):
                bad += 1
            if rec[6] < last:
                backwards += 1
            distinct += rec[6] != last
            last = rec[6]
    out.put({"accepted": accepted, "torn_accepted": bad, "gave_up": gave_up,
             "went_backwards": backwards, "distinct": distinct})


def torn_read_stress(writes: int = 200_000, readers: int = 2) -> dict[str, int]:
    """One writer rewrites a snapshot slot ``writes`` times, its fields all derived from one
    counter, every other time the L1 head alone; ``readers`` processes read the whole slot
    throughout and check every read. Bounded by the
    count of writes, not by a time window: a loaded host only makes it slower. Returns
    totals; ``torn_accepted`` and ``went_backwards`` must be 0."""
    inst = _instance()
    writer_cpu, reader_cpu = two_cores()
    with SegmentSet(inst) as segs:
        SnapshotTable.create(segs, 1)
        name = segment_name(inst, "snapshots")
        started = _ctx.Semaphore(0)
        done = _ctx.Event()
        out = _ctx.Queue()
        go = _ctx.Event()
        procs = [_ctx.Process(target=_torn_reader, args=(name, 1, started, done, reader_cpu, out))
                 for _ in range(readers)]
        procs.append(_ctx.Process(target=_torn_writer, args=(name, 1, writes, go, done, writer_cpu, out)))
        for p in procs:
            p.start()
        for _ in range(readers):
            assert started.acquire(timeout=60), "a reader did not start"
        go.set()
        results = [out.get(timeout=300) for _ in procs]
        for p in procs:
            p.join(timeout=30)
    written = next(r for r in results if isinstance(r, int))
    totals = {"written": written, "accepted": 0, "torn_accepted": 0, "gave_up": 0,
              "went_backwards": 0, "distinct": 0}
    for r in results:
        if isinstance(r, dict):
            for k, v in r.items():
                totals[k] += v
    return totals


# ------------------------------------------------------------------ ring race
#
# Records whose every field derives from their number, read by processes that
# spin at the writer's heels (``poll`` and ``read_batch``) on a ring so small
# that the writer laps them all the time: a reader copies slots the writer is
# overwriting. A correct ring hands out no record that is torn, stale or out
# of order, and accounts for every record: received + lost == written.

RACE = RingLayout("race", [("n", "q"), ("check", "q"), ("x", "d"), ("y", "q")])


def _race_fields(n: int) -> tuple[int, int, float, int]:
    return n, n * 7919 ^ 0x5A5A, n / 3, -n


def _race_writer(name: str, capacity: int, count: int, batch: int, started: Any, done: Any,
                 cpu: int | None) -> None:
    try:
        _race_write(name, capacity, count, batch, started, cpu)
    finally:
        done.set()  # also when it failed: the readers stop once they have read what there is


def _race_write(name: str, capacity: int, count: int, batch: int, started: Any, cpu: int | None) -> None:
    pin(cpu)
    ring = RingWriter.attach(name, RACE, capacity)
    started.wait(60)
    if batch:
        recs = np.zeros(batch, RACE.payload_dtype)
        for first in range(1, count + 1, batch):
            ns = np.arange(first, min(first + batch, count + 1), dtype=np.int64)
            part = recs[:len(ns)]
            part["n"], part["check"], part["x"], part["y"] = ns, (ns * 7919) ^ 0x5A5A, ns / 3, -ns
            ring.write_batch(part)
    else:
        fields = _race_fields
        write = ring.write
        for n in range(1, count + 1):
            write(*fields(n))


def _race_reader(name: str, capacity: int, count: int, mode: str, ready: Any, done: Any,
                 cpu: int | None, out: Any) -> None:
    pin(cpu)
    reader = RingReader.attach(name, RACE, capacity, from_start=True)
    received = corrupt = out_of_order = 0
    last = 0
    ready.release()
    while reader.next <= count and not (done.is_set() and reader.pending() == 0):
        if mode == "batch":
            recs = reader.read_batch(64)
            if not len(recs):
                continue
            ns = recs["n"].astype(np.int64)
            ok = ((recs["check"] == ((ns * 7919) ^ 0x5A5A)) & (recs["x"] == ns / 3) & (recs["y"] == -ns))
            corrupt += int((~ok).sum())
            out_of_order += int((np.diff(ns) <= 0).sum()) + int(ns[0] <= last)
            last = int(ns[-1])
            received += len(ns)
        else:
            before = reader.next
            rec = reader.poll()
            if rec is None:
                continue
            n = rec[0]
            corrupt += rec != _race_fields(n)
            out_of_order += n <= last or n < before  # stale: older than the position it asked for
            last = n
            received += 1
    out.put({"mode": mode, "received": received, "lost": reader.lost, "laps": reader.laps,
             "corrupt": int(corrupt), "out_of_order": int(out_of_order), "next": reader.next})


def ring_race(count: int = 300_000, capacity: int = 8, batch: int = 0,
              modes: tuple[str, ...] = ("poll", "poll", "batch")) -> list[dict[str, Any]]:
    """One writer process (record by record, or ``batch`` records a call), one reader process
    per mode; the writer starts once every reader is reading. Bounded by ``count``."""
    inst = _instance()
    writer_cpu, reader_cpu = two_cores()
    with SegmentSet(inst) as segs:
        RingWriter.create(segs, "ring.race", RACE, capacity)
        name = segment_name(inst, "ring.race")
        ready = _ctx.Semaphore(0)
        go, done = _ctx.Event(), _ctx.Event()
        out = _ctx.Queue()
        readers = [_ctx.Process(target=_race_reader,
                                args=(name, capacity, count, m, ready, done, reader_cpu, out))
                   for m in modes]
        writer = _ctx.Process(target=_race_writer, args=(name, capacity, count, batch, go, done, writer_cpu))
        for p in [*readers, writer]:
            p.start()
        for _ in modes:
            assert ready.acquire(timeout=60), "a reader did not start"
        go.set()
        results = [out.get(timeout=400) for _ in modes]
        for p in [*readers, writer]:
            p.join(timeout=30)
        for r in results:
            r["written"] = count
        return results


# --------------------------------------------------------------- ring lapping

LAP = RingLayout("lap", [("n", "q"), ("check", "q"), ("x", "d")])


def _lap_writer(name: str, capacity: int, count: int, pause_every: int) -> None:
    ring = RingWriter.attach(name, LAP, capacity)
    for n in range(1, count + 1):
        ring.write(n, n * 7919 ^ 0x5A5A, float(n) / 3)
        if pause_every and n % pause_every == 0:
            time.sleep(0.0005)


def ring_lapping(count: int = 200_000, capacity: int = 1024, slow_every: int = 500,
                 batch: bool = False) -> dict[str, int]:
    """A fast writer process against a reader here that naps every ``slow_every`` records."""
    inst = _instance()
    with SegmentSet(inst) as segs:
        RingWriter.create(segs, "ring.lap", LAP, capacity)
        name = segment_name(inst, "ring.lap")
        reader = RingReader.attach(name, LAP, capacity, from_start=True)
        writer = _ctx.Process(target=_lap_writer, args=(name, capacity, count, 2000))
        writer.start()
        received = corrupt = out_of_order = 0
        last = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if batch:
                recs = reader.read_batch(256)
                ns = recs["n"].astype(np.int64)
                ok = (recs["check"] == ((ns * 7919) ^ 0x5A5A)) & (recs["x"] == ns / 3)
                corrupt += int((~ok).sum())
                if len(ns):
                    out_of_order += int((np.diff(ns) <= 0).sum()) + int(ns[0] <= last)
                    last = int(ns[-1])
                got = len(ns)
            else:
                rec = reader.poll()
                got = 0 if rec is None else 1
                if rec is not None:
                    n, check, x = rec
                    corrupt += check != (n * 7919 ^ 0x5A5A) or x != n / 3
                    out_of_order += n <= last
                    last = n
            received += got
            if got and received % slow_every < got:
                time.sleep(0.002)
            if not got and not writer.is_alive() and reader.next > count:
                break
        writer.join(timeout=30)
        return {"written": count, "received": received, "lost": reader.lost, "laps": reader.laps,
                "corrupt": int(corrupt), "out_of_order": int(out_of_order)}


# --------------------------------------------------------------- weights mix

def _weights_writer(name: str, n: int, seconds: float, cpu: int | None) -> None:
    pin(cpu)
    arr = WeightsArray.attach(name, n, writable=True)
    end = time.monotonic() + seconds
    v = 1
    while time.monotonic() < end:
        v += 1
        arr.publish(np.full(n, float(v)), np.full(n, v, dtype=np.uint64))


def weights_mix(seconds: float = 1.0, n: int = 64) -> dict[str, int]:
    """Reader here takes whole snapshots and single reads while a writer republishes."""
    inst = _instance()
    wcpu, rcpu = two_cores()
    pin(rcpu)
    try:
        with SegmentSet(inst) as segs:
            # every publication has weight == flags, the first one included
            WeightsArray.create(segs, n).publish(np.ones(n), np.ones(n, dtype=np.uint64))
            name = segment_name(inst, "weights")
            reader = WeightsArray.attach(name, n)
            reader.snapshot()
            for i in range(n):
                reader.get(i)
            p = _ctx.Process(target=_weights_writer, args=(name, n, seconds, wcpu))
            p.start()
            reads = mixed = versions = 0
            last_version = -1
            while p.is_alive() or reads == 0:
                version, w, f = reader.snapshot()
                reads += 1
                mixed += bool((w != w[0]).any() or (f != f[0]).any() or f[0] != int(w[0]))
                versions += version != last_version
                last_version = version
                for i in (0, n // 2, n - 1):
                    wi, fi = reader.get(i)
                    mixed += fi != int(wi)
            p.join(timeout=30)
            return {"reads": reads, "mixed": int(mixed), "versions_seen": versions,
                    "give_ups": reader.give_ups}
    finally:
        pin_all()


def pin_all() -> None:
    """Undo ``pin``: back to every core this host gave us."""
    if _HOST_CPUS:
        os.sched_setaffinity(0, set(_HOST_CPUS))


# ------------------------------------------------------------------ ping-pong

def _pong_ring(ping_name: str, pong_name: str, capacity: int, rounds: int, cpu: int | None) -> None:
    pin(cpu)
    ping = RingReader.attach(ping_name, PING, capacity, from_start=True)
    pong = RingWriter.attach(pong_name, PING, capacity)
    poll = ping.poll
    write = pong.write
    for _ in range(rounds):
        rec = poll()
        while rec is None:
            rec = poll()
        write(*rec)


def pingpong_ring(rounds: int = 20000, warmup: int = 2000) -> np.ndarray:
    """Round-trip times (ns) between this process and a pinned child over two rings."""
    inst = _instance()
    c0, c1 = two_cores()
    capacity = 1024
    pin(c0)
    try:
        with SegmentSet(inst) as segs:
            ping = RingWriter.create(segs, "ring.ping", PING, capacity)
            RingWriter.create(segs, "ring.pong", PING, capacity)
            pong = RingReader.attach(segment_name(inst, "ring.pong"), PING, capacity,
                                     from_start=True)
            child = _ctx.Process(target=_pong_ring, args=(
                segment_name(inst, "ring.ping"), segment_name(inst, "ring.pong"), capacity,
                rounds + warmup, c1))
            child.start()
            times = np.empty(rounds + warmup, dtype=np.int64)
            clock = time.perf_counter_ns
            write = ping.write
            poll = pong.poll
            for i in range(rounds + warmup):
                t0 = clock()
                write(i, t0, 1.5)
                rec = poll()
                while rec is None:
                    rec = poll()
                times[i] = clock() - t0
            child.join(timeout=30)
            return times[warmup:]
    finally:
        pin_all()


def _pong_queue(q_in: Any, q_out: Any, rounds: int, cpu: int | None) -> None:
    pin(cpu)
    for _ in range(rounds):
        q_out.put(q_in.get())


def _pong_pipe(conn: Any, rounds: int, cpu: int | None) -> None:
    pin(cpu)
    for _ in range(rounds):
        conn.send(conn.recv())


def _spin_get(get_nowait: Any, empty: type[BaseException]) -> Any:
    while True:
        try:
            return get_nowait()
        except empty:
            pass


def _spin_recv(conn: Any) -> Any:
    poll, recv = conn.poll, conn.recv
    while not poll(0):
        pass
    return recv()


def _pong_queue_spin(q_in: Any, q_out: Any, rounds: int, cpu: int | None) -> None:
    import queue

    pin(cpu)
    for _ in range(rounds):
        q_out.put(_spin_get(q_in.get_nowait, queue.Empty))


def _pong_pipe_spin(conn: Any, rounds: int, cpu: int | None) -> None:
    pin(cpu)
    for _ in range(rounds):
        conn.send(_spin_recv(conn))


def _pong_faster_fifo(q_in: Any, q_out: Any, rounds: int, cpu: int | None) -> None:
    import queue

    pin(cpu)
    for _ in range(rounds):
        q_out.put_nowait(_spin_get(q_in.get_nowait, queue.Empty))


PINGPONG_KINDS = ("queue", "pipe", "queue_spin", "pipe_spin", "faster_fifo_spin")


def pingpong_stdlib(kind: str, rounds: int = 5000, warmup: int = 500) -> np.ndarray:
    """Round-trip times (ns) of the same record through a ``multiprocessing`` Queue or Pipe,
    blocking (``queue``, ``pipe``) or polled without blocking on both sides (``*_spin``, as the
    ring is), or through ``faster_fifo.Queue`` polled alike (ImportError when not installed)."""
    import queue

    c0, c1 = two_cores()
    pin(c0)
    try:
        n = rounds + warmup
        if kind in ("queue", "queue_spin"):
            a, b = _ctx.Queue(), _ctx.Queue()
            spin = kind == "queue_spin"
            child = _ctx.Process(target=_pong_queue_spin if spin else _pong_queue, args=(a, b, n, c1))
            send = a.put
            recv = (lambda: _spin_get(b.get_nowait, queue.Empty)) if spin else b.get
        elif kind == "faster_fifo_spin":
            import faster_fifo

            a, b = faster_fifo.Queue(1 << 20), faster_fifo.Queue(1 << 20)
            child = _ctx.Process(target=_pong_faster_fifo, args=(a, b, n, c1))
            send = a.put_nowait
            recv = lambda: _spin_get(b.get_nowait, queue.Empty)  # noqa: E731
        else:
            here, there = _ctx.Pipe()
            spin = kind == "pipe_spin"
            child = _ctx.Process(target=_pong_pipe_spin if spin else _pong_pipe, args=(there, n, c1))
            send = here.send
            recv = (lambda: _spin_recv(here)) if spin else here.recv
        child.start()
        times = np.empty(n, dtype=np.int64)
        clock = time.perf_counter_ns
        for i in range(n):
            t0 = clock()
            send((i, t0, 1.5))
            recv()
            times[i] = clock() - t0
        child.join(timeout=30)
        return times[warmup:]
    finally:
        pin_all()
