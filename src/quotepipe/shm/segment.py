"""POSIX shared-memory segments with a self-describing header, and their lifecycle.

Every segment is ``/quotepipe.<instance>.<name>`` (mode 0600) created through
``posix_ipc`` and mapped with ``mmap``; ``multiprocessing.shared_memory`` is not
used because its resource tracker may unlink a segment another process still
maps. The first 128 bytes are a header: magic, layout version, a hash of the
record layout, the owner's pid and start time, and the body size. Attaching to a
segment whose version or layout hash differs is refused.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import struct
import zlib
from pathlib import Path

import posix_ipc
import psutil

log = logging.getLogger(__name__)

MAGIC = b"QPIPESHM"
LAYOUT_VERSION = 1
HEADER_SIZE = 128
LINE = 128  # independently written words sit at least this far apart
_HEADER = struct.Struct("<8sIIQQdQ")  # magic, version, reserved, layout hash, pid, start, body
SHM_DIR = Path("/dev/shm")


class SegmentError(RuntimeError):
    """A segment could not be created or attached; the message says why."""


class InstanceRunning(SegmentError):
    """Another live process owns this instance's segments, or another user's segment holds its name."""


def layout_hash(description: str) -> int:
    """A stable 64-bit hash of a layout description (formats, names, sizes)."""
    data = description.encode()
    return (zlib.crc32(data) << 32) | zlib.adler32(data)


def segment_name(instance: str, name: str) -> str:
    return f"/quotepipe.{instance}.{name}"


def process_start_time(pid: int) -> float:
    """Start time of ``pid`` (seconds since the epoch); 0.0 when it does not exist."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return 0.0


def owner_alive(pid: int, start: float) -> bool:
    """True when ``pid`` is alive and is the same process that wrote ``start``."""
    if pid <= 0:
        return False
    now = process_start_time(pid)
    return now != 0.0 and abs(now - start) < 0.05


def align(n: int, to: int = LINE) -> int:
    return (n + to - 1) // to * to


class Segment:
    """One mapped segment. ``body`` is a memoryview past the header."""

    def __init__(self, name: str, mm: mmap.mmap, created: bool) -> None:
        self.name = name
        self.mm = mm
        self.created = created
        self.buf = memoryview(mm)
        self.body = self.buf[HEADER_SIZE:]
        self._closed = False

    # -- creation and attachment
    @classmethod
    def create(cls, name: str, body_size: int, layout: str, owner_pid: int | None = None) -> Segment:
        pid = os.getpid() if owner_pid is None else owner_pid
        size = HEADER_SIZE + align(body_size)
        try:
            shm = posix_ipc.SharedMemory(name, flags=posix_ipc.O_CREX, mode=0o600, size=size)
        except posix_ipc.ExistentialError:
            raise SegmentError(f"shared-memory segment {name} already exists") from None
        try:
            mm = mmap.mmap(shm.fd, size)
        finally:
            shm.close_fd()
        _HEADER.pack_into(mm, 0, MAGIC, LAYOUT_VERSION, 0, layout_hash(layout), pid,
                          process_start_time(pid), size - HEADER_SIZE)
        return cls(name, mm, created=True)

    @classmethod
    def attach(cls, name: str, layout: str, writable: bool = True) -> Segment:
        try:
            shm = posix_ipc.SharedMemory(name, flags=0, read_only=not writable)
        except posix_ipc.ExistentialError:
            raise SegmentError(f"shared-memory segment {name} does not exist") from None
        except posix_ipc.PermissionsError:
            raise permission_denied(name) from None
        try:
            access = mmap.ACCESS_WRITE if writable else mmap.ACCESS_READ
            mm = mmap.mmap(shm.fd, shm.size, access=access)
        finally:
            shm.close_fd()
        magic, version, _, lhash, _, _, body = _HEADER.unpack_from(mm, 0)
        problem = None
        if magic != MAGIC:
            problem = "is not a quotepipe segment (bad magic)"
        elif version != LAYOUT_VERSION:
            problem = f"has layout version {version}, this build expects {LAYOUT_VERSION}"
        elif lhash != layout_hash(layout):
            problem = "has a different record layout (built by another quotepipe version?)"
        elif body + HEADER_SIZE > len(mm):
            problem = "is truncated"
        if problem:
            mm.close()
            raise SegmentError(f"cannot attach {name}: it {problem}")
        return cls(name, mm, created=False)

    # -- header
    @property
    def owner(self) -> tuple[int, float]:
        _, _, _, _, pid, start, _ = _HEADER.unpack_from(self.mm, 0)
        return pid, start

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Views handed to numpy or casts may still be alive; the mapping then
        # stays until they go (or the process exits), which is harmless.
        for release in (self.body.release, self.buf.release, self.mm.close):
            with contextlib.suppress(BufferError):
                release()

    def unlink(self) -> None:
        unlink_quietly(self.name)


