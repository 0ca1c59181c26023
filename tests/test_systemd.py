"""The systemd unit verifies, and the daemon speaks the notify protocol it declares."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.daemon_helpers import wait_for

UNIT = REPO / "systemd" / "quotepipe@.service"


def test_unit_verifies_and_keeps_shared_memory(tmp_path):
    text = UNIT.read_text()
    for line in ("Type=notify", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID", "KillMode=mixed",
                 "RestartPreventExitStatus=2", "CPUAffinity="):
        assert line in text, line
    settings = [ln.split("=", 1)[0] for ln in text.splitlines() if ln and not ln.startswith("#")]
    for wipes_shm in ("RemoveIPC", "PrivateIPC", "DynamicUser", "PrivateDevices"):
        assert wipes_shm not in settings
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    # verify against this checkout's executable (the unit names the /opt install)
    unit = tmp_path / "quotepipe@test.service"
    exe = str(REPO / ".venv" / "bin" / "quotepipe")
    unit.write_text(text.replace("/opt/quotepipe/.venv/bin/quotepipe", exe))
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "Unknown" not in r.stderr and "ignoring" not in r.stderr, r.stderr


def test_daemon_notifies_ready_watchdog_and_stopping(tmp_path, instance_name):
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(0.2)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"instance: {{name: {instance_name}}}\nmetrics: {{port: 0}}\n"
                   "workers: {busy_poll: false}\n")
    env = {"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "200000", "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([sys.executable, "-m", "quotepipe", "run", "-c", str(cfg)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    got: list[str] = []

    def receive(what: str) -> bool:
        with contextlib.suppress(TimeoutError):
            got.extend(sock.recv(4096).decode().splitlines())
        return any(m.startswith(what) for m in got)

    try:
        assert wait_for(lambda: receive("READY=1"), 90, every=0.0)
        assert wait_for(lambda: receive("WATCHDOG=1"), 30, every=0.0)
        proc.send_signal(signal.SIGTERM)
        assert wait_for(lambda: receive("STOPPING=1"), 30, every=0.0)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
    assert f"MAINPID={proc.pid}" in got
