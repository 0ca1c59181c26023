"""quotepipe: a shared-memory, low-latency market-making quote daemon."""

__version__ = "0.1.0"
