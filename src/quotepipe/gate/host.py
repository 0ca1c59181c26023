"""The gate host: its fingerprint, and whether it can resolve a wall-time regression of 3%.

A wall-time A/B needs cores that nothing else runs on (``isolcpus``/``nohz_full``
or an idle host), a fixed clock (the ``performance`` governor), no busy SMT
sibling of a measured core, and a low load; ``host_check`` says which of these
hold and what to change. A shared VM meets none, and its wall-time verdicts are
inconclusive; instruction counts (``--counter instructions``) gate there.
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import msgspec

SYS_CPU = Path("/sys/devices/system/cpu")


def _read(path: Path | str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _cpu_model() -> str:
    text = _read("/proc/cpuinfo") or ""
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _cmdline_flag(name: str) -> str | None:
    for word in (_read("/proc/cmdline") or "").split():
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    return None


def governors(cpus: list[int]) -> dict[int, str | None]:
    return {c: _read(SYS_CPU / f"cpu{c}/cpufreq/scaling_governor") for c in cpus}


def siblings(cpu: int) -> list[int]:
    text = _read(SYS_CPU / f"cpu{cpu}/topology/thread_siblings_list")
    out: list[int] = []
    for part in (text or str(cpu)).split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def commit_of(tree: Path) -> str:
    try:
        return subprocess.run(["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


class Fingerprint(msgspec.Struct, frozen=True):
    """What a wall-time figure depends on besides the code; figures from hosts whose
    fingerprints differ are not compared."""

    cpu_model: str
    cores: int
    affinity: list[int]
    smt: str | None
    governors: dict[str, str | None]
    isolcpus: str | None
    nohz_full: str | None
    kernel: str
    python: str
    packages: dict[str, str]

    def comparable(self, other: Fingerprint) -> list[str]:
        """The fields that differ from ``other`` (empty: comparable). Load and commit are
        reported with a run, not part of the fingerprint."""
        return [f for f in self.__struct_fields__ if getattr(self, f) != getattr(other, f)]


def fingerprint() -> Fingerprint:
    aff = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(
        range(os.cpu_count() or 1))
    pkgs = {}
    for name in ("numpy", "msgspec"):
        try:
            pkgs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pkgs[name] = "absent"
    return Fingerprint(
        cpu_model=_cpu_model(), cores=os.cpu_count() or 1, affinity=aff,
        smt=_read(SYS_CPU / "smt/active"), governors={str(c): g for c, g in governors(aff).items()},
        isolcpus=_cmdline_flag("isolcpus"), nohz_full=_cmdline_flag("nohz_full"),
        kernel=platform.release(), python=platform.python_version(), packages=pkgs)


class Check(msgspec.Struct, frozen=True):
    name: str
    ok: bool
    detail: str
    advice: str = ""


def host_check(cores: list[int]) -> list[Check]:
    """Whether this host can gate wall time at 3% on ``cores``, and what to change."""
    checks = []
    isolated: set[int] = set()
    iso_text = _read(SYS_CPU / "isolated") or ""
    for part in filter(None, iso_text.split(",")):
        lo, _, hi = part.partition("-")
        isolated.update(range(int(lo), int(hi or lo) + 1))
    nohz = _cmdline_flag("nohz_full")
    checks.append(Check("isolated cores", all(c in isolated for c in cores),
                        f"measured cores {cores}, isolated {sorted(isolated) or 'none'}, "
                        f"nohz_full {nohz or 'none'}",
                        "boot with isolcpus=<cores> nohz_full=<cores> and measure on those cores"))
    govs = governors(cores)
    fixed = all(g == "performance" for g in govs.values())
    checks.append(Check("fixed frequency", fixed,
                        ", ".join(f"cpu{c}: {g or 'no cpufreq (a VM?)'}" for c, g in govs.items()),
                        "cpupower frequency-set -g performance (and turbo off for steadier figures)"))
    busy_siblings = []
    try:
        import psutil

        per_cpu = psutil.cpu_percent(interval=0.5, percpu=True)
        for c in cores:
            for s in siblings(c):
                if s != c and s < len(per_cpu) and per_cpu[s] > 10.0:
                    busy_siblings.append(f"cpu{s} {per_cpu[s]:.0f}%")
    except Exception:  # noqa: BLE001 - psutil missing or unreadable /proc: reported, not fatal
        per_cpu = []
    checks.append(Check("no busy SMT sibling", not busy_siblings,
                        ", ".join(busy_siblings) or "no sibling of a measured core is busy",
                        "disable SMT (echo off > /sys/devices/system/cpu/smt/control) or keep "
                        "the siblings idle"))
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    n = os.cpu_count() or 1
    checks.append(Check("low load", load1 < 0.25 * n, f"1-min load {load1:.2f} on {n} cores",
                        "run the gate on a host nothing else runs on"))
    return checks


def can_resolve_wall_time(checks: list[Check]) -> bool:
    return all(c.ok for c in checks)


def load_now() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0

