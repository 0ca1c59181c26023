# cython: language_level=3
"""Inventory's C entry, for the compiled runner."""

from quotepipe.workers.decisions cimport GuardDecision, InventoryDecision, SpreadDecision

cpdef InventoryDecision inventory(SpreadDecision sd, GuardDecision gd, object ctx, object spec,
                                  object cfg)
