"""Whose shared memory it is: a forged segment, and a user who may not read the segments."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from quotepipe.config import parse_config
from quotepipe.shm.catalog import create_instance_segments
from quotepipe.shm.segment import SHM_DIR, Segment, SegmentSet, segment_name, unlink_quietly
from tests.conftest import run_cli

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as a second local user")
OTHER_UID = 54321


@ROOT_ONLY
def test_another_users_forged_segment_is_named_not_taken_for_a_running_instance(tmp_path, instance_name):
    """A segment whose header claims pid 1 used to block the name as 'already running as pid 1'."""
    name = segment_name(instance_name, "control")
    seg = Segment.create(name, 4096, "forged", owner_pid=1)
    try:
        os.chown(SHM_DIR / name.lstrip("/"), OTHER_UID, OTHER_UID)
        cfg = tmp_path / "c.yaml"
        cfg.write_text(f"instance: {{name: {instance_name}}}\n")
        r = run_cli("run", "-c", str(cfg), "--duration", "5")
        assert r.returncode == 1, r.stderr
        assert f"belongs to uid {OTHER_UID}" in r.stderr and "already running as pid 1" not in r.stderr
        assert "instance.name" in r.stderr and "Traceback" not in r.stderr
        assert (SHM_DIR / name.lstrip("/")).exists()  # another user's file is left alone
    finally:
        seg.close()
        unlink_quietly(name)


STATUS_AS_OTHER_USER = f"""
import os, sys
from quotepipe import cli
import quotepipe.daemon.view, quotepipe.shm.segment  # imported before the privileges go
os.setgid({OTHER_UID}); os.setuid({OTHER_UID})
sys.exit(cli.main(["status", "--instance", sys.argv[1]]))
"""


@ROOT_ONLY
def test_status_by_a_user_who_may_not_read_the_segments_exits_1_with_a_message(instance_name):
    cfg = parse_config(f"instance: {{name: {instance_name}}}\n")
    with SegmentSet(instance_name) as segs:
        segs.claim()
        create_instance_segments(cfg, segs)  # mode 0600, owned by this (live) process
        r = subprocess.run([sys.executable, "-c", STATUS_AS_OTHER_USER, instance_name],
                           capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert "permission denied" in r.stderr and "belongs to root (uid 0)" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("name", ["../etc", "UPPER", "a" * 40, "_x", "a/b"])
def test_a_bad_instance_name_exits_2(name):
    r = run_cli("status", "--instance", name)
    assert r.returncode == 2 and "--instance: expected a name matching" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
