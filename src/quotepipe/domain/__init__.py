"""The domain floor: the facts every other part of quotepipe shares, defined once.

Instruments and their rounding, sides, orders, fills and PnL, guard, reason and
action names, stage names, the snapshot record's fields, the shard map and the
event clock. Modules here import nothing of the project but ``quotepipe.config``,
so every layer above (shared memory, market data, workers, venue, scoreboard,
daemon, replay, gate, CLI) may import them.
"""
