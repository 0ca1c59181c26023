"""The measured process of the perf gate: one replicate of one tree's stage chain.

Run as a script, with the tree being measured first on ``PYTHONPATH``; it may
be an older commit than the gate itself, so it imports only what every tree
since the stage chain has (the config, the stage DTOs, ``PipelineRunner``),
with fallbacks where a module moved. The workload file (``gate.workload``'s
ticks, msgpack) is built once by the candidate and decoded here into the
measured tree's own types, so both sides time exactly the same inputs.

    probe.py time WORKLOAD --ticks N [--cpu C]    one wall-time replicate: JSON on stdout
    probe.py count WORKLOAD --ticks N --marks LIB [--layout K]   under callgrind: one region a stage

``time``: a warm-up pass, then a fresh runner times every tick per stage and
the whole tick into the same integer-ns histograms the workers use.

``count``: the stages' inputs are captured by running the tree's own
``PipelineRunner`` over the ticks, through its ``trace`` (the compiled runner) or,
in trees before it, with each stage function of ``pipeline`` wrapped; then, for an
empty loop over the same arguments (the same kind of call: Python, or C for a
compiled chain; the runner's own C loop, ``pipeline.stage_calls``, for a chain whose
runner calls its stages' C entries), for each stage over its captured inputs (pure functions, so
every pass is the same work) and for the whole runner on a fresh state, one pass
warms and a second is counted. ``--marks`` is the gate's callgrind client-request
library (``marks.c``): the process runs uninstrumented until the regions, and each
counted pass is dumped under its own name, so imports, the capture and shutdown,
whose cost moves with the heap and the environment, never reach a stage's count.

``--layout K`` gives K throwaway classes a type version tag before anything
else is imported. CPython's type attribute cache is indexed by version tag and
name hash, so which lookups of a stage collide there depends on how many types
were tagged before its own: adding one config class moved every stage's count
by about 100 instructions (+2-3%) with no stage code changed. The gate counts
each tree under several K and keeps, per stage, the median (``runner.LAYOUTS``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any, Protocol

STAGES = ("fetch_md", "spread", "guards", "inventory", "queue_aware", "emit")
#: the counted regions, in the order they run
REGIONS = ("loop", *STAGES, "tick_total")


def _types() -> tuple[Any, Any]:
    from quotepipe.workers.dto import TickContext

    try:
        from quotepipe.domain.snapshot import Snapshot
    except ImportError:  # trees before the domain floor
        from quotepipe.shm.snapshots import Snapshot
    return Snapshot, TickContext


def _worker_stats() -> Any:
    try:
        from quotepipe.shm.catalog import WORKER_STATS
    except ImportError:  # trees before the domain floor
        from quotepipe.workers.timing import WORKER_STATS  # type: ignore[attr-defined,no-redef]
    return WORKER_STATS


def load(path: str, ticks: int) -> list[tuple[int, Any, Any]]:
    import msgspec

    snapshot, context = _types()
    with open(path, "rb") as f:
        data = f.read()
    decoded: list[tuple[int, Any, Any]] = msgspec.msgpack.decode(
        data, type=list[tuple[int, snapshot, context]])  # type: ignore[valid-type]
    return decoded[:ticks] if ticks else decoded


def shift_type_tags(k: int) -> None:
    """Use up ``k`` type version tags (a lookup on a new class assigns it one)."""
    for n in range(k):
        getattr(type(f"_Layout{n}", (), {}), "_probe", None)


def _discard(intent: object) -> None:
    return None


def time_replicate(workload: list[tuple[int, Any, Any]], cpu: int | None) -> dict[str, Any]:
    from quotepipe.config import Config
    from quotepipe.shm.stats import StatsBlock
    from quotepipe.workers.pipeline import PipelineRunner

    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
    cfg = Config()
    if hasattr(cfg.stage_budgets, "sample_every"):  # the wall gate times every stage of every tick
        import msgspec

        cfg = msgspec.structs.replace(cfg, stage_budgets=msgspec.structs.replace(
            cfg.stage_budgets, sample_every=1))
    warm = PipelineRunner(cfg, _discard)
    for slot, snap, ctx in workload:
        warm.tick(slot, snap, ctx)
    stats = StatsBlock.local(_worker_stats())
    runner = PipelineRunner(cfg, _discard, stats)
    runner.times.deadline_ns = int(cfg.stage_budgets.deadline_us * 1000)
    for slot, snap, ctx in workload:
        runner.tick(slot, snap, ctx)
    runner.times.flush()
    summary = stats.summary((50, 95, 99))
    figures = {name: {k: v for k, v in summary[name].items()}
               for name in (*STAGES, "tick_total")}
    return {"ticks": len(workload), "figures": figures,
            "deadline_misses": runner.times.deadline_misses, "cpu": cpu}


class Marks(Protocol):
    """Where the counted regions begin and end (``CallgrindMarks`` under callgrind)."""

    def instrument(self) -> None: ...
    def begin(self) -> None: ...
    def end(self, name: str) -> None: ...


class CallgrindMarks:
    """``marks.c``'s client requests, through ctypes."""

    def __init__(self, library: str) -> None:
        import ctypes

        self._lib = ctypes.CDLL(library)
        self._lib.qp_end.argtypes = [ctypes.c_char_p]

    def instrument(self) -> None:
        self._lib.qp_instrument()

    def begin(self) -> None:
        self._lib.qp_begin()

    def end(self, name: str) -> None:
        self._lib.qp_end(name.encode())


