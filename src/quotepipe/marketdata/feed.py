"""The feed a config names: recordings merged on receive time, or the synthetic generator."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from quotepipe.config import Config
from quotepipe.marketdata.messages import Event
from quotepipe.marketdata.recording import RecordingReader, merge_batches, open_recordings
from quotepipe.marketdata.synthetic import synthetic_events

SYNTHETIC_BATCH = 256  # synthetic events per batch


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

    def done(self) -> float | None:
        """The share of the recordings read so far, by compressed bytes (None: synthetic)."""
        if not self.readers:
            return None
        total = sum(r.path.stat().st_size for r in self.readers)
        return sum(r.bytes_read[0] for r in self.readers) / total if total else 1.0

    @property
    def malformed(self) -> int:
        return sum(r.malformed for r in self.readers)

    def events(self, limit: int | None = None) -> Iterator[Event]:
        if self.kind == "synthetic":  # one at a time: no burst of generation in a paced feed
            yield from synthetic_events(self.cfg, limit)
            return
        for batch in self.batches(limit):
            yield from batch

    def batches(self, limit: int | None = None) -> Iterator[list[Event]]:
        """``events`` a list at a time: a loop over each list costs less than a generator step
        per event (replay's hot loop)."""
        if self.kind == "synthetic":
            events = synthetic_events(self.cfg, limit)
            while batch := list(islice(events, SYNTHETIC_BATCH)):
                yield batch
            return
        readers = self.readers
        checked = [0] * len(readers)  # instruments of each reader checked against the config
        left = limit
        for merged in merge_batches(readers):
            for r, reader in enumerate(readers):
                if len(reader.instruments) > checked[r]:
                    self._check(reader, checked[r])
                    checked[r] = len(reader.instruments)
            if left is not None and len(merged) >= left:
                if left:
                    yield [ev for _, _, _, ev in merged[:left]]
                return
            yield [ev for _, _, _, ev in merged]
            if left is not None:
                left -= len(merged)

    def _check(self, reader: RecordingReader, start: int) -> None:
        """Raise ``UnknownInstrument`` for the first instrument of ``reader`` not in the config."""
        for inst in reader.instruments[start:]:
            if inst not in self.known:
                raise UnknownInstrument(inst, f"{reader.path}:{reader.first_line[inst]}")
