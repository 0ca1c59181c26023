"""``quotepipe record``: the live feed into recordings that replay, ``data inspect`` and the gate read.

It subscribes like the live feed (``marketdata.live``: same connections, same
book sync, so a gap asks for a fresh snapshot) and writes every frame it
receives as ``<receive ns> <raw message>``, one gzip file per instrument and
period (``<venue>_<symbol>-<UTC start>.gz``, the shared recordings' naming),
with the REST snapshot lines in the same file: each file asks for its own
snapshot when it opens, so it replays on its own.

Durability: a file is written as ``NAME.gz.part`` and flushed (a gzip sync
point) every ``FLUSH_S``; at rotation it is finished, fsynced, renamed to
``NAME.gz`` and its folder fsynced. A killed recorder therefore loses at most
the open file's last ``FLUSH_S`` of data, and a closed file is never touched
again.
"""

from __future__ import annotations

import gzip
import logging
import os
import sys
import time
from pathlib import Path
from typing import IO, Any

from quotepipe.config import Config
from quotepipe.marketdata.binance import file_stem
from quotepipe.marketdata.book import BookSet
from quotepipe.marketdata.live import LiveFeed

log = logging.getLogger(__name__)

FLUSH_S = 1.0


class _File:
    def __init__(self, folder: Path, stem: str, start: float) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(start))
        self.final = folder / f"{stem}-{stamp}.gz"
        self.part = self.final.with_name(self.final.name + ".part")
        self.raw: IO[bytes] = open(self.part, "wb")  # noqa: SIM115 - closed in finish()
        self.gz = gzip.GzipFile(fileobj=self.raw, mode="wb", compresslevel=6, mtime=0)
        self.stream_lines = 0  #: lines of a stream (not a snapshot): a file without any holds no data

    def write(self, wall: int, raw: bytes) -> None:
        self.gz.write(b"%d %s\n" % (wall, raw))
        if raw.startswith(b'{"stream"'):
            self.stream_lines += 1

    def flush(self) -> None:
        self.gz.flush()  # a sync point: everything so far can be read back
        self.raw.flush()

    def finish(self) -> Path | None:
        """Close, fsync and rename it; None (and no file) when no stream message came in its period."""
        self.gz.close()
        self.raw.flush()
        os.fsync(self.raw.fileno())
        self.raw.close()
        if not self.stream_lines:
            self.part.unlink()
            return None
        os.replace(self.part, self.final)
        fd = os.open(self.final.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return self.final


class Recorder:
    def __init__(self, cfg: Config, out: Path, rotate_s: float, duration_s: float | None,
                 progress: bool = False) -> None:
        self.cfg = cfg
        self.out = out
        self.rotate_s = rotate_s
        self.duration_s = duration_s
        self.progress = progress
        self.books = BookSet.of(cfg)
        self.feed = LiveFeed(cfg, self.books)
        self.feed.on_frame = self._frame
        self.files: dict[str, _File] = {}
        self.closed: list[Path] = []
        self.frames = 0
        self.period_start = 0.0

    def _frame(self, wall: int, iid: str, raw: bytes) -> None:
        self.files[iid].write(wall, raw)
        self.frames += 1

    def _open_period(self, now: float) -> None:
        self.period_start = now
        for i in self.cfg.instruments:
            self.files[i.id] = _File(self.out, file_stem(i.id), now)

    def _rotate(self, now: float) -> None:
        old, self.files = self.files, {}
        self._open_period(now)
        for f in old.values():
            self._finish(f)
        if self.feed.l2:  # every file starts with its own snapshot
            for i in self.cfg.instruments:
                self.feed.request_snapshot(i.id)

    def run(self) -> dict[str, Any]:
        """Record until ``duration_s`` (or Ctrl-C); the files written and the message counts."""
        start = time.time()
        self._open_period(start)
        next_flush = next_show = time.monotonic() + FLUSH_S
        end = time.monotonic() + self.duration_s if self.duration_s else None
        try:
            for ev in self.feed.events():
                if ev is not None:
                    self.books.apply(ev)
                mono = time.monotonic()
                if end is not None and mono >= end:
                    break
                if mono >= next_flush:
                    next_flush = mono + FLUSH_S
                    for f in self.files.values():
                        f.flush()
                    if time.time() - self.period_start >= self.rotate_s:
                        self._rotate(time.time())
                if self.progress and mono >= next_show:
                    next_show = mono + 1.0
                    self._show(time.time() - start)
        except KeyboardInterrupt:
            log.info("record: interrupted; closing the files")
        finally:
            self.feed.close()
            for f in self.files.values():
                self._finish(f)
            if self.progress:
                sys.stderr.write("\n")
        return {"files": [str(p) for p in self.closed], "frames": self.frames,
                "malformed": self.feed.malformed, **self.feed.counts}

    def _finish(self, f: _File) -> None:
        path = f.finish()
        if path is None:
            log.info("record: %s had no stream message: not kept", f.final.name)
        else:
            self.closed.append(path)

    def _show(self, elapsed: float) -> None:
        left = self.rotate_s - (time.time() - self.period_start)
        sys.stderr.write(f"\rrecord: {self.frames:,} messages ({self.frames / elapsed:,.0f}/s), "
                         f"{len(self.files)} files open, {len(self.closed)} closed, "
                         f"up {int(elapsed) // 60}:{int(elapsed) % 60:02d}, next rotation in {left:,.0f} s ")
        sys.stderr.flush()