def unlink_quietly(name: str) -> bool:
    try:
        posix_ipc.unlink_shared_memory(name)
        return True
    except posix_ipc.ExistentialError:
        return False


def existing_segments(instance: str) -> list[str]:
    """Names of this instance's segments present on the host."""
    if not SHM_DIR.is_dir():  # pragma: no cover - non-Linux
        return []
    prefix = f"quotepipe.{instance}."
    return sorted("/" + p.name for p in SHM_DIR.iterdir() if p.name.startswith(prefix))


def user_name(uid: int) -> str:
    """``alice (uid 1001)``, or ``uid 1001`` when the user database does not know it."""
    import pwd

    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def file_uid(name: str) -> int | None:
    """The user that owns segment ``name`` (its file under /dev/shm); None when it is gone."""
    try:
        return (SHM_DIR / name.lstrip("/")).stat().st_uid
    except OSError:
        return None


def permission_denied(name: str) -> SegmentError:
    uid = file_uid(name)
    whose = f" (it belongs to {user_name(uid)})" if uid is not None else ""
    return SegmentError(f"may not open {name}: permission denied{whose}")


def read_owner(name: str) -> tuple[int, float] | None:
    """Owner pid and start time from a segment's header, without layout checks.

    Raises ``SegmentError`` naming the segment's user when this user may not read it."""
    try:
        shm = posix_ipc.SharedMemory(name, flags=0, read_only=True)
    except posix_ipc.ExistentialError:
        return None
    except posix_ipc.PermissionsError:
        raise permission_denied(name) from None
    try:
        if shm.size < HEADER_SIZE:
            return None
        with mmap.mmap(shm.fd, HEADER_SIZE, access=mmap.ACCESS_READ) as mm:
            magic, _, _, _, pid, start, _ = _HEADER.unpack_from(mm, 0)
    finally:
        shm.close_fd()
    return (pid, start) if magic == MAGIC else None


def claim_instance(instance: str) -> list[str]:
    """Make way for a new owner of ``instance``.

    Refuses with ``InstanceRunning`` while a live owner holds any segment, or while any
    segment of the name belongs to another user (a header can be forged, the file's owner
    cannot); otherwise removes stale segments left by a dead owner and returns their names.
    """
    names = existing_segments(instance)
    me = os.geteuid()
    for name in names:  # another user's segment is never taken for ours, whatever its header says
        uid = file_uid(name)
        if uid is not None and uid != me:
            raise InstanceRunning(
                f'instance "{instance}" is blocked by {SHM_DIR}{name}, which belongs to {user_name(uid)}, '
                f"not to {user_name(me)}: pick another instance.name, or have its owner remove it")
    for name in names:
        owner = read_owner(name)
        if owner and owner_alive(*owner) and owner[0] != os.getpid():
            raise InstanceRunning(f'instance "{instance}" is already running as pid {owner[0]}')
    removed = [n for n in names if unlink_quietly(n)]
    if removed:
        log.warning("removed %d stale shared-memory segments of instance %r: %s",
                    len(removed), instance, ", ".join(removed))
    return removed


class SegmentSet:
    """The segments one owner created; ``unlink_all`` on clean exit removes them."""

    def __init__(self, instance: str) -> None:
        self.instance = instance
        self.segments: dict[str, Segment] = {}

    def claim(self) -> list[str]:
        return claim_instance(self.instance)

    def create(self, name: str, body_size: int, layout: str) -> Segment:
        full = segment_name(self.instance, name)
        seg = Segment.create(full, body_size, layout)
        self.segments[name] = seg
        return seg

    def close_all(self) -> None:
        for seg in self.segments.values():
            seg.close()

    def unlink_all(self) -> None:
        for seg in self.segments.values():
            seg.unlink()
        self.close_all()
        self.segments.clear()

    def __enter__(self) -> SegmentSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.unlink_all()
