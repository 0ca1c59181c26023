"""Shared fixtures: the real recordings, the CLI, unique instance names."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    env = os.environ.get("QUOTEPIPE_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def recordings() -> list[Path]:
    root = data_root()
    return sorted(root.rglob("*.gz")) if root.is_dir() else []


@pytest.fixture(scope="session")
def real_recordings() -> list[Path]:
    """The shared Binance recordings; skipped where absent, but never in CI."""
    files = recordings()
    if not files:
        reason = f"no recordings under {data_root()} (set QUOTEPIPE_DATA)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the real-data tests: {reason}")
        pytest.skip(reason)
    return files


def run_cli(*args: str, timeout: float = 300, **kw) -> subprocess.CompletedProcess[str]:
    """Run ``python -m quotepipe ARGS`` as a user would, capturing output. The time-out is for a
    hang, not a speed check: on a loaded shared host a `quotepipe resume` that had printed its
    whole answer and exited 0 was still past 120 s."""
    return subprocess.run([sys.executable, "-m", "quotepipe", *args], capture_output=True,
                          text=True, timeout=timeout, **kw)


@pytest.fixture
def instance_name() -> str:
    """A unique instance name so that parallel tests never share segments."""
    return f"t{uuid.uuid4().hex[:12]}"
