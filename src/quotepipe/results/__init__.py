"""Backtest results: the run directory ``quotepipe replay --out DIR`` writes, its figures, and
the report ``quotepipe report`` draws from it."""
