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
    for line in ("Type=notify", "WatchdogSec=", "ExecReload=/opt/quotepipe/.venv/bin/quotepipe reload "
                 "--instance %i", "KillMode=mixed", "RestartPreventExitStatus=2",
                 "ReadWritePaths=/dev/shm", "StartLimitBurst="):
        assert line in text, line
    settings = [ln.split("=", 1)[0] for ln in text.splitlines() if ln and not ln.startswith("#")]
    for wipes_shm in ("RemoveIPC", "PrivateIPC", "DynamicUser", "PrivateDevices", "ProcSubset"):
        assert wipes_shm not in settings
    # a bad config exits 2 from the main process, which RestartPreventExitStatus=2 covers (an
    # ExecStartPre failure it would not cover: restarted in a loop)
    assert "ExecStartPre" not in settings
    assert "CPUAffinity" not in settings  # the daemon pins within whatever cores the host gives it
    assert "@resources" not in text.split("SystemCallFilter=~", 1)[1].splitlines()[0]  # pinning, nice
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    # verify against this checkout's executable (the unit names the /opt install)
    unit = tmp_path / "quotepipe@test.service"
    exe = str(REPO / ".venv" / "bin" / "quotepipe")
    unit.write_text(text.replace("/opt/quotepipe/.venv/bin/quotepipe", exe))
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "Unknown" not in r.stderr and "ignoring" not in r.stderr, r.stderr
    r = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit)], capture_output=True,
                       text=True, timeout=60)
    if r.returncode == 0:  # the README states the score
        score = float(r.stdout.split("Overall exposure level for")[1].split(":")[1].split()[0])
        assert score <= 2.0, r.stdout[-300:]


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
        assert any(m.startswith("STATUS=quoting, epoch 1, shards 0:pipeline") for m in got), got
        assert f"MAINPID={proc.pid}" in got
        # a reload: RELOADING=1 with the monotonic time, then READY=1 and STATUS=
        got.clear()
        cfg.write_text(cfg.read_text() + "guards: {max_actions_per_s: 10}\n")
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: receive("STATUS=quoting, epoch 2"), 30, every=0.0), got
        reloading = next(k for k, m in enumerate(got) if m == "RELOADING=1")
        assert got[reloading + 1].startswith("MONOTONIC_USEC=") and "READY=1" in got[reloading + 2:]
        # a refused reload says why in STATUS=
        got.clear()
        cfg.write_text(cfg.read_text() + "spread: {model: magic}\n")
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: receive("STATUS=reload refused"), 30, every=0.0), got
        status = next(m for m in got if m.startswith("STATUS=reload refused"))
        assert "spread.model" in status and "epoch 2 runs on" in status
        proc.send_signal(signal.SIGTERM)
        assert wait_for(lambda: receive("STOPPING=1"), 30, every=0.0)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
