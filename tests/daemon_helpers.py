"""Drive ``quotepipe run`` as a user would: a real supervisor, real children, real signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from quotepipe.daemon.view import InstanceView
from quotepipe.shm.segment import SegmentError, claim_instance, existing_segments


def wait_for(pred, timeout: float = 60.0, every: float = 0.1) -> bool:  # noqa: ANN001
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(every)
    return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for metrics.port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie still answers kill(0)
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


class Daemon:
    """``quotepipe run -c CONFIG [--duration S] --summary-json FILE`` in the background."""

    def __init__(self, tmp_path: Path, instance: str, yaml: str = "", duration: float | None = None,
                 metrics_port: int = 0, own_group: bool = False, metrics_listen: str = "127.0.0.1") -> None:
        """``own_group``: the supervisor leads a process group of its own (a terminal job's), so a
        test can stop and continue the whole instance with ``killpg``."""
        self.instance = instance
        self.dir = tmp_path
        self.config = tmp_path / f"{instance}.yaml"
        self.metrics_listen = metrics_listen
        self.write_config(yaml, metrics_port)
        self.summary_path = tmp_path / f"{instance}.summary.json"
        self.stdout = open(tmp_path / f"{instance}.out", "w")  # noqa: SIM115
        self.stderr_path = tmp_path / f"{instance}.err"
        self.stderr = open(self.stderr_path, "w")  # noqa: SIM115
        args = [sys.executable, "-m", "quotepipe", "run", "-c", str(self.config),
                "--summary-json", str(self.summary_path)]
        if duration:
            args += ["--duration", str(duration)]
        self.proc = subprocess.Popen(args, stdout=self.stdout, stderr=self.stderr, stdin=subprocess.DEVNULL,
                                     process_group=0 if own_group else None)
        self._view: InstanceView | None = None

    def write_config(self, yaml: str, metrics_port: int = 0) -> None:
        self.config.write_text(f"instance: {{name: {self.instance}}}\n"
                               f"metrics: {{port: {metrics_port}, listen: '{self.metrics_listen}'}}\n" + yaml)

    # -- observing
    def status(self) -> dict[str, Any] | None:
        """The instance as ``quotepipe status --json`` sees it (in-process), or None before it is up."""
        if self._view is None:
            try:
                self._view = InstanceView(instance=self.instance)
            except (SegmentError, FileNotFoundError):
                return None
        return self._view.collect()

    def wait_ready(self, timeout: float = 90.0) -> dict[str, Any]:
        assert wait_for(lambda: "ready: every process beats" in self.log() or self.proc.poll() is not None,
                        timeout), self.log()
        assert self.proc.poll() is None, self.log()
        s = self.status()
        assert s is not None
        return s

    def log(self) -> str:
        return self.stderr_path.read_text()

    def summary(self) -> dict[str, Any]:
        return json.loads(self.summary_path.read_text())

    def pids(self, role: str) -> list[int]:
        s = self.status()
        return [p["pid"] for p in s["processes"] if p["role"] == role] if s else []

    def process(self, role: str, index: int = 0) -> dict[str, Any]:
        s = self.status()
        assert s is not None
        return next(p for p in s["processes"] if p["role"] == role and p["index"] == index)

    # -- acting
    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 60.0) -> int:
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)  # the children follow it (parent-death signal)
            self.proc.wait(timeout=30)
        wait_for(lambda: not any(pid_alive(p) for p in self._child_pids()), 10)
        claim_instance(self.instance)  # remove whatever a failed test left behind
        self.stdout.close()
        self.stderr.close()

    def _child_pids(self) -> list[int]:
        try:
            out = subprocess.run(["pgrep", "-f", f"quotepipe.daemon.child [a-z]+ {self.instance} "],
                                 capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            return []
        return [int(x) for x in out.split()]

    def segments(self) -> list[str]:
        return existing_segments(self.instance)

    def __enter__(self) -> Daemon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
