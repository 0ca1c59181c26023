"""Type stub of replay's compiled per-event loop (replay_loop.pyx)."""

from typing import Any

def play(replay: Any, risk_ns: int, t0: float) -> tuple[int, int]: ...
