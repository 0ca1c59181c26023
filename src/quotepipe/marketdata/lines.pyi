from typing import Any

KINDS: dict[str, int]

class Stream:
    line_decoder: Any
    kind: str
    inst: str
    count: int
    last_ns: int
    def __init__(self, kind: str, inst: str, ns: int, line_decoder: Any) -> None: ...

class KnownStreams:
    streams: dict[bytes, Stream]
    def __init__(self) -> None: ...
    def add(self, name: bytes, stream: Stream) -> None: ...
    def decode_rows(self, block: bytes, pos: int, stop: int, lo: int, hi: int, index: int, lineno: int,
                    out: list[Any], whole: bool = False) -> tuple[int, int, Any]: ...
