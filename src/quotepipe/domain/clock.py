"""The event clock of the daemon's processes.

Replay runs on the recording's receive times alone. In the daemon, event time
also passes between updates: an update's receive time plus the wall time since
it was published, scaled by the feed's pace (``feed.speed``; a feed that runs as
fast as it can is paced 1:1). The worker, the venue and the scoreboard use this
one formula, so they agree on what time it is.
"""

from __future__ import annotations


def event_rate(speed: float) -> float:
    """Event nanoseconds per wall nanosecond for ``feed.speed`` (0: as fast as possible -> 1)."""
    return speed if speed > 0 else 1.0


def event_now(recv_ns: int, publish_ns: int, mono_ns: int, rate: float) -> int:
    """Event time at monotonic time ``mono_ns`` of an update received at ``recv_ns`` and
    published at ``publish_ns``."""
    return recv_ns + int((mono_ns - publish_ns) * rate)
