"""The feed a config names: recordings merged on receive time, or the synthetic generator."""

from __future__ import annotations

from collections.abc import Iterator

from quotepipe.config import Config
from quotepipe.marketdata.messages import Event
from quotepipe.marketdata.recording import RecordingReader, merge, open_recordings
from quotepipe.marketdata.synthetic import synthetic_events


class UnknownInstrument(ValueError):
    """A recording names an instrument the config does not describe."""

    def __init__(self, inst: str, where: str) -> None:
        super().__init__(
            f"{where}: instrument {inst!r} is not in the config: add it under `instruments:` "
            f"(id: {inst}, tick_size, lot_size, base_qty)")
        self.inst = inst


class Feed:
    """Events of ``cfg.feed`` in event-time order, checked against the configured instruments."""

    def __init__(self, cfg: Config, paths: list[str] | None = None) -> None:
        self.cfg = cfg
        self.kind = "replay" if paths or cfg.feed.kind == "replay" else "synthetic"
        self.readers: list[RecordingReader] = (
            open_recordings(paths or cfg.feed.paths, cfg.feed.venue) if self.kind == "replay" else [])
        self.known = {i.id for i in cfg.instruments}

    @property
    def malformed(self) -> int:
        return sum(r.malformed for r in self.readers)

    def events(self, limit: int | None = None) -> Iterator[Event]:
        if self.kind == "synthetic":
            yield from synthetic_events(self.cfg, limit)
            return
        known = self.known
        readers = self.readers
        for emitted, (_, index, lineno, ev) in enumerate(merge(readers), 1):
            if ev.inst not in known:
                raise UnknownInstrument(ev.inst, f"{readers[index].path}:{lineno}")
            yield ev
            if limit is not None and emitted >= limit:
                return
