"""An alternating A/B of two commits on one benchmark: the base commit's code against this
checkout's, in fresh processes taking turns, so both see the same drift of a shared host.

    python benchmarks/ab_commits.py --base REF [--rounds 5] [--figure events_per_s] \\
        [--] bench_replay.py --repeat 1

The base is checked out into a temporary worktree (its compiled extensions built in place
when it has a ``setup.py``); the benchmark script is this checkout's, run with the tree under
test first on ``PYTHONPATH``. ``--figure`` names the figure to compare in the script's JSON
(a number, or the median of a ``{"median": ...}``); the ratio current/base is reported per
round, then its median and spread.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from quotepipe.gate.runner import build_extensions

from _common import REPO, emit, parser, show, spread


def run(tree: Path, script: list[str], figure: str, out: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    subprocess.run([sys.executable, str(REPO / "benchmarks" / script[0]), *script[1:], "--json", str(out)],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    value = json.loads(out.read_text())[figure]
    return float(value["median"] if isinstance(value, dict) else value)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--base", required=True, help="the commit to compare against (e.g. HEAD~1)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--figure", default="events_per_s")
    p.add_argument("--base-figure", help="the base's figure, when the base names it otherwise (the same "
                   "work done the old way, e.g. bench_md_publish's full_record_events_per_s)")
    p.add_argument("script", nargs="+", help="a benchmark script under benchmarks/ and its arguments")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="quotepipe-ab-"))
    base = tmp / "base"
    subprocess.run(["git", "worktree", "add", "-q", "--detach", str(base), args.base], cwd=REPO, check=True)
    try:
        build_extensions(base)
        build_extensions(REPO)
        ours, theirs = [], []
        for k in range(args.rounds):  # base first on even rounds, ours first on odd ones
            base_figure = args.base_figure or args.figure
            order = [(base, theirs, base_figure), (REPO, ours, args.figure)]
            for tree, out, figure in (order if k % 2 == 0 else order[::-1]):
                out.append(run(tree, args.script, figure, tmp / "figures.json"))
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=REPO, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = spread([a / b for a, b in zip(ours, theirs, strict=True)])
    figures = {"base": args.base, "script": args.script, "figure": args.figure,
               "base_figure": args.base_figure or args.figure,
               "base_values": spread(theirs), "current_values": spread(ours), "ratio": ratio}
    emit(figures, args.json, [
        f"{' '.join(args.script)}: {args.figure}, {args.rounds} alternating rounds",
        f"base {args.base} ({args.base_figure or args.figure}): {show(spread(theirs))}",
        f"this checkout  : {show(spread(ours))}",
        f"ratio current/base: {show(ratio)}",
    ])


if __name__ == "__main__":
    main()
