"""Instructions per replay event under cachegrind, for the working tree and (optionally) a commit.

The marginal count of events FIRST..LAST of ``quotepipe replay`` on one recording
(two runs, FIRST and LAST events; the difference over LAST - FIRST), so start-up
and imports cancel out. With ``--against REF`` the commit is checked out in a
temporary worktree and both are counted: a deterministic A/B of the replay loop.

    python benchmarks/bench_replay_instructions.py [--against REF] [--first 20000] [--last 60000]
"""

from __future__ import annotations

import contextlib
import subprocess
import sys

from quotepipe.gate.runner import DETERMINISTIC_ENV, Tree, copied, current_tree, valgrind, worktree

from _common import data_files, emit, parser


def irefs(tree: Tree, recording: str, events: int) -> int:
    import os
    import re

    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, **DETERMINISTIC_ENV,
           "PYTHONPATH": tree.src}
    r = subprocess.run([valgrind(), "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
                        sys.executable, "-m", "quotepipe", "replay", recording, "--events", str(events)],
                       env=env, capture_output=True, text=True, timeout=1800)
    m = re.search(r"I\s+refs:\s+([\d,]+)", r.stderr)
    if r.returncode != 0 or m is None:
        sys.exit(f"replay under valgrind failed for {tree.label}: {r.stderr[-1000:]}")
    return int(m.group(1).replace(",", ""))


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--against", metavar="REF", help="also count this commit")
    p.add_argument("--first", type=int, default=20_000)
    p.add_argument("--last", type=int, default=60_000)
    args = p.parse_args()
    recording = str(next(f for f in data_files() if f.name == "usdm_btcusdt.gz"))
    figures = {}
    lines = [f"replay of {recording}: instructions per event, events {args.first:,}-{args.last:,}"]
    with contextlib.ExitStack() as stack:
        trees = [stack.enter_context(copied(current_tree()))]
        if args.against:
            trees.insert(0, stack.enter_context(worktree(args.against)))
        for tree in trees:
            per = (irefs(tree, recording, args.last) - irefs(tree, recording, args.first)) / (
                args.last - args.first)
            figures[tree.label] = {"commit": tree.commit, "instructions_per_event": round(per, 1)}
            lines.append(f"{tree.label:<8} {tree.commit[:12]}  {per:,.0f}")
    if len(figures) == 2:
        ratio = figures["current"]["instructions_per_event"] / figures["base"]["instructions_per_event"]
        figures["ratio"] = round(ratio, 4)
        lines.append(f"current / base: {ratio:.4f}")
    emit(figures, args.json, lines)


if __name__ == "__main__":
    main()
