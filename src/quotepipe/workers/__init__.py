"""Workers: the quote chain (six stages, legacy QuoteLoop, shadow runner) and the worker process."""
