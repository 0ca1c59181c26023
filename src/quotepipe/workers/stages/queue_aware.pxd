# cython: language_level=3
"""QueueAware's C entry, for the compiled runner."""

from quotepipe.workers.decisions cimport InventoryDecision, MarketView, QueueDecision, SpreadDecision

cpdef QueueDecision queue_aware(MarketView view, SpreadDecision sd, InventoryDecision inv, object ctx,
                                object spec, object cfg)