def count_run(workload: list[tuple[int, Any, Any]], marks: Marks) -> None:
    """Every region of ``REGIONS``, warmed by one pass and counted on the next. The cyclic
    garbage collector is off: when a collection falls depends on every allocation before it,
    so it would charge a stage for another's garbage (a change in one stage moved an
    untouched stage's count by 2.3%)."""
    import gc
    import inspect

    gc.collect()
    gc.disable()
    from quotepipe.config import Config
    from quotepipe.workers import pipeline
    from quotepipe.workers.pipeline import PipelineRunner

    cfg = Config()
    captured: dict[str, list[tuple[Any, ...]]] = {name: [] for name in STAGES}
    originals: dict[str, Callable[..., Any]] = {name: getattr(pipeline, name) for name in STAGES}

    def recorder(name: str) -> Callable[..., Any]:
        fn, store = originals[name], captured[name]

        def record(*args: Any) -> Any:
            store.append(args)
            return fn(*args)
        return record

    capture = PipelineRunner(cfg, _discard)
    traced = hasattr(capture, "trace")  # a compiled runner calls its stages in C, past the names
    if traced:
        capture.trace = captured
    else:
        for name in STAGES:
            setattr(pipeline, name, recorder(name))
    for slot, snap, ctx in workload:
        capture.tick(slot, snap, ctx)
    if traced:
        capture.trace = None
    else:
        for name in STAGES:
            setattr(pipeline, name, originals[name])

    def noop(*args: Any) -> None:
        return None

    # the empty loop pays the call the stages pay: a Python function's frame, or for compiled
    # stages a C call with the same arguments that does nothing (an empty format string takes
    # and ignores them); a Python no-op under a compiled stage would take more than the stage's
    # own call costs, and leave it a few dozen instructions, where any change looks large
    empty = noop if inspect.isfunction(originals["guards"]) else "".format
    # a runner that calls its stages' C entries offers the same calls over captured arguments
    # (its loop, and each stage's): the stages are counted as it runs them
    stage_calls: Callable[[str, list[tuple[Any, ...]]], None] | None = getattr(pipeline, "stage_calls", None)

    def one_pass(what: str) -> Callable[[], None]:
        """A pass ready to run: what it needs (a fresh runner) is made before, not inside."""
        if what == "tick_total":
            runner = PipelineRunner(cfg, _discard)

            def ticks() -> None:
                for slot, snap, ctx in workload:
                    runner.tick(slot, snap, ctx)
            return ticks
        inputs = captured["guards" if what == "loop" else what]
        if stage_calls is not None:
            run_in_c = stage_calls

            def c_calls() -> None:
                run_in_c(what, inputs)
            return c_calls
        fn = empty if what == "loop" else originals[what]

        def calls() -> None:
            for args in inputs:
                fn(*args)
        return calls

    marks.instrument()
    for what in REGIONS:
        one_pass(what)()
        counted = one_pass(what)
        marks.begin()
        counted()
        marks.end(what)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="probe.py")
    p.add_argument("mode", choices=("time", "count"))
    p.add_argument("workload")
    p.add_argument("--ticks", type=int, default=0)
    p.add_argument("--cpu", type=int, default=None)
    p.add_argument("--marks", help="count: the callgrind client-request library (gate.runner.marks_library)")
    p.add_argument("--layout", type=int, default=0, help="type version tags to use up first")
    args = p.parse_args(argv)
    shift_type_tags(args.layout)
    workload = load(args.workload, args.ticks)
    if args.mode == "time":
        json.dump(time_replicate(workload, args.cpu), sys.stdout)
        sys.stdout.write("\n")
    elif args.marks is None:
        p.error("count needs --marks LIB")
    else:
        count_run(workload, CallgrindMarks(args.marks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
