"""Running replicates: trees to measure, the shared workload, wall-time and instruction probes.

A *tree* is a checkout's ``src`` folder: the working tree, or a commit checked
out into a temporary ``git worktree``. Each replicate is a fresh process
(``probe.py``) with that tree first on ``PYTHONPATH``, pinned to one core.
An instruction count is the same probe under ``valgrind --tool=callgrind``,
counting only the regions ``marks.c`` names (one pass of one stage each), with
hash seeds, BLAS threads and the allocator fixed: the same code then gives the
same count to about one instruction a call, whatever the load, the environment
or the working folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgspec

from quotepipe.config import Config
from quotepipe.gate.probe import REGIONS, STAGES
from quotepipe.gate.workload import build_workload

PROBE = Path(__file__).with_name("probe.py")
COUNTED = (*STAGES, "tick_total")
#: what makes a count repeatable: no hash randomisation, no BLAS thread pool spinning
DETERMINISTIC_ENV = {"PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                     "MKL_NUM_THREADS": "1"}


class GateError(Exception):
    """Bad input to the gate (a ref that does not resolve, no valgrind, ...): exit 2."""


class Tree(msgspec.Struct, frozen=True):
    label: str      #: "base" or "current"
    src: str        #: the folder that holds the ``quotepipe`` package
    commit: str


def package_src() -> Path:
    """The ``src`` folder of the quotepipe that is running."""
    return Path(__file__).resolve().parents[2]


def repo_root() -> Path:
    root = package_src().parent
    if not (root / ".git").exists():
        raise GateError(f"{root} is not a git checkout: --against needs the repository")
    return root


def git(*args: str, cwd: Path) -> str:
    r = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise GateError(f"git {' '.join(args)}: {r.stderr.strip() or r.stdout.strip()}")
    return r.stdout.strip()


@contextlib.contextmanager
def worktree(ref: str) -> Iterator[Tree]:
    """``ref`` checked out (detached) in a temporary worktree, removed afterwards."""
    root = repo_root()
    commit = git("rev-parse", "--verify", f"{ref}^{{commit}}", cwd=root)
    tmp = Path(tempfile.mkdtemp(prefix="quotepipe-gate-"))
    path = tmp / "tree"
    git("worktree", "add", "--detach", str(path), commit, cwd=root)
    try:
        build_extensions(path)
        yield Tree("base", str(path / "src"), commit)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=root,
                       capture_output=True, timeout=120)
        shutil.rmtree(tmp, ignore_errors=True)


def build_extensions(tree: Path) -> None:
    """A checked-out tree's compiled extensions (its stages, since the compiled chain), built in
    place with this Python, as ``pip install -e`` would; a tree without ``setup.py`` has none."""
    if not (tree / "setup.py").exists():
        return
    r = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=tree,
                       capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        tail = (r.stderr.strip() or r.stdout.strip()).splitlines()[-5:]
        raise GateError(f"building the extensions of {tree}: " + " / ".join(tail))


@contextlib.contextmanager
def copied(tree: Tree) -> Iterator[Tree]:
    """``tree``'s package copied to a temporary folder laid out like a ``worktree``: the two
    sides of an instruction count then differ in nothing but their code (the paths of their
    files, which reach the counts through string lengths and memory layout, are alike)."""
    tmp = Path(tempfile.mkdtemp(prefix="quotepipe-gate-"))
    try:
        shutil.copytree(Path(tree.src) / "quotepipe", tmp / "tree" / "src" / "quotepipe",
                        ignore=shutil.ignore_patterns("__pycache__"))
        yield Tree(tree.label, str(tmp / "tree" / "src"), tree.commit)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def current_tree() -> Tree:
    src = package_src()
    try:
        commit = git("rev-parse", "HEAD", cwd=src.parent)
        if git("status", "--porcelain", "--untracked-files=no", cwd=src.parent):
            commit += "+dirty"
    except (GateError, OSError):
        commit = "unknown"
    return Tree("current", str(src), commit)


def write_workload(cfg: Config, paths: Sequence[str], events: int | None, out: Path) -> int:
    """The gate's workload (the ticks a replay runs) as msgpack: both trees decode the same file."""
    ticks = build_workload(cfg, paths or None, events)
    out.write_bytes(msgspec.msgpack.encode(ticks))
    return len(ticks)


def _env(tree: Tree) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = tree.src
    env.update(DETERMINISTIC_ENV)
    return env


