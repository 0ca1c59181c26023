"""The perf gate: the workload it times (``gate.workload``: the ticks replay runs)."""
