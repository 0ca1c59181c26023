"""Running replicates: trees to measure, the shared workload, wall-time and instruction probes.

A *tree* is a checkout's ``src`` folder: the working tree, or a commit checked
out into a temporary ``git worktree``. Each replicate is a fresh process
(``probe.py``) with that tree first on ``PYTHONPATH``, pinned to one core;
an instruction count is the same probe under ``valgrind --tool=cachegrind``
with hash seeds and BLAS threads fixed, which makes it repeatable to a few
hundred instructions in a billion.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
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
from quotepipe.gate.workload import build_workload

PROBE = Path(__file__).with_name("probe.py")
STAGES = ("fetch_md", "spread", "guards", "inventory", "queue_aware", "emit")
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
    """Instructions (cachegrind's ``I refs``) of ``python ARGS`` run on ``tree``, deterministically."""
    cmd = [valgrind(), "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
           sys.executable, *args]
    r = subprocess.run(cmd, env=_env(tree), capture_output=True, text=True, timeout=timeout)
    m = _IREFS.search(r.stderr)
    if r.returncode != 0 or m is None:
        raise GateError(f"{tree.label} instruction count failed ({tree.commit[:12]}): {r.stderr[-2000:]}")
    return int(m.group(1).replace(",", ""))


#: type-cache layouts each tree is counted under (``probe.shift_type_tags``); per stage the median
LAYOUTS = (0, 1, 2, 3, 5)


def _irefs(tree: Tree, workload: Path, ticks: int, extra: str, layout: int = 0) -> int:
    return instructions(tree, [str(PROBE), "count", str(workload), "--ticks", str(ticks), "--extra", extra,
                               "--layout", str(layout)])


def count_instructions(tree: Tree, workload: Path, ticks: int,
                       progress: Any = None) -> dict[str, float]:
    """Instructions per call of each stage and per whole tick (the runner with its timing),
    as the marginal of one more pass over ``ticks`` inputs, the empty loop's share removed,
    the median over the type-cache layouts ``LAYOUTS``. The probes run side by side on every
    core (counts do not depend on the load)."""
    n = len(_ticks_in(workload, ticks))
    extras = ("none", "loop", *COUNTED)
    runs = [(x, k) for k in LAYOUTS for x in extras]
    with ThreadPoolExecutor(max_workers=max(1, len(os.sched_getaffinity(0)) if hasattr(
            os, "sched_getaffinity") else os.cpu_count() or 1)) as pool:
        futures = {r: pool.submit(_irefs, tree, workload, ticks, *r) for r in runs}
        irefs = {}
        for r in runs:
            irefs[r] = futures[r].result()
            if progress:
                progress(f"{tree.label}: {r[0]} counted (layout {r[1]})")
    per_layout = []
    for k in LAYOUTS:
        base = irefs["none", k]
        loop = (irefs["loop", k] - base) / n
        got: dict[str, float] = {"loop": loop}
        for what in COUNTED:
            extra = (irefs[what, k] - base) / n
            got[what] = extra if what == "tick_total" else extra - loop
        per_layout.append(got)
    # the median over the layouts: a stage's count without the luck of one layout's collisions
    return {what: statistics.median(g[what] for g in per_layout) for what in per_layout[0]}


def _ticks_in(workload: Path, ticks: int) -> list[Any]:
    data = msgspec.msgpack.decode(workload.read_bytes())
    return data[:ticks] if ticks else data
