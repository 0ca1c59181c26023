"""Type stub of the compiled FetchMD stage (fetch_md.pyx)."""

from quotepipe.domain.snapshot import Snapshot
from quotepipe.workers.decisions import MarketView

def fetch_md(snap: Snapshot, now_ns: int) -> MarketView: ...
