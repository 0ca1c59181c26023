"""Shared helpers of the benchmark scripts: argument parsing, JSON output, host facts."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON here")
    return p


def data_files() -> list[Path]:
    env = os.environ.get("QUOTEPIPE_DATA")
    root = Path(env) if env else REPO.parent / "shared" / "data"
    files = sorted(root.rglob("*.gz")) if root.is_dir() else []
    if not files:
        sys.exit(f"no recordings under {root}: set QUOTEPIPE_DATA")
    return files


def shm_stress() -> ModuleType:
    """The test suite's cross-process shared-memory checks (``tests/shm_stress.py``), which
    ``bench_shm`` also times: imported from the checkout this script runs from."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    return importlib.import_module("tests.shm_stress")


def books_of(cfg: Any) -> Any:
    """``BookSet.of(cfg)``; on a tree from before it (an A/B base) the books without ticks."""
    from quotepipe.marketdata.book import BookSet

    of = getattr(BookSet, "of", None)
    return of(cfg) if of else BookSet([i.id for i in cfg.instruments])


def host() -> dict[str, Any]:
    return {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()}


def emit(figures: dict[str, Any], json_path: str | None, lines: list[str]) -> None:
    for line in lines:
        print(line)
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps({**figures, "host": host()}, indent=2) + "\n")
        print(f"wrote {json_path}")


def spread(values: list[float]) -> dict[str, float]:
    """Median and spread (min, max) of a benchmark's repeats: what every benchmark reports,
    never the best of N alone."""
    xs = sorted(values)
    n = len(xs)
    med = xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
    return {"median": med, "min": xs[0], "max": xs[-1], "repeats": n}


def show(s: dict[str, float], scale: float = 1.0, unit: str = "") -> str:
    """``median [min-max] unit`` of ``spread``'s figures, each divided by ``scale``."""
    d = 2 if abs(s["median"] / scale) < 100 else 1
    return (f"{s['median'] / scale:,.{d}f}{unit} [{s['min'] / scale:,.{d}f}-{s['max'] / scale:,.{d}f}] "
            f"over {s['repeats']}")
