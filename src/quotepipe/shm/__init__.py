"""Lock-free shared memory between quotepipe processes (``posix_ipc`` + ``mmap``).

``segment``: named segments, headers, lifecycle. ``seqlock``: seqlock records.
``snapshots``: the per-instrument snapshot table. ``ring``: single-writer rings.
``weights``: the allocator's weights array. ``stats``: per-process histograms,
counters, gauges. ``control``: epoch, shard modes, halts, heartbeats.
"""
