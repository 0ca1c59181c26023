"""The stage names of the quote chain, in the order they run, and what is timed."""

STAGES = ("fetch_md", "spread", "guards", "inventory", "queue_aware", "emit")

#: the per-stage spans and the whole tick, as histograms are named
TIMED = (*STAGES, "tick_total")
