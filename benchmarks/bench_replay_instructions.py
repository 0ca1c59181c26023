"""Instructions per replay event under cachegrind, for the working tree and (optionally) a commit.

The marginal count of events FIRST..LAST of ``quotepipe replay`` on one recording
(two runs, FIRST and LAST events; the difference over LAST - FIRST), so start-up
and imports cancel out. With ``--against REF`` the commit is checked out in a
temporary worktree and both are counted: a deterministic A/B of the replay loop.

    python benchmarks/bench_replay_instructions.py [--against REF] [--first 20000] [--last 60000]
"""

from __future__ import annotations

import contextlib

from quotepipe.gate.runner import Tree, copied, current_tree, instructions, worktree

from _common import data_files, emit, parser


def irefs(tree: Tree, recording: str, events: int) -> int:
    return instructions(tree, ["-m", "quotepipe", "replay", recording, "--events", str(events)], 1800)


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