def time_replicate(tree: Tree, workload: Path, ticks: int, cpu: int | None) -> dict[str, Any]:
    """One wall-time replicate in a fresh process: per figure p50/p95/p99 in µs."""
    cmd = [sys.executable, str(PROBE), "time", str(workload), "--ticks", str(ticks)]
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    r = subprocess.run(cmd, env=_env(tree), capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise GateError(f"{tree.label} replicate failed ({tree.commit[:12]}): {r.stderr.strip()[-2000:]}")
    out: dict[str, Any] = json.loads(r.stdout)
    return out


_IREFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def valgrind() -> str:
    exe = shutil.which("valgrind")
    if exe is None:
        raise GateError("--counter instructions needs valgrind: apt-get install valgrind "
                        "(make gate installs it)")
    return exe


def instructions(tree: Tree, args: Sequence[str], timeout: float = 900) -> int:
    """Instructions (cachegrind's ``I refs``) of the whole of ``python ARGS`` run on ``tree``:
    repeatable in one environment, but start-up and shutdown move with the heap that the
    environment and argv leave, so what is compared across runs is ``region_instructions``."""
    cmd = [valgrind(), "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
           sys.executable, *args]
    r = subprocess.run(cmd, env=_env(tree), capture_output=True, text=True, timeout=timeout)
    m = _IREFS.search(r.stderr)
    if r.returncode != 0 or m is None:
        raise GateError(f"{tree.label} instruction count failed ({tree.commit[:12]}): {r.stderr[-2000:]}")
    return int(m.group(1).replace(",", ""))


MARKS_SOURCE = Path(__file__).with_name("marks.c")


def marks_library(folder: Path) -> Path:
    """``marks.c`` built into ``folder`` (its callgrind client requests come from valgrind's
    own header, which the valgrind package installs)."""
    cc = shlex.split(os.environ.get("CC", "")) or [shutil.which("cc") or shutil.which("gcc") or ""]
    if not cc[0]:
        raise GateError("--counter instructions needs a C compiler (cc or gcc) for its region marks")
    out = folder / "libqpmarks.so"
    try:
        r = subprocess.run([*cc, "-O2", "-shared", "-fPIC", "-o", str(out), str(MARKS_SOURCE)],
                           capture_output=True, text=True, timeout=120)
    except OSError as exc:
        raise GateError(f"building the gate's callgrind marks with {cc[0]}: {exc}") from None
    if r.returncode != 0:
        raise GateError(f"building the gate's callgrind marks ({MARKS_SOURCE.name}; it needs "
                        f"valgrind/callgrind.h from the valgrind package): {r.stderr.strip()[-500:]}")
    return out


#: what makes a region's count independent of the heap around it: the C allocator, whose
#: per-size cache (tcache) gives a freed block back at the same cost whatever else is live;
#: pymalloc's cost depends on whether the freed block empties its pool, which the process's
#: start-up (argv, environment) decides (fetch_md moved by 15 instructions a call)
COUNT_ENV = {"PYTHONMALLOC": "malloc"}

_PART = re.compile(r"^desc: Trigger: Client Request: (\S+)$.*?^summary: (\d+)$", re.M | re.S)


def region_instructions(tree: Tree, args: Sequence[str], folder: Path,
                        timeout: float = 900) -> dict[str, int]:
    """Instructions of each named region of ``python ARGS`` on ``tree`` (callgrind, which runs
    the process uninstrumented until ``marks.c`` starts it; one dump a region)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "callgrind.out"
    cmd = [valgrind(), "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no",
           f"--callgrind-out-file={out}", sys.executable, *args]
    r = subprocess.run(cmd, env={**_env(tree), **COUNT_ENV}, capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise GateError(f"{tree.label} instruction count failed ({tree.commit[:12]}): {r.stderr[-2000:]}")
    regions: dict[str, int] = {}
    for part in sorted(folder.glob("callgrind.out.*")):
        for name, total in _PART.findall(part.read_text(errors="replace")):
            regions[name] = int(total)
    return regions


#: type-cache layouts each tree is counted under (``probe.shift_type_tags``); per stage the median
LAYOUTS = (0, 1, 2, 3, 5)


def count_regions(tree: Tree, workload: Path, ticks: int, marks: Path, layout: int,
                  folder: Path) -> dict[str, int]:
    """The probe's regions (``probe.REGIONS``) over ``ticks`` of ``workload`` under one layout:
    instructions of each whole pass, callgrind's dumps kept in ``folder``."""
    got = region_instructions(tree, [str(PROBE), "count", str(workload), "--ticks", str(ticks),
                                     "--marks", str(marks), "--layout", str(layout)], folder)
    missing = [name for name in REGIONS if name not in got]
    if missing:
        raise GateError(f"{tree.label} instruction count ({tree.commit[:12]}, layout {layout}): "
                        f"no region {', '.join(missing)} in callgrind's dumps")
    return got


def count_layouts(tree: Tree, workload: Path, ticks: int,
                  progress: Any = None) -> dict[int, dict[str, float]]:
    """Per type-cache layout of ``LAYOUTS``, instructions per call of each stage and per whole
    tick (the runner with its timing): a counted pass over ``ticks`` inputs
    (``probe.count_run``), the empty loop's share removed from a stage's. The probes run side
    by side on every core (counts do not depend on the load)."""
    n = len(_ticks_in(workload, ticks))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="quotepipe-gate-") as tmp, \
            ThreadPoolExecutor(max_workers=max(1, cores)) as pool:
        marks = marks_library(Path(tmp))
        futures = {k: pool.submit(count_regions, tree, workload, ticks, marks, k, Path(tmp) / f"layout{k}")
                   for k in LAYOUTS}
        layouts: dict[int, dict[str, float]] = {}
        for k in LAYOUTS:
            regions = futures[k].result()
            if progress:
                progress(f"{tree.label}: counted (layout {k})")
            loop = regions["loop"] / n
            got: dict[str, float] = {"loop": loop}
            for what in COUNTED:
                per_call = regions[what] / n
                got[what] = per_call if what == "tick_total" else per_call - loop
            layouts[k] = got
    return layouts


def median_counts(layouts: dict[int, dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the layouts: a stage's count without the luck of one layout's
    attribute-cache collisions."""
    first = next(iter(layouts.values()))
    return {what: statistics.median(g[what] for g in layouts.values()) for what in first}


def _ticks_in(workload: Path, ticks: int) -> list[Any]:
    data = msgspec.msgpack.decode(workload.read_bytes())
    return data[:ticks] if ticks else data
